#include "core/room.h"

namespace roomcast::core {

int Room::speakerCount() const {
  int n = 0;
  for (const auto& [id, p] : participants) n += isOnStage(p.role) ? 1 : 0;
  return n;
}

int Room::listenerCount() const {
  return static_cast<int>(participants.size()) - speakerCount();
}

}  // namespace roomcast::core
