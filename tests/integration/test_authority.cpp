// Authority comes from the room's live state, never from an old token: a demoted speaker who
// rejoins is a listener, a revoked or removed co-host moderates nothing over REST, tokens that
// a removed co-host issued stop working, the host's name is the host's, and per-address quotas
// hold across anonymous identities. Real roomcastd, real REST and WebSocket.
#include <gtest/gtest.h>

#include "processes.h"
#include "room_helpers.h"
#include "ws_client.h"

using namespace roomcast::testing;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Joined {
  std::unique_ptr<WsClient> ws = std::make_unique<WsClient>();
  std::string welcome;
  std::string error;
};

Joined join(const Daemon& daemon, const TestRoom& room, const std::string& token, const std::string& forwardedFor = {}) {
  Joined j;
  if (!j.ws->connect(wsUrl(daemon, room.id), 10, {}, forwardedFor)) return j;
  j.ws->send(R"({"type":"hello","version":1,"token":")" + token + "\"}");
  std::string m;
  if (j.ws->waitFor([](const std::string& s) { return s.find("\"welcome\"") != std::string::npos ||
                                                      s.find("\"error\"") != std::string::npos; },
                    m))
    (m.find("\"welcome\"") != std::string::npos ? j.welcome : j.error) = m;
  return j;
}

HttpResponse moderate(const Daemon& daemon, const TestRoom& room, const std::string& token, const std::string& action,
                    const std::string& identity) {
  return http("POST", daemon.url() + "/api/v1/rooms/" + room.id + "/moderation",
              R"({"action":")" + action + R"(","identity":")" + identity + "\"}",
              {{"Authorization", "Bearer " + token}});
}

struct Minted {
  std::string token;
  std::string identity;
};

Minted mint(const Daemon& daemon, const TestRoom& room, const std::string& bearer, const char* role, const char* name) {
  auto r = http("POST", daemon.url() + "/api/v1/rooms/" + room.id + "/tokens",
                std::string(R"({"role":")") + role + R"(","name":")" + name + "\"}",
                bearer.empty() ? Headers{} : Headers{{"Authorization", "Bearer " + bearer}});
  EXPECT_EQ(r.status, 201) << r.body;
  return {jsonString(r.body, "token"), jsonString(r.body, "identity")};
}

TEST(Authority, DemotedSpeakerWhoRejoinsWithTheOldTokenIsAListener) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  const Minted grace = mint(daemon, room, room.hostToken, "speaker", "Grace");

  Joined first = join(daemon, room, grace.token);
  ASSERT_EQ(jsonString(first.welcome, "you.role"), "speaker") << first.welcome << first.error;
  auto demoted = moderate(daemon, room, room.hostToken, "demote", grace.identity);
  ASSERT_EQ(demoted.status, 200) << demoted.body;
  std::string changed;
  ASSERT_TRUE(first.ws->waitForType("role-changed", changed));
  first.ws->send(R"({"type":"leave"})");
  ASSERT_TRUE(first.ws->waitClosed());

  Joined again = join(daemon, room, grace.token);
  EXPECT_EQ(jsonString(again.welcome, "you.role"), "listener") << again.welcome << again.error;
  // And a listener may not open a WebRTC session without a hand up.
  again.ws->send(R"({"type":"offer","sdp":"v=0"})");
  std::string refused;
  ASSERT_TRUE(again.ws->waitForType("error", refused));
  EXPECT_EQ(jsonString(refused, "error.code"), "forbidden") << refused;
}

