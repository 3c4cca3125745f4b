// roomcastd nodes on a real redis-server: they list each other in GET /api/v1/cluster, a room
// is leased to the node that opened it, a SIGKILLed node drops out within its lease, a node that
// cannot reach Redis at start exits (or runs standalone and joins later), and a node rides out
// Redis restarting and Redis wedged (SIGSTOP: the command deadline, not a closed socket).
#include <glib.h>
#include <gtest/gtest.h>
#include <json-glib/json-glib.h>

#include <algorithm>
#include <set>

#include "hand_made_jws.h"
#include "processes.h"
#include "redis_server.h"
#include "room_helpers.h"
#include "wait.h"

using namespace roomcast::testing;

namespace {

const std::string kSecret = "ops-secret-for-cluster-tests-0123456789abcdef";

std::string adminToken() {
  const int64_t now = g_get_real_time() / G_USEC_PER_SEC;
  return handMadeJws(R"({"iss":"ops","iat":)" + std::to_string(now) + R"(,"exp":)" + std::to_string(now + 3600) +
                         R"(,"grants":{"room_create":true,"room_admin":true,"archive":true}})",
                     kSecret);
}

std::vector<std::string> nodeArgs(const std::string& redisUrl, const std::string& moreConfig = {}) {
  std::vector<std::string> args =
      configFileArgs("[auth]\napi_key = ops\napi_secret = " + kSecret + "\n[cluster]\n" + moreConfig);
  args.push_back("--redis");
  args.push_back(redisUrl);
  return args;
}

// GET /api/v1/cluster as the operator, parsed.
struct ClusterView {
  int status = 0;
  std::string redis;
  std::set<std::string> nodes;
  std::set<std::string> owned;
  std::string body;
};

ClusterView clusterOf(const Daemon& daemon) {
  ClusterView view;
  HttpResponse r = http("GET", daemon.url() + "/api/v1/cluster", {}, {{"Authorization", "Bearer " + adminToken()}});
  view.status = r.status;
  view.body = r.body;
  g_autoptr(JsonParser) parser = json_parser_new();
  if (r.status != 200 || !json_parser_load_from_data(parser, r.body.c_str(), -1, nullptr)) return view;
  JsonObject* root = json_node_get_object(json_parser_get_root(parser));
  view.redis = json_object_get_string_member_with_default(root, "redis", "");
  JsonArray* nodes = json_object_get_array_member(root, "nodes");
  for (guint i = 0; nodes && i < json_array_get_length(nodes); i++)
    view.nodes.insert(json_object_get_string_member(json_array_get_object_element(nodes, i), "url"));
  JsonArray* owned = json_object_get_array_member(root, "owned");
  for (guint i = 0; owned && i < json_array_get_length(owned); i++) view.owned.insert(json_array_get_string_element(owned, i));
  return view;
}

bool lists(const ClusterView& view, const Daemon& node) { return view.nodes.count(node.url()) > 0; }

// A room over REST (the CLI is not among this test's programs). `here`: on this node, not
// placed on the least loaded one (as a request another node forwarded: X-Roomcast-Placed).
TestRoom openRoom(const Daemon& daemon, bool here = false) {
  std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"}};
  if (here) headers.emplace_back("X-Roomcast-Placed", "1");
  HttpResponse r = http("POST", daemon.url() + "/api/v1/rooms", R"({"title":"Cluster room"})", headers);
  TestRoom room;
  g_autoptr(JsonParser) parser = json_parser_new();
  if (r.status == 201 && json_parser_load_from_data(parser, r.body.c_str(), -1, nullptr))
    room.id = json_object_get_string_member_with_default(json_node_get_object(json_parser_get_root(parser)), "id", "");
  EXPECT_FALSE(room.id.empty()) << r.status << " " << r.body;
  return room;
}

double secondsSince(gint64 startUs) { return static_cast<double>(g_get_monotonic_time() - startUs) / G_USEC_PER_SEC; }

}  // namespace

