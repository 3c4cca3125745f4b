// Timers for a core environment under test: what the core schedules is kept, by id, until the
// test fires it. No real time passes in a unit test.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <utility>

namespace roomcast::unittest {

struct FakeTimers {
  struct Timer {
    unsigned ms;  // the delay the core asked for
    std::function<void()> fn;
  };

  // Makes `env`'s schedule and cancel (any core environment that has both) act on these timers.
  template <typename Environment>
  void serve(Environment& env) {
    env.schedule = [this](unsigned ms, std::function<void()> fn) {
      pending[++lastId] = {ms, std::move(fn)};
      return lastId;
    };
    env.cancel = [this](uint64_t id) { pending.erase(id); };
  }

  // Fires every pending timer (as if its time had come), oldest first.
  void fireAll() {
    auto due = std::move(pending);
    pending.clear();
    for (auto& [id, timer] : due) timer.fn();
  }

  std::map<uint64_t, Timer> pending;
  uint64_t lastId = 0;
};

}  // namespace roomcast::unittest
