#include "cluster/redis_connection.h"

#include <gio/gio.h>
#include <hiredis/adapters/glib.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace roomcast::cluster {

using core::Error;
using core::ErrorCode;

namespace {

constexpr size_t kMaxUrlBytes = 256;

bool hostChar(char c) { return g_ascii_isalnum(c) || c == '.' || c == '-' || c == '_'; }

// Digits only, within [min, max].
bool parseNumber(const std::string& text, long min, long max, int& out) {
  if (text.empty() || text.size() > 6) return false;
  for (char c : text)
    if (!g_ascii_isdigit(c)) return false;
  const long value = std::strtol(text.c_str(), nullptr, 10);
  if (value < min || value > max) return false;
  out = static_cast<int>(value);
  return true;
}

// hiredis/adapters/glib.h's source with its own dispatch. The adapter's handles a write and
// then a read in one go; when the write fails hiredis frees the context right there, and the
// read would then run on freed memory. Freeing it calls the adapter's cleanup hook, which
// marks the poll fd -1: the read is skipped then. Everything else is the adapter's.
gboolean dispatchRedis(GSource* source, GSourceFunc, gpointer) {
  auto* redis = reinterpret_cast<RedisSource*>(source);
  if (redis->poll_fd.revents & G_IO_OUT) {
    redis->poll_fd.revents &= ~G_IO_OUT;
    redisAsyncHandleWrite(redis->ac);
  }
  if (redis->poll_fd.fd >= 0 && (redis->poll_fd.revents & G_IO_IN)) {
    redis->poll_fd.revents &= ~G_IO_IN;
    redisAsyncHandleRead(redis->ac);
  }
  return G_SOURCE_CONTINUE;
}

GSource* newRedisSource(redisAsyncContext* ac) {
  static GSourceFuncs funcs = {redis_source_prepare, redis_source_check, dispatchRedis, redis_source_finalize,
                               nullptr, nullptr};
  auto* source = reinterpret_cast<RedisSource*>(g_source_new(&funcs, sizeof(RedisSource)));
  source->ac = ac;
  source->poll_fd.fd = ac->c.fd;
  source->poll_fd.events = 0;
  source->poll_fd.revents = 0;
  g_source_add_poll(&source->source, &source->poll_fd);
  ac->ev.addRead = redis_source_add_read;
  ac->ev.delRead = redis_source_del_read;
  ac->ev.addWrite = redis_source_add_write;
  ac->ev.delWrite = redis_source_del_write;
  ac->ev.cleanup = redis_source_cleanup;
  ac->ev.data = source;
  return &source->source;
}

}  // namespace

std::string RedisUrl::text() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string out = "redis://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  if (db != 0) out += "/" + std::to_string(db);
  return out;
}

core::Result<RedisUrl> parseRedisUrl(const std::string& text) {
  auto bad = [&](const std::string& why) -> core::Result<RedisUrl> {
    const std::string shown = text.size() > kMaxUrlBytes ? text.substr(0, 64) + "..." : text;
    return Error{ErrorCode::BadRequest, "bad Redis URL '" + shown + "': " + why + " (want redis://HOST:PORT[/DB])"};
  };
  if (text.size() > kMaxUrlBytes) return bad("longer than 256 bytes");
  const std::string scheme = "redis://";
  if (text.rfind(scheme, 0) != 0) return bad("it does not start with redis://");
  std::string rest = text.substr(scheme.size());
  if (rest.find('@') != std::string::npos) return bad("credentials are not supported");
  if (rest.find_first_of("?#") != std::string::npos) return bad("no query or fragment is expected");
  RedisUrl url;
  size_t hostEnd = 0;
  if (!rest.empty() && rest.front() == '[') {
    hostEnd = rest.find(']');
    if (hostEnd == std::string::npos) return bad("an unclosed [");
    url.host = rest.substr(1, hostEnd - 1);
    g_autoptr(GInetAddress) v6 = g_inet_address_new_from_string(url.host.c_str());
    if (!v6) return bad("'" + url.host + "' is not an IPv6 address");
    hostEnd++;
  } else {
    hostEnd = std::min(rest.find(':'), rest.find('/'));
    if (hostEnd == std::string::npos) hostEnd = rest.size();
    url.host = rest.substr(0, hostEnd);
    if (!std::all_of(url.host.begin(), url.host.end(), hostChar)) return bad("the host has characters hosts do not have");
  }
  if (url.host.empty()) return bad("no host");
  rest = rest.substr(hostEnd);
  if (!rest.empty() && rest.front() == ':') {
    const size_t slash = rest.find('/');
    if (!parseNumber(rest.substr(1, slash == std::string::npos ? std::string::npos : slash - 1), 1, 65535, url.port))
      return bad("the port must be a number from 1 to 65535");
    rest = slash == std::string::npos ? std::string() : rest.substr(slash);
  }
  if (!rest.empty()) {
    if (rest.front() != '/') return bad("unexpected '" + rest + "'");
    if (rest.size() > 1 && !parseNumber(rest.substr(1), 0, 65535, url.db))
      return bad("the database must be a number from 0 to 65535");
  }
  return url;
}

