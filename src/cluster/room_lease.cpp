#include "cluster/room_lease.h"

#include <cstdlib>
#include <utility>

namespace roomcast::cluster {

using core::Error;
using core::ErrorCode;

namespace {

// KEYS: owner, epoch. ARGV: node url, lease ms. Ours already: renewed. Someone else's: {0,
// their value}. Free: the epoch goes up and the key is set with it: {1, "<url> <epoch>"}.
constexpr const char* kClaim = R"lua(
local current = redis.call('GET', KEYS[1])
if current then
  if string.sub(current, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, current}
  end
  return {0, current}
end
local epoch = redis.call('INCR', KEYS[2])
local value = ARGV[1] .. ' ' .. epoch
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return {1, value}
)lua";

// KEYS: owner. ARGV: our value, lease ms. 1: renewed; 0: someone else's (and the value); -1: gone.
constexpr const char* kRenew = R"lua(
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, current}
end
if current then return {0, current} end
return {-1, ''}
)lua";

// KEYS: owner. ARGV: our value. Deleted only while it is still ours.
constexpr const char* kRelease = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua";

int64_t monotonicMs() { return g_get_monotonic_time() / 1000; }

int64_t epochIn(const std::string& value) {
  const size_t space = value.rfind(' ');
  return space == std::string::npos ? 0 : std::strtoll(value.c_str() + space + 1, nullptr, 10);
}

// {integer, string} from one of the scripts above; false when the reply has another shape.
bool scriptPair(const RedisReply& reply, int64_t& status, std::string& value) {
  if (reply.type != RedisReply::Type::Array || reply.elements.size() != 2 ||
      reply.elements[0].type != RedisReply::Type::Integer)
    return false;
  status = reply.elements[0].integer;
  value = reply.elements[1].text;
  return true;
}

}  // namespace

RoomLeases::RoomLeases(RedisConnection& redis, GMainContext* context, LeaseSettings settings, LostObserver lost,
                       Clock clock)
    : redis_(redis), context_(context), settings_(std::move(settings)), lost_(std::move(lost)),
      clock_(clock ? std::move(clock) : Clock(monotonicMs)) {
  if (settings_.marginMs < 0) settings_.marginMs = settings_.leaseMs / 5;
}

void RoomLeases::claim(const std::string& roomId, std::function<void(core::Result<Claimed>)> done) {
  const int64_t sentMs = now();
  std::weak_ptr<RoomLeases*> alive = self_;
  redis_.command(
      {"EVAL", kClaim, "2", ownerKey(roomId), settings_.prefix + "room:" + roomId + ":epoch", settings_.nodeUrl,
       std::to_string(settings_.leaseMs)},
      [alive, roomId, sentMs, done = std::move(done)](core::Result<RedisReply> reply) {
        auto self = alive.lock();
        if (!self) return;
        if (!reply) return done(reply.error());
        int64_t status = 0;
        std::string value;
        if (!scriptPair(reply.value(), status, value))
          return done(Error{ErrorCode::Internal, "Redis answered the claim of " + roomId + " with " +
                                                     (reply->isError() ? reply->text : "something else")});
        RoomLeases& leases = **self;
        if (status != 1) {
          // A claim of a room held here before (Redis back after a partition) finds it taken over.
          if (auto held = leases.leases_.find(roomId); held != leases.leases_.end()) {
            leases.endBelief(roomId, held->second, "taken over by " + value);
            leases.leases_.erase(held);
            leases.updateTimer();
          }
          return done(Error{ErrorCode::Conflict, "room " + roomId + " is owned by " + value});
        }
        auto [it, fresh] = leases.leases_.try_emplace(
            roomId, Lease{LeaseClock(leases.settings_.leaseMs, leases.settings_.marginMs), value, epochIn(value)});
        it->second.value = value;
        leases.confirm(roomId, it->second, sentMs, epochIn(value));
        leases.updateTimer();
        done(Claimed{it->second.epoch});
      });
}

void RoomLeases::release(const std::string& roomId) {
  auto it = leases_.find(roomId);
  if (it == leases_.end()) return;
  const std::string value = it->second.value;
  endBelief(roomId, it->second, "released");
  leases_.erase(it);
  updateTimer();
  // Best effort: if Redis does not hear it, the key expires by itself within a lease.
  redis_.command({"EVAL", kRelease, "1", ownerKey(roomId), value}, [](core::Result<RedisReply>) {});
}

bool RoomLeases::ownsNow(const std::string& roomId) const {
  auto it = leases_.find(roomId);
  return it != leases_.end() && it->second.clock.ownsAt(now());
}

