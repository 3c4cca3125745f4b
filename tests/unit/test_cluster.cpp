// The cluster's pure parts: Redis URLs, hiredis replies as C++ values, the lease's fencing
// clock (on a fake clock), the heartbeat's JSON, the least-loaded pick, placements counted
// until a heartbeat has them, and room records.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cstring>
#include <map>

#include "cluster/owner_lookup.h"
#include "cluster/node_registry.h"
#include "cluster/redis_connection.h"
#include "cluster/placement.h"
#include "cluster/room_directory.h"
#include "cluster/room_lease.h"
#include "cluster/room_snapshot.h"
#include "cluster/failover_watch.h"

using namespace roomcast::cluster;

TEST(RedisUrl, ParsesHostPortAndDatabase) {
  auto url = parseRedisUrl("redis://127.0.0.1:6390/3");
  ASSERT_TRUE(url) << url.error().message;
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 6390);
  EXPECT_EQ(url->db, 3);
  EXPECT_EQ(url->text(), "redis://127.0.0.1:6390/3");

  url = parseRedisUrl("redis://redis.internal");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "redis.internal");
  EXPECT_EQ(url->port, 6379);
  EXPECT_EQ(url->db, 0);

  url = parseRedisUrl("redis://[::1]:7000/");
  ASSERT_TRUE(url) << url.error().message;
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 7000);
  EXPECT_EQ(url->text(), "redis://[::1]:7000");
}

TEST(RedisUrl, RefusesWhatIsNotOne) {
  const char* bad[] = {"", "127.0.0.1:6379", "http://127.0.0.1:6379", "redis://", "redis://:6379",
                       "redis://host:0", "redis://host:65536", "redis://host:port", "redis://host:6379/x",
                       "redis://host:6379/1/2", "redis://user:pw@host:6379", "redis://host:6379?db=1",
                       "redis://[::1", "redis://[nothost]:1", "redis://ho st:1", "redis://host:-1"};
  for (const char* text : bad) {
    auto url = parseRedisUrl(text);
    EXPECT_FALSE(url) << text;
    if (!url) {
      EXPECT_EQ(url.error().code, roomcast::core::ErrorCode::BadRequest);
      EXPECT_NE(url.error().message.find("redis://HOST:PORT"), std::string::npos) << url.error().message;
    }
  }
  const std::string huge = "redis://" + std::string(300, 'a') + ":1";
  auto url = parseRedisUrl(huge);
  ASSERT_FALSE(url);
  EXPECT_LT(url.error().message.size(), 200u) << "a long URL is not echoed whole";
}

TEST(RedisReplyConversion, CopiesEveryType) {
  char text[] = "hello";
  char status[] = "OK";
  char error[] = "ERR wrong";
  redisReply s{}, st{}, e{}, i{}, nil{}, arr{};
  s.type = REDIS_REPLY_STRING, s.str = text, s.len = 5;
  st.type = REDIS_REPLY_STATUS, st.str = status, st.len = 2;
  e.type = REDIS_REPLY_ERROR, e.str = error, e.len = std::strlen(error);
  i.type = REDIS_REPLY_INTEGER, i.integer = -42;
  nil.type = REDIS_REPLY_NIL;
  redisReply* items[] = {&s, &i, &nil};
  arr.type = REDIS_REPLY_ARRAY, arr.elements = 3, arr.element = items;

  EXPECT_EQ(convertReply(&s).type, RedisReply::Type::String);
  EXPECT_EQ(convertReply(&s).text, "hello");
  EXPECT_EQ(convertReply(&st).type, RedisReply::Type::Status);
  EXPECT_EQ(convertReply(&st).text, "OK");
  EXPECT_TRUE(convertReply(&e).isError());
  EXPECT_EQ(convertReply(&e).text, "ERR wrong");
  EXPECT_EQ(convertReply(&i).integer, -42);
  EXPECT_TRUE(convertReply(&nil).isNil());
  EXPECT_TRUE(convertReply(nullptr).isNil());
  const RedisReply a = convertReply(&arr);
  ASSERT_EQ(a.type, RedisReply::Type::Array);
  ASSERT_EQ(a.elements.size(), 3u);
  EXPECT_EQ(a.elements[0].text, "hello");
  EXPECT_EQ(a.elements[1].integer, -42);
  EXPECT_TRUE(a.elements[2].isNil());

  char binary[] = {'a', '\0', 'b'};
  redisReply b{};
  b.type = REDIS_REPLY_STRING, b.str = binary, b.len = 3;
  EXPECT_EQ(convertReply(&b).text, std::string("a\0b", 3)) << "binary-safe";
}

