// Two nodes never believe they own a room at once (issue 22), under a real network partition.
// The network lab's namespaces (tests/integration/network_lab.h): redis-server in "router"
// (10.19.0.1, the lab's bridge), node A in "host" (10.19.0.11), node B in "listener"
// (10.19.0.12). A partition is an nftables table inside one node's namespace that drops only its
// traffic with Redis; this test's HTTP reaches the node all the while (it comes from the router's
// address to the node's web port).
//
// Each node reports every stretch of its belief that it owns a room on CLOCK_MONOTONIC (one clock
// for every process and namespace of the machine): `owned_detail` in GET /api/v1/cluster (polled
// every ~50 ms) and a log line when a stretch begins and ends (in case a poll misses one). The
// test collects every stretch of both nodes and checks that no stretch of one overlaps a stretch
// of the other, and that each handover comes with a higher epoch.
#include <fcntl.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <json-glib/json-glib.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <tuple>

#include "hand_made_jws.h"
#include "network_lab.h"
#include "processes.h"
#include "redis_server.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;

namespace {

const std::string kSecret = "ops-secret-for-cluster-tests-0123456789abcdef";
constexpr int kLeaseMs = 2000;  // short, so that three rounds fit in well under a minute
const char* kRedisAddress = "10.19.0.1";

std::string adminToken() {
  const int64_t now = g_get_real_time() / G_USEC_PER_SEC;
  return handMadeJws(R"({"iss":"ops","iat":)" + std::to_string(now) + R"(,"exp":)" + std::to_string(now + 3600) +
                         R"(,"grants":{"room_create":true,"room_admin":true}})",
                     kSecret);
}

// The test reaches the nodes from the lab's router, not from loopback: as the operator.
std::pair<std::string, std::string> operatorAuth() { return {"Authorization", "Bearer " + adminToken()}; }

// This thread in a namespace of the lab for the scope's life: what it starts (redis-server) runs
// there, and what it connects to is reached from there. Network namespaces belong to threads
// (setns), so nothing else of the process moves.
class ThreadInNetns {
 public:
  explicit ThreadInNetns(const std::string& name) {
    home_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const int target = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    entered_ = home_ >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0;
    if (target >= 0) close(target);
  }
  ~ThreadInNetns() {
    if (entered_) setns(home_, CLONE_NEWNET);
    if (home_ >= 0) close(home_);
  }
  ThreadInNetns(const ThreadInNetns&) = delete;
  ThreadInNetns& operator=(const ThreadInNetns&) = delete;
  bool entered() const { return entered_; }

 private:
  int home_ = -1;
  bool entered_ = false;
};

struct Node {
  std::string name;  // "A", "B"
  std::string role;  // its namespace in the lab
  std::unique_ptr<Daemon> daemon;
};

Node startNode(const NetworkLab& lab, const std::string& name, const std::string& role, const std::string& address,
               const std::string& redisUrl) {
  DaemonOptions options;
  options.prefix = lab.in(role);
  options.listenHost = address;  // node_url is then http://ADDRESS:PORT, reachable from the other node
  options.args = configFileArgs("[auth]\napi_key = ops\napi_secret = " + kSecret + "\n[cluster]\nlease_ms = " +
                                std::to_string(kLeaseMs) + "\n");
  options.args.push_back("--redis");
  options.args.push_back(redisUrl);
  return Node{name, role, std::make_unique<Daemon>(options)};
}

// One stretch of one node's belief that it owns the room (CLOCK_MONOTONIC, microseconds).
struct Stretch {
  std::string node;
  int64_t epoch = 0;
  int64_t since = 0;
  int64_t until = 0;
};

// Every stretch seen, by (node, epoch, since): the latest end seen wins (a stretch grows with
// each renewal; taking the latest can only make an overlap more likely to show, never hide one).
class Stretches {
 public:
  void seen(const std::string& node, int64_t epoch, int64_t since, int64_t until) {
    auto [it, fresh] = ends_.try_emplace({node, epoch, since}, until);
    if (!fresh) it->second = std::max(it->second, until);
  }
  std::vector<Stretch> sorted() const {
    std::vector<Stretch> all;
    for (const auto& [key, until] : ends_) all.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), until});
    std::sort(all.begin(), all.end(), [](const Stretch& x, const Stretch& y) { return x.since < y.since; });
    return all;
  }

 private:
  std::map<std::tuple<std::string, int64_t, int64_t>, int64_t> ends_;
};