RedisReply convertReply(const redisReply* reply) {
  RedisReply out;
  if (!reply) return out;
  switch (reply->type) {
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::Integer;
      out.integer = reply->integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = reply->type == REDIS_REPLY_STRING   ? RedisReply::Type::String
                 : reply->type == REDIS_REPLY_STATUS ? RedisReply::Type::Status
                                                     : RedisReply::Type::Error;
      if (reply->str) out.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::Array;
      out.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; i++) out.elements.push_back(convertReply(reply->element[i]));
      break;
    default:
      break;  // REDIS_REPLY_NIL
  }
  return out;
}

RedisConnection::RedisConnection(GMainContext* context, RedisSettings settings, Observer observer)
    : context_(context), settings_(std::move(settings)), observer_(std::move(observer)),
      backoffMs_(settings_.backoffMinMs) {}

RedisConnection::~RedisConnection() {
  deadline_.reset();
  reconnect_.reset();
  pending_.clear();  // dropped, not called
  if (ac_) {
    ac_->data = nullptr;  // hiredis runs the callbacks it still has with no reply: ignored
    redisAsyncFree(std::exchange(ac_, nullptr));
  }
  io_.reset();
  retiredIo_.reset();
}

void RedisConnection::start() {
  if (started_) return;
  started_ = true;
  connect();
}

void RedisConnection::connect() {
  // An IP address connects without a lookup; a host name is resolved by hiredis (blocking).
  redisAsyncContext* ac = redisAsyncConnect(settings_.url.host.c_str(), settings_.url.port);
  if (!ac || ac->err) {
    const std::string reason = ac ? ac->errstr : "out of memory";
    if (ac) redisAsyncFree(ac);
    lost(reason, false);
    return;
  }
  retiredIo_.reset();
  ac_ = ac;
  ac_->data = this;
  io_ = glib_support::Source::attach(newRedisSource(ac_), context_, nullptr, nullptr);
  redisAsyncSetConnectCallback(ac_, &RedisConnection::onConnect);
  redisAsyncSetDisconnectCallback(ac_, &RedisConnection::onDisconnect);
  connectDeadlineUs_ = g_get_monotonic_time() + settings_.commandTimeoutMs * 1000LL;
  if (settings_.url.db != 0) command({"SELECT", std::to_string(settings_.url.db)}, [](core::Result<RedisReply>) {});
  armDeadline();
}

void RedisConnection::onConnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (!self) return;
  if (status != REDIS_OK) {
    // hiredis frees the context when this returns.
    self->lost(std::string("cannot connect: ") + ac->errstr, false);
    return;
  }
  self->connectDeadlineUs_ = 0;
  // Up once Redis itself answers, not when the kernel accepts: a stopped or wedged server
  // accepts connections too. The PING has the deadline of every command.
  const redisAsyncContext* connected = ac;
  self->command({"PING"}, [self, connected](core::Result<RedisReply> reply) {
    if (!reply || self->ac_ != connected || self->up_) return;
    self->backoffMs_ = self->settings_.backoffMinMs;
    self->up_ = true;
    self->lastError_.clear();
    if (self->observer_) self->observer_(true, {});
  });
}

void RedisConnection::onDisconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (!self || self->ac_ != ac) return;  // already handled (a command failed first)
  self->lost(status == REDIS_OK ? "disconnected" : std::string("connection lost: ") + ac->errstr, false);
}

