#include "cluster/placement.h"

#include <algorithm>

namespace roomcast::cluster {

void PlacementBook::placed(const std::string& url, int64_t atMs) {
  auto& times = placed_[url];
  if (times.size() < kMaxPerNode) times.push_back(atMs);
}

std::vector<NodeInfo> PlacementBook::adjusted(std::vector<NodeInfo> nodes) {
  std::map<std::string, std::vector<int64_t>> kept;
  for (NodeInfo& node : nodes) {
    auto it = placed_.find(node.url);
    if (it == placed_.end()) continue;
    std::vector<int64_t> pending;
    for (int64_t at : it->second)
      if (node.heartbeatMs < at + kSettleMs) pending.push_back(at);
    node.load.rooms += static_cast<int64_t>(pending.size());
    if (!pending.empty()) kept[node.url] = std::move(pending);
  }
  placed_ = std::move(kept);  // nodes no longer live are forgotten too
  return nodes;
}

}  // namespace roomcast::cluster
