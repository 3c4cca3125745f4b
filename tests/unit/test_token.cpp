// HS256 access tokens: signToken/verifyToken, and hand-built hostile tokens (alg none,
// algorithm confusion, tampering, time window, malformed encodings). The hand-built tokens
// use the test's own base64url + HMAC-SHA256 (GLib), independent of token.cpp.
#include <gtest/gtest.h>
#include <glib.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/bounds.h"
#include "protocol/token.h"

namespace roomcast::protocol {
namespace {

using core::ErrorCode;
using core::Role;

constexpr std::string_view kSecret = "unit-test-secret-0123456789abcdef";
constexpr int64_t kNow = 1'800'000'000;  // seconds since the epoch

// ---------------------------------------------------------------------------------------
// Hand-rolled JWS pieces

std::string b64url(std::string_view bytes) {
  gchar* encoded = g_base64_encode(reinterpret_cast<const guchar*>(bytes.data()), bytes.size());
  std::string out(encoded);
  g_free(encoded);
  for (char& c : out) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::string b64urlDecode(std::string_view text) {
  std::string std64(text);
  for (char& c : std64) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
  }
  while (std64.size() % 4) std64 += '=';
  gsize len = 0;
  guchar* raw = g_base64_decode(std64.c_str(), &len);
  std::string out(reinterpret_cast<const char*>(raw), len);
  g_free(raw);
  return out;
}

std::string hmacSha256(std::string_view key, std::string_view data) {
  GHmac* hmac = g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(key.data()), key.size());
  g_hmac_update(hmac, reinterpret_cast<const guchar*>(data.data()), static_cast<gssize>(data.size()));
  guint8 digest[32];
  gsize len = sizeof digest;
  g_hmac_get_digest(hmac, digest, &len);
  g_hmac_unref(hmac);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

// header.payload.signature with an HS256 MAC over the first two parts.
std::string buildToken(std::string_view headerJson, std::string_view payloadJson,
                       std::string_view secret = kSecret) {
  const std::string input = b64url(headerJson) + "." + b64url(payloadJson);
  return input + "." + b64url(hmacSha256(secret, input));
}

std::string payload(const std::string& room = "room-1", const std::string& role = "speaker", int64_t exp = kNow + 3600,
                    int64_t nbf = kNow - 60, const std::string& sub = "u-1") {
  return R"({"iss":"roomcast","sub":")" + sub + R"(","name":"Ann","room":")" + room + R"(","role":")" + role +
         R"(","iat":)" + std::to_string(kNow - 60) + R"(,"nbf":)" + std::to_string(nbf) + R"(,"exp":)" +
         std::to_string(exp) + "}";
}

constexpr std::string_view kHs256Header = R"({"alg":"HS256","typ":"JWT"})";

std::vector<std::string> split(const std::string& token) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t dot = token.find('.', start);
    parts.push_back(token.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

TokenClaims claims(Role role = Role::Speaker) {
  TokenClaims c;
  c.room = "room-1";
  c.identity = "u-1";
  c.name = "Ann";
  c.role = role;
  c.issuedAt = kNow - 60;
  c.notBefore = kNow - 60;
  c.expiresAt = kNow + 3600;
  return c;
}

ErrorCode verifyError(std::string_view token, std::string_view room = "room-1", int64_t now = kNow,
                      std::string_view secret = kSecret) {
  auto result = verifyToken(token, secret, room, now);
  EXPECT_FALSE(result.ok()) << "token unexpectedly verified: " << std::string(token.substr(0, 200));
  return result.ok() ? ErrorCode::Internal : result.error().code;
}

// ---------------------------------------------------------------------------------------
// Round trips

TEST(Token, SignVerifyRoundTrip) {
  const std::string token = signToken(claims(), kSecret);
  EXPECT_EQ(split(token).size(), 3u);
  auto result = verifyToken(token, kSecret, "room-1", kNow);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->room, "room-1");
  EXPECT_EQ(result->identity, "u-1");
  EXPECT_EQ(result->name, "Ann");
  EXPECT_EQ(result->role, Role::Speaker);
  EXPECT_EQ(result->issuedAt, kNow - 60);
  EXPECT_EQ(result->notBefore, kNow - 60);
  EXPECT_EQ(result->expiresAt, kNow + 3600);
}

