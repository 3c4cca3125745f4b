#include "cluster/node_registry.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

#include "protocol/json.h"

namespace roomcast::cluster {

using core::Error;
using core::ErrorCode;

namespace {

constexpr size_t kMaxNodeJsonBytes = 4096;  // another node's heartbeat: small, and bounded here
constexpr size_t kMaxUrlBytes = 512;
constexpr int64_t kMaxCount = 10'000'000;

int64_t unixMs() { return g_get_real_time() / 1000; }

}  // namespace

std::string nodeJson(const NodeInfo& node) {
  protocol::JsonWriter w;
  return w.beginObject()
      .str("url", node.url)
      .integer("rooms", node.load.rooms)
      .integer("speakers", node.load.speakers)
      .number("cpu_pct", node.load.cpuPct)
      .integer("started_ms", node.startedMs)
      .str("version", node.version)
      .str("secret_id", node.secretId)
      .endObject()
      .finish();
}

std::optional<NodeInfo> parseNodeJson(const std::string& json) {
  auto root = protocol::parseObject(json, kMaxNodeJsonBytes, 4);
  if (!root) return std::nullopt;
  JsonObject* object = json_node_get_object(root->get());
  protocol::FieldReader fields(object);
  auto url = fields.requiredString("url", kMaxUrlBytes);
  auto rooms = fields.requiredInt("rooms", 0, kMaxCount);
  auto speakers = fields.requiredInt("speakers", 0, kMaxCount);
  auto started = fields.optionalInt("started_ms", 0, INT64_MAX);
  auto version = fields.optionalString("version", 64);
  auto secretId = fields.optionalString("secret_id", 64);
  if (!url || !rooms || !speakers || !started || !version || !secretId) return std::nullopt;
  NodeInfo node;
  node.url = url.value();
  node.load.rooms = rooms.value();
  node.load.speakers = speakers.value();
  JsonNode* cpu = json_object_get_member(object, "cpu_pct");
  if (cpu && JSON_NODE_HOLDS_VALUE(cpu) && json_node_get_value_type(cpu) != G_TYPE_STRING) {
    const double pct = json_node_get_double(cpu);
    node.load.cpuPct = std::isfinite(pct) ? std::clamp(pct, 0.0, 100000.0) : 0;
  }
  node.startedMs = started.value().value_or(0);
  node.version = version.value().value_or("");
  node.secretId = secretId.value().value_or("");
  return node;
}

std::string secretFingerprint(const std::string& secret) {
  g_autofree char* hmac = g_compute_hmac_for_string(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(secret.data()),
                                                    secret.size(), "roomcast cluster: same token secret?", -1);
  return std::string(hmac).substr(0, 16);
}

std::optional<NodeInfo> pickLeastLoaded(const std::vector<NodeInfo>& nodes) {
  auto key = [](const NodeInfo& n) { return std::tie(n.load.speakers, n.load.rooms, n.load.cpuPct, n.url); };
  auto best = std::min_element(nodes.begin(), nodes.end(), [&](const auto& a, const auto& b) { return key(a) < key(b); });
  if (best == nodes.end()) return std::nullopt;
  return *best;
}

NodeRegistry::NodeRegistry(RedisConnection& redis, GMainContext* context, RegistrySettings settings, LoadProvider load)
    : redis_(redis), context_(context), settings_(std::move(settings)), load_(std::move(load)), startedMs_(unixMs()) {}

void NodeRegistry::start() {
  heartbeat();
  const auto interval = static_cast<guint>(std::max<int64_t>(1, settings_.leaseMs / 3));
  beat_ = glib_support::Source::timeout(context_, interval, &NodeRegistry::onBeat, this);
}

gboolean NodeRegistry::onBeat(gpointer self) {
  static_cast<NodeRegistry*>(self)->heartbeat();
  return G_SOURCE_CONTINUE;
}

// The key and the set's score go out together; a beat Redis misses is simply the next one's.
void NodeRegistry::heartbeat() {
  if (!redis_.up()) return;
  NodeInfo me;
  me.url = settings_.nodeUrl;
  me.load = load_ ? load_() : NodeLoad{};
  me.startedMs = startedMs_;
  me.version = settings_.version;
  me.secretId = settings_.secretId;
  const int64_t now = unixMs();
  redis_.command({"SET", nodeKey(me.url), nodeJson(me), "PX", std::to_string(settings_.leaseMs)},
                 [](core::Result<RedisReply>) {});
  redis_.command({"ZADD", settings_.prefix + "nodes", std::to_string(now), me.url}, [](core::Result<RedisReply>) {});
}

void NodeRegistry::liveNodes(NodesCallback done) {
  std::weak_ptr<NodeRegistry*> alive = self_;
  redis_.command({"ZRANGE", settings_.prefix + "nodes", "0", "-1", "WITHSCORES"},
                 [alive, done = std::move(done)](core::Result<RedisReply> reply) mutable {
                   auto self = alive.lock();
                   if (!self) return;
                   if (!reply) return done(reply.error());
                   if (reply->type != RedisReply::Type::Array)
                     return done(Error{ErrorCode::Internal, "Redis: ZRANGE answered " + reply->text});
                   std::vector<std::string> members;
                   std::vector<int64_t> scores;
                   const auto& e = reply->elements;
                   for (size_t i = 0; i + 1 < e.size(); i += 2) {
                     members.push_back(e[i].text);
                     scores.push_back(g_ascii_strtoll(e[i + 1].text.c_str(), nullptr, 10));
                   }
                   (*self)->readNodes(std::move(members), std::move(scores), std::move(done));
                 });
}

void NodeRegistry::readNodes(std::vector<std::string> members, std::vector<int64_t> scores, NodesCallback done) {
  if (members.empty()) return done(std::vector<NodeInfo>{});
  std::vector<std::string> argv{"MGET"};
  for (const auto& m : members) argv.push_back(nodeKey(m));
  std::weak_ptr<NodeRegistry*> alive = self_;
  redis_.command(argv, [alive, members, scores, done = std::move(done)](core::Result<RedisReply> reply) {
    auto self = alive.lock();
    if (!self) return;
    if (!reply) return done(reply.error());
    if (reply->type != RedisReply::Type::Array || reply->elements.size() != members.size())
      return done(Error{ErrorCode::Internal, "Redis: MGET answered " + reply->text});
    NodeRegistry& registry = **self;
    const int64_t staleBefore = unixMs() - 10 * registry.settings_.leaseMs;
    std::vector<NodeInfo> nodes;
    std::vector<std::string> stale{"ZREM", registry.settings_.prefix + "nodes"};
    for (size_t i = 0; i < members.size(); i++) {
      const RedisReply& value = reply->elements[i];
      if (value.isNil()) {
        if (scores[i] < staleBefore) stale.push_back(members[i]);
        continue;
      }
      auto node = parseNodeJson(value.text);
      if (!node || node->url != members[i]) continue;  // not a heartbeat of ours: skipped, left alone
      node->heartbeatMs = scores[i];
      nodes.push_back(std::move(*node));
    }
    if (stale.size() > 2) registry.redis_.command(stale, [](core::Result<RedisReply>) {});
    std::sort(nodes.begin(), nodes.end(), [](const auto& a, const auto& b) { return a.url < b.url; });
    done(std::move(nodes));
  });
}

void NodeRegistry::leastLoaded(std::function<void(core::Result<std::optional<NodeInfo>>)> done) {
  liveNodes([done = std::move(done)](core::Result<std::vector<NodeInfo>> nodes) {
    if (!nodes) return done(nodes.error());
    done(pickLeastLoaded(nodes.value()));
  });
}

}  // namespace roomcast::cluster
