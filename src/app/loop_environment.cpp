#include "app/loop_environment.h"

#include <glib.h>

#include <memory>

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

gboolean runOnce(gpointer task) {
  (*static_cast<Task*>(task))();
  return G_SOURCE_REMOVE;
}

// The timeout source owns the task: it is freed when the source goes, run or cancelled.
uint64_t scheduleOnce(unsigned ms, Task fn) {
  auto task = std::make_unique<Task>(std::move(fn));
  return g_timeout_add_full(G_PRIORITY_DEFAULT, ms, runOnce, task.release(),
                            [](gpointer p) { std::unique_ptr<Task> owned(static_cast<Task*>(p)); });
}

}  // namespace

core::Environment loopEnvironment() {
  core::Environment env;
  env.newRoomId = newRoomId;
  env.nowUnixMs = [] { return g_get_real_time() / 1000; };
  env.schedule = scheduleOnce;
  env.cancel = [](uint64_t id) { g_source_remove(static_cast<guint>(id)); };
  env.newResumeToken = [] {
    g_autofree char* uuid = g_uuid_string_random();
    return std::string(uuid);
  };
  return env;
}

}  // namespace roomcast::app
