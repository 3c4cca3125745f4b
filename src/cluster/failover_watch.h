// Failover: every node watches the room directory for rooms whose lease is gone (their node
// died, or lost Redis for longer than a lease) and claims them; the node that wins the claim
// reopens the room from its record. The claim is the lease's atomic script, so exactly one node
// wins and the epoch goes up; the watch only decides who tries first, so that a dead node's
// rooms spread over the live ones instead of all landing on one.
//
// Who tries when: the live nodes are ranked for each room by a hash of (room, node) (rendezvous
// hashing: the order is the same on every node and differs between rooms); the first tries as
// soon as it sees the room orphaned, the next one stagger later, and so on, so a candidate that
// died too is covered. A room whose recorded owner is still live (it lost Redis for a while and
// will claim its rooms again when it is back) is left to it for two leases.
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/node_registry.h"
#include "cluster/redis_connection.h"
#include "cluster/room_lease.h"
#include "glib_support/source.h"

namespace roomcast::cluster {

struct FailoverSettings {
  std::string prefix = "roomcast:";
  std::string nodeUrl;
  int64_t leaseMs = 5000;
  unsigned scanMs = 1000;     // how often the directory is read
  unsigned staggerMs = 1000;  // between one candidate's turn and the next's
};

// The order in which `nodes` should try to take `roomId` over (rendezvous hashing); pure.
std::vector<std::string> takeoverOrder(const std::string& roomId, std::vector<std::string> nodes);
// Whether the node at `rank` in that order may try now, the room having been orphaned for
// `orphanedMs`, with its recorded owner still live or not; pure.
bool mayTryTakeover(size_t rank, int64_t orphanedMs, bool ownerLive, const FailoverSettings& settings);

class FailoverWatch {
 public:
  // This node holds the lease of an orphaned room now (`epoch`): reopen it from `record`, then
  // call `done` with whether it runs here; if not, the lease is released for another node.
  using Reopen = std::function<void(const std::string& roomId, const std::string& record, int64_t epoch,
                                    std::function<void(bool reopened)> done)>;
  // `runsHere`: whether this node runs the room already (its own rooms are never orphans).
  FailoverWatch(RedisConnection& redis, GMainContext* context, FailoverSettings settings, RoomLeases& leases,
                NodeRegistry& registry, std::function<bool(const std::string&)> runsHere, Reopen reopen);
  FailoverWatch(const FailoverWatch&) = delete;
  FailoverWatch& operator=(const FailoverWatch&) = delete;

  void start();
  // Redis went away or came back (the connection's observer passes it on): the watch waits a
  // lease after every return.
  void connectionChanged(bool up);

 private:
  struct Orphan {
    int64_t sinceMs = 0;       // monotonic: first seen without a lease
    int64_t ownerDeadSinceMs = 0;  // monotonic: first seen with its recorded owner not live (0: not yet)
    int64_t notBeforeMs = 0;   // monotonic: after a failed reopen here, leave it to others a while
    bool claiming = false;
  };
  static gboolean onScan(gpointer self);
  void scan();
  void orphansFound(std::vector<std::string> ids);
  void consider(const std::vector<std::string>& ids, const std::vector<std::string>& records,
                const std::vector<NodeInfo>& live);
  void tryTakeover(const std::string& roomId, const std::string& record);
  std::string recordKey(const std::string& roomId) const { return settings_.prefix + "room:" + roomId; }

  RedisConnection& redis_;
  GMainContext* context_;
  FailoverSettings settings_;
  RoomLeases& leases_;
  NodeRegistry& registry_;
  std::function<bool(const std::string&)> runsHere_;
  Reopen reopen_;
  std::map<std::string, Orphan> orphans_;
  bool scanning_ = false;
  // Since when (monotonic ms) Redis has answered without a break; 0 while it is down. After an
  // outage every lease may have expired while every node lives: nobody takes a room over until
  // the connection has been up for a lease, so each owner has heartbeaten and claimed its own.
  int64_t upSinceMs_ = 0;
  glib_support::Source timer_;
  std::shared_ptr<FailoverWatch*> self_ = std::make_shared<FailoverWatch*>(this);
};

}  // namespace roomcast::cluster