TEST(Token, EveryRoleRoundTrips) {
  for (Role role : {Role::Host, Role::CoHost, Role::Speaker, Role::Listener}) {
    auto result = verifyToken(signToken(claims(role), kSecret), kSecret, "room-1", kNow);
    ASSERT_TRUE(result.ok()) << core::roleName(role);
    EXPECT_EQ(result->role, role);
  }
}

TEST(Token, SignedTokenIsUrlSafeAndUnpadded) {
  TokenClaims c = claims();
  c.name = "\xc3\x89lodie ??? >>> ~~~";  // bytes that give '+' and '/' in plain base64
  const std::string token = signToken(c, kSecret);
  EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
            std::string::npos);
  auto result = verifyToken(token, kSecret, "room-1", kNow);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->name, c.name);
}

TEST(Token, SignedHeaderIsPinnedHs256) {
  const auto parts = split(signToken(claims(), kSecret));
  ASSERT_EQ(parts.size(), 3u);
  const std::string header = b64urlDecode(parts[0]);
  EXPECT_NE(header.find(R"("alg":"HS256")"), std::string::npos) << header;
}

TEST(Token, HandBuiltHs256TokenVerifies) {
  // Checks the test's own helpers against the implementation.
  auto result = verifyToken(buildToken(kHs256Header, payload()), kSecret, "room-1", kNow);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->identity, "u-1");
  EXPECT_EQ(result->role, Role::Speaker);
}

TEST(Token, NameDefaultsToIdentity) {
  const std::string body = R"({"sub":"u-7","room":"room-1","role":"listener","exp":)" + std::to_string(kNow + 60) + "}";
  auto result = verifyToken(buildToken(kHs256Header, body), kSecret, "room-1", kNow);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->name, "u-7");
  EXPECT_EQ(result->notBefore, 0);
}

// ---------------------------------------------------------------------------------------
// Signature

TEST(Token, WrongSecretIsUnauthorized) {
  const std::string token = signToken(claims(), kSecret);
  EXPECT_EQ(verifyError(token, "room-1", kNow, "another-secret"), ErrorCode::Unauthorized);
  EXPECT_EQ(verifyError(token, "room-1", kNow, ""), ErrorCode::Unauthorized);
  EXPECT_EQ(verifyError(signToken(claims(), "other"), "room-1", kNow, kSecret), ErrorCode::Unauthorized);
}

TEST(Token, TamperedPayloadIsUnauthorized) {
  const auto parts = split(signToken(claims(Role::Listener), kSecret));
  ASSERT_EQ(parts.size(), 3u);
  std::string body = b64urlDecode(parts[1]);
  const size_t at = body.find(R"("role":"listener")");
  ASSERT_NE(at, std::string::npos) << body;
  body.replace(at, 17, R"("role":"host")");
  const std::string forged = parts[0] + "." + b64url(body) + "." + parts[2];
  EXPECT_EQ(verifyError(forged), ErrorCode::Unauthorized);

  // Payload swapped with another token's (same secret, other identity).
  TokenClaims other = claims();
  other.identity = "u-2";
  const auto otherParts = split(signToken(other, kSecret));
  EXPECT_EQ(verifyError(parts[0] + "." + otherParts[1] + "." + parts[2]), ErrorCode::Unauthorized);
}

TEST(Token, TamperedSignatureIsUnauthorized) {
  const auto parts = split(signToken(claims(), kSecret));
  ASSERT_EQ(parts.size(), 3u);
  const std::string& sig = parts[2];
  ASSERT_EQ(sig.size(), 43u);  // 32 bytes, unpadded
  // Flip each of the first few characters (each carries 6 full bits of the MAC).
  for (size_t i : {size_t{0}, size_t{10}, size_t{21}, size_t{41}}) {
    std::string bad = sig;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_EQ(verifyError(parts[0] + "." + parts[1] + "." + bad), ErrorCode::Unauthorized) << "position " << i;
  }
  EXPECT_EQ(verifyError(parts[0] + "." + parts[1] + "." + sig.substr(0, 42)), ErrorCode::Unauthorized);
  EXPECT_EQ(verifyError(parts[0] + "." + parts[1] + "." + sig + "AAAA"), ErrorCode::Unauthorized);
  EXPECT_EQ(verifyError(parts[0] + "." + parts[1] + "."), ErrorCode::Unauthorized);
  // A signature made with the right secret over a different input.
  EXPECT_EQ(verifyError(parts[0] + "." + parts[1] + "." + b64url(hmacSha256(kSecret, parts[1]))),
            ErrorCode::Unauthorized);
}

