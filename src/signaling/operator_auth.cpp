#include "signaling/operator_auth.h"

namespace roomcast::signaling {

using core::Error;
using core::ErrorCode;

namespace {
int64_t nowSeconds() { return g_get_real_time() / G_USEC_PER_SEC; }
}  // namespace

core::Result<protocol::AdminClaims> OperatorAuthority::require(SoupServerMessage* msg, protocol::Grant grant) const {
  const std::string needed(protocol::grantName(grant));
  const char* header = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
  if (!header)
    return Error{ErrorCode::Unauthorized, "an admin token with the " + needed + " grant is required (Authorization: Bearer)"};
  std::string_view value(header);
  if (value.rfind("Bearer ", 0) != 0) return Error{ErrorCode::Unauthorized, "Authorization must be a Bearer token"};
  auto claims = protocol::verifyAdminToken(
      value.substr(7),
      [this](std::string_view key) -> std::optional<std::string> {
        auto it = policy_.apiKeys.find(std::string(key));
        return it == policy_.apiKeys.end() ? std::nullopt : std::optional<std::string>(it->second);
      },
      nowSeconds());
  if (!claims) return claims.error();
  if (!protocol::has(claims->grants, grant))
    return Error{ErrorCode::Forbidden, "this admin token lacks the " + needed + " grant"};
  return claims;
}

core::Status OperatorAuthority::requireRoomCreation(SoupServerMessage* msg) const {
  if (policy_.openRooms) return core::Ok{};
  if (auto claims = require(msg, protocol::Grant::RoomCreate); !claims) return claims.error();
  return core::Ok{};
}

core::Status OperatorAuthority::requireArchive(SoupServerMessage* msg) const {
  if (policy_.archivePublic) return core::Ok{};
  if (auto claims = require(msg, protocol::Grant::Archive); !claims) return claims.error();
  return core::Ok{};
}

core::Status OperatorAuthority::requireRecordingFile(SoupServerMessage* msg, const std::string& file) const {
  if (policy_.archivePublic) return core::Ok{};
  GUri* uri = soup_server_message_get_uri(msg);
  const char* query = uri ? g_uri_get_query(uri) : nullptr;
  if (query) {
    g_autoptr(GHashTable) params = g_uri_parse_params(query, -1, "&", G_URI_PARAMS_NONE, nullptr);
    const char* exp = params ? static_cast<const char*>(g_hash_table_lookup(params, "exp")) : nullptr;
    const char* sig = params ? static_cast<const char*>(g_hash_table_lookup(params, "sig")) : nullptr;
    if (exp && sig && protocol::verifyRecordingQuery(file, exp, sig, nowSeconds(), policy_.urlSecret))
      return core::Ok{};
    // An expired or altered URL, unless the request also carries the archive grant.
    const bool hasToken = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
    if ((exp || sig) && !hasToken)
      return Error{ErrorCode::Unauthorized, "this recording URL has expired or is not valid; list the archive again"};
  }
  return requireArchive(msg);
}

std::string OperatorAuthority::signedQuery(const std::string& file) const {
  if (policy_.archivePublic) return {};
  return "?" + protocol::signRecordingQuery(file, nowSeconds() + policy_.signedUrlTtlSeconds, policy_.urlSecret);
}

}  // namespace roomcast::signaling
