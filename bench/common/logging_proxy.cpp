#include "logging_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <functional>
#include <sstream>

#include "bench_util.h"

namespace roomcast::bench {

namespace {

int connectTo(const std::string& hostPort) {
  const auto colon = hostPort.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(hostPort.c_str() + colon + 1)));
  inet_pton(AF_INET, hostPort.substr(0, colon).c_str(), &a.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool writeAll(int fd, const char* p, size_t n) {
  while (n) {
    const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

LoggingProxy::LoggingProxy(const std::string& originHostPort) : origin_(originHostPort) {
  listenFd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int one = 1;
  setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listenFd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listenFd_, 64) != 0) return;
  socklen_t len = sizeof a;
  getsockname(listenFd_, reinterpret_cast<sockaddr*>(&a), &len);
  url_ = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  acceptor_ = std::thread([this] { acceptLoop(); });
}

LoggingProxy::~LoggingProxy() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
  }
  if (listenFd_ >= 0) shutdown(listenFd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  if (listenFd_ >= 0) close(listenFd_);
}

void LoggingProxy::acceptLoop() {
  for (;;) {
    const int c = accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR) continue;
      return;  // shut down
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      close(c);
      return;
    }
    const int id = ++connections_;
    fds_.push_back(c);
    workers_.emplace_back([this, c, id] { serve(c, id); });
  }
}

namespace {

// Frames one connection's two byte streams into requests and their responses; `finished`
// receives each request once its response has ended.
class ExchangeLog {
 public:
  using Request = LoggingProxy::Request;
  ExchangeLog(int id, std::function<void(Request&&)> finished) : id_(id), finished_(std::move(finished)) {}

  void requestBytes(const char* p, size_t n, double now) {
    up_.append(p, n);
    for (;;) {
      if (upBodyLeft_) {
        const size_t take = std::min(upBodyLeft_, up_.size());
        pending_.back().requestBytes += take;
        up_.erase(0, take);
        upBodyLeft_ -= take;
        if (upBodyLeft_) return;
      }
      const auto end = up_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      const std::string head = up_.substr(0, end + 4);
      up_.erase(0, end + 4);
      Request r;
      r.connection = id_;
      r.sentWall = now;
      r.requestBytes = head.size();
      std::istringstream line(head);
      std::string version;
      line >> r.method >> r.path >> version;
      pending_.push_back(std::move(r));
      const std::string length = headerValue(head, "Content-Length");
      upBodyLeft_ = length.empty() ? 0 : std::strtoul(length.c_str(), nullptr, 10);
    }
  }

  void responseBytes(const char* p, size_t n) {
    down_.append(p, n);
    while (!down_.empty() && !pending_.empty()) {
      if (!current_) {
        current_ = &pending_.front();
        if (!downStarted_) current_->firstByteWall = realtimeSeconds();
        downStarted_ = true;
      }
      if (!downInBody_) {
        const auto end = down_.find("\r\n\r\n");
        if (end == std::string::npos) return;
        if (readResponseHead(end + 4)) continue;  // no body: finished
      }
      if (downChunked_) {
        if (!readChunk()) return;
        continue;
      }
      takeBody(downBodyLeft_);
      if (downBodyLeft_ == 0) finishResponse();
    }
  }

  // A response without a length ends when the server closes.
  void serverClosed() {
    if (current_ && downInBody_ && !downChunked_ && downBodyLeft_ == SIZE_MAX) finishResponse();
  }

 private:
  // Returns true when the response has no body (and is finished).
  bool readResponseHead(size_t headSize) {
    const std::string head = down_.substr(0, headSize);
    down_.erase(0, headSize);
    current_->headerBytes = head.size();
    current_->status = std::atoi(head.c_str() + 9);
    const bool noBody = current_->method == "HEAD" || current_->status == 204 || current_->status == 304 ||
                        current_->status / 100 == 1;
    const std::string length = headerValue(head, "Content-Length");
    downChunked_ = strcasestr(headerValue(head, "Transfer-Encoding").c_str(), "chunked") != nullptr;
    downBodyLeft_ = noBody ? 0 : !length.empty() ? std::strtoul(length.c_str(), nullptr, 10) : SIZE_MAX;
    if (downChunked_ && !noBody) downBodyLeft_ = 0;
    downInBody_ = true;
    if (noBody) finishResponse();
    return noBody;
  }

