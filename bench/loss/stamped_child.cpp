#include "stamped_child.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>

#include "wait.h"

namespace roomcast::bench::loss {

bool StampedChild::start(const std::vector<std::string>& argv, const std::string& logPath, std::string* error) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    *error = "pipe failed";
    return false;
  }
  const pid_t pid = spawnPinned(argv, -1, fds[1], logPath, error);
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return false;
  }
  child_ = SpawnedChild(pid);
  reader_ = std::thread([this, fd = fds[0]] { readLoop(fd); });
  return true;
}

void StampedChild::readLoop(int fd) {
  std::string partial;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) {
    const double at = monotonicSeconds();
    partial.append(buf, static_cast<size_t>(n));
    for (size_t eol; (eol = partial.find('\n')) != std::string::npos; partial.erase(0, eol + 1)) {
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.emplace_back(at, partial.substr(0, eol));
    }
  }
  close(fd);
}

std::vector<std::pair<double, std::string>> StampedChild::lines() {
  std::lock_guard<std::mutex> lock(mutex_);
  return lines_;
}

double StampedChild::waitForLine(const std::string& text, double timeout) {
  double found = NAN;
  testing::pollUntil(
      [&] {
        for (const auto& [at, line] : lines())
          if (line.find(text) != std::string::npos) {
            found = at;
            return true;
          }
        return !child_.alive();
      },
      timeout, 0.02);
  return found;
}

bool StampedChild::waitForExit(double timeout) {
  return testing::pollUntil([&] { return !child_.alive(); }, timeout, 0.05);
}

void StampedChild::stop() {
  if (child_.pid() > 0) child_.stop(10, "", nullptr);
}

StampedChild::~StampedChild() {
  stop();
  if (reader_.joinable()) reader_.join();
}

}  // namespace roomcast::bench::loss
