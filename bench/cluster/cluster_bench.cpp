// bench-cluster (issue 22): three roomcastd nodes on a real redis-server. Placement: rooms created
// through one node (the cluster places them), rooms per node. Failover: N times, SIGKILL the node
// that owns a chosen room and time until that room, and the last of the killed node's rooms, is
// live on a survivor; then restart the killed node on the same port and data dir and wait until
// it is in the node registry again. A table on stdout, JSON to --json.
#include <json-glib/json-glib.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "cluster_node.h"
#include "cluster_nodes.h"  // tests/support: clusterNodeArgs, clusterAdminToken, JsonDoc
#include "processes.h"      // tests/support: freeTcpPort, makeTempDir, sourcePath
#include "redis_server.h"   // tests/support: RedisServer
#include "rest_client.h"
#include "wait.h"

using namespace roomcast::bench;
namespace testing = roomcast::testing;

namespace {

struct Options {
  int nodes = 3, rooms = 30, kills = 20, speakers = 3, speakerRooms = 6;
  double pollMs = 50, failoverTimeout = 30, rejoinTimeout = 30, rejoinHold = 0;
  std::string json;
  bool keep = false;
};

struct Cluster {
  testing::RedisServer redis;
  std::string dir;
  std::vector<std::unique_ptr<ClusterNode>> nodes;
  std::string admin = testing::clusterAdminToken();
  Probe probe{3};
  int leaseMs = 0;  // as the first node's log states it

