// A real redis-server for the cluster tests: on 127.0.0.1, a free port, no persistence
// (--save '' --appendonly no), its own directory. Started and stopped by its own PID; restart()
// keeps the port, so clients see the same server go away and come back (empty).
#pragma once

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "processes.h"

namespace roomcast::testing {

class RedisServer {
 public:
  // Picks a free port and a directory; does not start. `extraBind`: one more address to listen on
  // besides 127.0.0.1 (a network namespace's, when the test runs it there).
  explicit RedisServer(std::string extraBind = {});
  ~RedisServer();  // stops it, removes the directory (unless ROOMCAST_KEEP_TEST_DATA)
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts it and waits (bounded) until it accepts connections and answers PING.
  bool start(double timeoutSeconds = 15);
  void stop() { end(SIGKILL); }     // SIGKILL by its PID (an outage), then reaped
  void terminate() { end(SIGTERM); }  // SIGTERM: Redis shuts down cleanly (nothing saved), reaped
  bool restart(double timeoutSeconds = 15) {
    stop();
    return start(timeoutSeconds);
  }
  void pause();   // SIGSTOP: connections stay open, nothing answers
  void resume();  // SIGCONT

  bool running() const { return process_ != nullptr; }
  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  // redis-cli against it (one command; its stdout, trimmed).
  std::string cli(const std::vector<std::string>& args) const;
  std::string log() const;

 private:
  void end(int signum);

  int port_ = 0;
  std::string extraBind_;
  std::string dir_;
  std::unique_ptr<Process> process_;
  std::string pastLog_;
};

}  // namespace roomcast::testing
