// One connection to Redis, driven by hiredis's async API on a GMainContext (the control
// thread's), so the cluster code needs no locks and nothing blocks the loop. hiredis 0.14 has
// no command timeouts (a blackholed peer never calls back): every command and the connect
// itself get a deadline here; a missed deadline or a lost connection fails every pending
// command with an error, drops the hiredis context and reconnects with backoff.
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "glib_support/source.h"

struct redisAsyncContext;
struct redisReply;

namespace roomcast::cluster {

// redis://HOST:PORT[/DB]
struct RedisUrl {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string text() const;  // back to redis://HOST:PORT[/DB]
};
// A clear error (BadRequest) naming what is wrong with `text`.
core::Result<RedisUrl> parseRedisUrl(const std::string& text);

// A reply as plain C++ (hiredis frees its own right after the callback).
struct RedisReply {
  enum class Type { Nil, Integer, String, Status, Array, Error };
  Type type = Type::Nil;
  int64_t integer = 0;
  std::string text;  // String, Status, Error
  std::vector<RedisReply> elements;

  bool isNil() const { return type == Type::Nil; }
  bool isError() const { return type == Type::Error; }
};
// hiredis's reply, deep-copied; a null reply (none) converts to Nil.
RedisReply convertReply(const redisReply* reply);

// A command's outcome: the reply (which may be a Redis error reply), or an error when there was
// none (not connected, connection lost, deadline missed).
using RedisCallback = std::function<void(core::Result<RedisReply>)>;

struct RedisSettings {
  RedisUrl url;
  unsigned commandTimeoutMs = 1000;  // also the connect's
  unsigned backoffMinMs = 100;       // reconnect delay after a loss, doubling up to backoffMaxMs
  unsigned backoffMaxMs = 2000;
};

class RedisConnection {
 public:
  // Up (connected) or down, with the reason of a loss.
  using Observer = std::function<void(bool up, const std::string& reason)>;

  RedisConnection(GMainContext* context, RedisSettings settings, Observer observer = {});
  // Pending callbacks are dropped, not called: their owners may already be gone.
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Connects, and keeps reconnecting after every loss until destroyed.
  void start();
  bool up() const { return up_; }  // connected, and Redis answered a PING on this connection
  const RedisSettings& settings() const { return settings_; }
  const std::string& lastError() const { return lastError_; }

  // Sends `argv` (binary-safe). While connecting the command is queued with the connect; with
  // no connection at all `done` fails before command() returns. Commands go out in order on one
  // socket, so consecutive calls are pipelined.
  void command(const std::vector<std::string>& argv, RedisCallback done);

 private:
  struct Pending {
    RedisCallback done;
    gint64 deadlineUs;
  };
  static void onConnect(const redisAsyncContext* ac, int status);
  static void onDisconnect(const redisAsyncContext* ac, int status);
  static void onReply(redisAsyncContext* ac, void* reply, void* privdata);
  static gboolean onDeadline(gpointer self);
  static gboolean onReconnect(gpointer self);

  void connect();
  // The connection is gone (hiredis freed or is freeing it: `freeContext` false) or given up
  // (we free it): fail what was pending, report down, schedule a reconnect.
  void lost(const std::string& reason, bool freeContext);
  void armDeadline();
  void failAll(std::map<uint64_t, Pending> pending, const std::string& reason);

  GMainContext* context_;
  RedisSettings settings_;
  Observer observer_;
  redisAsyncContext* ac_ = nullptr;
  glib_support::Source io_;         // hiredis's GSource (hiredis/adapters/glib.h)
  glib_support::Source retiredIo_;  // a context hiredis freed itself: removed at the next connect
  glib_support::Source deadline_;   // the oldest pending command's (or the connect's) deadline
  glib_support::Source reconnect_;  // backoff
  std::map<uint64_t, Pending> pending_;  // by id: the first is the oldest
  uint64_t nextId_ = 1;
  gint64 connectDeadlineUs_ = 0;    // while connecting
  unsigned backoffMs_ = 0;
  bool up_ = false;
  bool started_ = false;
  std::string lastError_ = "not connected yet";
};

}  // namespace roomcast::cluster
