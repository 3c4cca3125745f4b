#include "signaling/auth.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/random.h>

#include "core/room_manager.h"

namespace roomcast::signaling {

std::string TokenAuthority::issue(const std::string& roomId, const std::string& identity, const std::string& name,
                                  core::Role role, const std::string& issuedBy) const {
  const int64_t now = g_get_real_time() / G_USEC_PER_SEC;
  g_autofree char* jti = g_uuid_string_random();
  protocol::TokenClaims claims{roomId, identity, name, role, now, now - 1, now + ttlSeconds_, jti, issuedBy};
  return protocol::signToken(claims, secret_);
}

core::Result<protocol::TokenClaims> TokenAuthority::verify(const std::string& token, const std::string& roomId) const {
  return protocol::verifyToken(token, secret_, roomId, g_get_real_time() / G_USEC_PER_SEC);
}

std::string TokenAuthority::issueListenerSession(const std::string& roomId) const {
  // 72 random bits: unique among a room's listeners; the MAC makes it unforgeable.
  unsigned char raw[9];
  if (getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw))
    for (auto& b : raw) b = static_cast<unsigned char>(g_random_int());
  g_autofree char* b64 = g_base64_encode(raw, sizeof raw);
  std::string nonce(b64);
  for (char& c : nonce) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return protocol::signListenerSession(roomId, nonce, secret_);
}

bool TokenAuthority::verifyListenerSession(const std::string& session, const std::string& roomId) const {
  return protocol::verifyListenerSession(session, roomId, secret_);
}

bool isListenerSession(const TokenAuthority& auth, const core::RoomManager& rooms, const std::string& roomId,
                       const std::string& session) {
  return rooms.isCountedListener(roomId, session) || auth.verifyListenerSession(session, roomId);
}

bool countListener(const TokenAuthority& auth, core::RoomManager& rooms, const std::string& roomId,
                   const std::string& session) {
  if (!isListenerSession(auth, rooms, roomId, session)) return false;
  rooms.listenerSeen(roomId, session);
  return true;
}

core::Result<std::string> loadOrCreateSecret(const std::string& path) {
  g_autofree char* contents = nullptr;
  gsize length = 0;
  if (g_file_get_contents(path.c_str(), &contents, &length, nullptr)) {
    std::string secret(contents, length);
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.size() < 32)
      return core::Error{core::ErrorCode::Internal, "the secret in " + path + " is shorter than 32 characters"};
    return secret;
  }
  // 256 bits from the kernel's CSPRNG (GLib's g_random is not meant for secrets).
  unsigned char raw[32];
  if (getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw))
    return core::Error{core::ErrorCode::Internal, "cannot read random bytes for the secret"};
  std::string secret;
  for (unsigned char b : raw) {
    char hex[3];
    g_snprintf(hex, sizeof hex, "%02x", b);
    secret += hex;
  }
  g_autoptr(GError) error = nullptr;
  if (!g_file_set_contents_full(path.c_str(), (secret + "\n").c_str(), -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                &error)) {
    core::Error e{core::ErrorCode::Internal, std::string("cannot write the secret: ") + error->message};
    return e;
  }
  return secret;
}

}  // namespace roomcast::signaling
