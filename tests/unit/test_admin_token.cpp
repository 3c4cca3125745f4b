// Admin tokens (protocol/admin_token.h): verified by the secret of the API key named in "iss",
// "exp" required, grants read only as booleans, and hostile tokens (alg none, another key's
// secret, unknown iss, tampered grants, expired) refused. The hostile tokens are built here
// with the test's own base64url and HMAC (GLib), independent of the code under test.
// Also the signed recording URLs.
#include <gtest/gtest.h>
#include <glib.h>

#include <map>
#include <string>

#include "hand_made_jws.h"
#include "protocol/admin_token.h"

namespace roomcast::protocol {
namespace {

using testing::b64url;
using testing::handMadeJws;

constexpr int64_t kNow = 1'800'000'000;
const std::map<std::string, std::string> kKeys = {
    {"ops", "ops-secret-0123456789abcdef0123456789"},
    {"backup", "backup-secret-0123456789abcdef012345"},
};

ApiSecretLookup lookup() {
  return [](std::string_view key) -> std::optional<std::string> {
    auto it = kKeys.find(std::string(key));
    return it == kKeys.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

std::string payload(const std::string& iss, int64_t exp, const std::string& grants) {
  return R"({"iss":")" + iss + R"(","exp":)" + std::to_string(exp) + R"(,"grants":)" + grants + "}";
}

using core::ErrorCode;

ErrorCode codeOf(const core::Result<AdminClaims>& r) {
  EXPECT_FALSE(r.ok());
  return r.ok() ? ErrorCode::Internal : r.error().code;
}

TEST(AdminToken, HandMadeTokenOfAKnownKeyVerifiesWithItsGrants) {
  const auto token = handMadeJws(payload("ops", kNow + 60, R"({"room_create":true,"archive":false})"), kKeys.at("ops"));
  auto claims = verifyAdminToken(token, lookup(), kNow);
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(claims->apiKey, "ops");
  EXPECT_TRUE(claims->grants.roomCreate);
  EXPECT_FALSE(claims->grants.archive);
  EXPECT_FALSE(claims->grants.roomAdmin) << "a grant not given is not granted";
}

TEST(AdminToken, SignedTokenRoundTrips) {
  AdminClaims c{"backup", "alice", kNow, kNow + 300, {false, true, true}};
  auto back = verifyAdminToken(signAdminToken(c, kKeys.at("backup")), lookup(), kNow);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->subject, "alice");
  EXPECT_TRUE(back->grants.roomAdmin && back->grants.archive && !back->grants.roomCreate);
}

TEST(AdminToken, EachKeyVerifiesOnlyWithItsOwnSecret) {
  // iss says "ops" but backup's secret signed it (a key holder posing as another key).
  const auto token = handMadeJws(payload("ops", kNow + 60, R"({"room_admin":true})"), kKeys.at("backup"));
  EXPECT_EQ(codeOf(verifyAdminToken(token, lookup(), kNow)), ErrorCode::Unauthorized);
  const auto foreign = handMadeJws(payload("ops", kNow + 60, R"({"room_admin":true})"), "some-other-secret-0123456789abcdef");
  EXPECT_EQ(codeOf(verifyAdminToken(foreign, lookup(), kNow)), ErrorCode::Unauthorized);
}

TEST(AdminToken, UnknownIssIsRefused) {
  const auto token = handMadeJws(payload("nobody", kNow + 60, R"({"archive":true})"), kKeys.at("ops"));
  auto r = verifyAdminToken(token, lookup(), kNow);
  EXPECT_EQ(codeOf(r), ErrorCode::Unauthorized);
  EXPECT_NE(r.error().message.find("unknown API key"), std::string::npos) << r.error().message;
  // A room token's iss is "roomcast": never an API key.
  const auto room = handMadeJws(R"({"iss":"roomcast","exp":)" + std::to_string(kNow + 60) + "}", kKeys.at("ops"));
  EXPECT_EQ(codeOf(verifyAdminToken(room, lookup(), kNow)), ErrorCode::Unauthorized);
}

TEST(AdminToken, ExpiredOrWithoutExpIsRefused) {
  EXPECT_EQ(codeOf(verifyAdminToken(handMadeJws(payload("ops", kNow - 31, R"({"archive":true})"), kKeys.at("ops")),
                                    lookup(), kNow)),
            ErrorCode::Unauthorized);
  // Within the 30 s of clock skew allowed: still good.
  EXPECT_TRUE(verifyAdminToken(handMadeJws(payload("ops", kNow - 29, "{}"), kKeys.at("ops")), lookup(), kNow).ok());
  EXPECT_EQ(codeOf(verifyAdminToken(handMadeJws(R"({"iss":"ops","grants":{"archive":true}})", kKeys.at("ops")), lookup(),
                                    kNow)),
            ErrorCode::Unauthorized);
  const auto notYet = handMadeJws(R"({"iss":"ops","exp":)" + std::to_string(kNow + 600) + R"(,"nbf":)" +
                                   std::to_string(kNow + 300) + "}",
                               kKeys.at("ops"));
  EXPECT_EQ(codeOf(verifyAdminToken(notYet, lookup(), kNow)), ErrorCode::Unauthorized);
}

TEST(AdminToken, OnlyHs256IsAccepted) {
  const std::string p = payload("ops", kNow + 60, R"({"archive":true})");
  const auto none = b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(p) + ".";
  EXPECT_EQ(codeOf(verifyAdminToken(none, lookup(), kNow)), ErrorCode::Unauthorized);
  const auto hs512 = handMadeJws(p, kKeys.at("ops"), R"({"alg":"HS512","typ":"JWT"})");
  EXPECT_EQ(codeOf(verifyAdminToken(hs512, lookup(), kNow)), ErrorCode::Unauthorized);
}

TEST(AdminToken, TamperedGrantsBreakTheSignature) {
  const auto token = handMadeJws(payload("ops", kNow + 60, R"({"room_create":true})"), kKeys.at("ops"));
  const size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  const std::string escalated = token.substr(0, dot1 + 1) +
                                b64url(payload("ops", kNow + 60, R"({"room_create":true,"room_admin":true})")) +
                                token.substr(dot2);
  EXPECT_EQ(codeOf(verifyAdminToken(escalated, lookup(), kNow)), ErrorCode::Unauthorized);
}

TEST(AdminToken, GrantsMustBeBooleans) {
  for (const char* grants : {R"({"archive":"true"})", R"({"archive":1})", R"(["archive"])", R"("all")"}) {
    const auto token = handMadeJws(payload("ops", kNow + 60, grants), kKeys.at("ops"));
    EXPECT_EQ(codeOf(verifyAdminToken(token, lookup(), kNow)), ErrorCode::Unauthorized) << grants;
  }
}

TEST(AdminToken, GarbageIsRefused) {
  for (const char* token : {"", "abc", "a.b", "a.b.c.d", "!!!.???.***"})
    EXPECT_EQ(codeOf(verifyAdminToken(token, lookup(), kNow)), ErrorCode::Unauthorized) << token;
  EXPECT_EQ(codeOf(verifyAdminToken(std::string(5000, 'a'), lookup(), kNow)), ErrorCode::Unauthorized);
}

TEST(AdminToken, HasReadsEachGrant) {
  AdminGrants g{true, false, true};
  EXPECT_TRUE(has(g, Grant::RoomCreate));
  EXPECT_FALSE(has(g, Grant::RoomAdmin));
  EXPECT_TRUE(has(g, Grant::Archive));
  EXPECT_EQ(grantName(Grant::RoomAdmin), "room_admin");
}

TEST(SignedRecordingUrl, PlaysUntilItExpiresForThatFileOnly) {
  const std::string secret = "server-secret-0123456789abcdef0123456789";
  const std::string query = signRecordingQuery("a.ogg", kNow + 100, secret);
  const size_t amp = query.find('&');
  ASSERT_EQ(query.rfind("exp=", 0), 0u) << query;
  const std::string exp = query.substr(4, amp - 4), sig = query.substr(amp + 5);
  EXPECT_TRUE(verifyRecordingQuery("a.ogg", exp, sig, kNow, secret));
  EXPECT_TRUE(verifyRecordingQuery("a.ogg", exp, sig, kNow + 100, secret));
  EXPECT_FALSE(verifyRecordingQuery("a.ogg", exp, sig, kNow + 101, secret)) << "expired";
  EXPECT_FALSE(verifyRecordingQuery("b.ogg", exp, sig, kNow, secret)) << "another file";
  EXPECT_FALSE(verifyRecordingQuery("a.ogg", std::to_string(kNow + 100000), sig, kNow, secret)) << "extended";
  EXPECT_FALSE(verifyRecordingQuery("a.ogg", exp, sig, kNow, "another-secret-0123456789abcdef01234")) << "other server";
  EXPECT_FALSE(verifyRecordingQuery("a.ogg", "", sig, kNow, secret));
  EXPECT_FALSE(verifyRecordingQuery("a.ogg", "99999999999999999999999", sig, kNow, secret)) << "overflow";
  EXPECT_FALSE(verifyRecordingQuery("a.ogg", "-5", sig, kNow, secret));
}

}  // namespace
}  // namespace roomcast::protocol
