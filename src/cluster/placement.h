// Where a new room goes: the least loaded live node (pickLeastLoaded), counting the rooms this
// node placed since each node's last heartbeat. Heartbeats come every lease/3; without this,
// rooms created in a burst would all see the same loads and all go to one node.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cluster/node_registry.h"

namespace roomcast::cluster {

class PlacementBook {
 public:
  // A placement is forgotten once its node beat at least this long after it (the room exists
  // there by then, and that heartbeat counted it).
  static constexpr int64_t kSettleMs = 1000;

  // A room was sent to `url` at unix ms `atMs`.
  void placed(const std::string& url, int64_t atMs);
  // `nodes` with the rooms placed on each since its last heartbeat (less kSettleMs) added;
  // placements older than that are forgotten.
  std::vector<NodeInfo> adjusted(std::vector<NodeInfo> nodes);

 private:
  static constexpr size_t kMaxPerNode = 10000;  // a bound, far above any burst
  std::map<std::string, std::vector<int64_t>> placed_;  // by node URL: when
};

}  // namespace roomcast::cluster