TEST(ClusterMembership, NodesListEachOtherAndAKilledNodeDropsOutWithinItsLease) {
  RedisServer redis;
  ASSERT_TRUE(redis.start()) << redis.log();
  Daemon a(nodeArgs(redis.url()));
  Daemon b(nodeArgs(redis.url()));
  ASSERT_TRUE(a.ready() && b.ready()) << a.log() << b.log();

  const gint64 started = g_get_monotonic_time();
  ClusterView va, vb;
  EXPECT_TRUE(pollUntil([&] {
    va = clusterOf(a);
    vb = clusterOf(b);
    return lists(va, a) && lists(va, b) && lists(vb, a) && lists(vb, b);
  }, 2.0)) << va.body << "\n" << vb.body;
  g_print("both nodes listed by both after %.2f s\n", secondsSince(started));
  EXPECT_EQ(va.redis, "up");

  // A room opened on A is leased to A, in Redis and in A's own view.
  const TestRoom room = openRoom(a, true);
  EXPECT_TRUE(pollUntil([&] { return clusterOf(a).owned.count(room.id) > 0; }, 2.0)) << clusterOf(a).body;
  const std::string owner = redis.cli({"GET", "roomcast:room:" + room.id + ":owner"});
  EXPECT_EQ(owner.rfind(a.url() + " ", 0), 0u) << owner;
  EXPECT_EQ(clusterOf(b).owned.count(room.id), 0u);

  // SIGKILL: no goodbye; B stops listing A once A's key expires (lease 5 s) and B has read it.
  a.kill();
  const gint64 killed = g_get_monotonic_time();
  EXPECT_TRUE(pollUntil([&] { return !lists(vb = clusterOf(b), a); }, 6.0)) << vb.body;
  const double gone = secondsSince(killed);
  g_print("node A no longer listed by B %.2f s after SIGKILL (lease 5 s)\n", gone);
  EXPECT_LE(gone, 6.0);
  EXPECT_TRUE(lists(vb, b));
}

TEST(ClusterMembership, UnreachableRedisAtStartExitsWithTheReason) {
  const int closedPort = freeTcpPort();  // nothing listens there
  TempDir data("roomcast-cluster-exit");
  const std::string url = "redis://127.0.0.1:" + std::to_string(closedPort);
  std::vector<std::string> argv{buildPath("src/app/roomcastd"), "--listen",
                                "127.0.0.1:" + std::to_string(freeTcpPort()), "--data-dir", data.path(), "--redis", url};
  const gint64 started = g_get_monotonic_time();
  ProcessResult result = run(argv, 6.0);
  g_print("roomcastd gave up on %s after %.2f s\n", url.c_str(), secondsSince(started));
  EXPECT_TRUE(result.finished) << "still running at 6 s";
  EXPECT_EQ(result.exitStatus, 1);
  EXPECT_NE(result.stderrText.find("cannot reach Redis at " + url + ": "), std::string::npos) << result.stderrText;
}

TEST(ClusterMembership, BadClusterSettingsAreRefusedWithAClearMessage) {
  RedisServer redis;
  ASSERT_TRUE(redis.start()) << redis.log();
  TempDir data("roomcast-cluster-bad");
  const std::string listen = "127.0.0.1:" + std::to_string(freeTcpPort());
  ProcessResult badUrl = run({buildPath("src/app/roomcastd"), "--listen", listen, "--data-dir", data.path(), "--redis",
                              "redis//127.0.0.1:6379"}, 10);
  EXPECT_EQ(badUrl.exitStatus, 2);
  EXPECT_NE(badUrl.stderrText.find("bad Redis URL"), std::string::npos) << badUrl.stderrText;
  // Listening on every address gives no URL to reach the node at: node_url is asked for.
  ProcessResult any = run({buildPath("src/app/roomcastd"), "--listen", "0.0.0.0:" + std::to_string(freeTcpPort()),
                           "--data-dir", data.path(), "--redis", redis.url()}, 10);
  EXPECT_EQ(any.exitStatus, 1);
  EXPECT_NE(any.stderrText.find("node_url"), std::string::npos) << any.stderrText;

  // Without [cluster] redis the endpoint says so.
  std::vector<std::string> single = configFileArgs("[auth]\napi_key = ops\napi_secret = " + kSecret + "\n");
  Daemon plain(single);
  ASSERT_TRUE(plain.ready());
  HttpResponse r = http("GET", plain.url() + "/api/v1/cluster", {}, {{"Authorization", "Bearer " + adminToken()}});
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("\"not_clustered\""), std::string::npos) << r.body;
  EXPECT_EQ(http("GET", plain.url() + "/api/v1/cluster").status, 401) << "operators only";
}

