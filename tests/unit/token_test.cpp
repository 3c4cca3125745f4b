// HS256 tokens: round trip and every way a token can be wrong.
#include <glib.h>
#include <gtest/gtest.h>

#include "protocol/token.h"

using namespace roomcast;
using protocol::TokenClaims;

namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef";
const int64_t kNow = 1800000000;

TokenClaims claims() { return {"room1", "user1", "Ada", core::Role::Speaker, kNow, kNow - 1, kNow + 3600}; }

std::string b64url(const std::string& data) {
  g_autofree char* b64 = g_base64_encode(reinterpret_cast<const guchar*>(data.data()), data.size());
  std::string out(b64);
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::string hs256(const std::string& key, const std::string& data) {
  g_autoptr(GHmac) h = g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(key.data()), key.size());
  g_hmac_update(h, reinterpret_cast<const guchar*>(data.data()), data.size());
  guint8 digest[32];
  gsize len = sizeof digest;
  g_hmac_get_digest(h, digest, &len);
  return b64url(std::string(reinterpret_cast<char*>(digest), len));
}

// A token with an arbitrary header and payload, MACed with `key`.
std::string handMade(const std::string& header, const std::string& payload, const std::string& key = kSecret) {
  const std::string input = b64url(header) + "." + b64url(payload);
  return input + "." + hs256(key, input);
}

const char* kPayload = R"({"sub":"user1","name":"Ada","room":"room1","role":"speaker","iat":1800000000,"nbf":1799999999,"exp":1800003600})";

core::ErrorCode verifyCode(const std::string& token, const std::string& room = "room1", int64_t now = kNow) {
  auto r = protocol::verifyToken(token, kSecret, room, now);
  EXPECT_FALSE(r.ok()) << token;
  return r.ok() ? core::ErrorCode::Internal : r.error().code;
}

TEST(Token, RoundTrip) {
  const std::string token = protocol::signToken(claims(), kSecret);
  auto r = protocol::verifyToken(token, kSecret, "room1", kNow);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->identity, "user1");
  EXPECT_EQ(r->name, "Ada");
  EXPECT_EQ(r->role, core::Role::Speaker);
  EXPECT_EQ(r->expiresAt, kNow + 3600);
  EXPECT_TRUE(protocol::verifyToken(handMade(R"({"alg":"HS256","typ":"JWT"})", kPayload), kSecret, "room1", kNow).ok());
}

TEST(Token, WrongKeyAndTampering) {
  const std::string token = protocol::signToken(claims(), kSecret);
  EXPECT_EQ(verifyCode(protocol::signToken(claims(), "another secret of enough length!!")), core::ErrorCode::Unauthorized);
  // Change the role in the payload, keep the signature.
  const size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  std::string payload = R"({"sub":"user1","name":"Ada","room":"room1","role":"host","iat":1800000000,"nbf":1799999999,"exp":1800003600})";
  EXPECT_EQ(verifyCode(token.substr(0, dot1) + "." + b64url(payload) + token.substr(dot2)), core::ErrorCode::Unauthorized);
  // Flip a signature character.
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(verifyCode(flipped), core::ErrorCode::Unauthorized);
}

TEST(Token, AlgorithmIsPinned) {
  EXPECT_EQ(verifyCode(b64url(R"({"alg":"none"})") + "." + b64url(kPayload) + "."), core::ErrorCode::Unauthorized);
  EXPECT_EQ(verifyCode(handMade(R"({"alg":"none"})", kPayload)), core::ErrorCode::Unauthorized);
  // A correct HS256 MAC under a header that claims another algorithm is still refused.
  EXPECT_EQ(verifyCode(handMade(R"({"alg":"HS512"})", kPayload)), core::ErrorCode::Unauthorized);
  EXPECT_EQ(verifyCode(handMade(R"({"alg":"RS256"})", kPayload)), core::ErrorCode::Unauthorized);
  EXPECT_EQ(verifyCode(handMade(R"({"typ":"JWT"})", kPayload)), core::ErrorCode::Unauthorized);
}

TEST(Token, TimeWindow) {
  const std::string token = protocol::signToken(claims(), kSecret);
  EXPECT_TRUE(protocol::verifyToken(token, kSecret, "room1", kNow + 3600 + 29).ok()) << "within clock-skew leeway";
  EXPECT_EQ(verifyCode(token, "room1", kNow + 3600 + 31), core::ErrorCode::Unauthorized);
  TokenClaims future = claims();
  future.notBefore = kNow + 600;
  EXPECT_EQ(verifyCode(protocol::signToken(future, kSecret)), core::ErrorCode::Unauthorized);
}

TEST(Token, WrongRoomIsForbidden) {
  EXPECT_EQ(verifyCode(protocol::signToken(claims(), kSecret), "room2"), core::ErrorCode::Forbidden);
}

TEST(Token, Malformed) {
  for (const std::string& bad : {std::string(""), std::string("a.b"), std::string("a.b.c.d"), std::string("..."),
                                 std::string("!!!.###.$$$"), std::string("a.b.c"), std::string(5000, 'a')})
    EXPECT_EQ(verifyCode(bad), core::ErrorCode::Unauthorized) << bad.substr(0, 20);
  EXPECT_EQ(verifyCode(handMade(R"({"alg":"HS256"})", "not json")), core::ErrorCode::Unauthorized);
  EXPECT_EQ(verifyCode(handMade(R"({"alg":"HS256"})", R"({"sub":"u","room":"room1","role":"king","exp":1900000000})")),
            core::ErrorCode::Unauthorized);
  EXPECT_EQ(verifyCode(handMade(R"({"alg":"HS256"})", R"({"sub":"u","room":"room1","role":"speaker"})")),
            core::ErrorCode::Unauthorized) << "no expiry";
  EXPECT_EQ(verifyCode(handMade(R"({"alg":"HS256"})", R"({"sub":"u","room":"room1","role":"speaker","exp":"soon"})")),
            core::ErrorCode::Unauthorized);
}

}  // namespace
