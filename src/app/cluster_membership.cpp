#include "app/cluster_membership.h"

#include <sys/resource.h>

#include <utility>

#include "protocol/json.h"

namespace roomcast::app {

using core::Error;
using core::ErrorCode;

namespace {

// User plus system CPU time of this process, in microseconds.
int64_t cpuMicroseconds() {
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return -1;
  auto us = [](const timeval& t) { return static_cast<int64_t>(t.tv_sec) * G_USEC_PER_SEC + t.tv_usec; };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

// The host of "http://HOST:PORT/" (an IPv6 address without its brackets); "" when it is no URL.
std::string hostOf(const std::string& url) {
  g_autoptr(GUri) uri = g_uri_parse(url.c_str(), G_URI_FLAGS_NONE, nullptr);
  const char* host = uri ? g_uri_get_host(uri) : nullptr;
  return host ? host : "";
}

cluster::RedisSettings redisSettings(const ClusterOptions& options) {
  cluster::RedisSettings settings;
  settings.url = cluster::parseRedisUrl(options.redis).value();  // checked with the options
  return settings;
}

}  // namespace

double CpuMeter::sample() {
  const int64_t cpuUs = cpuMicroseconds();
  const gint64 now = g_get_monotonic_time();
  double pct = 0;
  if (cpuUs >= 0 && lastCpuUs_ >= 0 && now > lastUs_)
    pct = 100.0 * static_cast<double>(cpuUs - lastCpuUs_) / static_cast<double>(now - lastUs_);
  lastCpuUs_ = cpuUs;
  lastUs_ = now;
  return pct;
}

ClusterMembership::ClusterMembership(const ClusterOptions& options, GMainContext* context, std::string version,
                                     const std::string& secret)
    : options_(options), context_(context), version_(std::move(version)),
      secretId_(cluster::secretFingerprint(secret)),
      redis_(context, redisSettings(options), [this](bool up, const std::string& reason) { redisChanged(up, reason); }),
      directory_(redis_),
      chatLog_(redis_) {}

core::Status ClusterMembership::connectAtStart(unsigned deadlineMs) {
  redis_.start();
  // Shared with the PING's callback, which may outlive this call (standalone: still pending).
  struct StartCheck {
    bool answered = false;
    bool inFlight = false;
    std::string failure;
  };
  auto check = std::make_shared<StartCheck>();
  auto ping = [this, check] {
    check->inFlight = true;
    redis_.command({"PING"}, [check](core::Result<cluster::RedisReply> reply) {
      check->inFlight = false;
      if (reply && reply->type == cluster::RedisReply::Type::Status) check->answered = true;
      else check->failure = reply ? reply->text : reply.error().message;
    });
  };
  ping();  // queued with the connect
  const gint64 deadline = g_get_monotonic_time() + deadlineMs * 1000LL;
  while (!check->answered && g_get_monotonic_time() < deadline) {
    // The connection's own timers (its deadline, the backoff) wake this, and so does this one.
    g_autoptr(GSource) wake = g_timeout_source_new(100);
    g_source_set_callback(wake, [](gpointer) { return G_SOURCE_REMOVE; }, nullptr, nullptr);
    g_source_attach(wake, context_);
    g_main_context_iteration(context_, TRUE);
    g_source_destroy(wake);
    if (!check->answered && !check->inFlight && redis_.up()) ping();
  }
  const bool answered = check->answered;
  const std::string failure = check->failure;
  if (answered) {
    g_message("cluster: Redis at %s answers", options_.redis.c_str());
    return core::Ok{};
  }
  const std::string reason = redis_.up() ? failure : redis_.lastError();
  const std::string message = "cannot reach Redis at " + options_.redis + ": " + reason;
  if (!options_.standaloneOnFailure()) return Error{ErrorCode::Internal, message};
  g_warning("%s; running standalone ([cluster] on_start_failure = standalone) until it answers", message.c_str());
  return core::Ok{};
}

core::Status ClusterMembership::join(const std::string& boundUrl) {
  nodeUrl_ = options_.nodeUrl;
  if (nodeUrl_.empty()) {
    const std::string host = hostOf(boundUrl);
    g_autoptr(GInetAddress) address = g_inet_address_new_from_string(host.c_str());
    if (address && g_inet_address_get_is_any(address))
      return Error{ErrorCode::BadRequest, "listening on " + host +
                                              " gives other nodes no address to reach this one at: set [cluster] "
                                              "node_url (or --node-url), e.g. http://10.0.0.11:8080"};
    nodeUrl_ = boundUrl;
    while (!nodeUrl_.empty() && nodeUrl_.back() == '/') nodeUrl_.pop_back();
  }
  cluster::RegistrySettings registry;
  registry.nodeUrl = nodeUrl_;
  registry.version = version_;
  registry.secretId = secretId_;
  registry.leaseMs = options_.leaseMs;
  registry_ = std::make_unique<cluster::NodeRegistry>(redis_, context_, registry, [this] {
    cluster::NodeLoad load = hooks_.load ? hooks_.load() : cluster::NodeLoad{};
    load.cpuPct = cpuPct_ = cpu_.sample();
    return load;
  });
  cluster::LeaseSettings leases;
  leases.nodeUrl = nodeUrl_;
  leases.leaseMs = options_.leaseMs;
  leases_ = std::make_unique<cluster::RoomLeases>(
      redis_, context_, leases,
      [this](const std::string& roomId, cluster::LeaseLoss why, const std::string& owner) { leaseLost(roomId, why, owner); });
  cluster::OwnerLookupSettings lookup;
  lookup.nodeUrl = nodeUrl_;
  owners_ = std::make_unique<cluster::OwnerLookup>(redis_, leases_.get(), lookup);
  cluster::FailoverSettings failover;
  failover.nodeUrl = nodeUrl_;
  failover.leaseMs = options_.leaseMs;
  failover_ = std::make_unique<cluster::FailoverWatch>(
      redis_, context_, failover, *leases_, *registry_,
      [this](const std::string& roomId) { return rooms_.count(roomId) > 0; },
      [this](const std::string& roomId, const std::string& record, int64_t, std::function<void(bool)> done) {
        reopen(roomId, record, std::move(done));
      });
  registry_->start();
  failover_->start();
  // Soon after joining (the others' heartbeats are there by then), then now and again.
  secretCheck_ = glib_support::Source::timeout(context_, static_cast<guint>(options_.leaseMs), onSecretCheck, this);
  g_message("cluster: node %s (lease %d ms)", nodeUrl_.c_str(), options_.leaseMs);
  return core::Ok{};
}

void ClusterMembership::redisChanged(bool up, const std::string& reason) {
  if (failover_) failover_->connectionChanged(up);
  if (!up) {
    g_warning("cluster: Redis down (%s); rooms go on here", reason.c_str());
    return;
  }
  g_message("cluster: Redis up at %s", options_.redis.c_str());
  if (!registry_) return;  // not joined yet (the start check)
  // Back after an outage (or for the first time, standalone): beat now, and claim every room
  // run here. Redis may have lost the leases (a restart without persistence) while this node's
  // clock still counts them; a claim of a lease still ours only renews it.
  registry_->heartbeat();
  for (const std::string& roomId : rooms_) claim(roomId);
  directory_.republishAll();  // after the claims: a record is listed once its lease is there
}

void ClusterMembership::ownerElsewhere(const std::string& roomId, std::function<void(hls::RoomOwner)> done) {
  if (!owners_) return done({});
  owners_->owner(roomId, [this, roomId, done = std::move(done)](std::optional<std::string> owner) {
    if (owner && *owner == nodeUrl_) return done({std::nullopt, false, true});
    if (owner) return done({owner, false, false});
    // No lease: a room still in the directory is moving (its node died; a failover reopens it).
    redis_.command({"EXISTS", directory_.recordKey(roomId)}, [done](core::Result<cluster::RedisReply> reply) {
      const bool listed = reply && reply->type == cluster::RedisReply::Type::Integer && reply->integer > 0;
      done({std::nullopt, listed, false});
    });
  });
}

void ClusterMembership::roomOpened(const std::string& roomId) {
  rooms_.insert(roomId);
  if (leases_) claim(roomId);
}

void ClusterMembership::roomEnded(const std::string& roomId) {
  // A room ended because another node took it over is not ours to take out of the directory.
  const bool ours = rooms_.erase(roomId) > 0;
  if (leases_) leases_->release(roomId);
  if (ours) {
    directory_.remove(roomId);
    chatLog_.drop(roomId);  // a room taken over keeps its chat for the new owner
  } else {
    directory_.forget(roomId);
  }
}

void ClusterMembership::roomChanged(const std::string& roomId, std::string record) {
  if (!nodeUrl_.empty() && rooms_.count(roomId)) directory_.publish(roomId, std::move(record));
}

void ClusterMembership::claim(const std::string& roomId) {
  leases_->claim(roomId, [this, roomId](core::Result<cluster::RoomLeases::Claimed> claimed) {
    if (!rooms_.count(roomId)) {
      leases_->release(roomId);  // it ended while the claim was on its way
    } else if (claimed) {
      g_message("cluster: room %s leased to this node (epoch %lld)", roomId.c_str(),
                static_cast<long long>(claimed->epoch));
    } else if (claimed.error().code == ErrorCode::Conflict) {
      g_warning("cluster: %s: ending it here", claimed.error().message.c_str());
      rooms_.erase(roomId);
      if (hooks_.endRoom) hooks_.endRoom(roomId, "the room is owned by another node");
    } else {
      // Redis did not answer: the room runs here unleased; claimed again when Redis is up.
      g_message("cluster: room %s not leased yet: %s", roomId.c_str(), claimed.error().message.c_str());
    }
  });
}

void ClusterMembership::leaseLost(const std::string& roomId, cluster::LeaseLoss why, const std::string& owner) {
  if (!rooms_.count(roomId)) return;
  if (why == cluster::LeaseLoss::Gone) {
    // Expired while Redis was away (or Redis lost its data): nobody else has it, so claim again.
    g_message("cluster: the lease of room %s was gone; claiming it again", roomId.c_str());
    return claim(roomId);
  }
  g_warning("cluster: room %s is now leased to %s: ending it here", roomId.c_str(), owner.c_str());
  rooms_.erase(roomId);
  if (hooks_.endRoom) hooks_.endRoom(roomId, "the room moved to another node");
}

// The lease is ours: the room comes back here with its chat. It counts as this node's room from
// now on (a claim in flight for it keeps the lease); restoring it tells roomOpened again.
void ClusterMembership::reopen(const std::string& roomId, const std::string& record, std::function<void(bool)> done) {
  rooms_.insert(roomId);
  chatLog_.load(roomId, [this, roomId, record, done = std::move(done)](core::Result<std::vector<std::string>> chat) {
    if (!chat) g_warning("cluster: room %s: its chat history could not be read (%s); reopening it without",
                         roomId.c_str(), chat.error().message.c_str());
    const std::vector<std::string> messages = chat ? chat.value() : std::vector<std::string>{};
    core::Status reopened =
        hooks_.reopenRoom ? hooks_.reopenRoom(record, messages) : core::Status(Error{ErrorCode::Internal, "no rooms"});
    if (!reopened) {
      g_warning("cluster: room %s could not be reopened here: %s", roomId.c_str(), reopened.error().message.c_str());
      rooms_.erase(roomId);
      return done(false);
    }
    g_message("cluster: room %s reopened here (%zu chat messages)", roomId.c_str(), messages.size());
    done(true);
  });
}

gboolean ClusterMembership::onSecretCheck(gpointer data) {
  auto* self = static_cast<ClusterMembership*>(data);
  self->registry_->liveNodes([self](core::Result<std::vector<cluster::NodeInfo>> nodes) {
    if (nodes) self->checkSecrets(nodes.value());
  });
  self->secretCheck_ = glib_support::Source::timeoutSeconds(self->context_, 60, onSecretCheck, self);
  return G_SOURCE_REMOVE;
}

void ClusterMembership::checkSecrets(const std::vector<cluster::NodeInfo>& nodes) {
  for (const cluster::NodeInfo& node : nodes) {
    if (node.secretId == secretId_ || node.secretId.empty() || !secretWarned_.insert(node.url).second) continue;
    g_warning("cluster: node %s signs tokens with another [server] secret than this node: tokens made on one do not "
              "verify on the other, so clients routed between them and every failover of their rooms fail; give "
              "every node of the cluster the same [server] secret",
              node.url.c_str());
  }
}

void ClusterMembership::place(std::function<void(std::string nodeUrl)> done) {
  if (!registry_ || !redis_.up()) return done(nodeUrl_);
  registry_->liveNodes([this, done = std::move(done)](core::Result<std::vector<cluster::NodeInfo>> nodes) {
    std::optional<cluster::NodeInfo> pick;
    if (nodes) pick = cluster::pickLeastLoaded(placements_.adjusted(std::move(nodes.value())));
    const std::string target = pick ? pick->url : nodeUrl_;
    placements_.placed(target, g_get_real_time() / 1000);
    done(target);
  });
}

void ClusterMembership::status(std::function<void(int status, std::string body)> reply) {
  if (!registry_) return reply(503, R"({"error":{"code":"internal","message":"not joined yet"}})");
  registry_->liveNodes([this, reply = std::move(reply)](core::Result<std::vector<cluster::NodeInfo>> nodes) {
    const int64_t now = g_get_real_time() / 1000;
    protocol::JsonWriter w;
    w.beginObject().str("node", nodeUrl_).str("redis", redis_.up() ? "up" : "down").beginArray("nodes");
    if (nodes) {
      for (const auto& n : nodes.value())
        w.beginObject()
            .str("url", n.url)
            .integer("rooms", n.load.rooms)
            .integer("speakers", n.load.speakers)
            .number("cpu_pct", n.load.cpuPct)
            .integer("age_ms", std::max<int64_t>(0, now - n.heartbeatMs))
            .boolean("same_secret", n.secretId == secretId_)
            .endObject();
    }
    w.endArray().beginArray("owned");
    for (const std::string& id : leases_->ownedNow()) {
      json_builder_add_string_value(w.raw(), id.c_str());
    }
    w.endArray().beginArray("owned_detail");
    // The stretch of belief behind each owned room, on CLOCK_MONOTONIC (the same clock in every
    // process and network namespace of a machine), so tests can check stretches never overlap.
    for (const auto& b : leases_->beliefsNow())
      w.beginObject()
          .str("room", b.roomId)
          .integer("epoch", b.epoch)
          .integer("since_us", b.sinceMs * 1000)
          .integer("until_us", b.untilMs * 1000)
          .endObject();
    w.endArray();
    if (!nodes) w.str("nodes_error", nodes.error().message);
    else checkSecrets(nodes.value());
    reply(200, w.endObject().finish());
  });
}

}  // namespace roomcast::app
