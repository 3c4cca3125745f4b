// Quotas that outlive a connection. A client who opens another socket, or mints another
// anonymous identity, starts again from nothing with per-connection limits alone; these count
// per client address (REST and WebSocket) and per room identity (WebSocket), and forget a key
// once it has been quiet long enough to have refilled.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "signaling/rate_limit.h"

namespace roomcast::signaling {

// What one client address may do, whatever identities and sockets it uses. Clients on this host
// (the operator, the CLI, tests) are not counted: see clientAddress() in http_server.cpp.
struct AddressLimits {
  TokenBucket chat{20, 2};         // 20 anonymous listeners in one room behind one NAT still chat
  TokenBucket reactions{40, 20};
  TokenBucket hands{10, 1};
  TokenBucket reports{5, 0.1};     // a report keeps evidence on disk: few, and slowly
  TokenBucket tokens{30, 1};       // POST /tokens
  TokenBucket rooms{5, 1.0 / 30};  // POST /rooms: a room is a pipeline, and maybe a recording
  TokenBucket listens{60, 10};     // POST /listen
};

// What one participant of a room may do, over all their connections.
struct IdentityLimits {
  TokenBucket chat{5, 0.5};  // a burst of 5, then one every 2 s
  TokenBucket reactions{20, 10};
  TokenBucket hands{6, 0.5};
  TokenBucket reports{3, 0.1};
};

// Limits by key, bounded: keys quiet for `idleUs` are forgotten (their buckets would be full
// again by then), and past `maxKeys` the quietest half goes.
template <typename Limits>
class KeyedLimits {
 public:
  explicit KeyedLimits(int64_t idleUs = 120 * 1000000LL, size_t maxKeys = 100000)
      : idleUs_(idleUs), maxKeys_(maxKeys) {}

  Limits& at(const std::string& key, int64_t nowUs) {
    if (nowUs - lastPruneUs_ > idleUs_ || entries_.size() >= maxKeys_) prune(nowUs);
    Entry& entry = entries_[key];
    entry.lastUs = nowUs;
    return entry.limits;
  }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Limits limits;
    int64_t lastUs = 0;
  };
  void prune(int64_t nowUs) {
    lastPruneUs_ = nowUs;
    int64_t idle = idleUs_;
    while (true) {
      for (auto it = entries_.begin(); it != entries_.end();)
        it = nowUs - it->second.lastUs > idle ? entries_.erase(it) : std::next(it);
      if (entries_.size() < maxKeys_ / 2 || idle <= 1) return;
      idle /= 2;  // a flood of keys: forget the quietest first
    }
  }
  int64_t idleUs_;
  size_t maxKeys_;
  int64_t lastPruneUs_ = 0;
  std::map<std::string, Entry> entries_;
};

}  // namespace roomcast::signaling