std::vector<std::string> RoomLeases::ownedNow() const {
  std::vector<std::string> owned;
  const int64_t t = now();
  for (const auto& [id, lease] : leases_)
    if (lease.clock.ownsAt(t)) owned.push_back(id);
  return owned;
}

std::vector<RoomLeases::Belief> RoomLeases::beliefsNow() const {
  std::vector<Belief> beliefs;
  const int64_t t = now();
  for (const auto& [id, lease] : leases_)
    if (lease.believed && lease.clock.ownsAt(t)) beliefs.push_back({id, lease.epoch, lease.sinceMs, lease.clock.validUntilMs()});
  return beliefs;
}

void RoomLeases::confirm(const std::string& roomId, Lease& lease, int64_t sentMs, int64_t epoch) {
  const int64_t arrived = now();
  // A lapse (the clock ran out before this reply) or a new epoch (Redis lost the key and the
  // claim made a new one) ends the stretch that was; this reply may start the next.
  if (lease.believed && (!lease.clock.ownsAt(arrived) || epoch != lease.epoch))
    endBelief(roomId, lease, epoch != lease.epoch ? "new epoch" : "lapsed");
  lease.epoch = epoch;
  lease.clock.confirmed(sentMs);
  if (lease.believed || !lease.clock.ownsAt(arrived)) return;  // goes on, or came too late to count
  lease.believed = true;
  lease.sinceMs = arrived;
  g_message("cluster: lease belief begins room=%s epoch=%lld since_us=%lld until_us=%lld", roomId.c_str(),
            static_cast<long long>(epoch), static_cast<long long>(arrived * 1000),
            static_cast<long long>(lease.clock.validUntilMs() * 1000));
}

void RoomLeases::endBelief(const std::string& roomId, Lease& lease, const std::string& why) {
  if (!lease.believed) return;
  lease.believed = false;
  // Lost or released while the clock still ran: the belief stops now, not at the clock's end.
  const int64_t until = std::min(lease.clock.validUntilMs(), now());
  g_message("cluster: lease belief ends room=%s epoch=%lld since_us=%lld until_us=%lld (%s)", roomId.c_str(),
            static_cast<long long>(lease.epoch), static_cast<long long>(lease.sinceMs * 1000),
            static_cast<long long>(until * 1000), why.c_str());
}

int64_t RoomLeases::epochOf(const std::string& roomId) const {
  auto it = leases_.find(roomId);
  return it == leases_.end() ? 0 : it->second.epoch;
}

void RoomLeases::updateTimer() {
  if (leases_.empty()) {
    renewTimer_.reset();
  } else if (!renewTimer_.pending()) {
    const auto interval = static_cast<guint>(std::max<int64_t>(1, settings_.leaseMs / 3));
    renewTimer_ = glib_support::Source::timeout(context_, interval, &RoomLeases::onRenew, this);
  }
}

gboolean RoomLeases::onRenew(gpointer self) {
  static_cast<RoomLeases*>(self)->renewAll();
  return G_SOURCE_CONTINUE;
}

// One command per room, sent back to back: hiredis writes them in one go (a pipeline).
void RoomLeases::renewAll() {
  const int64_t sentMs = now();
  std::weak_ptr<RoomLeases*> alive = self_;
  for (const auto& [id, lease] : leases_) {
    redis_.command({"EVAL", kRenew, "1", ownerKey(id), lease.value, std::to_string(settings_.leaseMs)},
                   [alive, roomId = id, value = lease.value, sentMs](core::Result<RedisReply> reply) {
                     if (auto self = alive.lock()) (*self)->renewed(roomId, value, sentMs, std::move(reply));
                   });
  }
}

void RoomLeases::renewed(const std::string& roomId, const std::string& value, int64_t sentMs,
                         core::Result<RedisReply> reply) {
  auto it = leases_.find(roomId);
  if (it == leases_.end() || it->second.value != value) return;  // released or claimed again since
  int64_t status = 0;
  std::string current;
  // No answer: the local clock runs out by itself; the next renewal may still make it.
  if (!reply || !scriptPair(reply.value(), status, current)) return;
  if (status == 1) return confirm(roomId, it->second, sentMs, it->second.epoch);
  endBelief(roomId, it->second, status == 0 ? "taken over by " + current : "gone");
  leases_.erase(it);
  updateTimer();
  if (lost_) lost_(roomId, status == 0 ? LeaseLoss::TakenOver : LeaseLoss::Gone, current);
}

}  // namespace roomcast::cluster