TEST(Authority, RevokedAndRemovedCohostsModerateNothingOverRest) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  const Minted ada = mint(daemon, room, room.hostToken, "cohost", "Ada");
  const Minted bob = mint(daemon, room, room.hostToken, "cohost", "Bob");
  const Minted eve = mint(daemon, room, room.hostToken, "speaker", "Eve");
  Joined adaWs = join(daemon, room, ada.token);
  Joined bobWs = join(daemon, room, bob.token);
  Joined eveWs = join(daemon, room, eve.token);
  ASSERT_FALSE(adaWs.welcome.empty() || bobWs.welcome.empty() || eveWs.welcome.empty());

  // While a co-host, Ada mutes Eve and mints a speaker token.
  ASSERT_EQ(moderate(daemon, room, ada.token, "mute", eve.identity).status, 200);
  const Minted adasGuest = mint(daemon, room, ada.token, "speaker", "Guest of Ada");

  // Revoked: a speaker now. Her token still says co-host; the room does not.
  ASSERT_EQ(moderate(daemon, room, room.hostToken, "revoke-cohost", ada.identity).status, 200);
  auto asSpeaker = moderate(daemon, room, ada.token, "unmute", eve.identity);
  EXPECT_EQ(asSpeaker.status, 403) << asSpeaker.body;
  auto reports = http("GET", daemon.url() + "/api/v1/rooms/" + room.id + "/reports", "",
                      {{"Authorization", "Bearer " + ada.token}});
  EXPECT_EQ(reports.status, 403) << reports.body;

  // Removed: Bob's REST moderation, token minting and reports are refused, and the token he
  // minted while a co-host no longer lets anyone in.
  const Minted bobsGuest = mint(daemon, room, bob.token, "speaker", "Guest of Bob");
  ASSERT_EQ(moderate(daemon, room, room.hostToken, "remove", bob.identity).status, 200);
  ASSERT_TRUE(bobWs.ws->waitClosed());
  auto removed = moderate(daemon, room, bob.token, "mute", eve.identity);
  EXPECT_EQ(removed.status, 403) << removed.body;
  EXPECT_EQ(jsonString(removed.body, "error.code"), "forbidden");
  auto minting = http("POST", daemon.url() + "/api/v1/rooms/" + room.id + "/tokens",
                      R"({"role":"speaker","name":"Another"})", {{"Authorization", "Bearer " + bob.token}});
  EXPECT_EQ(minting.status, 403) << minting.body;
  Joined viaBob = join(daemon, room, bobsGuest.token);
  EXPECT_TRUE(viaBob.welcome.empty());
  EXPECT_EQ(jsonString(viaBob.error, "error.code"), "forbidden") << viaBob.error;
  Joined bobAgain = join(daemon, room, bob.token);
  EXPECT_EQ(jsonString(bobAgain.error, "error.code"), "forbidden") << bobAgain.error;

  // A token is honoured while its issuer may still issue it: Ada's unused one no longer is.
  Joined viaAda = join(daemon, room, adasGuest.token);
  EXPECT_EQ(jsonString(viaAda.error, "error.code"), "forbidden") << viaAda.welcome;
}

TEST(Authority, TheHostsNameIsTheHosts) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  auto created = http("POST", daemon.url() + "/api/v1/rooms", R"({"title":"Names","host_name":"Margaret"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string roomId = jsonString(created.body, "id");
  auto taken = http("POST", daemon.url() + "/api/v1/rooms/" + roomId + "/tokens", R"({"role":"listener","name":" margaret "})");
  EXPECT_EQ(taken.status, 409) << taken.body;
  EXPECT_EQ(jsonString(taken.body, "error.code"), "conflict");
  auto other = http("POST", daemon.url() + "/api/v1/rooms/" + roomId + "/tokens", R"({"role":"listener","name":"Maggie"})");
  EXPECT_EQ(other.status, 201) << other.body;
}

TEST(Authority, QuotasHoldAcrossAnonymousIdentitiesOfOneAddress) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  // Through a proxy on this host (as the nginx edge is): one client address for all of them.
  const std::string address = "198.51.100.7";
  const Headers viaProxy{{"X-Forwarded-For", address}};
  std::vector<Joined> listeners;
  for (int i = 0; i < 10; i++) {
    auto r = http("POST", daemon.url() + "/api/v1/rooms/" + room.id + "/tokens",
                  R"({"role":"listener","name":"anon )" + std::to_string(i) + "\"}", viaProxy);
    ASSERT_EQ(r.status, 201) << r.body;
    listeners.push_back(join(daemon, room, jsonString(r.body, "token"), address));
    ASSERT_FALSE(listeners.back().welcome.empty()) << listeners.back().error;
  }
  // Each identity may send a burst of 5 chats; ten of them from one address get 20 in all.
  int limited = 0;
  for (auto& l : listeners) {
    for (int i = 0; i < 5; i++) l.ws->send(R"({"type":"chat","text":"spam"})");
    l.ws->send(R"({"type":"ping"})");  // answered after the chats: every refusal has come by then
  }
  for (auto& l : listeners) {
    std::string pong;
    ASSERT_TRUE(l.ws->waitFor([&](const std::string& m) {
      if (m.find("\"rate_limited\"") != std::string::npos) limited++;
      return m.find("\"pong\"") != std::string::npos;
    }, pong));
  }
  const int delivered = 50 - limited;
  EXPECT_LE(delivered, 24) << "a burst of 20 per address, and 2 a second";
  EXPECT_GE(delivered, 20);

  // Token minting from that address runs out too, while another address is served.
  int refused = 0;
  for (int i = 0; i < 40 && refused == 0; i++) {
    auto r = http("POST", daemon.url() + "/api/v1/rooms/" + room.id + "/tokens",
                  R"({"role":"listener","name":"more )" + std::to_string(i) + "\"}", viaProxy);
    if (r.status != 429) continue;
    refused++;
    EXPECT_EQ(jsonString(r.body, "error.code"), "rate_limited");
  }
  EXPECT_EQ(refused, 1) << "a burst of 30 tokens per address";
  auto elsewhere = http("POST", daemon.url() + "/api/v1/rooms/" + room.id + "/tokens",
                        R"({"role":"listener","name":"elsewhere"})", {{"X-Forwarded-For", "203.0.113.9"}});
  EXPECT_EQ(elsewhere.status, 201) << elsewhere.body;
}

