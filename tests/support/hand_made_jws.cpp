#include "hand_made_jws.h"

#include <glib.h>

namespace roomcast::testing {

std::string b64url(std::string_view bytes) {
  g_autofree gchar* encoded = g_base64_encode(reinterpret_cast<const guchar*>(bytes.data()), bytes.size());
  std::string out(encoded);
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::string hs256(std::string_view secret, std::string_view input) {
  guint8 digest[32];
  gsize len = sizeof digest;
  g_autoptr(GHmac) hmac = g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(secret.data()), secret.size());
  g_hmac_update(hmac, reinterpret_cast<const guchar*>(input.data()), static_cast<gssize>(input.size()));
  g_hmac_get_digest(hmac, digest, &len);
  return b64url(std::string_view(reinterpret_cast<const char*>(digest), len));
}

std::string handMadeJws(std::string_view payloadJson, std::string_view secret, std::string_view headerJson) {
  const std::string input = b64url(headerJson) + "." + b64url(payloadJson);
  return input + "." + hs256(secret, input);
}

}  // namespace roomcast::testing