// ---------------------------------------------------------------------------------------
// Algorithm pinning

// 32 bytes in 43 base64url characters leave the last character's two low bits unused: a
// token must have exactly one spelling, or anything keyed on the token text (a denylist, a
// cache) can be dodged by re-spelling it.
TEST(Token, SignatureWithAnotherSpellingOfTheSameBytesIsRejected) {
  const auto parts = split(signToken(claims(), kSecret));
  ASSERT_EQ(parts.size(), 3u);
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const size_t last = alphabet.find(parts[2].back());
  ASSERT_NE(last, std::string::npos);
  ASSERT_EQ(last & 3, 0u) << "a canonical encoder leaves the unused bits zero";
  for (size_t low = 1; low < 4; low++) {
    std::string respelled = parts[2];
    respelled.back() = alphabet[last | low];
    EXPECT_EQ(verifyError(parts[0] + "." + parts[1] + "." + respelled), ErrorCode::Unauthorized) << respelled;
  }
}

TEST(Token, AlgNoneWithEmptySignatureIsRejected) {
  const std::string unsignedToken = b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(payload("room-1", "host")) + ".";
  EXPECT_EQ(verifyError(unsignedToken), ErrorCode::Unauthorized);
  const std::string bare = b64url(R"({"alg":"none"})") + "." + b64url(payload("room-1", "host")) + ".";
  EXPECT_EQ(verifyError(bare), ErrorCode::Unauthorized);
  for (const char* header : {R"({"alg":"None"})", R"({"alg":"NONE"})", R"({"alg":"nOnE"})", R"({"alg":""})"}) {
    EXPECT_EQ(verifyError(b64url(header) + "." + b64url(payload()) + "."), ErrorCode::Unauthorized) << header;
  }
}

TEST(Token, AlgNoneWithAValidMacIsStillRejected) {
  EXPECT_EQ(verifyError(buildToken(R"({"alg":"none"})", payload())), ErrorCode::Unauthorized);
}

TEST(Token, OtherAlgorithmsWithAValidHs256MacAreRejected) {
  for (const char* header : {R"({"alg":"HS512","typ":"JWT"})", R"({"alg":"HS384"})", R"({"alg":"RS256","typ":"JWT"})",
                             R"({"alg":"ES256"})", R"({"alg":"PS256"})", R"({"alg":"hs256"})",
                             R"({"alg":"HS256 "})", R"({"alg":" HS256"})", R"({"alg":"HS2560"})"}) {
    EXPECT_EQ(verifyError(buildToken(header, payload())), ErrorCode::Unauthorized) << header;
  }
}

TEST(Token, MalformedHeadersAreRejected) {
  for (const char* header : {R"({"typ":"JWT"})", R"({})", R"({"alg":256})", R"({"alg":null})", R"({"alg":["HS256"]})",
                             R"(["HS256"])", R"("HS256")", "not json", ""}) {
    EXPECT_EQ(verifyError(buildToken(header, payload())), ErrorCode::Unauthorized) << header;
  }
}

// ---------------------------------------------------------------------------------------
// Time window

TEST(Token, ExpiredBeyondLeewayIsRejected) {
  const int64_t exp = kNow - 31;  // default leeway: 30 s
  EXPECT_EQ(verifyError(buildToken(kHs256Header, payload("room-1", "speaker", exp))), ErrorCode::Unauthorized);
  EXPECT_EQ(verifyError(buildToken(kHs256Header, payload("room-1", "speaker", kNow - 3600))), ErrorCode::Unauthorized);
  auto message = verifyToken(buildToken(kHs256Header, payload("room-1", "speaker", exp)), kSecret, "room-1", kNow);
  ASSERT_FALSE(message.ok());
  EXPECT_NE(message.error().message.find("expired"), std::string::npos);
}

TEST(Token, ExpiredWithinLeewayIsAccepted) {
  EXPECT_TRUE(verifyToken(buildToken(kHs256Header, payload("room-1", "speaker", kNow - 30)), kSecret, "room-1", kNow).ok());
  EXPECT_TRUE(verifyToken(buildToken(kHs256Header, payload("room-1", "speaker", kNow - 1)), kSecret, "room-1", kNow).ok());
  EXPECT_TRUE(verifyToken(buildToken(kHs256Header, payload("room-1", "speaker", kNow)), kSecret, "room-1", kNow).ok());
}

