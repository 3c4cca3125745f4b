#include "core/room.h"

#include <algorithm>

namespace roomcast::core {

int Room::speakerCount() const {
  int n = 0;
  for (const auto& [id, p] : participants) n += isOnStage(p.role) ? 1 : 0;
  return n;
}

int Room::listenerCount() const {
  return static_cast<int>(participants.size()) - speakerCount();
}

std::vector<const Participant*> Room::handQueue() const {
  std::vector<const Participant*> queue;
  for (const auto& [id, p] : participants)
    if (p.handRaised) queue.push_back(&p);
  std::sort(queue.begin(), queue.end(), [](auto* a, auto* b) { return a->handOrder < b->handOrder; });
  return queue;
}

}  // namespace roomcast::core
