// The node registry: each node SETs `roomcast:node:<url>` (JSON: url, rooms, speakers, cpu_pct,
// started_ms, version) with a TTL of one lease, every lease/3, and scores itself in the sorted
// set `roomcast:nodes` with the heartbeat's time. A node is live while its key exists; the set
// only says where to look, and members whose key is gone and whose score is older than ten
// leases are removed from it by whoever reads it.
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/redis_connection.h"
#include "core/result.h"
#include "glib_support/source.h"

namespace roomcast::cluster {

struct NodeLoad {
  int64_t rooms = 0;
  int64_t speakers = 0;
  double cpuPct = 0;
};

struct NodeInfo {
  std::string url;
  NodeLoad load;
  int64_t startedMs = 0;
  std::string version;
  // A fingerprint of the node's token secret ([server] secret): nodes that differ cannot verify
  // each other's tokens, which breaks routing and every failover (see secretFingerprint).
  std::string secretId;
  int64_t heartbeatMs = 0;  // unix ms of its last heartbeat (the sorted set's score)
};

struct RegistrySettings {
  std::string prefix = "roomcast:";
  std::string nodeUrl;
  std::string version;
  std::string secretId;
  int64_t leaseMs = 5000;
};

// What a node publishes of its token secret: an HMAC of a fixed text under it (16 hex digits),
// equal on nodes with the same secret and useless for making tokens.
std::string secretFingerprint(const std::string& secret);

// The heartbeat's JSON and back (the reading side bounds what it accepts).
std::string nodeJson(const NodeInfo& node);
std::optional<NodeInfo> parseNodeJson(const std::string& json);
// The least loaded of `nodes`: fewest speakers, then rooms, then CPU, then URL (stable).
std::optional<NodeInfo> pickLeastLoaded(const std::vector<NodeInfo>& nodes);

class NodeRegistry {
 public:
  using LoadProvider = std::function<NodeLoad()>;
  using NodesCallback = std::function<void(core::Result<std::vector<NodeInfo>>)>;

  NodeRegistry(RedisConnection& redis, GMainContext* context, RegistrySettings settings, LoadProvider load);
  NodeRegistry(const NodeRegistry&) = delete;
  NodeRegistry& operator=(const NodeRegistry&) = delete;

  // Heartbeats now and every lease/3 from now on.
  void start();
  void heartbeat();
  // Live nodes (this one included once it has beaten), sorted by URL.
  void liveNodes(NodesCallback done);
  void leastLoaded(std::function<void(core::Result<std::optional<NodeInfo>>)> done);
  const RegistrySettings& settings() const { return settings_; }

 private:
  static gboolean onBeat(gpointer self);
  std::string nodeKey(const std::string& url) const { return settings_.prefix + "node:" + url; }
  void readNodes(std::vector<std::string> members, std::vector<int64_t> scores, NodesCallback done);

  RedisConnection& redis_;
  GMainContext* context_;
  RegistrySettings settings_;
  LoadProvider load_;
  int64_t startedMs_;
  glib_support::Source beat_;
  std::shared_ptr<NodeRegistry*> self_ = std::make_shared<NodeRegistry*>(this);
};

}  // namespace roomcast::cluster
