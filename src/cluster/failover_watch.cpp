#include "cluster/failover_watch.h"

#include "cluster/room_directory.h"

#include <algorithm>
#include <utility>

namespace roomcast::cluster {

namespace {

// FNV-1a: stable across processes and builds (std::hash is neither promised).
uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

int64_t monotonicMs() { return g_get_monotonic_time() / 1000; }

// A room whose owner is gone is tried again by this node after its own reopen failed, no sooner.
constexpr int64_t kRetryAfterFailureMs = 10000;

}  // namespace

std::vector<std::string> takeoverOrder(const std::string& roomId, std::vector<std::string> nodes) {
  std::sort(nodes.begin(), nodes.end(), [&roomId](const std::string& a, const std::string& b) {
    const uint64_t ha = fnv1a(roomId + "\n" + a), hb = fnv1a(roomId + "\n" + b);
    return ha != hb ? ha > hb : a < b;
  });
  return nodes;
}

bool mayTryTakeover(size_t rank, int64_t orphanedMs, bool ownerLive, const FailoverSettings& settings) {
  // A live owner gets two leases to claim its room again (it lost Redis, not its life).
  const int64_t ownersTurn = ownerLive ? 2 * settings.leaseMs : 0;
  return orphanedMs >= ownersTurn + static_cast<int64_t>(rank) * settings.staggerMs;
}

FailoverWatch::FailoverWatch(RedisConnection& redis, GMainContext* context, FailoverSettings settings,
                             RoomLeases& leases, NodeRegistry& registry, std::function<bool(const std::string&)> runsHere,
                             Reopen reopen)
    : redis_(redis), context_(context), settings_(std::move(settings)), leases_(leases), registry_(registry),
      runsHere_(std::move(runsHere)), reopen_(std::move(reopen)) {}

void FailoverWatch::start() {
  timer_ = glib_support::Source::timeout(context_, settings_.scanMs, &FailoverWatch::onScan, this);
}

void FailoverWatch::connectionChanged(bool up) {
  upSinceMs_ = up ? monotonicMs() : 0;
  orphans_.clear();
}

gboolean FailoverWatch::onScan(gpointer data) {
  static_cast<FailoverWatch*>(data)->scan();
  return G_SOURCE_CONTINUE;
}

// One scan at a time: SMEMBERS of the directory, then one MGET of every lease.
void FailoverWatch::scan() {
  if (!redis_.up()) {
    upSinceMs_ = 0;
    orphans_.clear();  // seen again once Redis is back and has settled
    return;
  }
  if (!upSinceMs_) upSinceMs_ = monotonicMs();
  if (scanning_ || monotonicMs() - upSinceMs_ < settings_.leaseMs) return;
  scanning_ = true;
  std::weak_ptr<FailoverWatch*> weak = self_;
  redis_.command({"SMEMBERS", settings_.prefix + "rooms"}, [weak](core::Result<RedisReply> reply) {
    auto self = weak.lock();
    if (!self) return;
    FailoverWatch& watch = **self;
    std::vector<std::string> ids;
    if (reply && reply->type == RedisReply::Type::Array)
      for (const RedisReply& member : reply->elements)
        if (member.type == RedisReply::Type::String && !watch.runsHere_(member.text) && ids.size() < kMaxListedRooms)
          ids.push_back(member.text);
    if (ids.empty()) {
      watch.orphans_.clear();
      watch.scanning_ = false;
      return;
    }
    std::vector<std::string> argv{"MGET"};
    for (const std::string& id : ids) argv.push_back(watch.settings_.prefix + "room:" + id + ":owner");
    watch.redis_.command(argv, [weak, ids = std::move(ids)](core::Result<RedisReply> leases) {
      auto self = weak.lock();
      if (!self) return;
      std::vector<std::string> orphans;
      if (leases && leases->type == RedisReply::Type::Array && leases->elements.size() == ids.size())
        for (size_t i = 0; i < ids.size(); i++)
          if (leases->elements[i].type == RedisReply::Type::Nil) orphans.push_back(ids[i]);
      (*self)->orphansFound(std::move(orphans));
    });
  });
}

// Orphans seen: their records (for the recorded owner, and to reopen) and the live nodes.
void FailoverWatch::orphansFound(std::vector<std::string> ids) {
  const int64_t now = monotonicMs();
  std::map<std::string, Orphan> still;
  for (const std::string& id : ids) {
    auto it = orphans_.find(id);
    still[id] = it != orphans_.end() ? it->second : Orphan{now, 0, 0, false};
  }
  orphans_ = std::move(still);
  if (ids.empty()) {
    scanning_ = false;
    return;
  }
  std::vector<std::string> argv{"MGET"};
  for (const std::string& id : ids) argv.push_back(recordKey(id));
  std::weak_ptr<FailoverWatch*> weak = self_;
  redis_.command(argv, [weak, ids = std::move(ids)](core::Result<RedisReply> reply) {
    auto self = weak.lock();
    if (!self) return;
    std::vector<std::string> records(ids.size());
    if (reply && reply->type == RedisReply::Type::Array && reply->elements.size() == ids.size())
      for (size_t i = 0; i < ids.size(); i++)
        if (reply->elements[i].type == RedisReply::Type::String) records[i] = reply->elements[i].text;
    (*self)->registry_.liveNodes([weak, ids, records](core::Result<std::vector<NodeInfo>> live) {
      auto self = weak.lock();
      if (!self) return;
      (*self)->scanning_ = false;
      if (live) (*self)->consider(ids, records, live.value());
    });
  });
}

void FailoverWatch::consider(const std::vector<std::string>& ids, const std::vector<std::string>& records,
                             const std::vector<NodeInfo>& live) {
  const int64_t now = monotonicMs();
  std::vector<std::string> liveUrls;
  for (const NodeInfo& node : live) liveUrls.push_back(node.url);
  for (size_t i = 0; i < ids.size(); i++) {
    auto it = orphans_.find(ids[i]);
    if (it == orphans_.end() || it->second.claiming || now < it->second.notBeforeMs) continue;
    if (records[i].empty()) {
      // Listed without a record: a room ending (DEL then SREM) or a leftover; not a room to reopen.
      continue;
    }
    const std::string owner = recordNode(records[i]);
    const bool ownerLive = std::find(liveUrls.begin(), liveUrls.end(), owner) != liveUrls.end();
    std::vector<std::string> candidates;
    for (const std::string& url : liveUrls)
      if (url != owner) candidates.push_back(url);
    const std::vector<std::string> order = takeoverOrder(ids[i], candidates);
    const auto mine = std::find(order.begin(), order.end(), settings_.nodeUrl);
    const size_t rank = static_cast<size_t>(mine - order.begin());  // not live yet: after every live one
    // The turns count from when the owner was seen dead: a lease can lapse before the dead
    // owner's heartbeat does, and counting from the lease would let whoever scans first take
    // every room (all turns long past) instead of the rendezvous order spreading them.
    Orphan& orphan = it->second;
    if (!ownerLive && !orphan.ownerDeadSinceMs) orphan.ownerDeadSinceMs = now;
    const int64_t waited = ownerLive ? now - orphan.sinceMs : now - orphan.ownerDeadSinceMs;
    if (mayTryTakeover(rank, waited, ownerLive, settings_)) tryTakeover(ids[i], records[i]);
  }
}

void FailoverWatch::tryTakeover(const std::string& roomId, const std::string& record) {
  orphans_[roomId].claiming = true;
  std::weak_ptr<FailoverWatch*> weak = self_;
  leases_.claim(roomId, [weak, roomId, record](core::Result<RoomLeases::Claimed> claimed) {
    auto self = weak.lock();
    if (!self) return;
    FailoverWatch& watch = **self;
    if (!claimed) {  // another node was quicker (Conflict), or Redis did not answer
      watch.orphans_.erase(roomId);
      return;
    }
    g_message("cluster: room %s had no owner; taking it over (epoch %lld)", roomId.c_str(),
              static_cast<long long>(claimed->epoch));
    watch.reopen_(roomId, record, claimed->epoch, [weak, roomId](bool reopened) {
      auto self = weak.lock();
      if (!self) return;
      FailoverWatch& watch = **self;
      if (reopened) {
        watch.orphans_.erase(roomId);
        return;
      }
      watch.leases_.release(roomId);
      auto it = watch.orphans_.find(roomId);
      if (it != watch.orphans_.end()) {
        it->second.claiming = false;
        it->second.notBeforeMs = monotonicMs() + kRetryAfterFailureMs;
      }
    });
  });
}

}  // namespace roomcast::cluster
