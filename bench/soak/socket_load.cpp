#include "socket_load.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <list>
#include <memory>

#include "children.h"
#include "loopback_client.h"

namespace roomcast::bench::soak {

namespace {

// ---- sockets

// ---- HTTP/1.1 responses

struct Response {
  enum State { Incomplete, Complete, Bad } state = Incomplete;
  int status = 0;
  size_t length = 0;      // bytes of the buffer this response takes (when Complete)
  bool untilEof = false;  // no length and not chunked: the body ends when the server closes
  bool close = false;     // Connection: close
};

// One response at the start of `in`, if it is all there.
Response parseResponse(const std::string& in) {
  Response r;
  const size_t headEnd = in.find("\r\n\r\n");
  if (headEnd == std::string::npos) return r;
  if (in.compare(0, 9, "HTTP/1.1 ") != 0 && in.compare(0, 9, "HTTP/1.0 ") != 0) {
    r.state = Response::Bad;
    return r;
  }
  r.status = std::atoi(in.c_str() + 9);
  const std::string head = in.substr(0, headEnd + 2);
  r.close = strcasecmp(headerValue(head, "Connection").c_str(), "close") == 0;
  const size_t bodyStart = headEnd + 4;
  if (r.status == 101 || r.status == 204 || r.status == 304) {
    r.state = Response::Complete;
    r.length = bodyStart;
    return r;
  }
  if (const std::string length = headerValue(head, "Content-Length"); !length.empty()) {
    const size_t total = bodyStart + std::strtoul(length.c_str(), nullptr, 10);
    if (in.size() >= total) {
      r.state = Response::Complete;
      r.length = total;
    }
    return r;
  }
  if (strcasecmp(headerValue(head, "Transfer-Encoding").c_str(), "chunked") == 0) {
    size_t at = bodyStart;
    for (;;) {
      const size_t lineEnd = in.find("\r\n", at);
      if (lineEnd == std::string::npos) return r;
      const size_t size = std::strtoul(in.c_str() + at, nullptr, 16);
      if (size == 0) {
        if (in.size() < lineEnd + 4) return r;  // the empty trailer
        r.state = Response::Complete;
        r.length = lineEnd + 4;
        return r;
      }
      at = lineEnd + 2 + size + 2;
      if (in.size() < at) return r;
    }
  }
  r.untilEof = true;
  return r;
}

// ---- one epoll set of connections

struct Conn {
  enum State { Connecting, Writing, Reading, Held } state = Connecting;
  int fd = -1;
  std::string out;
  size_t written = 0;
  std::string in;
  int requestsLeft = 0;  // REST: still to send after the current one
  double deadline = 0;
  double upgradedAt = 0;
};

class Poller {
 public:
  Poller() : epoll_(epoll_create1(EPOLL_CLOEXEC)) {}
  ~Poller() {
    for (auto& c : conns_) if (c->fd >= 0) close(c->fd);
    close(epoll_);
  }
  Conn* add(int fd) {
    auto conn = std::make_unique<Conn>();
    conn->fd = fd;
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = conn.get();
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    conns_.push_back(std::move(conn));
    return conns_.back().get();
  }
  void want(Conn* c, uint32_t events) {
    epoll_event ev{};
    ev.events = events | EPOLLRDHUP;
    ev.data.ptr = c;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c->fd, &ev);
  }
  // Closes our side; the Conn is freed by sweep().
  void drop(Conn* c) {
    if (c->fd < 0) return;
    epoll_ctl(epoll_, EPOLL_CTL_DEL, c->fd, nullptr);
    close(c->fd);
    c->fd = -1;
  }
  void sweep() {
    conns_.remove_if([](const std::unique_ptr<Conn>& c) { return c->fd < 0; });
  }
  size_t open() const { return conns_.size(); }
  std::list<std::unique_ptr<Conn>>& conns() { return conns_; }
  // Ready connections with their events, waiting at most `timeoutMs`.
  int wait(epoll_event* events, int max, int timeoutMs) {
    const int n = epoll_wait(epoll_, events, max, timeoutMs);
    return n < 0 ? 0 : n;
  }