// The node counts its lease from when it SENT the command that succeeded, and gives up
// `margin` early: Redis, which processed the command later, keeps the key at least as long.
TEST(LeaseClock, OwnsFromTheSendUntilLeaseLessMargin) {
  LeaseClock clock(5000, 1000);
  EXPECT_FALSE(clock.ownsAt(0)) << "nothing confirmed yet";
  clock.confirmed(100);  // sent at 100 ms; the reply came whenever
  EXPECT_TRUE(clock.ownsAt(100));
  EXPECT_TRUE(clock.ownsAt(4099));
  EXPECT_FALSE(clock.ownsAt(4100)) << "100 + 5000 - 1000";
  // A renewal sent at 1800 whose reply arrived after one sent at 3400: the later send counts.
  clock.confirmed(3400);
  clock.confirmed(1800);
  EXPECT_EQ(clock.validUntilMs(), 3400 + 4000);
  EXPECT_TRUE(clock.ownsAt(7399));
  EXPECT_FALSE(clock.ownsAt(7400));
}

TEST(LeaseClock, RedisExpiryIsNeverBeforeTheNodeGivesUp) {
  // Whatever the delay between send and Redis processing it (d >= 0), Redis expires the key at
  // sent + d + lease; the node stops at sent + lease - margin, strictly earlier.
  for (int64_t sent : {0, 7, 5000}) {
    for (int64_t delay : {0, 1, 900, 4999}) {
      LeaseClock clock(5000, 1000);
      clock.confirmed(sent);
      const int64_t redisExpiry = sent + delay + 5000;
      EXPECT_FALSE(clock.ownsAt(redisExpiry - 1000)) << sent << " " << delay;
      EXPECT_LT(clock.validUntilMs(), redisExpiry);
    }
  }
}

TEST(NodeJson, RoundTripsAndBoundsWhatItReads) {
  NodeInfo node;
  node.url = "http://10.0.0.2:8080";
  node.load = {3, 7, 12.5};
  node.startedMs = 1700000000000;
  node.version = "0.1.0";
  auto back = parseNodeJson(nodeJson(node));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->url, node.url);
  EXPECT_EQ(back->load.rooms, 3);
  EXPECT_EQ(back->load.speakers, 7);
  EXPECT_DOUBLE_EQ(back->load.cpuPct, 12.5);
  EXPECT_EQ(back->startedMs, node.startedMs);
  EXPECT_FALSE(parseNodeJson("not json"));
  EXPECT_FALSE(parseNodeJson(R"({"url":"x","rooms":-1,"speakers":0})"));
  EXPECT_FALSE(parseNodeJson(R"({"rooms":1,"speakers":0})"));
  EXPECT_FALSE(parseNodeJson("{\"url\":\"" + std::string(5000, 'a') + "\",\"rooms\":1,\"speakers\":0}"));
}

TEST(NodeJson, LeastLoadedIsFewestSpeakersThenRooms) {
  auto n = [](const char* url, int64_t rooms, int64_t speakers, double cpu) {
    NodeInfo node;
    node.url = url;
    node.load = {rooms, speakers, cpu};
    return node;
  };
  EXPECT_FALSE(pickLeastLoaded({}));
  EXPECT_EQ(pickLeastLoaded({n("a", 1, 9, 0), n("b", 5, 2, 90), n("c", 0, 2, 80)})->url, "c");
  EXPECT_EQ(pickLeastLoaded({n("b", 1, 1, 5), n("a", 1, 1, 5)})->url, "a") << "ties by URL";
}