  ClusterNode* byUrl(const std::string& url) {
    for (auto& n : nodes)
      if (n->url() == url) return n.get();
    return nullptr;
  }
  std::vector<std::string> urls(const ClusterNode* except = nullptr) const {
    std::vector<std::string> out;
    for (const auto& n : nodes)
      if (n.get() != except) out.push_back(n->url());
    return out;
  }
};

// ---- the cluster's own views

// GET /api/v1/rooms through `nodeUrl`: room id -> the node it names as owner.
std::map<std::string, std::string> listing(Cluster& c, const std::string& nodeUrl) {
  std::string body;
  std::map<std::string, std::string> rooms;
  if (c.probe.get(nodeUrl + "/api/v1/rooms", &body) != 200) return rooms;
  testing::JsonDoc json(body);
  JsonArray* list = json.root ? json_object_get_array_member(json.root, "rooms") : nullptr;
  for (guint i = 0; list && i < json_array_get_length(list); i++) {
    JsonObject* room = json_array_get_object_element(list, i);
    rooms[json_object_get_string_member(room, "id")] = json_object_get_string_member_with_default(room, "node", "");
  }
  return rooms;
}

// The live nodes in the registry as `nodeUrl` sees it (GET /api/v1/cluster as the operator).
std::set<std::string> registry(Cluster& c, const std::string& nodeUrl) {
  std::string body;
  std::set<std::string> nodes;
  if (c.probe.get(nodeUrl + "/api/v1/cluster", &body, c.admin) != 200) return nodes;
  testing::JsonDoc json(body);
  JsonArray* list = json.root ? json_object_get_array_member(json.root, "nodes") : nullptr;
  for (guint i = 0; list && i < json_array_get_length(list); i++)
    nodes.insert(json_object_get_string_member(json_array_get_object_element(list, i), "url"));
  return nodes;
}

// Each live node's load as `nodeUrl` has it from the heartbeats: URL -> {rooms, speakers}.
std::map<std::string, std::pair<int, int>> loads(Cluster& c, const std::string& nodeUrl) {
  std::string body;
  std::map<std::string, std::pair<int, int>> out;
  if (c.probe.get(nodeUrl + "/api/v1/cluster", &body, c.admin) != 200) return out;
  testing::JsonDoc json(body);
  JsonArray* list = json.root ? json_object_get_array_member(json.root, "nodes") : nullptr;
  for (guint i = 0; list && i < json_array_get_length(list); i++) {
    JsonObject* n = json_array_get_object_element(list, i);
    out[json_object_get_string_member(n, "url")] = {static_cast<int>(json_object_get_int_member(n, "rooms")),
                                                    static_cast<int>(json_object_get_int_member(n, "speakers"))};
  }
  return out;
}

// Waits until the listing through `askUrl` holds every room, each under one of `live`; the
// listing, or an empty map at the deadline.
std::map<std::string, std::string> settledListing(Cluster& c, const std::string& askUrl,
                                                  const std::vector<std::string>& rooms, double timeoutSeconds) {
  const std::vector<std::string> live = c.urls();
  std::map<std::string, std::string> seen;
  const bool settled = testing::pollUntil(
      [&] {
        seen = listing(c, askUrl);
        return std::all_of(rooms.begin(), rooms.end(), [&](const std::string& id) {
          return seen.count(id) && std::find(live.begin(), live.end(), seen[id]) != live.end();
        });
      },
      timeoutSeconds, 0.1);
  return settled ? seen : std::map<std::string, std::string>{};
}

int leaseFromLog(const std::string& log) {
  const size_t at = log.find("(lease ");
  return at == std::string::npos ? 0 : atoi(log.c_str() + at + 7);
}

void startCluster(Cluster& c, const Options& o) {
  if (!c.redis.start()) die("redis-server did not start:\n" + c.redis.log());
  c.dir = testing::makeTempDir("roomcast-bench-cluster");
  // Every node: the same [server] secret and [auth] keys (tokens verify on every node), [cluster]
  // with the default lease, the same Redis.
  const std::vector<std::string> args = testing::clusterNodeArgs(c.redis.url());
  for (int i = 0; i < o.nodes; i++) {
    const std::string name(1, static_cast<char>('A' + i));
    c.nodes.push_back(std::make_unique<ClusterNode>(name, c.dir + "/node-" + name, testing::freeTcpPort(), args));
    g_mkdir_with_parents((c.dir + "/node-" + name).c_str(), 0700);
    if (!c.nodes.back()->start()) die("node " + name + " did not start:\n" + readFile(c.nodes.back()->logPath()));
  }
  const std::vector<std::string> all = c.urls();
  const bool registered = testing::pollUntil(
      [&] { return registry(c, all[0]) == std::set<std::string>(all.begin(), all.end()); }, 20, 0.1);
  if (!registered) die("the nodes did not all appear in the registry");
  c.leaseMs = leaseFromLog(readFile(c.nodes[0]->logPath()));
  note("cluster: redis %s, %d nodes, lease %d ms, in %s", c.redis.url().c_str(), o.nodes, c.leaseMs, c.dir.c_str());
}

// ---- placement

struct Placement {
  std::vector<std::string> rooms;
  std::map<std::string, int> perNode;  // node URL -> rooms, as the listing through another node says
  std::string order;                   // the placing node's pick for each room in turn ("ABCC...")
  double seconds = 0;
  double ratio = NAN, stddev = 0;
};

Placement placeRooms(Cluster& c, const Options& o) {
  Placement p;
  RestClient via(c.nodes[0]->url(), 10);
  const double t0 = monotonicSeconds();
  for (int i = 0; i < o.rooms; i++) {
    // No X-Roomcast-Placed: the node asked places the room on the least loaded live node.
    const auto r = via.request("POST", "/api/v1/rooms", strf(R"({"title":"bench room %d"})", i), c.admin);
    if (r.status != 201) die(strf("creating room %d: %d %s %s", i, r.status, r.body.c_str(), r.error.c_str()));
    p.rooms.push_back(jsonMember(r.body, "id"));
    const ClusterNode* picked = c.byUrl(jsonMember(r.body, "node"));
    p.order += picked ? picked->name() : "?";
  }
  p.seconds = monotonicSeconds() - t0;
  const auto seen = settledListing(c, c.nodes.back()->url(), p.rooms, 20);
  if (seen.empty()) die("the rooms did not all appear in the listing with a live owner");
  for (const std::string& url : c.urls()) p.perNode[url] = 0;
  for (const std::string& id : p.rooms) p.perNode[seen.at(id)]++;
  int lo = o.rooms, hi = 0;
  double sum2 = 0;
  const double mean = static_cast<double>(o.rooms) / static_cast<double>(p.perNode.size());
  for (const auto& [url, n] : p.perNode) {
    lo = std::min(lo, n), hi = std::max(hi, n);
    sum2 += (n - mean) * (n - mean);
  }
  p.ratio = lo > 0 ? static_cast<double>(hi) / lo : INFINITY;
  p.stddev = std::sqrt(sum2 / static_cast<double>(p.perNode.size()));
  return p;
}

// ---- failover

struct RoomMove {
  double directoryAt = NAN;  // a survivor's GET /api/v1/rooms/{id} names a survivor
  double liveAt = NAN;       // ... and that node serves the room's playlist itself
  std::string owner;
};

struct Kill {
  int index = 0;
  std::string victim, chosen;
  std::map<std::string, RoomMove> moved;  // the victim's rooms
  double rejoinSeconds = NAN;             // restart to being in the registry again
  bool settled = true;                    // the listing was whole before the kill
  double chosenLive() const { return moved.at(chosen).liveAt; }
  double chosenDirectory() const { return moved.at(chosen).directoryAt; }
  double lastLive() const {
    double last = 0;
    for (const auto& [id, m] : moved) last = std::isnan(m.liveAt) ? INFINITY : std::max(last, m.liveAt);
    return std::isinf(last) ? NAN : last;
  }
  int notLive() const {
    return static_cast<int>(std::count_if(moved.begin(), moved.end(), [](auto& e) { return std::isnan(e.second.liveAt); }));
  }
  std::map<std::string, int> spread() const {
    std::map<std::string, int> s;
    for (const auto& [id, m] : moved)
      if (!m.owner.empty()) s[m.owner]++;
    return s;
  }
};

// Polls until every one of the victim's rooms is live on a survivor (or the deadline), asking
// the first survivor for the owner and that owner for the playlist.
void watchFailover(Cluster& c, Kill& k, ClusterNode* victim, double t0, const Options& o) {
  const std::vector<std::string> survivors = c.urls(victim);
  const std::string ask = survivors.front();
  testing::pollUntil(
      [&] {
        bool all = true;
        for (auto& [id, m] : k.moved) {
          if (!std::isnan(m.liveAt)) continue;
          const std::string owner = roomOwnerAsSeenBy(c.probe, ask, id);
          const bool survivor = std::find(survivors.begin(), survivors.end(), owner) != survivors.end();
          if (survivor && std::isnan(m.directoryAt)) m.directoryAt = monotonicSeconds() - t0;
          if (survivor && servesPlaylist(c.probe, owner, id)) {
            m.liveAt = monotonicSeconds() - t0;
            m.owner = owner;
          }
          all = all && !std::isnan(m.liveAt);
        }
        return all;
      },
      o.failoverTimeout, o.pollMs / 1000.0);
}

Kill killOnce(Cluster& c, int index, const std::vector<std::string>& rooms, const Options& o) {
  Kill k;
  k.index = index;
  k.chosen = rooms[static_cast<size_t>(index) % rooms.size()];
  auto owners = settledListing(c, c.nodes[static_cast<size_t>(index) % c.nodes.size()]->url(), rooms, 30);
  if (owners.empty()) {
    // Not whole: take the owners as they are listed now, and say so.
    k.settled = false;
    owners = listing(c, c.nodes[static_cast<size_t>(index) % c.nodes.size()]->url());
  }
  ClusterNode* victim = c.byUrl(owners[k.chosen]);
  if (!victim) die("kill " + std::to_string(index) + ": room " + k.chosen + " has no known owner");
  k.victim = victim->name();
  for (const auto& [id, owner] : owners)
    if (owner == victim->url()) k.moved[id] = RoomMove{};
  const double t0 = monotonicSeconds();
  victim->kill();
  watchFailover(c, k, victim, t0, o);
  const double t1 = monotonicSeconds();
  if (!victim->start()) die("node " + victim->name() + " did not restart:\n" + readFile(victim->logPath()));
  const std::string ask = c.urls(victim).front();
  if (testing::pollUntil([&] { return registry(c, ask).count(victim->url()) > 0; }, o.rejoinTimeout, 0.05))
    k.rejoinSeconds = monotonicSeconds() - t1;
  // A restarted node's failover watch takes no room over until a lease after Redis answered it,
  // and says nothing when it starts to: a hold of a fixed length (--rejoin-hold) is the only way to
  // have every survivor of the next kill take part. 0 (the default): kill again at once.
  if (o.rejoinHold > 0) sleepFor(std::max(0.0, t1 + o.rejoinHold - monotonicSeconds()));
  note("kill %d: %s (%zu rooms): chosen room live after %.2f s, last after %.2f s, %d not live; rejoined in %.2f s",
       index + 1, k.victim.c_str(), k.moved.size(), k.chosenLive(), k.lastLive(), k.notLive(), k.rejoinSeconds);
  return k;
}

// ---- speaker-weighted placement (after the kills)

struct SpeakerPass {
  std::string loaded;  // the node the speakers talk on
  int speakers = 0;
  std::map<std::string, std::pair<int, int>> before;  // URL -> {rooms, speakers} from the heartbeats
  std::map<std::string, int> placed;                  // URL -> new rooms it got
  std::string error;                                  // why the pass stopped ("" if it did not)
};

// `speakers` CLI speakers (WebRTC, a tone each), one per room created directly on node A, until
// the heartbeats show them; then `rooms` more rooms through node A: placement goes by the fewest
// speakers first, so none should land on A.
SpeakerPass speakerPass(Cluster& c, const Options& o) {
  SpeakerPass pass;
  ClusterNode& a = *c.nodes[0];
  pass.loaded = a.name();
  RestClient onA(a.url(), 10);
  std::vector<std::unique_ptr<testing::Process>> talking;
  for (int i = 0; i < o.speakers; i++) {
    const auto r = testing::http("POST", a.url() + "/api/v1/rooms", strf(R"({"title":"speaker room %d"})", i),
                                 {{"Content-Type", "application/json"}, {"X-Roomcast-Placed", "1"}});
    if (r.status != 201) return pass.error = "speaker room: " + std::to_string(r.status) + " " + r.body, pass;
    talking.push_back(std::make_unique<testing::Process>(std::vector<std::string>{
        testing::buildPath("src/client/roomcast"), "--server", a.url(), "speak", jsonMember(r.body, "id"), "--token",
        jsonMember(r.body, "host_token"), "--tone", std::to_string(300 + 100 * i), "--seconds", "120"}));
    if (!talking.back()->waitForOutput("connected", 30))
      return pass.error = "speaker " + std::to_string(i) + " did not connect: " + talking.back()->errors(), pass;
  }
  const std::string ask = c.nodes.back()->url();
  if (!testing::pollUntil([&] { return loads(c, ask)[a.url()].second >= o.speakers; }, 15, 0.1))
    return pass.error = "node A's heartbeat never showed its speakers", pass;
  pass.speakers = o.speakers;
  pass.before = loads(c, ask);
  for (const std::string& url : c.urls()) pass.placed[url] = 0;
  for (int i = 0; i < o.speakerRooms; i++) {
    const auto r = onA.request("POST", "/api/v1/rooms", strf(R"({"title":"after speakers %d"})", i), c.admin);
    if (r.status != 201) return pass.error = "room after speakers: " + std::to_string(r.status) + " " + r.body, pass;
    pass.placed[jsonMember(r.body, "node")]++;
  }
  return pass;  // the speakers' processes end here (SIGKILL by PID)
}

// ---- output

struct Summary {
  double p50 = NAN, p99 = NAN, worst = NAN, best = NAN;
  int samples = 0;
};

Summary summarize(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  Summary s;
  s.samples = static_cast<int>(v.size());
  if (v.empty()) return s;
  s.p50 = nearestRankPercentile(v, 0.5);
  s.p99 = nearestRankPercentile(v, 0.99);
  s.worst = *std::max_element(v.begin(), v.end());
  s.best = *std::min_element(v.begin(), v.end());
  return s;
}

std::string shortName(Cluster& c, const std::string& url) {
  const ClusterNode* n = c.byUrl(url);
  return n ? n->name() : url;
}

std::string spreadText(Cluster& c, const std::map<std::string, int>& spread) {
  std::string out;
  for (const auto& [url, n] : spread) out += (out.empty() ? "" : " ") + shortName(c, url) + ":" + std::to_string(n);
  return out.empty() ? "-" : out;
}

void printPlacement(Cluster& c, const Placement& p) {
  printf("\nPlacement: %zu rooms created through node A (POST /api/v1/rooms, no X-Roomcast-Placed) in %.2f s;\n"
         "owners as node %s lists them:\n\n| node | url | rooms |\n|---|---|---|\n",
         p.rooms.size(), p.seconds, c.nodes.back()->name().c_str());
  for (const auto& node : c.nodes) printf("| %s | %s | %d |\n", node->name().c_str(), node->url().c_str(), p.perNode.at(node->url()));
  printf("\nmax/min %.2f, standard deviation %.2f rooms (population); the picks in order: %s\n", p.ratio, p.stddev,
         p.order.c_str());
}

void printFailover(Cluster& c, const std::vector<Kill>& kills, const Options& o) {
  printf("\nFailover: %zu SIGKILLs, lease %d ms. t=0 at the SIGKILL. \"directory\": GET /api/v1/rooms/{id} on the\n"
         "first surviving node names a surviving node; \"live\": that node then answers GET /hls/{id}/index.m3u8 itself\n"
         "(200, no redirect, at least one segment listed). Polled every %.0f ms (the times' resolution). The chosen\n"
         "room of kill k is room k of the placement; the node killed is its owner then. After each kill the node is\n"
         "restarted on its port and data dir; \"rejoin\": from the restart until a survivor lists it in the registry.\n"
         "The next kill follows %s.\n\n",
         kills.size(), c.leaseMs, o.pollMs,
         o.rejoinHold > 0 ? strf("no sooner than %.1f s after the restart", o.rejoinHold).c_str()
                          : "once the rejoined node is listed and every room has a live owner");
  printf("| kill | node | rooms moved | chosen room: directory s | chosen room: live s | last room live s | spread | "
         "not live | rejoin s |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const Kill& k : kills)
    printf("| %d | %s | %zu | %.2f | %.2f | %.2f | %s | %d | %.2f |\n", k.index + 1, k.victim.c_str(), k.moved.size(),
           k.chosenDirectory(), k.chosenLive(), k.lastLive(), spreadText(c, k.spread()).c_str(), k.notLive(),
           k.rejoinSeconds);
}

void printSpeakerPass(Cluster& c, const SpeakerPass& pass) {
  if (!pass.error.empty()) {
    printf("\nSpeaker-weighted placement: not measured (%s)\n", pass.error.c_str());
    return;
  }
  int created = 0;
  for (const auto& [url, n] : pass.placed) created += n;
  printf("\nSpeaker-weighted placement (after the kills): %d CLI speakers talking in %d rooms on node %s, then %d rooms\n"
         "created through node A; load as the heartbeats give it just before:\n\n| node | rooms | speakers | new rooms |\n"
         "|---|---|---|---|\n",
         pass.speakers, pass.speakers, pass.loaded.c_str(), created);
  for (const auto& node : c.nodes) {
    const auto load = pass.before.count(node->url()) ? pass.before.at(node->url()) : std::pair<int, int>{-1, -1};
    printf("| %s | %d | %d | %d |\n", node->name().c_str(), load.first, load.second,
           pass.placed.count(node->url()) ? pass.placed.at(node->url()) : 0);
  }
}

void printSummaries(const std::vector<std::pair<std::string, Summary>>& rows, int kills) {
  printf("\n| failover time (s) | samples | best | p50 | p99 | worst |\n|---|---|---|---|---|---|\n");
  for (const auto& [what, s] : rows)
    printf("| %s | %d | %.2f | %.2f | %.2f | %.2f |\n", what.c_str(), s.samples, s.best, s.p50, s.p99, s.worst);
  printf("\nPercentiles by nearest rank over %d kills: below 100 samples p99 IS the worst sample (no more is known).\n",
         kills);
}

std::string summaryJson(const Summary& s) {
  return strf(R"({"samples":%d,"best":%s,"p50":%s,"p99":%s,"worst":%s})", s.samples, jsonNumber(s.best).c_str(),
              jsonNumber(s.p50).c_str(), jsonNumber(s.p99).c_str(), jsonNumber(s.worst).c_str());
}

std::string killJson(Cluster& c, const Kill& k) {
  std::string spread;
  for (const auto& [url, n] : k.spread()) spread += (spread.empty() ? "" : ",") + jsonString(shortName(c, url)) + ":" + std::to_string(n);
  return strf(R"({"kill":%d,"node":%s,"settled_before":%s,"chosen_room":%s,"rooms_moved":%zu,"chosen_directory_s":%s,)"
              R"("chosen_live_s":%s,"last_live_s":%s,"not_live":%d,"spread":{%s},"rejoin_s":%s})",
              k.index + 1, jsonString(k.victim).c_str(), k.settled ? "true" : "false", jsonString(k.chosen).c_str(),
              k.moved.size(), jsonNumber(k.chosenDirectory()).c_str(), jsonNumber(k.chosenLive()).c_str(),
              jsonNumber(k.lastLive()).c_str(), k.notLive(), spread.c_str(), jsonNumber(k.rejoinSeconds).c_str());
}

std::string resultJson(Cluster& c, const Placement& p, const std::vector<Kill>& kills,
                       const std::vector<std::pair<std::string, Summary>>& rows, const SpeakerPass& sp,
                       const std::string& loadBefore, const Options& o) {
  std::string perNode, killList, summaries, speakerNodes;
  for (const auto& node : c.nodes)
    perNode += (perNode.empty() ? "" : ",") + jsonString(node->name()) + ":" + std::to_string(p.perNode.at(node->url()));
  for (const Kill& k : kills) killList += (killList.empty() ? "" : ",\n    ") + killJson(c, k);
  for (const auto& [url, n] : sp.placed)
    speakerNodes += strf("%s%s:{\"rooms\":%d,\"speakers\":%d,\"new_rooms\":%d}", speakerNodes.empty() ? "" : ",",
                         jsonString(shortName(c, url)).c_str(), sp.before.count(url) ? sp.before.at(url).first : -1,
                         sp.before.count(url) ? sp.before.at(url).second : -1, n);
  // The rows' JSON names, in the order main() makes the rows.
  const char* keys[] = {"chosen_room_directory_s", "chosen_room_live_s", "last_room_live_s"};
  for (size_t i = 0; i < rows.size() && i < 3; i++)
    summaries += (summaries.empty() ? "" : ",") + jsonString(keys[i]) + ":" + summaryJson(rows[i].second);
  return strf("{\n  \"benchmark\":\"cluster\",\"date\":%s,\"machine\":%s,\"load_before\":%s,\"load_after\":%s,\n"
              "  \"nodes\":%d,\"rooms\":%d,\"lease_ms\":%d,\"poll_ms\":%s,\"rejoin_hold_s\":%s,\"created_through\":\"A\",\n"
              "  \"placement\":{\"per_node\":{%s},\"max_min_ratio\":%s,\"stddev\":%s,\"seconds\":%s,\"order\":%s},\n"
              "  \"failover\":{%s},\n  \"speaker_pass\":{\"speakers\":%d,\"on\":%s,\"error\":%s,\"nodes\":{%s}},\n"
              "  \"kills\":[\n    %s]\n}\n",
              jsonString(utcNow()).c_str(), jsonString(machineSummary()).c_str(), jsonString(loadBefore).c_str(),
              jsonString(loadAverage()).c_str(), o.nodes, o.rooms, c.leaseMs, jsonNumber(o.pollMs).c_str(), jsonNumber(o.rejoinHold).c_str(),
              perNode.c_str(), jsonNumber(p.ratio).c_str(), jsonNumber(p.stddev).c_str(), jsonNumber(p.seconds).c_str(), jsonString(p.order).c_str(),
              summaries.c_str(), sp.speakers, jsonString(sp.loaded).c_str(), jsonString(sp.error).c_str(), speakerNodes.c_str(), killList.c_str());
}

Options parseOptions(int argc, char** argv) {
  Options o;
  o.json = testing::sourcePath("bench/results/" + utcNow().substr(0, 10) + "-cluster.json");
  parseFlags(argc, argv,
             "bench-cluster: 3 roomcastd nodes on a real redis-server: placement of new rooms, and failover time "
             "over repeated SIGKILLs of a room's owner (each killed node restarted on the same port and data dir)",
             {{"--nodes", "N", "roomcastd nodes (default 3)", setInt(o.nodes, 2, 8)},
              {"--rooms", "N", "rooms created through node A (default 30)", setInt(o.rooms, 1, 1000)},
              {"--kills", "N", "SIGKILLs (default 20)", setInt(o.kills, 0, 1000)},
              {"--poll-ms", "MS", "probe interval while rooms move (default 50)", setNumber(o.pollMs, 5, 1000)},
              {"--failover-timeout", "S", "per kill, for all its rooms to be live (default 30)",
               setNumber(o.failoverTimeout, 1, 600)},
              {"--speakers", "N", "CLI speakers for the speaker-weighted pass (default 3; 0: no such pass)",
               setInt(o.speakers, 0, 20)},
              {"--speaker-rooms", "N", "rooms created while they talk (default 6)", setInt(o.speakerRooms, 1, 100)},
              {"--rejoin-hold", "S", "after a restart, do not kill again before S s from it (default 0)",
               setNumber(o.rejoinHold, 0, 120)},
              {"--json", "FILE", "results (default bench/results/<date>-cluster.json)", setText(o.json)},
              {"--keep", "", "keep the nodes' data dirs and logs", setSwitch(o.keep)}});
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parseOptions(argc, argv);
  const std::string loadBefore = loadAverage();
  Cluster c;
  startCluster(c, o);
  const Placement placement = placeRooms(c, o);
  std::vector<Kill> kills;
  for (int i = 0; i < o.kills; i++) kills.push_back(killOnce(c, i, placement.rooms, o));

  const SpeakerPass speakers = o.speakers > 0 ? speakerPass(c, o) : SpeakerPass{};
  std::vector<double> chosen, last, directory;
  for (const Kill& k : kills) chosen.push_back(k.chosenLive()), last.push_back(k.lastLive()), directory.push_back(k.chosenDirectory());
  const std::vector<std::pair<std::string, Summary>> rows{{"chosen room: directory", summarize(directory)},
                                                          {"chosen room: live", summarize(chosen)},
                                                          {"last of the killed node's rooms: live", summarize(last)}};
  printf("# bench-cluster %s\n\nmachine: %s; load average before %s, after %s\n", utcNow().c_str(), machineSummary().c_str(),
         loadBefore.c_str(), loadAverage().c_str());
  printPlacement(c, placement);
  printFailover(c, kills, o);
  printSummaries(rows, o.kills);
  if (o.speakers > 0) printSpeakerPass(c, speakers);
  writeJsonFile(o.json, resultJson(c, placement, kills, rows, speakers, loadBefore, o));
  c.nodes.clear();  // SIGTERM each node (Child's destructor) before the directory goes
  if (!o.keep) testing::removeTempDir(c.dir);
  return 0;
}