TEST(Token, LeewayIsConfigurable) {
  const std::string token = buildToken(kHs256Header, payload("room-1", "speaker", kNow - 1));
  EXPECT_FALSE(verifyToken(token, kSecret, "room-1", kNow, 0).ok());
  EXPECT_TRUE(verifyToken(token, kSecret, "room-1", kNow, 1).ok());
  const std::string old = buildToken(kHs256Header, payload("room-1", "speaker", kNow - 300));
  EXPECT_TRUE(verifyToken(old, kSecret, "room-1", kNow, 300).ok());
  EXPECT_FALSE(verifyToken(old, kSecret, "room-1", kNow, 299).ok());
}

TEST(Token, NotYetValidIsRejected) {
  const std::string future = buildToken(kHs256Header, payload("room-1", "speaker", kNow + 7200, kNow + 31));
  EXPECT_EQ(verifyError(future), ErrorCode::Unauthorized);
  auto message = verifyToken(future, kSecret, "room-1", kNow);
  ASSERT_FALSE(message.ok());
  EXPECT_NE(message.error().message.find("not yet valid"), std::string::npos);
  // Within the leeway it is fine (clock skew).
  EXPECT_TRUE(
      verifyToken(buildToken(kHs256Header, payload("room-1", "speaker", kNow + 7200, kNow + 30)), kSecret, "room-1", kNow)
          .ok());
  // And once the time comes it verifies.
  EXPECT_TRUE(verifyToken(future, kSecret, "room-1", kNow + 31).ok());
}

TEST(Token, SignedTokenExpiresWithItsClaims) {
  const std::string token = signToken(claims(), kSecret);
  EXPECT_TRUE(verifyToken(token, kSecret, "room-1", kNow + 3600 + 30).ok());
  EXPECT_EQ(verifyError(token, "room-1", kNow + 3600 + 31), ErrorCode::Unauthorized);
}

TEST(Token, FarFutureExpiryIsNotTreatedAsExpired) {
  // "exp" is accepted up to INT64_MAX: the expiry check must not compute exp + leeway in
  // int64_t (signed overflow: undefined, in practice a far-future token refused as expired).
  TokenClaims c = claims();
  c.expiresAt = std::numeric_limits<int64_t>::max();
  auto result = verifyToken(signToken(c, kSecret), kSecret, "room-1", kNow);
  EXPECT_TRUE(result.ok());
}

// ---------------------------------------------------------------------------------------
// Room and claims

TEST(Token, WrongRoomIsForbidden) {
  const std::string token = signToken(claims(), kSecret);
  EXPECT_EQ(verifyError(token, "room-2"), ErrorCode::Forbidden);
  EXPECT_EQ(verifyError(token, ""), ErrorCode::Forbidden);
  EXPECT_EQ(verifyError(token, "room-1 "), ErrorCode::Forbidden);
  EXPECT_EQ(verifyError(token, "ROOM-1"), ErrorCode::Forbidden);
}

TEST(Token, UnknownRoleIsRejected) {
  for (const char* role : {"admin", "Host", "", "root", "speaker "}) {
    EXPECT_EQ(verifyError(buildToken(kHs256Header, payload("room-1", role))), ErrorCode::Unauthorized) << role;
  }
}

TEST(Token, MissingOrMistypedClaimsAreRejected) {
  const std::string exp = std::to_string(kNow + 60);
  for (const std::string& body : {
           R"({"room":"room-1","role":"speaker","exp":)" + exp + "}",                  // no sub
           R"({"sub":"u","role":"speaker","exp":)" + exp + "}",                        // no room
           R"({"sub":"u","room":"room-1","exp":)" + exp + "}",                         // no role
           std::string(R"({"sub":"u","room":"room-1","role":"speaker"})"),             // no exp
           R"({"sub":"u","room":"room-1","role":"speaker","exp":")" + exp + "\"}",     // exp as string
           std::string(R"({"sub":"u","room":"room-1","role":"speaker","exp":1.5e9})"),  // exp as float
           std::string(R"({"sub":"u","room":"room-1","role":"speaker","exp":-1})"),     // negative exp
           R"({"sub":7,"room":"room-1","role":"speaker","exp":)" + exp + "}",          // sub as number
           R"({"sub":"u","room":"room-1","role":"speaker","name":5,"exp":)" + exp + "}",  // name as number
           std::string("[]"),
           std::string("not json"),
           std::string(""),
       }) {
    EXPECT_EQ(verifyError(buildToken(kHs256Header, body)), ErrorCode::Unauthorized) << body;
  }
}