 private:
  int epoll_;
  std::list<std::unique_ptr<Conn>> conns_;
};

// Writes what is left of c->out; false if the socket failed.
bool flush(Conn* c) {
  while (c->written < c->out.size()) {
    const ssize_t n = send(c->fd, c->out.data() + c->written, c->out.size() - c->written, MSG_NOSIGNAL);
    if (n > 0) {
      c->written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    return false;
  }
  return true;
}

// Reads what is there; returns false at EOF or on an error (then `why` says which).
bool readAvailable(Conn* c, std::string& why) {
  char buf[16384];
  for (;;) {
    const ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n > 0) {
      c->in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      why = "closed by the server";
      return false;
    }
    if (errno == EAGAIN || errno == EINTR) return true;
    why = std::string("recv: ") + strerror(errno);
    return false;
  }
}

// Connecting -> Writing -> Reading, the start every client here shares.
enum class Step { Wait, Written, Read, ConnectFailed, SendFailed };
Step advance(Poller& poller, Conn* c, uint32_t ev, std::string& failure) {
  if (c->state == Conn::Connecting) {
    if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return Step::Wait;
    failure = socketError(c->fd);
    if (!failure.empty()) return Step::ConnectFailed;
    c->state = Conn::Writing;
  }
  if (c->state == Conn::Writing) {
    if (!flush(c)) {
      failure = std::string("send: ") + strerror(errno);
      return Step::SendFailed;
    }
    if (c->written < c->out.size()) return Step::Wait;
    c->state = Conn::Reading;
    poller.want(c, EPOLLIN);
    return Step::Written;
  }
  return Step::Read;
}

constexpr uint32_t kReadable = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;

// REST clients: each connection sends 1 .. maxRequestsPerConnection keep-alive requests, then closes.
class RestLoad {
 public:
  RestLoad(const Target& target, const RestLoadOptions& options) : target_(target), options_(options) {}

  RestLoadResult run() {
    const double started = monotonicSeconds(), phaseDeadline = started + options_.timeout;
    std::vector<epoll_event> events(256);
    lastAnswer_ = started;
    while (planned_ < options_.requests || poller_.open() > 0) {
      const double now = monotonicSeconds();
      if (now > phaseDeadline) {
        result_.phaseTimedOut = true;
        break;
      }
      if (now - lastAnswer_ > options_.stallTimeout) {
        result_.stalled = true;
        break;
      }
      openConnections(now);
      const int n = poller_.wait(events.data(), static_cast<int>(events.size()), 100);
      for (int i = 0; i < n; i++) onEvent(static_cast<Conn*>(events[i].data.ptr), events[i].events);
      const double after = monotonicSeconds();
      for (auto& c : poller_.conns())
        if (c->fd >= 0 && after > c->deadline) {
          result_.timedOut++;
          poller_.drop(c.get());
        }
      poller_.sweep();
    }
    result_.seconds = monotonicSeconds() - started;
    return result_;
  }

 private:
  std::string request() {
    const std::string& path = options_.paths[nextPath_++ % options_.paths.size()];
    return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(target_.port) +
           "\r\nUser-Agent: roomcast-soak\r\nAccept: */*\r\n\r\n";
  }

  void sendNext(Conn* c) {
    c->out = request();
    c->written = 0;
    c->in.clear();
    c->state = Conn::Writing;
    c->deadline = monotonicSeconds() + options_.requestTimeout;
    result_.sent++;
  }

  void openConnections(double now) {
    while (planned_ < options_.requests && poller_.open() < static_cast<size_t>(options_.concurrency)) {
      const long perConnection = 1 + result_.connections % std::max(1, options_.maxRequestsPerConnection);
      const int count = static_cast<int>(std::min(perConnection, options_.requests - planned_));
      planned_ += count;
      std::string error;
      const int fd = startLoopbackConnect(target_.port, result_.connections++, target_.sourceAddresses, false, error);
      if (fd < 0) {
        result_.connectFailures++;
        result_.failures[error]++;
        continue;
      }
      Conn* c = poller_.add(fd);
      c->requestsLeft = count - 1;
      c->deadline = now + options_.requestTimeout;
      c->out = request();  // written once connected
      result_.sent++;
    }
  }

