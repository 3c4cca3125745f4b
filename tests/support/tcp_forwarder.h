// A loopback TCP forwarder a test can cut: clients connect to its port, each connection is
// carried to 127.0.0.1:<target> byte for byte, and cut() closes every connection it carries,
// both ways at once, as a network failure or a dying node would. It runs on its own thread
// (poll), so the test's waits and the processes under test never wait on it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace roomcast::testing {

class TcpForwarder {
 public:
  // Listens on 127.0.0.1:<a free port>; ready() tells whether it does.
  explicit TcpForwarder(int targetPort);
  ~TcpForwarder();
  TcpForwarder(const TcpForwarder&) = delete;
  TcpForwarder& operator=(const TcpForwarder&) = delete;

  bool ready() const { return listenFd_ >= 0; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Closes every connection carried now (new ones are still taken); how many it closed.
  int cut();
  // Stops listening (a connect is refused from now on) and closes every connection carried.
  int shutDown();
  int accepted() const { return accepted_.load(); }

 private:
  enum class Request { None, Cut, ShutDown };
  int request(Request what);
  void run();

  int targetPort_;
  int listenFd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};  // a pipe: the thread's poll wakes for a request
  std::atomic<int> accepted_{0};
  std::mutex mutex_;
  std::condition_variable done_;
  Request pending_ = Request::None;
  int lastClosed_ = -1;  // the answer to the last request; -1 while it is pending
  std::atomic<bool> quit_{false};
  std::thread thread_;
};

}  // namespace roomcast::testing
