// Which node owns a room: the value of `roomcast:room:<id>:owner` ("<node_url> <epoch>"), read
// with an async GET on the control loop. Routing asks this for every WebSocket and HLS request
// of a room that is not live here, so answers are cached briefly (an owner changes only on a
// failover, and a client that reached a stale owner is sent on again or retries) and lookups of
// one room in flight together share one GET. This node's own rooms answer at once from its
// leases (RoomLeases::ownsNow), without Redis.
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/redis_connection.h"
#include "cluster/room_lease.h"

namespace roomcast::cluster {

struct OwnerLookupSettings {
  std::string prefix = "roomcast:";
  std::string nodeUrl;         // this node's
  int64_t positiveTtlMs = 1000;  // an owner found
  int64_t negativeTtlMs = 250;   // no owner (a room being placed or failing over appears soon)
  size_t maxEntries = 10000;     // cached rooms; room ids come from clients' URLs
  size_t maxInFlight = 1000;     // rooms with a GET outstanding; beyond, lookups answer none
};

// "<node_url> <epoch>" -> node_url; nullopt for anything else.
std::optional<std::string> ownerOfValue(const std::string& value);

class OwnerLookup {
 public:
  using Clock = std::function<int64_t()>;  // monotonic milliseconds
  using Done = std::function<void(std::optional<std::string> nodeUrl)>;

  // `leases` may be null (no local answers); `clock` null: the real monotonic clock.
  OwnerLookup(RedisConnection& redis, const RoomLeases* leases, OwnerLookupSettings settings, Clock clock = nullptr);
  OwnerLookup(const OwnerLookup&) = delete;
  OwnerLookup& operator=(const OwnerLookup&) = delete;

  // The owner's node URL (this node's own for a room it holds), or none (no owner, or Redis did
  // not answer). Called at once when cached or local, else when Redis answers (on the loop).
  // Callbacks pending when this object goes are dropped.
  void owner(const std::string& roomId, Done done);
  size_t cachedEntries() const { return cache_.size(); }

 private:
  struct Entry {
    std::optional<std::string> owner;
    int64_t expiresMs = 0;
  };
  void answered(const std::string& roomId, core::Result<RedisReply> reply);
  void remember(const std::string& roomId, std::optional<std::string> owner);

  RedisConnection& redis_;
  const RoomLeases* leases_;
  OwnerLookupSettings settings_;
  Clock clock_;
  std::map<std::string, Entry> cache_;
  std::map<std::string, std::vector<Done>> inFlight_;
  std::shared_ptr<OwnerLookup*> self_ = std::make_shared<OwnerLookup*>(this);
};

}  // namespace roomcast::cluster