// GET /api/v1/cluster of `node`: its stretches for `roomId` go into `into`; true when it lists
// the room as owned now.
bool pollCluster(const Node& node, const std::string& roomId, Stretches& into) {
  HttpResponse r = http("GET", node.daemon->url() + "/api/v1/cluster", {}, {operatorAuth()});
  g_autoptr(JsonParser) parser = json_parser_new();
  if (r.status != 200 || !json_parser_load_from_data(parser, r.body.c_str(), -1, nullptr)) return false;
  JsonArray* detail = json_object_get_array_member(json_node_get_object(json_parser_get_root(parser)), "owned_detail");
  bool owns = false;
  for (guint i = 0; detail && i < json_array_get_length(detail); i++) {
    JsonObject* o = json_array_get_object_element(detail, i);
    if (roomId != json_object_get_string_member_with_default(o, "room", "")) continue;
    owns = true;
    into.seen(node.name, json_object_get_int_member(o, "epoch"), json_object_get_int_member(o, "since_us"),
              json_object_get_int_member(o, "until_us"));
  }
  return owns;
}

// The "lease belief begins|ends" lines of the node's log for `roomId` into `into`.
void readLog(const Node& node, const std::string& roomId, Stretches& into) {
  const std::string log = node.daemon->log();
  g_auto(GStrv) lines = g_strsplit(log.c_str(), "\n", -1);
  for (char** l = lines; *l; l++) {
    const char* at = strstr(*l, "cluster: lease belief ");
    if (!at) continue;
    char kind[8] = {0}, room[65] = {0};
    long long epoch = 0, since = 0, until = 0;
    if (sscanf(at, "cluster: lease belief %7s room=%64s epoch=%lld since_us=%lld until_us=%lld", kind, room, &epoch,
               &since, &until) == 5 &&
        roomId == room)
      into.seen(node.name, epoch, since, until);
  }
}

bool nft(const NetworkLab& lab, const Node& node, const std::string& rules) {
  std::vector<std::string> argv = lab.in(node.role);
  argv.insert(argv.end(), {"nft", rules});
  const ProcessResult r = run(argv, 10);
  EXPECT_TRUE(r.finished && r.exitStatus == 0) << rules << "\n" << r.stderrText;
  return r.finished && r.exitStatus == 0;
}

// Drops the node's traffic with Redis both ways, inside its own namespace; its web port stays open.
bool partition(const NetworkLab& lab, const Node& node, int redisPort) {
  const std::string port = std::to_string(redisPort);
  return nft(lab, node,
             std::string("add table inet partition; ") +
                 "add chain inet partition out { type filter hook output priority 0; }; "
                 "add rule inet partition out ip daddr " + kRedisAddress + " tcp dport " + port + " drop; " +
                 "add chain inet partition in { type filter hook input priority 0; }; "
                 "add rule inet partition in ip saddr " + kRedisAddress + " tcp sport " + port + " drop");
}

bool heal(const NetworkLab& lab, const Node& node) { return nft(lab, node, "delete table inet partition"); }

double ms(int64_t us) { return static_cast<double>(us) / 1000.0; }

// Every stretch of one node against every stretch of the other: none overlap ([since, until):
// a node owns while now < until), and the later one carries a higher epoch.
void expectNoOverlap(const std::vector<Stretch>& all) {
  for (size_t i = 0; i < all.size(); i++) {
    for (size_t j = i + 1; j < all.size(); j++) {
      const Stretch& x = all[i];
      const Stretch& y = all[j];  // y.since >= x.since
      if (x.node == y.node) continue;
      EXPECT_GT(y.since, x.until) << x.node << " believed until " << x.until << " us, " << y.node
                                  << " from " << y.since << " us: they overlap by " << ms(x.until - y.since) << " ms";
      EXPECT_GT(y.epoch, x.epoch) << x.node << " epoch " << x.epoch << " then " << y.node << " epoch " << y.epoch;
    }
  }
}

void printStretches(const std::vector<Stretch>& all) {
  const int64_t t0 = all.empty() ? 0 : all.front().since;
  g_print("stretches of belief (ms from the first):\n");
  for (size_t i = 0; i < all.size(); i++) {
    const Stretch& s = all[i];
    g_print("  %s epoch %" PRId64 ": %10.1f .. %10.1f", s.node.c_str(), s.epoch, ms(s.since - t0), ms(s.until - t0));
    if (i > 0 && all[i - 1].node != s.node)
      g_print("   handover gap %.1f ms", ms(s.since - all[i - 1].until));
    g_print("\n");
  }
}

