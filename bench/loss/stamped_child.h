// A child process whose stdout lines are stamped (bench monotonic clock) as they arrive, by a
// reader thread, so that "connected" and "heard N s" say when a client heard its audio.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_util.h"

namespace roomcast::bench::loss {

class StampedChild {
 public:
  StampedChild() = default;
  ~StampedChild();  // SIGTERM, SIGKILL after 10 s (by its own PID); joins the reader
  StampedChild(const StampedChild&) = delete;
  StampedChild& operator=(const StampedChild&) = delete;

  // stderr is appended to `logPath`. False (and *error set) if it could not start.
  bool start(const std::vector<std::string>& argv, const std::string& logPath, std::string* error);
  // The stamp of the first stdout line that contains `text`; NAN if none came in `timeout`
  // seconds or the process ended first.
  double waitForLine(const std::string& text, double timeout);
  bool waitForExit(double timeout);  // true once it has exited (then status() is its wait status)
  int status() const { return child_.status(); }
  void stop();
  std::vector<std::pair<double, std::string>> lines();  // (stamp, line) so far

 private:
  void readLoop(int fd);

  SpawnedChild child_;
  std::thread reader_;
  std::mutex mutex_;
  std::vector<std::pair<double, std::string>> lines_;
};

}  // namespace roomcast::bench::loss
