// TURN REST API credentials (coturn's use-auth-secret): the username carries the expiry and the
// identity, the password is base64(HMAC-SHA1(secret, username)); and the URIs the CLI hands to
// webrtcbin from a welcome's ice_servers.
#include <gtest/gtest.h>

#include "client/turn_uris.h"
#include "protocol/json.h"
#include "signaling/turn_credentials.h"

namespace roomcast::signaling {
namespace {

// The expected value was computed with the openssl CLI, independently of this code:
//   printf '%s' '1767225600:alice' | openssl dgst -sha1 -hmac 'north-wind-shared-secret' -binary | base64
TEST(TurnCredentials, MatchesOpensslHmacSha1Vector) {
  const TurnCredential c = mintTurnCredential("north-wind-shared-secret", "alice", 1767222000, 3600);
  EXPECT_EQ(c.username, "1767225600:alice");
  EXPECT_EQ(c.credential, "Q583njnBjzultGUiOJZMHiIL1QA=");
}

TEST(TurnCredentials, ExpiryFollowsTtlAndSecretMatters) {
  const TurnCredential a = mintTurnCredential("s1", "bob", 1000, 60);
  const TurnCredential b = mintTurnCredential("s2", "bob", 1000, 60);
  EXPECT_EQ(a.username, "1060:bob");
  EXPECT_EQ(a.username, b.username);
  EXPECT_NE(a.credential, b.credential);
}

TEST(TurnCredentials, WelcomeCarriesEveryUrlWithOneCredential) {
  TurnConfig turn{{"turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"}, "k", 600};
  const auto servers = iceServersFor(turn, "u-1", 100);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].urls, turn.urls);
  EXPECT_EQ(servers[0].username, "700:u-1");
  EXPECT_EQ(servers[0].credential, mintTurnCredential("k", "u-1", 100, 600).credential);
  EXPECT_TRUE(iceServersFor(TurnConfig{}, "u-1", 100).empty());
}

// webrtcbin splits USER:PASS at the first ':' after unescaping; a TURN REST username holds one,
// so both parts are percent-escaped.
TEST(TurnUris, WelcomeIceServersBecomeEscapedWebrtcbinUris) {
  const char* welcome = R"({"type":"welcome","ice_servers":[{"urls":["turn:10.0.0.1:3478?transport=tcp",
      "turns:t.example.org:5349","stun:ignored:3478"],"username":"1700000000:u-1","credential":"a/b+c="}]})";
  auto parsed = protocol::parseObject(welcome, 4096, 8);
  ASSERT_TRUE(parsed);
  const auto uris = client::turnUrisFromWelcome(json_node_get_object(parsed->get()));
  ASSERT_EQ(uris.size(), 2u);
  EXPECT_EQ(uris[0], "turn://1700000000%3Au-1:a%2Fb%2Bc%3D@10.0.0.1:3478?transport=tcp");
  EXPECT_EQ(uris[1], "turns://1700000000%3Au-1:a%2Fb%2Bc%3D@t.example.org:5349");
}

}  // namespace
}  // namespace roomcast::signaling
