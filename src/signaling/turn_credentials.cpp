#include "signaling/turn_credentials.h"

#include <glib.h>

namespace roomcast::signaling {

TurnCredential mintTurnCredential(const std::string& secret, const std::string& identity, int64_t nowUnixSeconds,
                                  int64_t ttlSeconds) {
  TurnCredential out;
  out.username = std::to_string(nowUnixSeconds + ttlSeconds) + ":" + identity;
  GHmac* hmac = g_hmac_new(G_CHECKSUM_SHA1, reinterpret_cast<const guchar*>(secret.data()), secret.size());
  g_hmac_update(hmac, reinterpret_cast<const guchar*>(out.username.data()), static_cast<gssize>(out.username.size()));
  guint8 digest[20];
  gsize length = sizeof digest;
  g_hmac_get_digest(hmac, digest, &length);
  g_hmac_unref(hmac);
  gchar* encoded = g_base64_encode(digest, length);
  out.credential = encoded;
  g_free(encoded);
  return out;
}

std::vector<protocol::IceServer> iceServersFor(const TurnConfig& turn, const std::string& identity,
                                               int64_t nowUnixSeconds) {
  if (!turn.enabled()) return {};
  TurnCredential credential = mintTurnCredential(turn.secret, identity, nowUnixSeconds, turn.ttlSeconds);
  return {protocol::IceServer{turn.urls, std::move(credential.username), std::move(credential.credential)}};
}

}  // namespace roomcast::signaling
