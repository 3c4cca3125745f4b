// Operators' admin tokens: HS256 JWTs signed with one of the server's API secrets ([auth]),
// "iss" naming the API key whose secret signed it, "exp" required, and "grants" saying what
// the holder may do. The server looks the secret up by "iss" before it checks the signature;
// nothing else in the payload is believed until the signature verifies.
//
// Also the signed URLs of recording files: "?exp=UNIX&sig=MAC", so a player (an <audio>
// element, which sends no Authorization header) can fetch a gated recording for a while.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace roomcast::protocol {

struct AdminGrants {
  bool roomCreate = false;  // POST /api/v1/rooms where rooms are not open
  bool roomAdmin = false;   // the admin API: every room, end any room, delete recordings
  bool archive = false;     // the archive, transcripts, recording files and /metrics
};

enum class Grant { RoomCreate, RoomAdmin, Archive };
std::string_view grantName(Grant grant);  // "room_create", "room_admin", "archive"
bool has(const AdminGrants& grants, Grant grant);

struct AdminClaims {
  std::string apiKey;     // "iss"
  std::string subject;    // "sub": who the operator says they are (logs only), may be ""
  int64_t issuedAt = 0;   // "iat"
  int64_t expiresAt = 0;  // "exp" (required)
  AdminGrants grants;
};

std::string signAdminToken(const AdminClaims& claims, std::string_view apiSecret);

// The secret of an API key, or nullopt when the server has no such key.
using ApiSecretLookup = std::function<std::optional<std::string>(std::string_view apiKey)>;

// Unauthorized for anything that is not a valid, unexpired admin token of a known key:
// another algorithm, a bad signature, an unknown "iss", no "exp", expired, malformed grants.
core::Result<AdminClaims> verifyAdminToken(std::string_view token, const ApiSecretLookup& secretOf, int64_t nowSeconds,
                                           int64_t leewaySeconds = 30);

// Recording files: the query that lets `file` be fetched until `expiresAt` (seconds).
std::string signRecordingQuery(std::string_view file, int64_t expiresAt, std::string_view secret);
// Whether exp/sig (the query's values) let `file` be fetched at `nowSeconds`.
bool verifyRecordingQuery(std::string_view file, std::string_view exp, std::string_view sig, int64_t nowSeconds,
                          std::string_view secret);

}  // namespace roomcast::protocol