TEST(ClusterMembership, StandaloneOnStartFailureServesAndJoinsWhenRedisAnswers) {
  RedisServer redis;  // not started yet: its port is closed
  Daemon node(nodeArgs(redis.url(), "on_start_failure = standalone\n"));
  ASSERT_TRUE(node.ready()) << node.log();
  EXPECT_EQ(http("GET", node.url() + "/api/v1/health").status, 200);
  EXPECT_NE(node.log().find("running standalone"), std::string::npos) << node.log();
  ClusterView view = clusterOf(node);
  EXPECT_EQ(view.redis, "down") << view.body;
  const TestRoom room = openRoom(node);  // rooms are placed here meanwhile

  ASSERT_TRUE(redis.start()) << redis.log();
  const gint64 started = g_get_monotonic_time();
  EXPECT_TRUE(pollUntil([&] {
    view = clusterOf(node);
    return view.redis == "up" && lists(view, node) && view.owned.count(room.id);
  }, 6.0)) << view.body;
  g_print("standalone node joined %.2f s after redis-server started\n", secondsSince(started));
}

TEST(ClusterMembership, ANodeRidesOutRedisRestartingAndWedged) {
  RedisServer redis;
  ASSERT_TRUE(redis.start()) << redis.log();
  Daemon node(nodeArgs(redis.url()));
  ASSERT_TRUE(node.ready()) << node.log();
  ClusterView view;
  ASSERT_TRUE(pollUntil([&] { return lists(view = clusterOf(node), node); }, 2.0)) << view.body;
  const TestRoom room = openRoom(node);
  ASSERT_TRUE(pollUntil([&] { return clusterOf(node).owned.count(room.id) > 0; }, 2.0));

  // Restarted (empty: no persistence): down, then up, listed again and the room leased again.
  redis.stop();
  EXPECT_TRUE(pollUntil([&] { return (view = clusterOf(node)).redis == "down"; }, 3.0)) << view.body;
  ASSERT_TRUE(redis.start()) << redis.log();
  gint64 started = g_get_monotonic_time();
  std::string owner;
  EXPECT_TRUE(pollUntil([&] {
    view = clusterOf(node);
    owner = redis.cli({"GET", "roomcast:room:" + room.id + ":owner"});
    return view.redis == "up" && lists(view, node) && view.owned.count(room.id) && owner.rfind(node.url() + " ", 0) == 0;
  }, 5.0)) << view.body << "\nowner: " << owner;
  g_print("after the restart: listed again, its room leased again in Redis, in %.2f s\n", secondsSince(started));

  // Wedged: the socket stays open and nothing answers. Only the command deadline (1 s) tells.
  redis.pause();
  started = g_get_monotonic_time();
  EXPECT_TRUE(pollUntil([&] { return (view = clusterOf(node)).redis == "down"; }, 5.0)) << view.body;
  g_print("wedged Redis reported down after %.2f s\n", secondsSince(started));
  EXPECT_TRUE(node.running());
  EXPECT_EQ(http("GET", node.url() + "/api/v1/health").status, 200) << "the node goes on serving";
  redis.resume();
  EXPECT_TRUE(pollUntil([&] {
    view = clusterOf(node);
    return view.redis == "up" && lists(view, node);
  }, 5.0)) << view.body;
  EXPECT_NE(node.log().find("Redis down"), std::string::npos);
}

