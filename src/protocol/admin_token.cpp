#include "protocol/admin_token.h"

#include <glib.h>

#include "protocol/bounds.h"
#include "protocol/json.h"
#include "protocol/jws.h"

namespace roomcast::protocol {

using core::Error;
using core::ErrorCode;

namespace {

Error invalid(std::string why) { return {ErrorCode::Unauthorized, "invalid admin token: " + std::move(why)}; }

constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";

}  // namespace

std::string_view grantName(Grant grant) {
  switch (grant) {
    case Grant::RoomCreate: return "room_create";
    case Grant::RoomAdmin: return "room_admin";
    case Grant::Archive: return "archive";
  }
  return "";
}

bool has(const AdminGrants& grants, Grant grant) {
  switch (grant) {
    case Grant::RoomCreate: return grants.roomCreate;
    case Grant::RoomAdmin: return grants.roomAdmin;
    case Grant::Archive: return grants.archive;
  }
  return false;
}

std::string signAdminToken(const AdminClaims& claims, std::string_view apiSecret) {
  JsonWriter w;
  w.beginObject().str("iss", claims.apiKey);
  if (!claims.subject.empty()) w.str("sub", claims.subject);
  w.integer("iat", claims.issuedAt).integer("exp", claims.expiresAt);
  w.key("grants")
      .beginObject()
      .boolean("room_create", claims.grants.roomCreate)
      .boolean("room_admin", claims.grants.roomAdmin)
      .boolean("archive", claims.grants.archive)
      .endObject();
  const std::string payload = w.endObject().finish();
  const std::string signingInput = base64UrlEncode(kHeader) + "." + base64UrlEncode(payload);
  return signingInput + "." + hmacSha256Base64Url(apiSecret, signingInput);
}

core::Result<AdminClaims> verifyAdminToken(std::string_view token, const ApiSecretLookup& secretOf, int64_t nowSeconds,
                                           int64_t leewaySeconds) {
  if (token.empty()) return Error{ErrorCode::Unauthorized, "an admin token is required"};
  std::string why;
  const std::optional<Hs256Jws> jws = parseHs256Jws(token, why);
  if (!jws) return invalid(why);

  // "iss" only picks the secret to check with; the rest waits for the signature.
  auto payload = parseObject(jws->payloadJson, 2048, 3);
  if (!payload) return invalid("bad payload");
  JsonObject* object = json_node_get_object(payload.value().get());
  FieldReader fields(object);
  auto iss = fields.requiredString("iss", 64);
  if (!iss) return invalid("no iss (the API key)");
  const std::optional<std::string> secret = secretOf ? secretOf(iss.value()) : std::nullopt;
  if (!secret) return invalid("unknown API key '" + iss.value() + "'");
  if (!hs256SignatureMatches(*jws, *secret))
    return invalid("bad signature");

  AdminClaims claims;
  claims.apiKey = iss.value();
  auto exp = fields.requiredInt("exp", 0, INT64_MAX);
  if (!exp) return invalid("exp is required");
  claims.expiresAt = exp.value();
  auto iat = fields.optionalInt("iat", 0, INT64_MAX);
  auto nbf = fields.optionalInt("nbf", 0, INT64_MAX);
  auto sub = fields.optionalString("sub", 128);
  if (!iat || !nbf || !sub) return invalid("malformed claims");
  claims.issuedAt = iat.value().value_or(0);
  claims.subject = sub.value().value_or("");
  if (nowSeconds - leewaySeconds > claims.expiresAt) return invalid("expired");
  if (nbf.value() && nowSeconds + leewaySeconds < *nbf.value()) return invalid("not yet valid");

  // Grants are booleans; a missing one is not granted, anything but a boolean is refused.
  if (json_object_has_member(object, "grants")) {
    JsonNode* node = json_object_get_member(object, "grants");
    if (!JSON_NODE_HOLDS_OBJECT(node)) return invalid("grants must be an object");
    FieldReader grants(json_node_get_object(node));
    auto create = grants.optionalBool("room_create");
    auto admin = grants.optionalBool("room_admin");
    auto archive = grants.optionalBool("archive");
    if (!create || !admin || !archive) return invalid("grants must be booleans");
    claims.grants = {create.value().value_or(false), admin.value().value_or(false), archive.value().value_or(false)};
  }
  return claims;
}

namespace {
std::string recordingMac(std::string_view file, int64_t expiresAt, std::string_view secret) {
  // Its own prefix: a MAC made here can never pass for a token's or a listener session's.
  return hmacSha256Base64Url(secret, "recording-url|" + std::string(file) + "|" + std::to_string(expiresAt));
}
}  // namespace

std::string signRecordingQuery(std::string_view file, int64_t expiresAt, std::string_view secret) {
  return "exp=" + std::to_string(expiresAt) + "&sig=" + recordingMac(file, expiresAt, secret);
}

bool verifyRecordingQuery(std::string_view file, std::string_view exp, std::string_view sig, int64_t nowSeconds,
                          std::string_view secret) {
  if (exp.empty() || exp.size() > 18 || sig.size() > 64) return false;  // 18 digits: no overflow
  int64_t expiresAt = 0;
  for (char c : exp) {
    if (!g_ascii_isdigit(c)) return false;
    expiresAt = expiresAt * 10 + (c - '0');
  }
  if (expiresAt < nowSeconds) return false;
  return constantTimeEqual(sig, recordingMac(file, expiresAt, secret));
}

}  // namespace roomcast::protocol
