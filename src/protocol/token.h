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
};

std::string signToken(const TokenClaims& claims, std::string_view secret);

// Verifies signature, algorithm, time window (with `leewaySeconds` of clock skew) and room.
core::Result<TokenClaims> verifyToken(std::string_view token, std::string_view secret,
                                      std::string_view expectedRoom, int64_t nowSeconds,
                                      int64_t leewaySeconds = 30);

}  // namespace roomcast::protocol