  // Chunk sizes are counted as body bytes; good enough for accounting. False: wait for more.
  bool readChunk() {
    if (downBodyLeft_ == 0) {
      const auto crlf = down_.find("\r\n");
      if (crlf == std::string::npos) return false;
      const size_t size = std::strtoul(down_.c_str(), nullptr, 16);
      current_->bodyBytes += crlf + 2;
      down_.erase(0, crlf + 2);
      downBodyLeft_ = size + 2;
      if (size == 0) {
        // Last chunk: "0\r\n" then optional trailers, then "\r\n".
        const auto endTrail = down_.find("\r\n");
        if (endTrail == std::string::npos) {
          downBodyLeft_ = 2;
          return false;
        }
        current_->bodyBytes += endTrail + 2;
        down_.erase(0, endTrail + 2);
        finishResponse();
        return true;
      }
    }
    takeBody(downBodyLeft_);
    return true;
  }

  void takeBody(size_t left) {
    const size_t take = std::min(left, down_.size());
    if (current_->path.find(".m3u8") != std::string::npos) current_->body.append(down_, 0, take);
    current_->bodyBytes += take;
    down_.erase(0, take);
    if (downBodyLeft_ != SIZE_MAX) downBodyLeft_ -= take;
  }

  void finishResponse() {
    current_->doneWall = realtimeSeconds();
    finished_(std::move(*current_));
    pending_.pop_front();
    current_ = nullptr;
    downInBody_ = downChunked_ = downStarted_ = false;
  }

  int id_;
  std::function<void(Request&&)> finished_;
  std::deque<Request> pending_;
  std::string up_, down_;  // unparsed bytes of each direction
  size_t upBodyLeft_ = 0;
  bool downInBody_ = false, downChunked_ = false, downStarted_ = false;
  size_t downBodyLeft_ = 0;
  Request* current_ = nullptr;  // the request whose response is being read
};

}  // namespace

void LoggingProxy::serve(int client, int id) {
  const int server = connectTo(origin_);
  if (server < 0) {
    shutdown(client, SHUT_RDWR);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fds_.push_back(server);
    if (stopping_) shutdown(server, SHUT_RDWR);
  }
  const int one = 1;
  setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ExchangeLog log(id, [this](Request&& r) {
    std::lock_guard<std::mutex> lock(mutex_);
    done_.push_back(std::move(r));
  });
  bool clientOpen = true, serverOpen = true;
  char buf[65536];
  while (clientOpen || serverOpen) {
    pollfd p[2] = {{client, static_cast<short>(clientOpen ? POLLIN : 0), 0},
                   {server, static_cast<short>(serverOpen ? POLLIN : 0), 0}};
    if (poll(p, 2, 1000) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) break;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = recv(client, buf, sizeof buf, 0);
      if (n <= 0) {
        clientOpen = false;
        shutdown(server, SHUT_WR);
      } else {
        const double t = realtimeSeconds();
        writeAll(server, buf, static_cast<size_t>(n));
        log.requestBytes(buf, static_cast<size_t>(n), t);
      }
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = recv(server, buf, sizeof buf, 0);
      if (n <= 0) {
        serverOpen = false;
        shutdown(client, SHUT_WR);
        log.serverClosed();
      } else {
        writeAll(client, buf, static_cast<size_t>(n));
        log.responseBytes(buf, static_cast<size_t>(n));
      }
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& fd : fds_)
    if (fd == client || fd == server) fd = -1;
  close(client);
  close(server);
}

std::vector<LoggingProxy::Request> LoggingProxy::requests() {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

int LoggingProxy::connections() {
  std::lock_guard<std::mutex> lock(mutex_);
  return connections_;
}

}  // namespace roomcast::bench
