// HLS listeners, counted without WebRTC: a listener is a session id seen in playlist requests.
// A session not seen for `idleMs` is gone. Plain C++, control thread only; the clock is passed
// in, so tests pin it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace roomcast::core {

class ListenerSessions {
 public:
  explicit ListenerSessions(int64_t idleMs = 10000, size_t maxPerRoom = 100000)
      : idleMs_(idleMs), maxPerRoom_(maxPerRoom) {}

  // A playlist request of this session. Returns false when the room is at its cap (the
  // request is still served, but not counted).
  bool touch(const std::string& roomId, const std::string& session, int64_t nowMs);
  // Drops idle sessions; returns the rooms whose count changed since the last sweep.
  std::vector<std::string> sweep(int64_t nowMs);
  size_t count(const std::string& roomId) const;
  // Whether this session is counted in this room now (seen and not yet idle).
  bool contains(const std::string& roomId, const std::string& session) const;
  size_t total() const;
  void forgetRoom(const std::string& roomId);
  int64_t idleMs() const { return idleMs_; }

 private:
  struct RoomSessions {
    std::map<std::string, int64_t> lastSeen;
    size_t reported = 0;  // the count at the last sweep
  };
  int64_t idleMs_;
  size_t maxPerRoom_;
  std::map<std::string, RoomSessions> rooms_;
};

}  // namespace roomcast::core
