#include "protocol/token.h"

#include <glib.h>

#include <vector>

#include "protocol/json.h"
#include "protocol/jws.h"
#include "protocol/bounds.h"

namespace roomcast::protocol {

using core::Error;
using core::ErrorCode;

namespace {

Error invalid(std::string why) { return {ErrorCode::Unauthorized, "invalid token: " + std::move(why)}; }

}  // namespace

std::string signToken(const TokenClaims& claims, std::string_view secret) {
  const std::string header = base64UrlEncode(reinterpret_cast<const guchar*>(R"({"alg":"HS256","typ":"JWT"})"), 27);
  JsonWriter w;
  w.beginObject()
      .str("iss", "roomcast")
      .str("jti", claims.tokenId)
      .str("sub", claims.identity)
      .str("name", claims.name)
      .str("room", claims.room)
      .str("role", core::roleName(claims.role))
      .integer("iat", claims.issuedAt)
      .integer("nbf", claims.notBefore)
      .integer("exp", claims.expiresAt);
  if (!claims.issuedBy.empty()) w.str("by", claims.issuedBy);
  w.endObject();
  const std::string payloadJson = w.finish();
  const std::string signingInput =
      header + "." + base64UrlEncode(reinterpret_cast<const guchar*>(payloadJson.data()), payloadJson.size());
  auto mac = hmacSha256(secret, signingInput);
  return signingInput + "." + base64UrlEncode(mac.data(), mac.size());
}

core::Result<TokenClaims> verifyToken(std::string_view token, std::string_view secret, std::string_view expectedRoom,
                                      int64_t nowSeconds, int64_t leewaySeconds) {
  if (token.empty()) return Error{ErrorCode::Unauthorized, "a token is required"};
  std::string why;
  const std::optional<Hs256Jws> jws = parseHs256Jws(token, why);
  if (!jws) return invalid(why);
  if (!hs256SignatureMatches(*jws, secret)) return invalid("bad signature");

  auto payload = parseObject(jws->payloadJson, 2048, 2);
  if (!payload) return invalid("bad payload");
  FieldReader fields(json_node_get_object(payload.value().get()));
  TokenClaims claims;
  auto room = fields.requiredString("room", 64);
  auto sub = fields.requiredString("sub", 128);
  auto name = fields.optionalString("name", 256);
  auto role = fields.requiredString("role", 16);
  auto exp = fields.requiredInt("exp", 0, INT64_MAX);
  auto jti = fields.optionalString("jti", 64);
  auto by = fields.optionalString("by", 128);
  if (!room || !sub || !name || !role || !exp || !jti || !by) return invalid("missing or malformed claims");
  auto parsedRole = core::roleFromName(role.value());
  if (!parsedRole) return invalid("unknown role");
  claims.room = room.value();
  claims.identity = sub.value();
  claims.name = name.value().value_or(claims.identity);
  claims.role = *parsedRole;
  claims.expiresAt = exp.value();
  claims.tokenId = jti.value().value_or("");
  claims.issuedBy = by.value().value_or("");
  if (auto nbf = fields.requiredInt("nbf", 0, INT64_MAX)) claims.notBefore = nbf.value();
  if (auto iat = fields.requiredInt("iat", 0, INT64_MAX)) claims.issuedAt = iat.value();

  if (nowSeconds - leewaySeconds > claims.expiresAt) return invalid("expired");  // no overflow near INT64_MAX
  if (claims.notBefore && nowSeconds + leewaySeconds < claims.notBefore) return invalid("not yet valid");
  if (claims.room != expectedRoom)
    return Error{ErrorCode::Forbidden, "token is for another room"};
  return claims;
}

}  // namespace roomcast::protocol

namespace roomcast::protocol {

namespace {
constexpr size_t kSessionMacChars = 16;  // 96 bits of the HMAC, base64url
std::string sessionMac(std::string_view roomId, std::string_view nonce, std::string_view secret) {
  const std::string input = "listener-session|" + std::string(roomId) + "|" + std::string(nonce);
  auto mac = hmacSha256(secret, input);
  return base64UrlEncode(mac.data(), mac.size()).substr(0, kSessionMacChars);
}
}  // namespace

std::string signListenerSession(std::string_view roomId, std::string_view nonce, std::string_view secret) {
  return std::string(nonce) + "." + sessionMac(roomId, nonce, secret);
}

bool verifyListenerSession(std::string_view session, std::string_view roomId, std::string_view secret) {
  if (session.size() > 64) return false;
  const auto dot = session.find('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  const std::string expected = sessionMac(roomId, session.substr(0, dot), secret);
  const std::string_view given = session.substr(dot + 1);
  if (given.size() != expected.size()) return false;
  unsigned diff = 0;
  for (size_t i = 0; i < given.size(); i++) diff |= static_cast<unsigned char>(given[i] ^ expected[i]);
  return diff == 0;
}

}  // namespace roomcast::protocol
