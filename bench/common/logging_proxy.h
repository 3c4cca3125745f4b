// A logging TCP forwarder between an HLS client and roomcastd or nginx (bench-hls-cost).
#pragma once

#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace roomcast::bench {

// A logging TCP forwarder for one HTTP/1.1 client: listens on 127.0.0.1:<free port>, forwards
// every connection to `originHostPort` byte for byte (one thread per connection), and frames
// both directions to log each request: when its first byte arrived, its path, the status, the
// response's header and body bytes, and (for playlists) the body. Adds well under a
// millisecond on loopback.
class LoggingProxy {
 public:
  struct Request {
    int connection = 0;
    double sentWall = 0;       // first byte of the request seen
    double firstByteWall = 0;  // first byte of the response
    double doneWall = 0;       // last byte of the response
    std::string method, path;
    int status = 0;
    size_t requestBytes = 0;   // request line, headers and body
    size_t headerBytes = 0;    // response status line and headers
    size_t bodyBytes = 0;
    std::string body;          // kept for .m3u8 responses only
  };
  explicit LoggingProxy(const std::string& originHostPort);
  ~LoggingProxy();
  const std::string& url() const { return url_; }
  std::vector<Request> requests();
  int connections();

 private:
  void acceptLoop();
  void serve(int client, int id);
  std::string origin_;
  std::string url_;
  int listenFd_ = -1;
  bool stopping_ = false;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> workers_;
  std::vector<int> fds_;
  std::vector<Request> done_;
  int connections_ = 0;
};

}  // namespace roomcast::bench
