#include "cluster/owner_lookup.h"

namespace roomcast::cluster {

std::optional<std::string> ownerOfValue(const std::string& value) {
  const size_t space = value.rfind(' ');
  if (space == std::string::npos || space == 0 || space + 1 == value.size()) return std::nullopt;
  for (size_t i = space + 1; i < value.size(); i++)
    if (!g_ascii_isdigit(value[i])) return std::nullopt;
  return value.substr(0, space);
}

OwnerLookup::OwnerLookup(RedisConnection& redis, const RoomLeases* leases, OwnerLookupSettings settings, Clock clock)
    : redis_(redis), leases_(leases), settings_(std::move(settings)), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return g_get_monotonic_time() / 1000; };
}

void OwnerLookup::owner(const std::string& roomId, Done done) {
  if (leases_ && leases_->ownsNow(roomId)) return done(settings_.nodeUrl);
  if (auto hit = cache_.find(roomId); hit != cache_.end()) {
    if (hit->second.expiresMs > clock_()) return done(hit->second.owner);
    cache_.erase(hit);
  }
  if (auto flying = inFlight_.find(roomId); flying != inFlight_.end()) {
    flying->second.push_back(std::move(done));
    return;
  }
  // A flood of distinct made-up room ids must not grow the map without bound: they get "none".
  if (inFlight_.size() >= settings_.maxInFlight) return done(std::nullopt);
  inFlight_[roomId].push_back(std::move(done));
  std::weak_ptr<OwnerLookup*> weak = self_;
  redis_.command({"GET", settings_.prefix + "room:" + roomId + ":owner"},
                 [weak, roomId](core::Result<RedisReply> reply) {
                   if (auto self = weak.lock()) (*self)->answered(roomId, std::move(reply));
                 });
}

void OwnerLookup::answered(const std::string& roomId, core::Result<RedisReply> reply) {
  std::optional<std::string> owner;
  if (reply && reply->type == RedisReply::Type::String) owner = ownerOfValue(reply->text);
  // Redis down or erring: not cached, so the next request asks again once it is back.
  if (reply && !reply->isError()) remember(roomId, owner);
  auto flying = inFlight_.find(roomId);
  if (flying == inFlight_.end()) return;
  std::vector<Done> waiting = std::move(flying->second);
  inFlight_.erase(flying);
  for (Done& done : waiting) done(owner);
}

void OwnerLookup::remember(const std::string& roomId, std::optional<std::string> owner) {
  const int64_t now = clock_();
  if (cache_.size() >= settings_.maxEntries) {
    std::erase_if(cache_, [now](const auto& entry) { return entry.second.expiresMs <= now; });
    if (cache_.size() >= settings_.maxEntries) cache_.clear();  // all fresh: a second of misses is cheap
  }
  const int64_t ttl = owner ? settings_.positiveTtlMs : settings_.negativeTtlMs;
  cache_[roomId] = Entry{std::move(owner), now + ttl};
}

}  // namespace roomcast::cluster
