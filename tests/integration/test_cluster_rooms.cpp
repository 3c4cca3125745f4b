// Rooms across a cluster: three roomcastd nodes on one real redis-server. Rooms created through
// one node are spread over all three (placement on the least loaded live node); every node
// lists every room and answers for a room another node runs (from the room directory); what
// changes a room (tokens, DELETE) is forwarded to its owner, whose answer comes back. A room's
// chat is kept in Redis by its owner, whichever node the chat came through.
#include <glib.h>
#include <gtest/gtest.h>
#include <json-glib/json-glib.h>

#include <map>
#include <memory>
#include <set>

#include "cluster_nodes.h"
#include "processes.h"
#include "redis_server.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;

namespace {

struct Created {
  std::string id, hostToken, node, title, topic;
};

class ClusterRooms : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.start()) << redis_.log();
    for (int i = 0; i < 3; i++) {
      nodes_.push_back(std::make_unique<Daemon>(clusterNodeArgs(redis_.url())));
      ASSERT_TRUE(nodes_.back()->ready()) << nodes_.back()->log();
    }
    // Placement sees a node once it has beaten: wait until the first node sees all three.
    ASSERT_TRUE(pollUntil([&] { return clusterView(*nodes_[0]).nodes.size() == 3; }, 5.0));
  }
  const Daemon* byUrl(const std::string& url) const {
    for (const auto& n : nodes_)
      if (n->url() == url) return n.get();
    return nullptr;
  }
  const Daemon* notOwner(const Created& room) const {
    for (const auto& n : nodes_)
      if (n->url() != room.node) return n.get();
    return nullptr;
  }

  RedisServer redis_;
  std::vector<std::unique_ptr<Daemon>> nodes_;
};

}  // namespace

TEST_F(ClusterRooms, RoomsAreSpreadAndEveryNodeAnswersForEveryRoom) {
  // Six rooms, all through the first node.
  std::vector<Created> rooms;
  std::map<std::string, int> perNode;
  for (int i = 0; i < 6; i++) {
    const std::string title = "Room " + std::to_string(i), topic = "topic " + std::to_string(i);
    HttpResponse r = http("POST", nodes_[0]->url() + "/api/v1/rooms",
                          R"({"title":")" + title + R"(","topic":")" + topic + R"("})",
                          {{"Content-Type", "application/json"}});
    ASSERT_EQ(r.status, 201) << r.body << nodes_[0]->log();
    JsonDoc json(r.body);
    Created room{json.str("id"), json.str("host_token"), json.str("node"), title, topic};
    ASSERT_NE(byUrl(room.node), nullptr) << "node names no node: " << r.body;
    perNode[room.node]++;
    rooms.push_back(room);
  }
  for (const auto& n : nodes_) {
    g_print("%s owns %d room(s)\n", n->url().c_str(), perNode[n->url()]);
    EXPECT_GE(perNode[n->url()], 1) << n->url();
    EXPECT_LE(perNode[n->url()], 3) << n->url();
  }
  // The owner named in the JSON runs the room and holds its lease.
  for (const Created& room : rooms)
    EXPECT_TRUE(pollUntil([&] { return clusterView(*byUrl(room.node)).owned.count(room.id) > 0; }, 3.0)) << room.id;

  // Every node lists all six, each under its owner.
  for (const auto& n : nodes_) {
    std::map<std::string, std::string> seen;
    EXPECT_TRUE(pollUntil([&] { return (seen = roomListing(*n)).size() == 6; }, 3.0)) << n->url() << " lists " << seen.size();
    for (const Created& room : rooms) EXPECT_EQ(seen[room.id], room.node) << n->url() << " " << room.id;
  }
  // One room through a node that does not run it: the same title, topic and owner.
  for (const Created& room : rooms) {
    HttpResponse r = http("GET", notOwner(room)->url() + "/api/v1/rooms/" + room.id);
    ASSERT_EQ(r.status, 200) << r.body;
    JsonDoc json(r.body);
    EXPECT_EQ(json.str("title"), room.title);
    EXPECT_EQ(json.str("topic"), room.topic);
    EXPECT_EQ(json.str("node"), room.node);
    EXPECT_FALSE(json_object_has_member(json.root, "owner_state")) << r.body;
  }

  // A co-host token minted through a non-owner (forwarded to the owner), then used on the owner
  // itself: the owner accepts it (it mints a listener token with it).
  const Created& room = rooms[0];
  HttpResponse minted = http("POST", notOwner(room)->url() + "/api/v1/rooms/" + room.id + "/tokens",
                             R"({"role":"cohost","name":"Grace"})",
                             {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + room.hostToken}});
  ASSERT_EQ(minted.status, 201) << minted.body;
  const std::string cohost = JsonDoc(minted.body).str("token");
  HttpResponse used = http("POST", room.node + "/api/v1/rooms/" + room.id + "/tokens", R"({"role":"listener","name":"Ada"})",
                           {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + cohost}});
  EXPECT_EQ(used.status, 201) << used.body;

  // DELETE through a non-owner ends the room on its owner: gone from every listing.
  const Created& ended = rooms[1];
  HttpResponse del = http("DELETE", notOwner(ended)->url() + "/api/v1/rooms/" + ended.id, {},
                          {{"Authorization", "Bearer " + ended.hostToken}});
  EXPECT_EQ(del.status, 200) << del.body;
  EXPECT_TRUE(JsonDoc(del.body).root && json_object_get_boolean_member_with_default(JsonDoc(del.body).root, "ended", false))
      << del.body;
  EXPECT_EQ(http("GET", ended.node + "/api/v1/rooms/" + ended.id).status, 404);
  for (const auto& n : nodes_) {
    EXPECT_TRUE(pollUntil([&] { return roomListing(*n).count(ended.id) == 0; }, 3.0)) << n->url();
    EXPECT_EQ(roomListing(*n).size(), 5u) << n->url();
    EXPECT_EQ(http("GET", n->url() + "/api/v1/rooms/" + ended.id).status, 404) << n->url();
  }
}