  void fail(Conn* c, long& counter, const std::string& why) {
    counter++;
    result_.failures[why]++;
    poller_.drop(c);
  }

  void onEvent(Conn* c, uint32_t ev) {
    if (c->fd < 0) return;
    std::string failure;
    switch (advance(poller_, c, ev, failure)) {
      case Step::Wait: return;
      case Step::ConnectFailed: return fail(c, result_.connectFailures, failure);
      case Step::SendFailed: return fail(c, result_.closedEarly, failure);
      case Step::Written:
      case Step::Read: break;
    }
    if (ev & kReadable) readAnswer(c);
  }

  void readAnswer(Conn* c) {
    std::string why;
    const bool open = readAvailable(c, why);
    Response r = parseResponse(c->in);
    if (r.state == Response::Incomplete && r.untilEof && !open) {
      r.state = Response::Complete;
      r.close = true;
    }
    if (r.state == Response::Bad) return fail(c, result_.closedEarly, "not an HTTP response");
    if (r.state == Response::Incomplete) {
      if (!open) fail(c, result_.closedEarly, why);
      return;
    }
    result_.answered++;
    result_.statuses[r.status]++;
    lastAnswer_ = monotonicSeconds();
    if (r.close || !open) {
      // The server ends the connection itself: what is left for it is not sent.
      result_.serverClosedAfterResponse++;
      poller_.drop(c);
    } else if (c->requestsLeft > 0) {
      c->requestsLeft--;
      sendNext(c);
      poller_.want(c, EPOLLOUT);
    } else {
      poller_.drop(c);  // the client closes its side, keep-alive or not
    }
  }