// The owner key's value names the node before the epoch; anything else names nobody.
TEST(OwnerLookup, ValueNamesTheNodeBeforeTheEpoch) {
  using roomcast::cluster::ownerOfValue;
  EXPECT_EQ(ownerOfValue("http://10.0.0.11:8080 42"), std::optional<std::string>("http://10.0.0.11:8080"));
  EXPECT_EQ(ownerOfValue("http://10.0.0.11:8080"), std::nullopt);
  EXPECT_EQ(ownerOfValue("http://10.0.0.11:8080 "), std::nullopt);
  EXPECT_EQ(ownerOfValue(" 7"), std::nullopt);
  EXPECT_EQ(ownerOfValue("http://10.0.0.11:8080 4x"), std::nullopt);
}

// A burst of placements, all before the next heartbeats: each lands on the then least loaded.
TEST(PlacementBook, CountsPlacementsUntilTheNodesHeartbeatHasThem) {
  PlacementBook book;
  std::vector<NodeInfo> nodes;
  for (const char* url : {"a", "b", "c"}) nodes.push_back(NodeInfo{url, {}, 0, "", "", 1000});
  std::map<std::string, int> placed;
  for (int i = 0; i < 6; i++) {
    const std::string url = pickLeastLoaded(book.adjusted(nodes))->url;
    book.placed(url, 2000 + i);
    placed[url]++;
  }
  EXPECT_EQ(placed, (std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}));
  // a's heartbeat (with its two rooms) comes well after: its placements are forgotten.
  nodes[0].heartbeatMs = 2005 + PlacementBook::kSettleMs;
  nodes[0].load.rooms = 2;
  auto adjusted = book.adjusted(nodes);
  EXPECT_EQ(adjusted[0].load.rooms, 2);
  EXPECT_EQ(adjusted[1].load.rooms, 2);
}