// One round: the owner is cut off from Redis; both nodes are polled until the owner no longer
// believes it owns the room and the other does; the cut is healed and the old owner learns it
// was taken over and ends its copy (the room's host, connected to it, is told the room ended).
// `host`: a client of the room on the owner (round 1) or null.
bool handOver(const NetworkLab& lab, RedisServer& redis, const std::string& roomId, const Node& owner,
              const Node& other, Stretches& stretches, WsClient* host) {
  if (!partition(lab, owner, redis.port())) return false;
  const gint64 cut = g_get_monotonic_time();
  bool ownerBelieves = true, otherBelieves = false;
  gint64 ownerGaveUp = 0;
  const bool handedOver = pollUntil([&] {
    ownerBelieves = pollCluster(owner, roomId, stretches);
    if (!ownerBelieves && !ownerGaveUp) ownerGaveUp = g_get_monotonic_time();
    otherBelieves = pollCluster(other, roomId, stretches);
    return !ownerBelieves && otherBelieves;
  }, 20.0, 0.05);
  EXPECT_TRUE(handedOver) << "owner believes: " << ownerBelieves << ", other believes: " << otherBelieves;
  g_print("%s cut off: it stopped listing the room after %.2f s, %s listed it after %.2f s\n", owner.name.c_str(),
          ms(ownerGaveUp - cut) / 1000, other.name.c_str(), ms(g_get_monotonic_time() - cut) / 1000);
  // The poll of a node cut off may itself wait for its Redis deadline (1 s).
  EXPECT_LE(ownerGaveUp - cut, (kLeaseMs + 1500) * 1000LL) << "the owner gives up within a lease";
  if (host) {
    // No longer believing it owns the room, the old owner still serves its clients.
    std::string msg;
    host->send(R"({"type":"chat","text":"still served"})");
    EXPECT_TRUE(host->waitFor([](const std::string& m) { return m.find("still served") != std::string::npos; }, msg))
        << owner.daemon->log();
  }
  const size_t logBefore = owner.daemon->log().size();
  if (!heal(lab, owner) || !handedOver) return false;
  const std::string ends = "lease belief ends room=" + roomId;
  const std::string byOther = "(taken over by " + other.daemon->url() + " ";
  std::string log;
  const bool learnt = pollUntil([&] {
    pollCluster(other, roomId, stretches);
    log = owner.daemon->log().substr(logBefore);
    const size_t line = log.find(ends);
    return line != std::string::npos && log.find(byOther, line) != std::string::npos;
  }, 10.0, 0.05);
  EXPECT_TRUE(learnt) << log;
  std::string msg;
  if (host) EXPECT_TRUE(host->waitForType("room-ended", msg)) << "the old owner ends its copy\n" << log;
  // It answers for the room from the directory now, naming the new owner.
  HttpResponse read;
  EXPECT_TRUE(pollUntil([&] {
    read = http("GET", owner.daemon->url() + "/api/v1/rooms/" + roomId, {}, {operatorAuth()});
    return read.body.find("\"node\":\"" + other.daemon->url() + "\"") != std::string::npos;
  }, 5.0)) << read.status << " " << read.body;
  return learnt;
}

}  // namespace

TEST(ClusterPartition, TwoNodesNeverBelieveTheyOwnARoomAtOnce) {
  NetworkLab lab(false, LabPorts{});
  ASSERT_TRUE(lab.ready()) << lab.error();
  ThreadInNetns atRouter(lab.ns("router"));
  ASSERT_TRUE(atRouter.entered());
  RedisServer redis(kRedisAddress);
  ASSERT_TRUE(redis.start()) << redis.log();
  const std::string redisUrl = std::string("redis://") + kRedisAddress + ":" + std::to_string(redis.port());
  Node a = startNode(lab, "A", "host", "10.19.0.11", redisUrl);
  Node b = startNode(lab, "B", "listener", "10.19.0.12", redisUrl);
  ASSERT_TRUE(a.daemon->ready() && b.daemon->ready()) << a.daemon->log() << b.daemon->log();

  // The room on A (placed: not moved to the least loaded node), and its host connected to A.
  HttpResponse created = http("POST", a.daemon->url() + "/api/v1/rooms", R"({"title":"Partitioned room"})",
                              {{"Content-Type", "application/json"}, {"X-Roomcast-Placed", "1"}, operatorAuth()});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string roomId = jsonString(created.body, "id");
  WsClient host;
  ASSERT_TRUE(host.connect("ws://" + a.daemon->url().substr(7) + "/ws/" + roomId)) << a.daemon->log();
  host.send(R"({"type":"hello","version":1,"token":")" + jsonString(created.body, "host_token") + "\"}");
  std::string msg;
  ASSERT_TRUE(host.waitForType("welcome", msg)) << a.daemon->log();
  Stretches stretches;
  ASSERT_TRUE(pollUntil([&] { return pollCluster(a, roomId, stretches); }, 3.0)) << a.daemon->log();

  // Three rounds, the owner cut off each time: A, then B (which took it over), then A.
  const gint64 started = g_get_monotonic_time();
  Node* owner = &a;
  Node* other = &b;
  for (int round = 1; round <= 3; round++) {
    g_print("round %d: ", round);
    if (!handOver(lab, redis, roomId, *owner, *other, stretches, round == 1 ? &host : nullptr)) break;
    std::swap(owner, other);
  }
  g_print("three rounds in %.1f s\n", ms(g_get_monotonic_time() - started) / 1000);

  readLog(a, roomId, stretches);
  readLog(b, roomId, stretches);
  const std::vector<Stretch> all = stretches.sorted();
  printStretches(all);
  EXPECT_GE(all.size(), 4u) << "A, B, A, B at least";
  expectNoOverlap(all);
}