TEST(Authority, ChatQuotaIsPerIdentityAcrossConnections) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  const Minted ann = mint(daemon, room, "", "listener", "Ann");
  int delivered = 0;
  // Five sockets in turn, three chats each, with the same identity: one burst of 5 in all.
  for (int socket = 0; socket < 5; socket++) {
    Joined j = join(daemon, room, ann.token);
    ASSERT_FALSE(j.welcome.empty()) << j.error;
    for (int i = 0; i < 3; i++) j.ws->send(R"({"type":"chat","text":"hi"})");
    j.ws->send(R"({"type":"ping"})");
    int limited = 0;
    std::string pong;
    ASSERT_TRUE(j.ws->waitFor([&](const std::string& m) {
      if (m.find("\"rate_limited\"") != std::string::npos) limited++;
      return m.find("\"pong\"") != std::string::npos;
    }, pong));
    delivered += 3 - limited;
    j.ws->send(R"({"type":"leave"})");
    ASSERT_TRUE(j.ws->waitClosed());
  }
  EXPECT_LE(delivered, 6) << "a burst of 5 per identity (one more may refill in the meantime)";
}

TEST(Authority, CrossSiteAndNonJsonPostsCreateNothing) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  auto plain = http("POST", daemon.url() + "/api/v1/rooms", R"({"title":"csrf"})", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(plain.status, 415) << plain.body;
  EXPECT_EQ(jsonString(plain.body, "error.code"), "unsupported_media_type");
  auto foreign = http("POST", daemon.url() + "/api/v1/rooms", R"({"title":"csrf"})", {{"Origin", "http://evil.example"}});
  EXPECT_EQ(foreign.status, 403) << foreign.body;
  // DNS rebinding: the attacker's name in both Host and Origin proves nothing.
  auto rebound = http("POST", daemon.url() + "/api/v1/rooms", R"({"title":"csrf"})",
                      {{"Origin", "http://evil.example:1234"}, {"Host", "evil.example:1234"}});
  EXPECT_EQ(rebound.status, 403) << rebound.body;
  auto rooms = http("GET", daemon.url() + "/api/v1/rooms");
  EXPECT_EQ(jsonCount(rooms.body, "rooms"), 0) << rooms.body;
  auto own = http("POST", daemon.url() + "/api/v1/rooms", R"({"title":"mine"})", {{"Origin", daemon.url()}});
  EXPECT_EQ(own.status, 201) << own.body;
}

TEST(Authority, RoomCreationIsRateLimitedPerAddress) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  int created = 0, limited = 0;
  for (int i = 0; i < 12; i++) {
    auto r = http("POST", daemon.url() + "/api/v1/rooms", R"({"title":"flood"})", {{"X-Forwarded-For", "198.51.100.8"}});
    if (r.status == 201) created++;
    if (r.status == 429) limited++;
  }
  EXPECT_EQ(created, 5) << "a burst of 5 rooms per address";
  EXPECT_EQ(limited, 7);
  auto operatorRoom = http("POST", daemon.url() + "/api/v1/rooms", R"({"title":"from this host"})");
  EXPECT_EQ(operatorRoom.status, 201) << "this host's own clients are not counted";
}

}  // namespace