// Another node's value in the lease key (what a failover elsewhere would leave): the owner's
// next renewal finds it, stops counting the room as its own and ends it here.
TEST(ClusterMembership, ALeaseTakenByAnotherNodeEndsTheRoomHere) {
  RedisServer redis;
  ASSERT_TRUE(redis.start()) << redis.log();
  Daemon node(nodeArgs(redis.url(), "lease_ms = 3000\n"));
  ASSERT_TRUE(node.ready()) << node.log();
  const TestRoom room = openRoom(node);
  ClusterView view;
  ASSERT_TRUE(pollUntil([&] { return (view = clusterOf(node)).owned.count(room.id) > 0; }, 2.0)) << view.body;
  const std::string key = "roomcast:room:" + room.id + ":owner";
  ASSERT_EQ(redis.cli({"SET", key, "http://127.0.0.9:1 99", "PX", "60000"}), "OK");
  const gint64 taken = g_get_monotonic_time();
  // Not run here any more: the node answers for it from the directory, naming the new owner.
  HttpResponse read;
  EXPECT_TRUE(pollUntil([&] {
    read = http("GET", node.url() + "/api/v1/rooms/" + room.id);
    return !(view = clusterOf(node)).owned.count(room.id) &&
           read.body.find(R"("node":"http://127.0.0.9:1")") != std::string::npos;
  }, 3.0)) << view.body << "\n" << read.status << " " << read.body;
  g_print("room ended on its old owner %.2f s after the lease changed hands (renewals every 1 s)\n", secondsSince(taken));
  EXPECT_EQ(redis.cli({"GET", key}), "http://127.0.0.9:1 99") << "the old owner does not delete another's lease";
  EXPECT_EQ(redis.cli({"EXISTS", "roomcast:room:" + room.id}), "1") << "nor its record";
  EXPECT_NE(node.log().find("is now leased to http://127.0.0.9:1 99"), std::string::npos) << node.log();
}

// Tokens verify on every node only if every node has the same [server] secret; a node made with
// another (here: each node's own, generated in its data dir) is named in a warning and in
// GET /api/v1/cluster, and nodes sharing one are not.
TEST(ClusterMembership, ANodeWithAnotherTokenSecretIsPointedOut) {
  RedisServer redis;
  ASSERT_TRUE(redis.start()) << redis.log();
  Daemon a(nodeArgs(redis.url()));
  Daemon b(nodeArgs(redis.url()));
  ASSERT_TRUE(a.ready() && b.ready()) << a.log() << b.log();
  ClusterView view;
  EXPECT_TRUE(pollUntil([&] { return lists(view = clusterOf(b), a); }, 5.0)) << view.body;
  EXPECT_NE(view.body.find("\"same_secret\":false"), std::string::npos) << view.body;
  EXPECT_TRUE(pollUntil([&] { return b.log().find("signs tokens with another [server] secret") != std::string::npos; }, 10))
      << b.log();

  std::vector<std::string> shared = configFileArgs("[server]\nsecret = one-secret-for-every-node-0123456789abcdef\n[auth]\n"
                                                   "api_key = ops\napi_secret = " + kSecret + "\n[cluster]\n");
  RedisServer redis2;  // a cluster of its own
  ASSERT_TRUE(redis2.start()) << redis2.log();
  shared.push_back("--redis");
  shared.push_back(redis2.url());
  Daemon c(shared), d(shared);
  ASSERT_TRUE(c.ready() && d.ready()) << c.log() << d.log();
  EXPECT_TRUE(pollUntil([&] { return lists(view = clusterOf(d), c); }, 5.0)) << view.body;
  EXPECT_EQ(view.body.find("\"same_secret\":false"), std::string::npos) << view.body;
  EXPECT_NE(view.body.find("\"same_secret\":true"), std::string::npos) << view.body;
}