// ---------------------------------------------------------------------------------------
// Malformed tokens

TEST(Token, EmptyTokenIsUnauthorized) { EXPECT_EQ(verifyError(""), ErrorCode::Unauthorized); }

TEST(Token, WrongNumberOfPartsIsUnauthorized) {
  const auto parts = split(signToken(claims(), kSecret));
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(verifyError(parts[0] + "." + parts[1]), ErrorCode::Unauthorized);                                // 2 parts
  EXPECT_EQ(verifyError(parts[0]), ErrorCode::Unauthorized);                                                 // 1 part
  EXPECT_EQ(verifyError(parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[2]), ErrorCode::Unauthorized);  // 4
  EXPECT_EQ(verifyError(parts[0] + "." + parts[1] + "." + parts[2] + "."), ErrorCode::Unauthorized);  // 4, last empty
  EXPECT_EQ(verifyError(".."), ErrorCode::Unauthorized);
  EXPECT_EQ(verifyError("..."), ErrorCode::Unauthorized);
  EXPECT_EQ(verifyError("."), ErrorCode::Unauthorized);
}

TEST(Token, BadBase64IsUnauthorized) {
  const auto parts = split(signToken(claims(), kSecret));
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(verifyError("!!!." + parts[1] + "." + parts[2]), ErrorCode::Unauthorized);
  EXPECT_EQ(verifyError(parts[0] + ".pay load." + parts[2]), ErrorCode::Unauthorized);
  EXPECT_EQ(verifyError(parts[0] + "." + parts[1] + "." + parts[2] + "="), ErrorCode::Unauthorized);  // padding
  EXPECT_EQ(verifyError(parts[0] + "=." + parts[1] + "." + parts[2]), ErrorCode::Unauthorized);
  // Standard base64 alphabet ('+', '/') instead of base64url.
  std::string std64 = parts[1];
  for (char& c : std64) c = c == '-' ? '+' : c == '_' ? '/' : c;
  if (std64 != parts[1]) {
    EXPECT_EQ(verifyError(parts[0] + "." + std64 + "." + parts[2]), ErrorCode::Unauthorized);
  }
  // A length that no base64 text can have (4n + 1).
  EXPECT_EQ(verifyError("A." + parts[1] + "." + parts[2]), ErrorCode::Unauthorized);
  EXPECT_EQ(verifyError(parts[0] + "." + parts[1] + "." + parts[2].substr(0, 41)), ErrorCode::Unauthorized);
  // Non-ASCII bytes.
  EXPECT_EQ(verifyError(parts[0] + ".\xc3\xa9." + parts[2]), ErrorCode::Unauthorized);
  EXPECT_EQ(verifyError(std::string_view("a\0b.c.d", 7)), ErrorCode::Unauthorized);
}

TEST(Token, OverlongTokenIsUnauthorized) {
  const std::string token = signToken(claims(), kSecret);
  std::string huge = token;
  huge.append(kMaxTokenBytes + 1 - huge.size(), 'A');
  ASSERT_EQ(huge.size(), kMaxTokenBytes + 1);
  EXPECT_EQ(verifyError(huge), ErrorCode::Unauthorized);
  // A well-formed but huge token (a name padding the payload) is refused by size alone.
  TokenClaims big = claims();
  big.name = std::string(4000, 'n');
  const std::string bigToken = signToken(big, kSecret);
  ASSERT_GT(bigToken.size(), kMaxTokenBytes);
  auto result = verifyToken(bigToken, kSecret, "room-1", kNow);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::Unauthorized);
  EXPECT_NE(result.error().message.find("too long"), std::string::npos);
}

TEST(Token, GarbageInputsNeverVerify) {
  for (const char* junk : {"a.b.c", "eyJ.eyJ.sig", "null.null.null", "e30.e30.", "e30.e30.e30", " . . "}) {
    EXPECT_EQ(verifyError(junk), ErrorCode::Unauthorized) << junk;
  }
}

}  // namespace
}  // namespace roomcast::protocol
