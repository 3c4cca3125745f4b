// Room leases: a node owns a room while `roomcast:room:<id>:owner` holds "<node_url> <epoch>".
// Claimed with a Lua script (set if absent, INCR of room:<id>:epoch: the fencing token), renewed
// every lease/3 by a compare-and-PEXPIRE (pipelined, one timer for all rooms), released by a
// compare-and-DEL. So that two nodes never believe they own a room at once, the node's own
// belief (ownsNow) runs on its monotonic clock from the moment it SENT the claim or renewal that
// succeeded, and ends `margin` before the lease would: Redis expires the key at least `lease`
// after it processed that command, which is later than the send. Each stretch of that belief
// (from the reply that started it to its end) is logged and listed, for tests that check that no
// two nodes' stretches overlap (tests/integration/test_cluster_partition.cpp).
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/redis_connection.h"
#include "core/result.h"
#include "glib_support/source.h"

namespace roomcast::cluster {

// The fencing clock of one lease, pure arithmetic on monotonic milliseconds.
class LeaseClock {
 public:
  LeaseClock(int64_t leaseMs, int64_t marginMs) : leaseMs_(leaseMs), marginMs_(marginMs) {}
  // A claim or renewal sent at `sentMs` succeeded (replies may arrive out of order: the latest
  // send counts).
  void confirmed(int64_t sentMs) { validUntilMs_ = std::max(validUntilMs_, sentMs + leaseMs_ - marginMs_); }
  bool ownsAt(int64_t nowMs) const { return nowMs < validUntilMs_; }
  int64_t validUntilMs() const { return validUntilMs_; }

 private:
  int64_t leaseMs_;
  int64_t marginMs_;
  int64_t validUntilMs_ = INT64_MIN;
};

struct LeaseSettings {
  std::string prefix = "roomcast:";
  std::string nodeUrl;
  int64_t leaseMs = 5000;
  int64_t marginMs = -1;  // -1: lease/5
};

// Why a renewal found the lease not ours.
enum class LeaseLoss { Gone, TakenOver };

class RoomLeases {
 public:
  using Clock = std::function<int64_t()>;  // monotonic milliseconds
  using LostObserver = std::function<void(const std::string& roomId, LeaseLoss why, const std::string& owner)>;
  struct Claimed {
    int64_t epoch = 0;
  };
  // One stretch of this node's belief that it owns a room, on the monotonic clock (ms): from the
  // arrival of the reply that started it to `sent + lease - margin` of the latest success.
  struct Belief {
    std::string roomId;
    int64_t epoch = 0;
    int64_t sinceMs = 0;
    int64_t untilMs = 0;
  };

  // `clock`: null for the real monotonic clock.
  RoomLeases(RedisConnection& redis, GMainContext* context, LeaseSettings settings, LostObserver lost,
             Clock clock = nullptr);
  RoomLeases(const RoomLeases&) = delete;
  RoomLeases& operator=(const RoomLeases&) = delete;

  // Claims `roomId` for this node (ours already: renewed). Conflict naming the owner when another
  // node holds it; Internal when Redis did not answer.
  void claim(const std::string& roomId, std::function<void(core::Result<Claimed>)> done);
  // Gives the room up (only if the key is still ours); forgotten locally at once.
  void release(const std::string& roomId);
  // Claimed rooms whose lease this node may still count on, by its own clock.
  bool ownsNow(const std::string& roomId) const;
  std::vector<std::string> ownedNow() const;
  std::vector<Belief> beliefsNow() const;  // the current stretch of each room in ownedNow()
  int64_t epochOf(const std::string& roomId) const;

  std::string ownerKey(const std::string& roomId) const { return settings_.prefix + "room:" + roomId + ":owner"; }

 private:
  struct Lease {
    LeaseClock clock;
    std::string value;  // "<node_url> <epoch>"
    int64_t epoch = 0;
    int64_t sinceMs = 0;  // start of the current stretch of belief (meaningful while it lasts)
    bool believed = false;  // a stretch was started and not logged as ended
  };
  // A claim or renewal sent at `sentMs` for `epoch` succeeded: the stretch goes on, or a new one
  // starts now (after a lapse, or with another epoch).
  void confirm(const std::string& roomId, Lease& lease, int64_t sentMs, int64_t epoch);
  // The current stretch ends (no later than now); logged once.
  void endBelief(const std::string& roomId, Lease& lease, const std::string& why);
  static gboolean onRenew(gpointer self);
  void renewAll();
  void renewed(const std::string& roomId, const std::string& value, int64_t sentMs, core::Result<RedisReply> reply);
  void updateTimer();
  int64_t now() const { return clock_(); }

  RedisConnection& redis_;
  GMainContext* context_;
  LeaseSettings settings_;
  LostObserver lost_;
  Clock clock_;
  std::map<std::string, Lease> leases_;  // claimed and not released or lost
  glib_support::Source renewTimer_;     // runs while any lease is held
  // Replies that come after this object is gone are dropped (they hold a weak reference).
  std::shared_ptr<RoomLeases*> self_ = std::make_shared<RoomLeases*>(this);
};

}  // namespace roomcast::cluster
