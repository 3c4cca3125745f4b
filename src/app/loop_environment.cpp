#include "app/loop_environment.h"

#include <glib.h>

#include <map>
#include <memory>

#include "glib_support/source.h"

namespace roomcast::app {

namespace {

std::string newRoomId() {
  // 10 characters from an unambiguous alphabet: ~50 bits, not guessable by enumeration.
  static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
  std::string id;
  for (int i = 0; i < 10; i++) id += alphabet[g_random_int_range(0, 32)];
  return id;
}

using Task = std::function<void()>;

// The one-shot timers of one environment (and its copies), each owned here until it has run
// or is cancelled, and none outliving the environment. The core names them by ids that are
// never reused, so cancelling one that has already run touches nothing (a GLib source id
// could name another source by then).
class LoopTimers {
 public:
  uint64_t schedule(unsigned ms, Task task) {
    const uint64_t id = ++lastId_;
    pending_[id] = glib_support::Source::timeout(nullptr, ms, &LoopTimers::fire,
                                                 glib_support::handOff(Due{this, id, std::move(task)}));
    return id;
  }
  void cancel(uint64_t id) { pending_.erase(id); }

 private:
  struct Due {
    LoopTimers* timers;
    uint64_t id;
    Task task;
  };
  static gboolean fire(gpointer data) {
    auto& due = glib_support::handedOff<Due>(data);
    Task task = std::move(due.task);
    due.timers->pending_.erase(due.id);  // the source goes once this dispatch returns
    task();                              // may schedule or cancel others
    return G_SOURCE_REMOVE;
  }

  uint64_t lastId_ = 0;
  std::map<uint64_t, glib_support::Source> pending_;
};

}  // namespace

core::Environment loopEnvironment() {
  core::Environment env;
  env.newRoomId = newRoomId;
  env.nowUnixMs = [] { return g_get_real_time() / 1000; };
  auto timers = std::make_shared<LoopTimers>();
  env.schedule = [timers](unsigned ms, Task task) { return timers->schedule(ms, std::move(task)); };
  env.cancel = [timers](uint64_t id) { timers->cancel(id); };
  env.newResumeToken = [] {
    g_autofree char* uuid = g_uuid_string_random();
    return std::string(uuid);
  };
  return env;
}

}  // namespace roomcast::app