TEST(RoomRecord, ThePublicJsonLeavesOwnerStateOutAndTakesTheReadersUrls) {
  const std::string record =
      R"({"id":"r1","title":"T","ws_url":"ws://owner/ws/r1","hls_url":"http://owner/hls/r1/master.m3u8",)"
      R"("node":"http://owner","owner_state":{"host_identity":"host-r1","stage":[]}})";
  auto json = publicRoomJson(record, "http://owner", "ws://me/ws/r1", "http://me/hls/r1/master.m3u8");
  ASSERT_TRUE(json) << json.error().message;
  EXPECT_EQ(json->find("owner_state"), std::string::npos) << json.value();
  EXPECT_NE(json->find(R"("ws_url":"ws://me/ws/r1")"), std::string::npos) << json.value();
  EXPECT_NE(json->find(R"("node":"http://owner")"), std::string::npos) << json.value();
  EXPECT_EQ(recordNode(record), "http://owner");
  EXPECT_NE(publicRoomJson(record, "http://new-owner", "", "").value().find(R"("node":"http://new-owner")"),
            std::string::npos) << "the lease's node wins over the record's";
  EXPECT_FALSE(publicRoomJson("[1]", "", "", ""));
  EXPECT_FALSE(publicRoomJson(std::string(kMaxRoomRecordBytes + 1, ' '), "", "", ""));
}

// What a failover reads back is what the owner wrote: info, stage (roles, slots, opt-outs),
// bans, recording and the HLS position.
TEST(RoomRecord, TheOwnerStateComesBackAsTheRoomToReopen) {
  roomcast::core::Room room;
  room.info = {"r1", "Title", "Topic", true, "host-r1", 1700000000000, "Hostess"};
  room.recording = true;
  room.banned = {"troll"};
  room.revokedTokens = {"jti-1"};
  roomcast::core::Participant host, guest, listener;
  host.identity = "host-r1";
  host.role = roomcast::core::Role::Host;
  host.joinOrder = 1;
  guest.identity = "g";
  guest.name = "Guest";
  guest.role = roomcast::core::Role::CoHost;
  guest.joinOrder = 5;
  guest.recordingOptOut = true;
  listener.identity = "l";  // not on stage: not kept
  room.participants = {{"host-r1", host}, {"g", guest}, {"l", listener}};
  const std::string publicJson =
      R"({"id":"r1","title":"Title","topic":"Topic","record":true,"created_at_ms":1700000000000})";
  const std::string record =
      encodeRoomRecord(room, publicJson, "http://a", roomcast::core::HlsPosition{42, 1, 500, 1700000100000});

  auto snapshot = decodeRoomSnapshot(record);
  ASSERT_TRUE(snapshot) << snapshot.error().message << "\n" << record;
  EXPECT_EQ(snapshot->info.id, "r1");
  EXPECT_EQ(snapshot->info.title, "Title");
  EXPECT_EQ(snapshot->info.topic, "Topic");
  EXPECT_TRUE(snapshot->info.record);
  EXPECT_EQ(snapshot->info.createdAtUnixMs, 1700000000000);
  EXPECT_EQ(snapshot->info.hostIdentity, "host-r1");
  EXPECT_EQ(snapshot->info.hostName, "Hostess");
  EXPECT_TRUE(snapshot->recording);
  ASSERT_EQ(snapshot->stage.size(), 2u);
  EXPECT_EQ(snapshot->stage[1].identity, "g");
  EXPECT_EQ(snapshot->stage[1].role, roomcast::core::Role::CoHost);
  EXPECT_EQ(snapshot->stage[1].slot, 5u);
  EXPECT_TRUE(snapshot->stage[1].recordingOptOut);
  EXPECT_EQ(snapshot->banned, std::set<std::string>{"troll"});
  EXPECT_EQ(snapshot->revokedTokens, std::set<std::string>{"jti-1"});
  ASSERT_TRUE(snapshot->hls);
  EXPECT_EQ(snapshot->hls->nextSequence, 42u);
  EXPECT_EQ(snapshot->hls->segmentMs, 500u);

  // Records that cannot be reopened say why instead.
  EXPECT_FALSE(decodeRoomSnapshot(publicJson));  // no owner_state
  EXPECT_FALSE(decodeRoomSnapshot(R"({"id":"r1","owner_state":{"host_identity":"h","stage":[{"identity":"x","role":"listener"}]}})"));
  auto noStage = decodeRoomSnapshot(R"({"id":"r1","owner_state":{"host_identity":"h","stage":"not a list"}})");
  ASSERT_TRUE(noStage) << "a stage that is no list is an empty stage";
  EXPECT_TRUE(noStage->stage.empty());
}

// Each room's candidates come in the same order on every node, different rooms spread over the
// nodes, and later candidates wait their turn.
TEST(Failover, TakeoverOrderIsSharedAndSpreadsRooms) {
  const std::vector<std::string> nodes{"http://b", "http://c", "http://d"};
  std::map<std::string, int> firsts;
  for (int i = 0; i < 300; i++) {
    const std::string room = "room" + std::to_string(i);
    const auto order = takeoverOrder(room, nodes);
    std::vector<std::string> reversed(nodes.rbegin(), nodes.rend());
    EXPECT_EQ(order, takeoverOrder(room, reversed)) << "the order depends on the room, not the list";
    firsts[order.front()]++;
  }
  for (const auto& node : nodes) EXPECT_GT(firsts[node], 60) << node << " is first for too few rooms";

  FailoverSettings settings;
  settings.leaseMs = 5000;
  settings.staggerMs = 1000;
  EXPECT_TRUE(mayTryTakeover(0, 0, false, settings));
  EXPECT_FALSE(mayTryTakeover(2, 1999, false, settings));
  EXPECT_TRUE(mayTryTakeover(2, 2000, false, settings));
  EXPECT_FALSE(mayTryTakeover(0, 9999, true, settings)) << "a live owner gets two leases to claim its room again";
  EXPECT_TRUE(mayTryTakeover(0, 10000, true, settings));
}