// A forwarded request is served where it lands, and a room nobody runs is 404 on every node.
TEST_F(ClusterRooms, UnknownRoomsAreNotFoundEverywhere) {
  for (const auto& n : nodes_) {
    EXPECT_EQ(http("GET", n->url() + "/api/v1/rooms/nosuchroom").status, 404);
    HttpResponse r = http("POST", n->url() + "/api/v1/rooms/nosuchroom/tokens", R"({"role":"listener","name":"A"})",
                          {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 404) << r.body;
  }
}

// Chat through a node that does not run the room (its WebSocket relayed to the owner) lands in
// the room's stream in Redis, in order; a deleted line leaves it; the stream goes with the room.
TEST_F(ClusterRooms, ChatIsKeptInRedisByTheOwnerAndGoesWithTheRoom) {
  HttpResponse r = http("POST", nodes_[0]->url() + "/api/v1/rooms", R"({"title":"Chatty"})",
                        {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 201) << r.body;
  JsonDoc json(r.body);
  const Created room{json.str("id"), json.str("host_token"), json.str("node"), "Chatty", ""};
  const Daemon* owner = byUrl(room.node);
  ASSERT_NE(owner, nullptr) << r.body;
  const Daemon* other = notOwner(room);
  const std::string key = "roomcast:room:" + room.id + ":chat";

  WsClient host;
  ASSERT_TRUE(host.connect(wsUrl(*other, room.id))) << other->log();
  host.send(R"({"type":"hello","version":1,"token":")" + room.hostToken + "\"}");
  std::string msg;
  ASSERT_TRUE(host.waitForType("welcome", msg)) << other->log() << owner->log();
  std::vector<long long> ids;
  for (const char* text : {"first line", "second line", "third line"}) {
    host.send(std::string(R"({"type":"chat","text":")") + text + "\"}");
    ASSERT_TRUE(host.waitForType("chat", msg)) << owner->log();
    EXPECT_EQ(jsonString(msg, "text"), text);
    ids.push_back(jsonInt(msg, "message_id"));
  }
  // XRANGE: every line, oldest first (the writes are fire-and-forget: poll, bounded).
  std::string range;
  auto xrange = [&] { return range = redis_.cli({"XRANGE", key, "-", "+"}); };
  ASSERT_TRUE(pollUntil([&] { return xrange().find("third line") != std::string::npos; }, 5.0)) << range;
  const size_t first = range.find("first line"), second = range.find("second line"), third = range.find("third line");
  ASSERT_NE(first, std::string::npos) << range;
  ASSERT_NE(second, std::string::npos) << range;
  EXPECT_LT(first, second) << range;
  EXPECT_LT(second, third) << range;
  EXPECT_NE(range.find(std::to_string(ids[1]) + "-0"), std::string::npos) << "entries carry the message id: " << range;

  // The host deletes the second line: gone from the stream, the others stay.
  host.send(R"({"type":"delete-message","message_id":)" + std::to_string(ids[1]) + "}");
  ASSERT_TRUE(host.waitForType("chat-deleted", msg)) << owner->log();
  EXPECT_TRUE(pollUntil([&] { return xrange().find("second line") == std::string::npos; }, 5.0)) << range;
  EXPECT_NE(range.find("first line"), std::string::npos) << range;
  EXPECT_NE(range.find("third line"), std::string::npos) << range;

  // The room ends (DELETE through the other node): the stream is deleted.
  HttpResponse del = http("DELETE", other->url() + "/api/v1/rooms/" + room.id, {},
                          {{"Authorization", "Bearer " + room.hostToken}});
  EXPECT_EQ(del.status, 200) << del.body;
  std::string exists;
  EXPECT_TRUE(pollUntil([&] { return (exists = redis_.cli({"EXISTS", key})) == "0"; }, 5.0)) << exists;
}
