// One thread of its own for work that may wait (the disk), fed in order from the control
// thread: jobs run one at a time, first in first out, and the destructor returns once every
// job handed over has run (nothing asked for is dropped at shutdown). The thread starts with
// the first job.
#pragma once

#include <glib.h>

#include <functional>
#include <memory>
#include <utility>

#include "glib_support/owned_data.h"

namespace roomcast::glib_support {

class WorkerThread {
 public:
  WorkerThread() = default;
  ~WorkerThread() {
    if (pool_) g_thread_pool_free(pool_, FALSE, TRUE);  // waits for the queue to drain
  }
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  void post(std::function<void()> job) {
    // One exclusive thread: its jobs keep their order.
    if (!pool_) pool_ = g_thread_pool_new(&WorkerThread::run, nullptr, 1, TRUE, nullptr);
    g_thread_pool_push(pool_, handOff(std::move(job)).data, nullptr);
  }

 private:
  static void run(gpointer job, gpointer) { (*takeBack<std::function<void()>>(job))(); }

  GThreadPool* pool_ = nullptr;
};

}  // namespace roomcast::glib_support
