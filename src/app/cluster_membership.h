// roomcastd as a node of a cluster ([cluster] redis): the Redis connection, the heartbeat
// with this node's load, the leases of the rooms it runs, and GET /api/v1/cluster's answer.
// Without [cluster] redis the daemon builds none of it. Everything runs on the control loop.
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "app/options.h"
#include "cluster/chat_log.h"
#include "cluster/failover_watch.h"
#include "cluster/node_registry.h"
#include "cluster/owner_lookup.h"
#include "cluster/placement.h"
#include "cluster/redis_connection.h"
#include "cluster/room_directory.h"
#include "cluster/room_lease.h"
#include "core/result.h"
#include "hls/owner_redirect.h"

namespace roomcast::app {

// This process's CPU use between two readings (getrusage), in % of one core.
class CpuMeter {
 public:
  double sample();

 private:
  int64_t lastCpuUs_ = -1;
  gint64 lastUs_ = 0;
};

class ClusterMembership {
 public:
  struct Hooks {
    std::function<cluster::NodeLoad()> load;  // rooms and speakers now (cpu is measured here)
    // A room this node must not run: another node owns it.
    std::function<void(const std::string& roomId, const std::string& reason)> endRoom;
    // Failover: this node took over a room whose node died; reopen it from its directory record
    // with its chat history (the stored JSON of each message, oldest first).
    std::function<core::Status(const std::string& record, const std::vector<std::string>& chat)> reopenRoom;
  };

  // `secret`: the node's token secret ([server] secret); only its fingerprint is published.
  ClusterMembership(const ClusterOptions& options, GMainContext* context, std::string version, const std::string& secret);
  ClusterMembership(const ClusterMembership&) = delete;
  ClusterMembership& operator=(const ClusterMembership&) = delete;

  // What the daemon gives it once the rooms exist (before the loop runs).
  void setHooks(Hooks hooks) { hooks_ = std::move(hooks); }

  // Connects and waits (iterating `context`, before the loop runs) for a PING's answer within
  // `deadlineMs`. Unreachable: the error, or with on_start_failure = standalone a warning and
  // Ok (the connection keeps trying and the node joins when Redis answers).
  core::Status connectAtStart(unsigned deadlineMs);
  // Once the server listens on `boundUrl`: picks the node URL and starts the heartbeat.
  core::Status join(const std::string& boundUrl);

  void roomOpened(const std::string& roomId);
  void roomEnded(const std::string& roomId);
  // This node's room is now `record` (cluster::encodeRoomRecord): published once joined.
  void roomChanged(const std::string& roomId, std::string record);

  // GET /api/v1/cluster: {"node", "redis", "nodes": [...], "owned": [...], "owned_detail": [...]}.
  void status(std::function<void(int status, std::string body)> reply);

  const std::string& nodeUrl() const { return nodeUrl_; }  // "" until joined
  // The URL of the node that owns `roomId` when that is another node; none when it is this one,
  // nobody, or Redis cannot tell (before join too). For routing (HttpConfig::ownerOf).
  void ownerElsewhere(const std::string& roomId, std::function<void(hls::RoomOwner)> done);

  // The room directory: this node's rooms are published there (once joined), every node's read.
  cluster::RoomDirectory& directory() { return directory_; }
  // The chat history of this node's rooms, kept for a failover (dropped when a room ends here).
  cluster::ChatLog& chatLog() { return chatLog_; }
  // Where a new room goes: the least loaded live node's URL, counting recent placements; this
  // node's own when Redis cannot say.
  void place(std::function<void(std::string nodeUrl)> done);

 private:
  void redisChanged(bool up, const std::string& reason);
  void claim(const std::string& roomId);
  void leaseLost(const std::string& roomId, cluster::LeaseLoss why, const std::string& owner);
  void reopen(const std::string& roomId, const std::string& record, std::function<void(bool)> done);
  // Warns (once per node) about live nodes with another token secret.
  void checkSecrets(const std::vector<cluster::NodeInfo>& nodes);
  static gboolean onSecretCheck(gpointer self);

  ClusterOptions options_;
  GMainContext* context_;
  std::string version_;
  std::string secretId_;
  std::set<std::string> secretWarned_;  // nodes already warned about
  glib_support::Source secretCheck_;
  Hooks hooks_;
  cluster::RedisConnection redis_;
  std::string nodeUrl_;
  std::unique_ptr<cluster::NodeRegistry> registry_;  // from join()
  std::unique_ptr<cluster::RoomLeases> leases_;      // from join()
  std::unique_ptr<cluster::OwnerLookup> owners_;     // from join()
  std::unique_ptr<cluster::FailoverWatch> failover_; // from join()
  std::set<std::string> rooms_;  // the rooms this node runs (claimed or to be claimed)
  cluster::RoomDirectory directory_;
  cluster::ChatLog chatLog_;
  cluster::PlacementBook placements_;
  CpuMeter cpu_;
  double cpuPct_ = 0;
};

}  // namespace roomcast::app
