#include "core/listener_sessions.h"

namespace roomcast::core {

bool ListenerSessions::touch(const std::string& roomId, const std::string& session, int64_t nowMs) {
  RoomSessions& room = rooms_[roomId];
  auto it = room.lastSeen.find(session);
  if (it != room.lastSeen.end()) {
    it->second = nowMs;
    return true;
  }
  if (room.lastSeen.size() >= maxPerRoom_) return false;
  room.lastSeen.emplace(session, nowMs);
  return true;
}

std::vector<std::string> ListenerSessions::sweep(int64_t nowMs) {
  std::vector<std::string> changed;
  for (auto it = rooms_.begin(); it != rooms_.end();) {
    RoomSessions& room = it->second;
    for (auto s = room.lastSeen.begin(); s != room.lastSeen.end();)
      s = nowMs - s->second > idleMs_ ? room.lastSeen.erase(s) : std::next(s);
    if (room.lastSeen.size() != room.reported) {
      room.reported = room.lastSeen.size();
      changed.push_back(it->first);
    }
    it = room.lastSeen.empty() && room.reported == 0 ? rooms_.erase(it) : std::next(it);
  }
  return changed;
}

size_t ListenerSessions::count(const std::string& roomId) const {
  auto it = rooms_.find(roomId);
  return it == rooms_.end() ? 0 : it->second.lastSeen.size();
}

bool ListenerSessions::contains(const std::string& roomId, const std::string& session) const {
  auto it = rooms_.find(roomId);
  return it != rooms_.end() && it->second.lastSeen.count(session) > 0;
}

size_t ListenerSessions::total() const {
  size_t n = 0;
  for (const auto& [id, room] : rooms_) n += room.lastSeen.size();
  return n;
}

void ListenerSessions::forgetRoom(const std::string& roomId) { rooms_.erase(roomId); }

}  // namespace roomcast::core