void RedisConnection::onReply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (!self) return;
  const auto id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(privdata));
  auto it = self->pending_.find(id);
  if (it == self->pending_.end()) return;  // failed already (deadline)
  if (!reply) {
    // hiredis is freeing the context (an error): this and every other pending command fail.
    if (self->ac_ == ac) self->lost(std::string("connection lost: ") + (ac->errstr[0] ? ac->errstr : "closed"), false);
    return;
  }
  RedisCallback done = std::move(it->second.done);
  self->pending_.erase(it);
  done(convertReply(static_cast<redisReply*>(reply)));
}

void RedisConnection::command(const std::vector<std::string>& argv, RedisCallback done) {
  if (!ac_) return done(Error{ErrorCode::Internal, "Redis is not connected (" + lastError_ + ")"});
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  const uint64_t id = nextId_++;
  if (redisAsyncCommandArgv(ac_, &RedisConnection::onReply, reinterpret_cast<void*>(static_cast<uintptr_t>(id)),
                            static_cast<int>(args.size()), args.data(), lengths.data()) != REDIS_OK)
    return done(Error{ErrorCode::Internal, "Redis refused the command (connection closing)"});
  pending_[id] = {std::move(done), g_get_monotonic_time() + settings_.commandTimeoutMs * 1000LL};
  armDeadline();
}

// One timer for the connection: the earliest of the connect's and the oldest command's deadline.
void RedisConnection::armDeadline() {
  if (deadline_.pending()) return;
  gint64 due = connectDeadlineUs_;
  if (!pending_.empty() && (due == 0 || pending_.begin()->second.deadlineUs < due)) due = pending_.begin()->second.deadlineUs;
  if (due == 0) return;
  const gint64 waitMs = std::max<gint64>(1, (due - g_get_monotonic_time() + 999) / 1000);
  deadline_ = glib_support::Source::timeout(context_, static_cast<guint>(waitMs), &RedisConnection::onDeadline, this);
}

gboolean RedisConnection::onDeadline(gpointer data) {
  auto* self = static_cast<RedisConnection*>(data);
  self->deadline_.reset();
  const gint64 now = g_get_monotonic_time();
  if (self->ac_ && self->connectDeadlineUs_ && now >= self->connectDeadlineUs_) {
    self->lost("no connection within " + std::to_string(self->settings_.commandTimeoutMs) + " ms", true);
  } else if (self->ac_ && !self->pending_.empty() && now >= self->pending_.begin()->second.deadlineUs) {
    self->lost("no reply within " + std::to_string(self->settings_.commandTimeoutMs) + " ms", true);
  } else {
    self->armDeadline();
  }
  return G_SOURCE_REMOVE;
}

void RedisConnection::lost(const std::string& reason, bool freeContext) {
  const bool wasUp = up_;
  up_ = false;
  lastError_ = reason;
  connectDeadlineUs_ = 0;
  deadline_.reset();
  if (redisAsyncContext* ac = std::exchange(ac_, nullptr)) {
    if (freeContext) {
      ac->data = nullptr;  // its callbacks, run inside redisAsyncFree, are ours to fail below
      redisAsyncFree(ac);
    }
  }
  // When hiredis frees the context itself, it does so after this callback returns and then
  // still tells the GSource to clean up: that source may only go with the next connect.
  if (freeContext) io_.reset();
  else retiredIo_ = std::move(io_);
  failAll(std::exchange(pending_, {}), reason);
  if (wasUp && observer_) observer_(false, reason);
  if (!reconnect_.pending() && started_) {
    reconnect_ = glib_support::Source::timeout(context_, backoffMs_, &RedisConnection::onReconnect, this);
    backoffMs_ = std::min(backoffMs_ * 2, settings_.backoffMaxMs);
  }
}

void RedisConnection::failAll(std::map<uint64_t, Pending> pending, const std::string& reason) {
  for (auto& [id, p] : pending) p.done(Error{ErrorCode::Internal, "Redis: " + reason});
}

gboolean RedisConnection::onReconnect(gpointer data) {
  auto* self = static_cast<RedisConnection*>(data);
  self->reconnect_.reset();
  if (!self->ac_) self->connect();
  return G_SOURCE_REMOVE;
}

}  // namespace roomcast::cluster