  const Target& target_;
  const RestLoadOptions& options_;
  RestLoadResult result_;
  Poller poller_;
  long planned_ = 0;  // requests given to connections so far
  size_t nextPath_ = 0;
  double lastAnswer_ = 0;
};

// Consumes whole server frames at the start of `in`; true if one of them is a close frame.
bool closeFrameIn(std::string& in) {
  for (;;) {
    if (in.size() < 2) return false;
    const auto* b = reinterpret_cast<const unsigned char*>(in.data());
    const int opcode = b[0] & 0x0f;
    uint64_t length = b[1] & 0x7f;
    size_t head = 2;
    if (length == 126) {
      if (in.size() < 4) return false;
      length = (uint64_t{b[2]} << 8) | b[3];
      head = 4;
    } else if (length == 127) {
      if (in.size() < 10) return false;
      length = 0;
      for (int i = 0; i < 8; i++) length = (length << 8) | b[2 + i];
      head = 10;
    }
    if (b[1] & 0x80) head += 4;  // a masked frame (servers do not mask; tolerated)
    if (in.size() < head + length) return false;
    if (opcode == 8) return true;
    in.erase(0, head + length);
  }
}

// WebSockets that upgrade and never say hello, in batches: a batch is upgraded, held, closed.
class SilentWebSockets {
 public:
  SilentWebSockets(const Target& target, const SilentWsOptions& options)
      : options_(options),
        upgrade_("GET " + options.path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(target.port) +
                 "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: c29hay0xNi1ieXRlLWtleQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
        target_(target) {}

  SilentWsResult run() {
    const double started = monotonicSeconds();
    phaseDeadline_ = started + options_.timeout;
    lastAnswer_ = started;
    while (result_.attempted < options_.connections && !result_.phaseTimedOut && !result_.stalled) runBatch();
    result_.seconds = monotonicSeconds() - started;
    return result_;
  }

 private:
  void runBatch() {
    Poller poller;
    const long batchEnd = std::min(options_.connections, result_.attempted + options_.batch);
    upgrading_ = 0;
    lastUpgrade_ = monotonicSeconds();
    std::vector<epoll_event> events(256);
    for (;;) {
      const double now = monotonicSeconds();
      if (now > phaseDeadline_) {
        result_.phaseTimedOut = true;
        break;
      }
      if (upgrading_ > 0 && now - lastAnswer_ > options_.stallTimeout) {
        result_.stalled = true;
        break;
      }
      openConnections(poller, batchEnd, now);
      if (upgrading_ == 0 && result_.attempted >= batchEnd && batchHeld(poller, now)) break;
      const int n = poller.wait(events.data(), static_cast<int>(events.size()), 100);
      for (int i = 0; i < n; i++) onEvent(poller, static_cast<Conn*>(events[i].data.ptr), events[i].events);
      const double after = monotonicSeconds();
      for (auto& c : poller.conns())
        if (c->fd >= 0 && c->state != Conn::Held && after > c->deadline) {
          result_.timedOut++;
          upgrading_--;
          poller.drop(c.get());
        }
      poller.sweep();
    }
    for (auto& c : poller.conns())
      if (c->fd >= 0 && c->state == Conn::Held) result_.closedByUs++;
    // ~Poller closes what is left (held ones, and upgrades cut off by the phase deadline).
  }

  // The whole batch is upgraded (or failed): it is held until the server has closed every one,
  // or for holdMax after the last upgrade. True when that hold is over.
  bool batchHeld(Poller& poller, double now) {
    size_t held = 0;
    for (auto& c : poller.conns()) held += c->fd >= 0 && c->state == Conn::Held;
    return held == 0 || now - lastUpgrade_ >= options_.holdMax;
  }

  void openConnections(Poller& poller, long batchEnd, double now) {
    while (result_.attempted < batchEnd && upgrading_ < options_.inFlight) {
      std::string error;
      const int fd = startLoopbackConnect(target_.port, result_.attempted++, target_.sourceAddresses, false, error);
      if (fd < 0) {
        result_.connectFailures++;
        result_.failures[error]++;
        continue;
      }
      Conn* c = poller.add(fd);
      c->out = upgrade_;
      c->deadline = now + options_.upgradeTimeout;
      upgrading_++;
    }
  }

  void fail(Poller& poller, Conn* c, const std::string& why) {
    result_.connectFailures++;
    result_.failures[why]++;
    upgrading_--;
    poller.drop(c);
  }

  void onEvent(Poller& poller, Conn* c, uint32_t ev) {
    if (c->fd < 0) return;
    std::string failure;
    switch (advance(poller, c, ev, failure)) {
      case Step::Wait:
      case Step::Written: return;
      case Step::ConnectFailed:
      case Step::SendFailed: return fail(poller, c, failure);
      case Step::Read: break;
    }
    if (!(ev & kReadable)) return;
    std::string why;
    const bool open = readAvailable(c, why);
    if (c->state == Conn::Reading) {
      const Response r = parseResponse(c->in);
      if (r.state == Response::Incomplete) {
        if (!open) fail(poller, c, "before the upgrade's answer: " + why);
        return;
      }
      upgrading_--;
      result_.statuses[r.status]++;
      lastAnswer_ = monotonicSeconds();
      if (r.state == Response::Bad || r.status != 101) {
        result_.refused++;
        poller.drop(c);
        return;
      }
      result_.upgraded++;
      c->state = Conn::Held;
      c->upgradedAt = lastUpgrade_ = monotonicSeconds();
      c->in.erase(0, r.length);
    }
    // Held: we never say hello; anything but a close frame (or the end) is ignored.
    if (!open || closeFrameIn(c->in)) {
      result_.closedByServer++;
      result_.serverCloseAfter.push_back(monotonicSeconds() - c->upgradedAt);
      poller.drop(c);
    }
  }

  const SilentWsOptions& options_;
  const std::string upgrade_;
  const Target& target_;
  SilentWsResult result_;
  double phaseDeadline_ = 0, lastAnswer_ = 0, lastUpgrade_ = 0;
  long upgrading_ = 0;  // connections of this batch not yet answered
};

}  // namespace

RestLoadResult runRestLoad(const Target& target, const RestLoadOptions& options) {
  return RestLoad(target, options).run();
}

SilentWsResult runSilentWebSockets(const Target& target, const SilentWsOptions& options) {
  return SilentWebSockets(target, options).run();
}

}  // namespace roomcast::bench::soak
