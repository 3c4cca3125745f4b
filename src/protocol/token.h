// Access tokens: HS256 JWTs signed with the server's secret. The algorithm is pinned; any
// header other than {"alg":"HS256"} is refused, so "none" and algorithm confusion fail.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/role.h"

namespace roomcast::protocol {

struct TokenClaims {
  std::string room;       // "room": the room id this token is for
  std::string identity;   // "sub"
  std::string name;       // "name": display name
  core::Role role = core::Role::Listener;
  int64_t issuedAt = 0;   // "iat", seconds since the epoch
  int64_t notBefore = 0;  // "nbf"
  int64_t expiresAt = 0;  // "exp"
  std::string tokenId;    // "jti": names this token (a room revokes it when its holder is removed)
  std::string issuedBy;   // "by": the participant who had it issued ("" when the server did, e.g. the host's)
};

std::string signToken(const TokenClaims& claims, std::string_view secret);

// Verifies signature, algorithm, time window (with `leewaySeconds` of clock skew) and room.
core::Result<TokenClaims> verifyToken(std::string_view token, std::string_view secret,
                                      std::string_view expectedRoom, int64_t nowSeconds,
                                      int64_t leewaySeconds = 30);

// HLS listener sessions: "<nonce>.<mac>", where the MAC binds the nonce to the room. The
// server keeps nothing until the session is used; a forged or foreign session never counts.
std::string signListenerSession(std::string_view roomId, std::string_view nonce, std::string_view secret);
bool verifyListenerSession(std::string_view session, std::string_view roomId, std::string_view secret);

}  // namespace roomcast::protocol
