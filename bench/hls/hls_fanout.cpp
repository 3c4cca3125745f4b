// bench-hls-fanout: N concurrent HLS listeners pulling at real per-listener rates, served by
// roomcastd directly or through the nginx edge (data/nginx/roomcast-edge.conf), while one
// speaker talks. The load generator is this process: one thread, epoll, HTTP/1.1 keep-alive,
// one connection per listener, open loop (each listener refreshes on its own schedule). What
// the window measures (time to first byte from SO_TIMESTAMPNS, errors, CPU, playlist age) is
// "What it measures" in this benchmark's newest bench/results/ file.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "children.h"
#include "processes.h"
#include "rest_client.h"

using namespace roomcast::bench;

namespace {

struct Options {
  std::vector<int> sizes{1000, 5000, 10000};
  std::vector<std::string> modes{"direct", "nginx"};
  double ramp = -1;      // seconds; default N / 500, at least 2
  double settle = 5;     // after the ramp, before the window
  double window = 30;    // measured
  double period = 1.0;   // playlist refresh, seconds (the target duration)
  double jitter = 0.1;   // ± fraction of the period, uniform
  double timeout = 5;    // per request (and per connect)
  std::string rendition = "main";
  bool sessions = true;
  int serverCpu = 0, generatorCpu = 1, speakerCpu = 1;
  int segmentMs = 0;     // roomcastd's [hls] segment_ms; 0: its default
  int edgeCpu = -1;      // nginx's core; -1: the server's (roomcastd and nginx share it)
  int nginxWorkers = 1;  // 0 = auto
  double waitQuiet = 0;  // seconds to wait for other processes to calm down before each cell
  std::string json = "bench-hls-fanout.json";
  bool keep = false;
  int nofile = 0;  // our RLIMIT_NOFILE, found at start
};

int edgeCpu(const Options& o) { return o.edgeCpu >= 0 ? o.edgeCpu : o.serverCpu; }

// ---- The load generator

enum class Kind { Playlist, Segment };

struct Listener {
  int id = 0;
  int fd = -1;
  enum class State { Waiting, Connecting, Idle, Busy } state = State::Waiting;
  std::string playlistPath;  // /hls/ROOM/index.m3u8?session=...
  double nextRefresh = 0;    // monotonic, scheduled
  bool refreshPending = false;
  double pendingSince = 0;
  long lastSeq = -1;
  std::deque<std::string> queue;  // segment paths still to fetch
  // The request in flight.
  Kind kind = Kind::Playlist;
  double sentWall = 0, sentMono = 0, deadline = 0;
  bool firstSeen = false;
  double firstKernelWall = 0, firstLoopWall = 0;
  std::string out;
  size_t outOff = 0;
  std::string head, body;
  bool inBody = false, chunked = false, closeAfter = false;
  size_t bodyLeft = 0, bodyBytes = 0;
  int status = 0;
  double connectStart = 0;
  double reconnectAt = 0;
  bool everConnected = false;
};

struct Stats {
  // In the window.
  std::vector<float> ttfbPlaylist, ttfbSegment;          // ms, kernel receive timestamp
  std::vector<float> ttfbLoopPlaylist, ttfbLoopSegment;  // ms, as our event loop saw it
  std::vector<float> totalSegment;                       // ms, to the last byte
  std::vector<float> timerLag;                           // ms, idle listeners' refresh timers
  std::vector<float> playlistAge;                        // ms, newest listed segment's end to arrival
  std::vector<float> connectMs;                          // all phases
  long playlistsSent = 0, segmentsSent = 0, playlistsScheduled = 0;
  long playlistsOk = 0, segmentsOk = 0;
  long deferred = 0, skipped = 0;  // refreshes that came due while busy; of those, superseded by the next
  long non2xx = 0, segment404 = 0, timeouts = 0, connFailures = 0, serverCloses = 0, fellBehind = 0;
  std::map<int, long> statuses;
  // Through nginx: X-Cache-Status of each response, with its TTFB (ms), per kind.
  std::map<std::string, std::vector<float>> cachePlaylist, cacheSegment;
  long slowSegments = 0, slowPlaylists = 0;  // TTFB over 250 ms
  double bytes = 0;
  // All phases (ramp and settle included).
  long allErrors = 0, allTimeouts = 0, allConnFailures = 0, allNon2xx = 0, connects = 0, slowConnects = 0;
};

// A complete chunked body ("size\r\n data \r\n" ... "0\r\n\r\n"), decoded.
std::string dechunk(const std::string& raw) {
  std::string decoded;
  size_t at = 0;
  while (at < raw.size()) {
    const size_t crlf = raw.find("\r\n", at);
    if (crlf == std::string::npos) break;
    const size_t size = std::strtoul(raw.c_str() + at, nullptr, 16);
    if (size == 0) break;
    decoded.append(raw, crlf + 2, size);
    at = crlf + 2 + size + 2;
  }
  return decoded;
}

class Generator {
 public:
  Generator(const Options& o, const std::string& hostPort, const std::vector<std::string>& playlistPaths)
      : o_(o), hostPort_(hostPort), rng_(12345) {
    const auto colon = hostPort.rfind(':');
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(static_cast<uint16_t>(std::atoi(hostPort.c_str() + colon + 1)));
    inet_pton(AF_INET, hostPort.substr(0, colon).c_str(), &addr_.sin_addr);
    listeners_.resize(playlistPaths.size());
    for (size_t i = 0; i < listeners_.size(); i++) {
      listeners_[i].id = static_cast<int>(i);
      listeners_[i].playlistPath = playlistPaths[i];
    }
    ep_ = epoll_create1(EPOLL_CLOEXEC);
  }
  ~Generator() {
    for (auto& l : listeners_)
      if (l.fd >= 0) close(l.fd);
    close(ep_);
  }

  // Runs ramp + settle + window; `onWindow(start)` / `onWindow(end)` are called at the window's
  // edges (for CPU samples).
  template <typename F>
  void run(double ramp, F&& onWindowEdge) {
    const double t0 = monotonicSeconds();
    std::uniform_real_distribution<double> u(0, 1);
    for (auto& l : listeners_) {
      l.reconnectAt = t0 + u(rng_) * ramp;  // joins spread over the ramp
      push(l.reconnectAt, l.id);
    }
    windowStart_ = t0 + ramp + o_.settle;
    windowEnd_ = windowStart_ + o_.window;
    bool started = false;
    std::vector<epoll_event> events(4096);
    double nextSweep = t0 + 0.1;
    while (true) {
      double now = monotonicSeconds();
      if (!started && now >= windowStart_) {
        started = true;
        onWindowEdge(true);
      }
      if (now >= windowEnd_) {
        onWindowEdge(false);
        break;
      }
      double wake = std::min({windowEnd_, nextSweep, started ? windowEnd_ : windowStart_});
      if (!timers_.empty()) wake = std::min(wake, timers_.top().first);
      const int ms = std::max(0, static_cast<int>(std::ceil((wake - now) * 1000)));
      const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), ms);
      for (int i = 0; i < n; i++) onEvent(listeners_[events[i].data.u32], events[i].events);
      now = monotonicSeconds();
      while (!timers_.empty() && timers_.top().first <= now) {
        auto [when, id] = timers_.top();
        timers_.pop();
        onTimer(listeners_[id], when, now);
      }
      if (now >= nextSweep) {
        sweep(now);
        nextSweep = now + 0.1;
      }
    }
  }

  const Stats& stats() const { return stats_; }
  int connected() const {
    int n = 0;
    for (const auto& l : listeners_) n += l.state == Listener::State::Idle || l.state == Listener::State::Busy;
    return n;
  }

 private:
  bool inWindow(double mono) const { return mono >= windowStart_ && mono < windowEnd_; }
  void push(double when, int id) { timers_.emplace(when, id); }

  void startConnect(Listener& l, double now) {
    l.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l.fd < 0) {
      fprintf(stderr, "socket: %s\n", strerror(errno));
      failConnection(l, now, false);
      return;
    }
    const int one = 1;
    setsockopt(l.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(l.fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    l.connectStart = now;
    l.deadline = now + o_.timeout;
    stats_.connects++;
    const int r = connect(l.fd, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_);
    epoll_event ev{};
    ev.data.u32 = static_cast<uint32_t>(l.id);
    if (r == 0) {
      ev.events = EPOLLIN;
      epoll_ctl(ep_, EPOLL_CTL_ADD, l.fd, &ev);
      connectedNow(l, now);
    } else if (errno == EINPROGRESS) {
      l.state = Listener::State::Connecting;
      ev.events = EPOLLOUT;
      epoll_ctl(ep_, EPOLL_CTL_ADD, l.fd, &ev);
    } else {
      failConnection(l, now, false);
    }
  }

  void connectedNow(Listener& l, double now) {
    const double ms = (now - l.connectStart) * 1000;
    stats_.connectMs.push_back(static_cast<float>(ms));
    if (ms > 1000) stats_.slowConnects++;
    l.state = Listener::State::Idle;
    if (!l.everConnected) {
      l.everConnected = true;
      l.nextRefresh = now;  // join: the first playlist at once
      push(l.nextRefresh, l.id);
    } else if (l.refreshPending) {
      sendNext(l, now);
    }
  }

  void failConnection(Listener& l, double now, bool timeout) {
    if (l.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, l.fd, nullptr);
      close(l.fd);
      l.fd = -1;
    }
    const bool window = inWindow(l.state == Listener::State::Busy ? l.sentMono : now);
    if (timeout) {
      stats_.allTimeouts++;
      if (window) stats_.timeouts++;
    } else {
      stats_.allConnFailures++;
      if (window) stats_.connFailures++;
    }
    stats_.allErrors++;
    l.state = Listener::State::Waiting;
    l.queue.clear();
    l.head.clear();
    l.inBody = false;
    // Reconnect after 0.5..1.5 s; a refresh that comes due meanwhile waits for it.
    std::uniform_real_distribution<double> u(0.5, 1.5);
    l.reconnectAt = now + u(rng_);
    push(l.reconnectAt, l.id);
  }

  void onTimer(Listener& l, double when, double now) {
    if (l.state == Listener::State::Waiting && when == l.reconnectAt) {
      startConnect(l, now);
      return;
    }
    if (!l.everConnected || when != l.nextRefresh) return;  // a stale entry
    if (inWindow(when)) stats_.playlistsScheduled++;
    // The next refresh is scheduled from this one's planned time: open loop.
    std::uniform_real_distribution<double> u(1 - o_.jitter, 1 + o_.jitter);
    l.nextRefresh = when + o_.period * u(rng_);
    push(l.nextRefresh, l.id);
    if (l.state == Listener::State::Idle) {
      if (inWindow(when)) stats_.timerLag.push_back(static_cast<float>((now - when) * 1000));
      l.refreshPending = true;
      l.pendingSince = when;
      sendNext(l, now);
    } else {
      if (l.refreshPending) {
        if (inWindow(when)) stats_.skipped++;  // the previous refresh has not even gone out
      } else {
        l.refreshPending = true;
        l.pendingSince = when;
      }
      if (inWindow(when)) stats_.deferred++;
    }
  }

  // Idle: the next queued segment, else a pending refresh.
  void sendNext(Listener& l, double now) {
    std::string path;
    if (!l.queue.empty()) {
      path = l.queue.front();
      l.queue.pop_front();
      l.kind = Kind::Segment;
    } else if (l.refreshPending) {
      path = l.playlistPath;
      l.kind = Kind::Playlist;
      l.refreshPending = false;
    } else {
      l.state = Listener::State::Idle;
      return;
    }
    l.out = "GET " + path + " HTTP/1.1\r\nHost: " + hostPort_ + "\r\nUser-Agent: roomcast-bench-hls-fanout\r\n\r\n";
    l.outOff = 0;
    l.state = Listener::State::Busy;
    l.head.clear();
    l.body.clear();
    l.inBody = false;
    l.chunked = l.closeAfter = false;
    l.bodyBytes = 0;
    l.firstSeen = false;
    l.status = 0;
    writeMore(l, now);
  }

  void writeMore(Listener& l, double now) {
    while (l.outOff < l.out.size()) {
      const ssize_t w = send(l.fd, l.out.data() + l.outOff, l.out.size() - l.outOff, MSG_NOSIGNAL);
      if (w > 0) {
        l.outOff += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && errno == EAGAIN) {
        epoll_event ev{};
        ev.data.u32 = static_cast<uint32_t>(l.id);
        ev.events = EPOLLIN | EPOLLOUT;
        epoll_ctl(ep_, EPOLL_CTL_MOD, l.fd, &ev);
        return;
      }
      failConnection(l, now, false);
      return;
    }
    l.sentWall = realtimeSeconds();
    l.sentMono = monotonicSeconds();
    l.deadline = l.sentMono + o_.timeout;
    if (inWindow(l.sentMono)) (l.kind == Kind::Playlist ? stats_.playlistsSent : stats_.segmentsSent)++;
  }

  void onEvent(Listener& l, uint32_t events) {
    const double now = monotonicSeconds();
    if (l.fd < 0) return;
    if (l.state == Listener::State::Connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(l.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err || (events & (EPOLLERR | EPOLLHUP))) {
        failConnection(l, now, false);
        return;
      }
      epoll_event ev{};
      ev.data.u32 = static_cast<uint32_t>(l.id);
      ev.events = EPOLLIN;
      epoll_ctl(ep_, EPOLL_CTL_MOD, l.fd, &ev);
      connectedNow(l, now);
      return;
    }
    if (events & EPOLLOUT) {
      epoll_event ev{};
      ev.data.u32 = static_cast<uint32_t>(l.id);
      ev.events = EPOLLIN;
      epoll_ctl(ep_, EPOLL_CTL_MOD, l.fd, &ev);
      writeMore(l, now);
      if (l.fd < 0) return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) readMore(l, now);
  }

  void readMore(Listener& l, double now) {
    msghdr msg{};
    iovec iov{buffer_, sizeof buffer_};
    char control[256];
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(l.fd, &msg, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      // The server closed (or reset) the connection. Between requests: reconnect quietly;
      // during one: a connection failure.
      if (l.state == Listener::State::Busy) {
        failConnection(l, now, false);
      } else {
        stats_.serverCloses++;
        epoll_ctl(ep_, EPOLL_CTL_DEL, l.fd, nullptr);
        close(l.fd);
        l.fd = -1;
        l.state = Listener::State::Waiting;
        l.reconnectAt = now;
        startConnect(l, now);
      }
      return;
    }
    if (l.state != Listener::State::Busy) return;  // unexpected bytes: ignore
    if (!l.firstSeen) {
      l.firstSeen = true;
      l.firstLoopWall = realtimeSeconds();
      l.firstKernelWall = l.firstLoopWall;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          memcpy(&ts, CMSG_DATA(c), sizeof ts);
          l.firstKernelWall = ts.tv_sec + ts.tv_nsec * 1e-9;
        }
    }
    const char* p = buffer_;
    size_t left = static_cast<size_t>(n);
    while (left) {
      if (!l.inBody) {
        const size_t before = l.head.size();
        l.head.append(p, left);
        const auto end = l.head.find("\r\n\r\n");
        if (end == std::string::npos) {
          if (l.head.size() > 65536) failConnection(l, now, false);
          return;
        }
        const size_t used = end + 4 - before;
        p += used;
        left -= used;
        l.head.resize(end + 4);
        l.status = std::atoi(l.head.c_str() + 9);
        const char* cl = strcasestr(l.head.c_str(), "\r\nContent-Length:");
        const char* te = strcasestr(l.head.c_str(), "\r\nTransfer-Encoding: chunked");
        const char* cc = strcasestr(l.head.c_str(), "\r\nConnection: close");
        l.closeAfter = cc != nullptr;
        l.chunked = te != nullptr;
        l.bodyLeft = l.chunked ? 0 : cl ? std::strtoul(cl + 17, nullptr, 10) : 0;
        if (l.status == 304 || l.status == 204) l.bodyLeft = 0, l.chunked = false;
        l.inBody = true;
        if (!l.chunked && l.bodyLeft == 0) {
          complete(l, now);  // nothing else can follow before our next request
          return;
        }
        continue;
      }
      if (l.chunked) {
        // Minimal chunked decoding: "size\r\n data \r\n" ... "0\r\n\r\n".
        l.body.append(p, left);  // raw; decoded below when complete
        l.bodyBytes += left;
        left = 0;
        if (l.body.size() >= 5 && l.body.compare(l.body.size() - 5, 5, "0\r\n\r\n") == 0) {
          l.body = dechunk(l.body);
          l.bodyBytes = l.body.size();
          complete(l, now);
        }
        return;
      }
      const size_t take = std::min(left, l.bodyLeft);
      if (l.kind == Kind::Playlist) l.body.append(p, take);
      l.bodyBytes += take;
      l.bodyLeft -= take;
      p += take;
      left -= take;
      if (l.bodyLeft == 0) {
        complete(l, now);
        return;
      }
    }
  }

  void complete(Listener& l, double now) {
    const bool window = inWindow(l.sentMono);
    const bool ok = l.status >= 200 && l.status < 300;
    if (window) {
      const float ttfb = static_cast<float>((l.firstKernelWall - l.sentWall) * 1000);
      const float loop = static_cast<float>((l.firstLoopWall - l.sentWall) * 1000);
      if (l.kind == Kind::Playlist) {
        stats_.ttfbPlaylist.push_back(ttfb);
        stats_.ttfbLoopPlaylist.push_back(loop);
      } else {
        stats_.ttfbSegment.push_back(ttfb);
        stats_.ttfbLoopSegment.push_back(loop);
        stats_.totalSegment.push_back(static_cast<float>((realtimeSeconds() - l.sentWall) * 1000));
      }
      stats_.statuses[l.status]++;
      if (ttfb > 250) (l.kind == Kind::Playlist ? stats_.slowPlaylists : stats_.slowSegments)++;
      if (const char* cs = strcasestr(l.head.c_str(), "\r\nX-Cache-Status:")) {
        cs += 17;
        while (*cs == ' ') cs++;
        const char* end = strchr(cs, '\r');
        const std::string status(cs, end ? static_cast<size_t>(end - cs) : strlen(cs));
        (l.kind == Kind::Playlist ? stats_.cachePlaylist : stats_.cacheSegment)[status].push_back(ttfb);
      }
      stats_.bytes += static_cast<double>(l.bodyBytes + l.head.size());
      if (!ok) {
        stats_.non2xx++;
        if (l.kind == Kind::Segment && l.status == 404) stats_.segment404++;
      } else {
        (l.kind == Kind::Playlist ? stats_.playlistsOk : stats_.segmentsOk)++;
      }
    }
    if (!ok) {
      stats_.allNon2xx++;
      stats_.allErrors++;
    }
    if (ok && l.kind == Kind::Playlist) parsePlaylist(l, window);
    l.inBody = false;
    l.head.clear();
    l.state = Listener::State::Idle;
    if (l.closeAfter) {
      stats_.serverCloses++;
      epoll_ctl(ep_, EPOLL_CTL_DEL, l.fd, nullptr);
      close(l.fd);
      l.fd = -1;
      l.state = Listener::State::Waiting;
      startConnect(l, now);
      return;
    }
    sendNext(l, now);
  }

  void parsePlaylist(Listener& l, bool window) {
    long mediaSequence = 0;
    std::vector<std::string> uris;
    size_t at = 0;
    const std::string& b = l.body;
    while (at < b.size()) {
      size_t nl = b.find('\n', at);
      if (nl == std::string::npos) nl = b.size();
      std::string line = b.substr(at, nl - at);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.rfind("#EXT-X-MEDIA-SEQUENCE:", 0) == 0) mediaSequence = std::atol(line.c_str() + 22);
      else if (!line.empty() && line[0] != '#') uris.push_back(line);
      at = nl + 1;
    }
    if (uris.empty()) return;
    if (window) recordPlaylistAge(b);
    const std::string base = l.playlistPath.substr(0, l.playlistPath.rfind('/') + 1);
    const long last = mediaSequence + static_cast<long>(uris.size()) - 1;
    long from;
    if (l.lastSeq < 0) {
      from = std::max(mediaSequence, last - 2);  // join: the last three, as a player starts
    } else {
      from = l.lastSeq + 1;
      if (from < mediaSequence) {
        if (window) stats_.fellBehind++;
        from = mediaSequence;
      }
    }
    for (long s = from; s <= last; s++) l.queue.push_back(base + uris[static_cast<size_t>(s - mediaSequence)]);
    l.lastSeq = std::max(l.lastSeq, last);
  }

  // How long ago the newest listed segment ended (its EXT-X-PROGRAM-DATE-TIME plus its
  // EXTINF), as this playlist arrived: what a stale edge copy adds to a listener's latency.
  void recordPlaylistAge(const std::string& body) {
    const size_t pdt = body.rfind("#EXT-X-PROGRAM-DATE-TIME:");
    const size_t inf = pdt == std::string::npos ? pdt : body.find("#EXTINF:", pdt);
    if (inf == std::string::npos) return;
    struct tm tm {};
    int ms = 0;
    if (sscanf(body.c_str() + pdt + 25, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &ms) != 7)
      return;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const double endedUnix = static_cast<double>(timegm(&tm)) + ms / 1000.0 + std::atof(body.c_str() + inf + 8);
    stats_.playlistAge.push_back(static_cast<float>((realtimeSeconds() - endedUnix) * 1000));
  }

  void sweep(double now) {
    for (auto& l : listeners_) {
      if ((l.state == Listener::State::Busy || l.state == Listener::State::Connecting) && now > l.deadline)
        failConnection(l, now, true);
    }
  }

  const Options& o_;
  std::string hostPort_;
  sockaddr_in addr_{};
  std::vector<Listener> listeners_;
  int ep_ = -1;
  std::mt19937_64 rng_;
  std::priority_queue<std::pair<double, int>, std::vector<std::pair<double, int>>, std::greater<>> timers_;
  double windowStart_ = 0, windowEnd_ = 0;
  Stats stats_;
  char buffer_[65536];
};

struct Sample {
  double mono = 0, wall = 0;
  double roomcastd = 0, nginx = 0, self = 0, speaker = 0;
  CpuTimes server, generator, edge, all;
};

struct Cell {
  int n = 0;
  std::string mode;
  bool ok = true;
  std::string note;
  double window = 0;
  Stats stats;
  double roomcastdPct = 0, nginxPct = 0, generatorPct = 0, speakerPct = 0, serverCorePct = 0, generatorCorePct = 0, edgeCorePct = NAN,
         othersPct = 0, irqPct = 0, stealPct = 0;
  double roomcastdIdlePct = NAN;  // with the speaker, before any listener
  double othersBefore = NAN;      // other processes' CPU just before the cell (--wait-quiet)
  int connectedAtEnd = 0;
  double listenersGauge = NAN;
  double listenerCount = NAN;
  double originPlaylists = NAN, originSegments = NAN;  // roomcastd's own request rates in the window, per s
  long roomcastdRssKb = -1;
  int roomcastdThreads = -1;
  int nginxErrorLines = 0;
  std::string nginxErrorSample;
  bool roomcastdAlive = true;
  int setupFailures = 0;
  double sessionSeconds = 0;
};

double pctOf(const std::vector<float>& v, double p) {
  std::vector<double> d(v.begin(), v.end());
  return nearestRankPercentile(d, p);
}

// roomcastd's options for one cell: behind the edge, its public URL and the edge's log;
// direct-soup: alone with every connection on libsoup's control-thread loop, as before the
// listener thread (the A/B of [hls] listener_thread).
std::vector<std::string> daemonArgs(const Options& o, const std::string& mode, const std::string& cellDir,
                                    int nginxPort, int edgeLogPort) {
  std::vector<std::string> args;
  if (mode == "nginx")
    args = {"--public-url", "http://127.0.0.1:" + std::to_string(nginxPort), "--edge-log",
            "127.0.0.1:" + std::to_string(edgeLogPort)};
  std::string conf;
  if (o.segmentMs > 0) conf += "segment_ms = " + std::to_string(o.segmentMs) + "\n";
  if (mode == "direct-soup") conf += "listener_thread = false\n";
  if (!conf.empty()) {
    writeFile(cellDir + "/roomcast.conf", "[hls]\n" + conf);
    args.insert(args.end(), {"--config", cellDir + "/roomcast.conf"});
  }
  return args;
}

// nginx in front of this cell's roomcastd.
std::unique_ptr<Nginx> startNginx(const Options& o, int n, const std::string& cellDir, const Roomcastd& daemon,
                                  int nginxPort, int edgeLogPort) {
  NginxOptions no;
  no.workerProcesses = o.nginxWorkers;
  no.edgeLogPort = edgeLogPort;
  // Every listener's connection, the upstream ones and the cache files: within our own
  // RLIMIT_NOFILE (nginx inherits it; as root it may raise it further with
  // worker_rlimit_nofile).
  // Never above the hard limit: nginx could not raise it, and would believe it had.
  rlimit hard{};
  getrlimit(RLIMIT_NOFILE, &hard);
  no.rlimitNofile = std::max(o.nofile, 2 * n + 4096);
  if (hard.rlim_max != RLIM_INFINITY) no.rlimitNofile = std::min<long>(no.rlimitNofile, static_cast<long>(hard.rlim_max));
  no.workerConnections = std::max(4096, std::min(2 * n + 1024, no.rlimitNofile - 256));
  no.accessLog = false;
  no.errorLogLevel = "warn";
  g_mkdir_with_parents((cellDir + "/nginx").c_str(), 0755);
  return std::make_unique<Nginx>(cellDir + "/nginx", daemon.hostPort(), nginxPort, no, edgeCpu(o));
}

// On a shared machine: wait (bounded) until other processes leave the CPUs mostly alone.
void waitForQuiet(const Options& o, Cell& cell, Roomcastd& daemon, Child& speaker, const Nginx* nginx) {
  static const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double deadline = monotonicSeconds() + o.waitQuiet;
  double others = 0;
  do {
    const CpuTimes t0 = cpuTimes(-1);
    const double ours0 = processCpuSeconds(daemon.pid()) + processCpuSeconds(speaker.pid()) + selfCpuSeconds() +
                         (nginx ? processCpuSeconds(nginx->pid()) : 0);
    const double m0 = monotonicSeconds();
    sleepFor(2);
    const CpuTimes t1 = cpuTimes(-1);
    const double ours1 = processCpuSeconds(daemon.pid()) + processCpuSeconds(speaker.pid()) + selfCpuSeconds() +
                         (nginx ? processCpuSeconds(nginx->pid()) : 0);
    others = ((t1.busy - t0.busy - (t1.steal - t0.steal)) / hz - (ours1 - ours0)) / (monotonicSeconds() - m0) * 100;
  } while (others > 25 && monotonicSeconds() < deadline);
  cell.othersBefore = others;
  if (others > 25) fprintf(stderr, "fanout: other processes still use %.0f%% of a core; going on\n", others);
}

// Listening sessions (POST /listen, straight to roomcastd, one keep-alive connection).
std::vector<std::string> listenerPaths(const Options& o, Cell& cell, const Roomcastd& daemon, const std::string& room,
                                       const std::string& playlist, int n) {
  std::vector<std::string> paths;
  const double t0 = monotonicSeconds();
  RestClient rest(daemon.url(), 10);
  for (int i = 0; i < n; i++) {
    std::string session;
    if (o.sessions) {
      const auto reply = rest.request("POST", "/api/v1/rooms/" + room + "/listen", "{}");
      session = jsonMember(reply.body, "session");
      if (reply.status != 201 || session.empty()) cell.setupFailures++;
    }
    paths.push_back("/hls/" + room + "/" + playlist + (session.empty() ? "" : "?session=" + session));
  }
  cell.sessionSeconds = monotonicSeconds() - t0;
  return paths;
}

// A running room: a full window of segments.
void waitForFullWindow(const Roomcastd& daemon, const std::string& room, const std::string& playlist) {
  const double deadline = monotonicSeconds() + 30;
  while (monotonicSeconds() < deadline) {
    auto r = httpRequest("GET", daemon.url() + "/hls/" + room + "/" + playlist);
    if (r.status == 200 && std::count(r.body.begin(), r.body.end(), '#') >= 3 + 2 * 6) break;
    sleepFor(0.2);
  }
}

// CPU times of our processes and of the cores, at one edge of the window.
Sample takeSample(const Options& o, Roomcastd& daemon, Child& speaker, const Nginx* nginx) {
  Sample s;
  s.mono = monotonicSeconds();
  s.wall = realtimeSeconds();
  s.roomcastd = processCpuSeconds(daemon.pid());
  s.nginx = 0;
  if (nginx) {
    s.nginx = processCpuSeconds(nginx->pid());
    for (pid_t w : nginx->workers()) s.nginx += std::max(0.0, processCpuSeconds(w));
  }
  s.self = selfCpuSeconds();
  s.speaker = processCpuSeconds(speaker.pid());
  s.server = cpuTimes(o.serverCpu);
  s.generator = cpuTimes(o.generatorCpu);
  s.edge = cpuTimes(edgeCpu(o));
  s.all = cpuTimes(-1);
  return s;
}

// CPU over the window: our processes, each core we pinned, and what the rest of the machine took.
void cellCpu(Cell& cell, const Options& o, const Sample& a, const Sample& b, bool withNginx) {
  const double w = cell.window;
  cell.roomcastdPct = (b.roomcastd - a.roomcastd) / w * 100;
  cell.nginxPct = withNginx ? (b.nginx - a.nginx) / w * 100 : 0;
  cell.generatorPct = (b.self - a.self) / w * 100;
  cell.speakerPct = (b.speaker - a.speaker) / w * 100;
  auto busy = [](const CpuTimes& x, const CpuTimes& y) {
    return y.total > x.total ? (y.busy - x.busy) / (y.total - x.total) * 100 : NAN;
  };
  cell.serverCorePct = busy(a.server, b.server);
  cell.generatorCorePct = busy(a.generator, b.generator);
  if (withNginx && edgeCpu(o) != o.serverCpu) cell.edgeCorePct = busy(a.edge, b.edge);
  {
    static const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
    // Steal belongs to the hypervisor. Interrupt and softirq time (on loopback much of it is
    // our own traffic) is charged by the tick to whichever process it interrupted, so most of it
    // is already in our processes' times: "others" is what is left after them and steal (it
    // was negative when irq was taken off as well).
    const double irq = (b.all.irq - a.all.irq + b.all.softirq - a.all.softirq) / hz;
    const double steal = (b.all.steal - a.all.steal) / hz;
    const double allBusy = (b.all.busy - a.all.busy) / hz;  // CPU seconds, all CPUs
    const double ours = (b.roomcastd - a.roomcastd) + (withNginx ? b.nginx - a.nginx : 0) + (b.self - a.self) +
                        (b.speaker - a.speaker);
    cell.othersPct = std::max(0.0, allBusy - steal - ours) / w * 100;
    cell.irqPct = irq / w * 100;
    cell.stealPct = steal / w * 100;
  }
}

Cell runCell(const Options& o, int n, const std::string& mode, const std::string& dir) {
  Cell cell;
  cell.n = n;
  cell.mode = mode;
  const std::string cellDir = dir + "/" + mode + "-" + std::to_string(n);
  g_mkdir_with_parents(cellDir.c_str(), 0755);
  const bool viaNginx = mode == "nginx";
  const int nginxPort = viaNginx ? roomcast::testing::freeTcpPort() : 0;
  const int edgeLogPort = viaNginx ? roomcast::testing::freeUdpPort() : 0;
  Roomcastd daemon(cellDir + "/data", daemonArgs(o, mode, cellDir, nginxPort, edgeLogPort), o.serverCpu);
  if (!daemon.ready()) {
    cell.ok = false;
    cell.note = "roomcastd did not start";
    return cell;
  }
  std::unique_ptr<Nginx> nginx;
  if (viaNginx) {
    nginx = startNginx(o, n, cellDir, daemon, nginxPort, edgeLogPort);
    if (!nginx->ready()) {
      cell.ok = false;
      cell.note = "nginx did not start: " + nginx->errorLog();
      return cell;
    }
  }
  auto created = httpRequest("POST", daemon.url() + "/api/v1/rooms", R"({"title":"HLS fan-out bench"})");
  const std::string room = jsonMember(created.body, "id"), host = jsonMember(created.body, "host_token");
  const std::string cli = roomcast::testing::buildPath("src/client/roomcast");
  Child speaker({cli, "--server", daemon.url(), "speak", room, "--token", host, "--tone", "440", "--seconds", "3600"},
                o.speakerCpu, cellDir + "/speaker.log");
  if (speaker.waitForLine("speaking", 30) < 0) {
    cell.ok = false;
    cell.note = "the speaker did not connect";
    return cell;
  }
  const std::string playlist = o.rendition == "low" ? "low.m3u8" : "index.m3u8";
  waitForFullWindow(daemon, room, playlist);
  if (o.waitQuiet > 0) waitForQuiet(o, cell, daemon, speaker, nginx.get());
  // roomcastd's CPU with the speaker and no listener (5 s).
  {
    const double c0 = processCpuSeconds(daemon.pid()), t0 = monotonicSeconds();
    sleepFor(5);
    cell.roomcastdIdlePct = (processCpuSeconds(daemon.pid()) - c0) / (monotonicSeconds() - t0) * 100;
  }
  const std::vector<std::string> paths = listenerPaths(o, cell, daemon, room, playlist, n);
  const std::string target = viaNginx ? nginx->url().substr(7) : daemon.hostPort();
  const double ramp = o.ramp >= 0 ? o.ramp : std::max(2.0, n / 500.0);
  fprintf(stderr, "fanout: %s N=%d: ramp %.0f s, settle %.0f s, window %.0f s (roomcastd idle %.1f%% of a core)\n",
          mode.c_str(), n, ramp, o.settle, o.window, cell.roomcastdIdlePct);

  Generator gen(o, target, paths);
  Sample a, b;
  std::map<std::string, double> metricsStart, metricsEnd;
  std::thread metricsThread;
  auto sample = [&](Sample& s) { s = takeSample(o, daemon, speaker, nginx.get()); };
  // /metrics at the window's edges, from a helper thread (the generator's loop never blocks).
  auto metricsAt = [&](std::map<std::string, double>& into) {
    auto r = httpRequest("GET", daemon.url() + "/metrics");
    if (r.status == 200) into = parseMetrics(r.body);
  };
  gen.run(ramp, [&](bool start) {
    if (start) {
      sample(a);
      metricsThread = std::thread([&] { metricsAt(metricsStart); });
    } else {
      sample(b);
    }
  });
  if (metricsThread.joinable()) metricsThread.join();
  // Still connected: the gauges (listener sessions seen in the last 10 s).
  cell.connectedAtEnd = gen.connected();
  metricsAt(metricsEnd);
  auto roomInfo = httpRequest("GET", daemon.url() + "/api/v1/rooms/" + room);
  {
    const auto at = roomInfo.body.find("\"listener_count\":");
    if (at != std::string::npos) cell.listenerCount = std::strtod(roomInfo.body.c_str() + at + 17, nullptr);
  }
  cell.listenersGauge = metricsEnd.count("roomcast_hls_listeners") ? metricsEnd["roomcast_hls_listeners"] : NAN;
  const double w = b.mono - a.mono;
  cell.window = w;
  if (metricsStart.size() && metricsEnd.size()) {
    cell.originPlaylists =
        (metricsEnd["roomcast_hls_playlist_requests_total"] - metricsStart["roomcast_hls_playlist_requests_total"]) / w;
    cell.originSegments =
        (metricsEnd["roomcast_hls_segment_requests_total"] - metricsStart["roomcast_hls_segment_requests_total"]) / w;
  }
  cell.stats = gen.stats();
  cellCpu(cell, o, a, b, nginx != nullptr);
  cell.roomcastdRssKb = processRssKb(daemon.pid());
  cell.roomcastdThreads = processThreads(daemon.pid());
  cell.roomcastdAlive = daemon.child().running() && httpRequest("GET", daemon.url() + "/api/v1/health").status == 200;
  if (nginx) {
    std::istringstream log(nginx->errorLog());
    for (std::string line; std::getline(log, line); cell.nginxErrorLines++)
      if (cell.nginxErrorSample.empty()) cell.nginxErrorSample = line.substr(0, 300);
  }
  // Close the listeners' connections before the servers go.
  return cell;
}

Options parseOptions(int argc, char** argv) {
  Options o;
  int nice = 0;
  parseFlags(argc, argv, "bench-hls-fanout: N HLS listeners against roomcastd alone or behind the nginx edge",
             {{"--sizes", "LIST", "listener counts (default 1000,5000,10000)", [&o](const std::string& v) { o.sizes = intList(v, 1, 1 << 20); }},
              {"--modes", "LIST", "direct, direct-soup, nginx (default direct,nginx)", setList(o.modes)},
              {"--window", "S", "measured window (default 30)", setNumber(o.window, 0, 1e6)},
              {"--ramp", "S", "listeners start over S seconds (default N / 500, at least 2)", setNumber(o.ramp, 0, 1e6)},
              {"--settle", "S", "after the ramp, before the window (default 5)", setNumber(o.settle, 0, 1e6)},
              {"--period", "S", "playlist refresh (default 1)", setNumber(o.period, 1e-3, 1e6)},
              {"--jitter", "F", "+- fraction of the period, uniform (default 0.1)", setNumber(o.jitter, 0, 1)},
              {"--timeout", "S", "per request and connect (default 5)", setNumber(o.timeout, 1e-3, 1e6)},
              {"--rendition", "main|low", "the playlist listeners fetch (default main)", setText(o.rendition)},
              {"--no-sessions", "", "no listener sessions (no counting)", setSwitch(o.sessions, false)},
              {"--segment-ms", "MS", "roomcastd's [hls] segment_ms (default: its own)", setInt(o.segmentMs, 0, 1 << 20)},
              {"--server-cpu", "C", "roomcastd's core (default 0)", setInt(o.serverCpu, -1, 4096)},
              {"--generator-cpu", "C", "this program's core (default 1)", setInt(o.generatorCpu, -1, 4096)},
              {"--speaker-cpu", "C", "the speaker's core (default 1)", setInt(o.speakerCpu, -1, 4096)},
              {"--edge-cpu", "C", "nginx's core (default: the server's)", setInt(o.edgeCpu, -1, 4096)},
              {"--nginx-workers", "N", "nginx worker processes, 0 = auto (default 1)", setInt(o.nginxWorkers, 0, 4096)},
              {"--wait-quiet", "S", "wait for other processes to calm down before each cell (default 0)", setNumber(o.waitQuiet, 0, 1e6)},
              {"--nice", "N", "nice value of this program and its children (default 0)", setInt(nice, -20, 19)},
              {"--quick", "", "200 listeners, a 10 s window, 2 s settle", [&o](const std::string&) {
                 o.sizes = {200};
                 o.window = 10;
                 o.settle = 2;
               }},
              {"--json", "FILE", "results (default bench-hls-fanout.json)", setText(o.json)},
              {"--keep", "", "keep the temporary folder", setSwitch(o.keep)}});
  setNice(nice);
  return o;
}

void printSummary(const Options& o, const std::vector<Cell>& cells) {
  printf("hls-fanout: N listeners, open loop (playlist every %.1f s +-%.0f%%, each new segment once), rendition %s\n",
         o.period, o.jitter * 100, o.rendition.c_str());
  printf("roomcast 0.1.0, nginx %s (worker_processes %s), %s, nice %d\n", nginxVersion().c_str(),
         o.nginxWorkers > 0 ? std::to_string(o.nginxWorkers).c_str() : "auto", machineSummary().c_str(), niceValue());
  printf("roomcastd on CPU %d, nginx on CPU %d, generator on CPU %d, speaker on CPU %d; window %.0f s after the ramp; request timeout %.0f s;"
         " %s\n\n",
         o.serverCpu, edgeCpu(o), o.generatorCpu, o.speakerCpu, o.window, o.timeout,
         o.sessions ? "playlist URLs carry ?session=" : "no sessions");
  printf("%6s %-7s %8s %8s %8s %8s %7s %12s %12s %9s %9s %9s %9s %7s\n", "N", "mode", "pl p50", "pl p99", "seg p50",
         "seg p99", "errors", "pl req/s", "seg req/s", "rc CPU", "nginx", "gen CPU", "gen lag99", "others");
  printf("%6s %-7s %8s %8s %8s %8s %7s %12s %12s %9s %9s %9s %9s %7s\n", "", "", "ms", "ms", "ms", "ms", "",
         "got/plan", "got/plan", "% core", "% core", "% core", "ms", "% core");
  for (const auto& c : cells) {
    if (!c.ok) {
      printf("%6d %-7s  failed: %s\n", c.n, c.mode.c_str(), c.note.c_str());
      continue;
    }
    const auto& s = c.stats;
    const long errors = s.non2xx + s.timeouts + s.connFailures;
    char pl[32], seg[32];
    snprintf(pl, sizeof pl, "%.0f/%.0f", s.playlistsSent / c.window, s.playlistsScheduled / c.window);
    snprintf(seg, sizeof seg, "%.0f/%.0f", s.segmentsSent / c.window, c.n / 0.981);
    printf("%6d %-7s %8.2f %8.2f %8.2f %8.2f %7ld %12s %12s %9.1f %9s %9.1f %9.2f %7.1f\n", c.n, c.mode.c_str(),
           pctOf(s.ttfbPlaylist, 0.5), pctOf(s.ttfbPlaylist, 0.99), pctOf(s.ttfbSegment, 0.5),
           pctOf(s.ttfbSegment, 0.99), errors, pl, seg, c.roomcastdPct,
           c.mode == "nginx" ? (std::to_string(static_cast<int>(std::lround(c.nginxPct)))).c_str() : "-",
           c.generatorPct, pctOf(s.timerLag, 0.99), c.othersPct);
  }
  printf("\npl/seg p50/p99: time to first byte of playlist / segment responses (kernel receive timestamp).\n"
         "errors: non-2xx + timeouts + connection failures of requests sent in the window. pl req/s got/plan:\n"
         "playlist requests sent / refreshes scheduled; seg req/s: segments fetched / N per segment duration (0.981 s).\n"
         "rc CPU, nginx: roomcastd's / nginx's (master + workers) CPU in the window; gen CPU: this generator;\n"
         "gen lag99: p99 of how late an idle listener's refresh timer fired; others: CPU time of all CPUs not charged\n"
         "to our processes or stolen (other processes, and interrupts that ran while none of ours did).\n\n");
}

void printDetails(const Options& o, const std::vector<Cell>& cells) {
  printf("Details per cell:\n");
  for (const auto& c : cells) {
    if (!c.ok) continue;
    const auto& s = c.stats;
    std::string statuses;
    for (auto [k, v] : s.statuses) statuses += " " + std::to_string(k) + ":" + std::to_string(v);
    printf("  %s N=%d: connected at end %d, listener_count %.0f (gauge %.0f); roomcastd idle %.1f%%, in window %.1f%%"
           " (core %d busy %.0f%%), %ld MB RSS, %d threads%s\n",
           c.mode.c_str(), c.n, c.connectedAtEnd, c.listenerCount, c.listenersGauge, c.roomcastdIdlePct, c.roomcastdPct,
           o.serverCpu, c.serverCorePct, c.roomcastdRssKb / 1024, c.roomcastdThreads,
           c.roomcastdAlive ? "" : ", NOT answering /api/v1/health after the window");
    printf("    origin saw %.0f playlist + %.0f segment req/s; statuses%s; timeouts %ld, connection failures %ld, "
           "segment 404 %ld, fell behind %ld, server closes %ld\n",
           c.originPlaylists, c.originSegments, statuses.c_str(), s.timeouts, s.connFailures, s.segment404,
           s.fellBehind, s.serverCloses);
    printf("    TTFB as our loop saw it: playlist p99 %.2f ms, segment p99 %.2f ms; segment to last byte p99 %.2f ms, "
           "max %.1f ms; playlist max %.1f ms\n",
           pctOf(s.ttfbLoopPlaylist, 0.99), pctOf(s.ttfbLoopSegment, 0.99), pctOf(s.totalSegment, 0.99),
           pctOf(s.totalSegment, 1), pctOf(s.ttfbPlaylist, 1));
    printf("    refreshes deferred (connection busy) %ld, superseded %ld; generator timer lag p50 %.2f / max %.1f ms; "
           "generator core %d busy %.0f%%; speaker %.1f%%; irq+softirq %.1f%%, steal %.1f%% (all CPUs)\n",
           s.deferred, s.skipped, pctOf(s.timerLag, 0.5), pctOf(s.timerLag, 1), o.generatorCpu, c.generatorCorePct,
           c.speakerPct, c.irqPct, c.stealPct);
    if (std::isfinite(c.edgeCorePct)) printf("    nginx's core %d busy %.0f%%\n", edgeCpu(o), c.edgeCorePct);
    if (std::isfinite(c.othersBefore)) printf("    other processes just before the cell: %.0f%% of a core\n", c.othersBefore);
    printf("    all phases: %ld connects (p50 %.2f ms, p99 %.1f ms, max %.0f ms, %ld over 1 s), %ld errors (%ld timeouts,"
           " %ld connection failures, %ld non-2xx); sessions: %.1f s to create, %d failed\n",
           s.connects, pctOf(s.connectMs, 0.5), pctOf(s.connectMs, 0.99), pctOf(s.connectMs, 1), s.slowConnects,
           s.allErrors, s.allTimeouts, s.allConnFailures, s.allNon2xx, c.sessionSeconds, c.setupFailures);
    printf("    TTFB over 250 ms: %ld playlists, %ld segments; newest listed segment ended p50 %.0f / p99 %.0f / max %.0f ms"
           " before its playlist arrived\n",
           s.slowPlaylists, s.slowSegments, pctOf(s.playlistAge, 0.5), pctOf(s.playlistAge, 0.99), pctOf(s.playlistAge, 1));
    if (c.mode == "nginx") {
      for (const auto* which : {&s.cachePlaylist, &s.cacheSegment}) {
        std::string line;
        for (const auto& [status, v] : *which) {
          char buf[160];
          snprintf(buf, sizeof buf, " %s %zu (p50 %.2f, p99 %.1f, max %.0f ms)", status.c_str(), v.size(), pctOf(v, 0.5),
                   pctOf(v, 0.99), pctOf(v, 1));
          line += buf;
        }
        printf("    X-Cache-Status, %s:%s\n", which == &s.cachePlaylist ? "playlists" : "segments", line.c_str());
      }
      printf("    nginx error.log (warn and above): %d lines%s%s\n", c.nginxErrorLines,
             c.nginxErrorSample.empty() ? "" : "; first: ", c.nginxErrorSample.c_str());
    }
  }
}

void printGoals(const std::vector<Cell>& cells) {
  printf("\nGoals:\n");
  for (const auto& c : cells) {
    if (!c.ok) continue;
    const long errors = c.stats.non2xx + c.stats.timeouts + c.stats.connFailures;
    const double p99 = std::max(pctOf(c.stats.ttfbPlaylist, 0.99), pctOf(c.stats.ttfbSegment, 0.99));
    if (c.mode == "nginx" && c.n >= 10000)
      printf("  nginx, %d listeners: p99 %.1f ms (<= 50), %ld errors (0): %s\n", c.n, p99, errors,
             p99 <= 50 && errors == 0 ? "met" : "NOT met");
    if (c.mode == "direct" && c.n >= 2000)
      printf("  roomcastd alone, %d listeners (goal: >= 2000 served): p99 %.1f ms, %ld errors, roomcastd %.0f%% of a core\n",
             c.n, p99, errors, c.roomcastdPct);
  }

}

// One cell of the JSON: time to first byte, requests and errors, then CPU, caches and counts.
void writeCellTimesJson(FILE* f, const Cell& c) {
  const auto& s = c.stats;
  std::string statuses;
  for (auto [k, v] : s.statuses) statuses += (statuses.empty() ? "\"" : ",\"") + std::to_string(k) + "\":" + std::to_string(v);
  fprintf(f, "{\"n\":%d,\"mode\":%s,\"ok\":%s,\"note\":%s,\"window_s\":%s,", c.n,
          jsonString(c.mode).c_str(), c.ok ? "true" : "false", jsonString(c.note).c_str(), jsonNumber(c.window).c_str());
  fprintf(f, "\"ttfb_ms\":{\"playlist_p50\":%s,\"playlist_p99\":%s,\"playlist_max\":%s,\"segment_p50\":%s,"
             "\"segment_p99\":%s,\"segment_max\":%s,\"loop_playlist_p99\":%s,\"loop_segment_p99\":%s,"
             "\"segment_total_p99\":%s},",
          jsonNumber(pctOf(s.ttfbPlaylist, 0.5)).c_str(), jsonNumber(pctOf(s.ttfbPlaylist, 0.99)).c_str(),
          jsonNumber(pctOf(s.ttfbPlaylist, 1)).c_str(), jsonNumber(pctOf(s.ttfbSegment, 0.5)).c_str(),
          jsonNumber(pctOf(s.ttfbSegment, 0.99)).c_str(), jsonNumber(pctOf(s.ttfbSegment, 1)).c_str(),
          jsonNumber(pctOf(s.ttfbLoopPlaylist, 0.99)).c_str(), jsonNumber(pctOf(s.ttfbLoopSegment, 0.99)).c_str(),
          jsonNumber(pctOf(s.totalSegment, 0.99)).c_str());
  fprintf(f, "\"requests\":{\"playlists_sent\":%ld,\"playlists_scheduled\":%ld,\"segments_sent\":%ld,"
             "\"playlists_ok\":%ld,\"segments_ok\":%ld,\"deferred\":%ld,\"superseded\":%ld,\"statuses\":{%s}},",
          s.playlistsSent, s.playlistsScheduled, s.segmentsSent, s.playlistsOk, s.segmentsOk, s.deferred, s.skipped,
          statuses.c_str());
  fprintf(f, "\"errors\":{\"non2xx\":%ld,\"segment_404\":%ld,\"timeouts\":%ld,\"connection_failures\":%ld,"
             "\"fell_behind\":%ld,\"server_closes\":%ld,\"all_phases\":%ld},",
          s.non2xx, s.segment404, s.timeouts, s.connFailures, s.fellBehind, s.serverCloses, s.allErrors);
}

void writeCellJson(FILE* f, const Cell& c) {
  writeCellTimesJson(f, c);
  const auto& s = c.stats;
  fprintf(f, "\"cpu_pct\":{\"roomcastd\":%s,\"roomcastd_idle\":%s,\"nginx\":%s,\"generator\":%s,\"speaker\":%s,"
             "\"server_core\":%s,\"edge_core\":%s,\"generator_core\":%s,\"others\":%s,\"others_before\":%s,\"irq_softirq\":%s,\"steal\":%s},",
          jsonNumber(c.roomcastdPct).c_str(), jsonNumber(c.roomcastdIdlePct).c_str(), jsonNumber(c.nginxPct).c_str(),
          jsonNumber(c.generatorPct).c_str(), jsonNumber(c.speakerPct).c_str(), jsonNumber(c.serverCorePct).c_str(),
          jsonNumber(c.edgeCorePct).c_str(), jsonNumber(c.generatorCorePct).c_str(), jsonNumber(c.othersPct).c_str(), jsonNumber(c.othersBefore).c_str(),
          jsonNumber(c.irqPct).c_str(),
          jsonNumber(c.stealPct).c_str());
  fprintf(f, "\"ttfb_over_250ms\":{\"playlists\":%ld,\"segments\":%ld},\"x_cache_status\":{", s.slowPlaylists,
          s.slowSegments);
  bool firstKind = true;
  for (const auto* which : {&s.cachePlaylist, &s.cacheSegment}) {
    fprintf(f, "%s\"%s\":{", firstKind ? "" : ",", which == &s.cachePlaylist ? "playlist" : "segment");
    firstKind = false;
    bool first = true;
    for (const auto& [status, v] : *which) {
      fprintf(f, "%s%s:{\"n\":%zu,\"p50_ms\":%s,\"p99_ms\":%s,\"max_ms\":%s}", first ? "" : ",",
              jsonString(status).c_str(), v.size(), jsonNumber(pctOf(v, 0.5)).c_str(),
              jsonNumber(pctOf(v, 0.99)).c_str(), jsonNumber(pctOf(v, 1)).c_str());
      first = false;
    }
    fprintf(f, "}");
  }
  fprintf(f, "},");
  fprintf(f, "\"playlist_age_ms\":{\"p50\":%s,\"p99\":%s,\"max\":%s},", jsonNumber(pctOf(s.playlistAge, 0.5)).c_str(),
          jsonNumber(pctOf(s.playlistAge, 0.99)).c_str(), jsonNumber(pctOf(s.playlistAge, 1)).c_str());
  fprintf(f, "\"generator_timer_lag_ms\":{\"p50\":%s,\"p99\":%s,\"max\":%s},",
          jsonNumber(pctOf(s.timerLag, 0.5)).c_str(), jsonNumber(pctOf(s.timerLag, 0.99)).c_str(),
          jsonNumber(pctOf(s.timerLag, 1)).c_str());
  fprintf(f, "\"connects\":{\"n\":%ld,\"p50_ms\":%s,\"p99_ms\":%s,\"max_ms\":%s,\"over_1s\":%ld},", s.connects,
          jsonNumber(pctOf(s.connectMs, 0.5)).c_str(), jsonNumber(pctOf(s.connectMs, 0.99)).c_str(),
          jsonNumber(pctOf(s.connectMs, 1)).c_str(), s.slowConnects);
  fprintf(f, "\"origin_req_per_s\":{\"playlists\":%s,\"segments\":%s},\"listener_count\":%s,\"listeners_gauge\":%s,"
             "\"connected_at_end\":%d,\"roomcastd_rss_kb\":%ld,\"roomcastd_threads\":%d,\"roomcastd_alive\":%s,"
             "\"nginx_error_lines\":%d,\"nginx_error_first\":%s,\"session_setup_s\":%s,\"session_failures\":%d}",
          jsonNumber(c.originPlaylists).c_str(), jsonNumber(c.originSegments).c_str(),
          jsonNumber(c.listenerCount).c_str(), jsonNumber(c.listenersGauge).c_str(), c.connectedAtEnd,
          c.roomcastdRssKb, c.roomcastdThreads, c.roomcastdAlive ? "true" : "false", c.nginxErrorLines,
          jsonString(c.nginxErrorSample).c_str(), jsonNumber(c.sessionSeconds).c_str(), c.setupFailures);
}

void writeJson(const Options& o, const std::vector<Cell>& cells) {
  if (FILE* f = fopen(o.json.c_str(), "w")) {
    fprintf(f, "{\"benchmark\":\"hls-fanout\",\"machine\":%s,\"nginx\":%s,\"nginx_workers\":%d,\"nice\":%d,"
            "\"rlimit_nofile\":%d,", jsonString(machineSummary()).c_str(), jsonString(nginxVersion()).c_str(),
            o.nginxWorkers, niceValue(), o.nofile);
    fprintf(f, "\"period_s\":%g,\"jitter\":%g,\"window_s\":%g,\"settle_s\":%g,\"timeout_s\":%g,\"segment_ms\":%d,\"rendition\":%s,"
               "\"sessions\":%s,\"server_cpu\":%d,\"edge_cpu\":%d,\"generator_cpu\":%d,\"speaker_cpu\":%d,\"cells\":[",
            o.period, o.jitter, o.window, o.settle, o.timeout, o.segmentMs, jsonString(o.rendition).c_str(), o.sessions ? "true" : "false",
            o.serverCpu, edgeCpu(o), o.generatorCpu, o.speakerCpu);
    for (size_t i = 0; i < cells.size(); i++) {
      if (i) fputc(',', f);
      writeCellJson(f, cells[i]);
    }
    fprintf(f, "]}\n");
    fclose(f);
    fprintf(stderr, "fanout: JSON in %s\n", o.json.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parseOptions(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  int maxN = 0;
  for (int n : o.sizes) maxN = std::max(maxN, n);
  const int nofile = static_cast<int>(raiseFileLimit(std::max(65536, 4 * maxN + 4096)));  // inherited by roomcastd and nginx
  o.nofile = nofile;
  if (nofile < maxN + 512) {
    fprintf(stderr, "fanout: RLIMIT_NOFILE is %d, too low for %d listeners\n", nofile, maxN);
    return 1;
  }
  if (!pinToCpu(o.generatorCpu)) fprintf(stderr, "fanout: cannot pin to CPU %d\n", o.generatorCpu);
  const std::string dir = roomcast::testing::makeTempDir("roomcast-hls-fanout");
  fprintf(stderr, "fanout: work dir %s, RLIMIT_NOFILE %d\n", dir.c_str(), nofile);

  std::vector<Cell> cells;
  for (int n : o.sizes)
    for (const auto& mode : o.modes) {
      cells.push_back(runCell(o, n, mode, dir));
      const Cell& c = cells.back();
      fprintf(stderr, "fanout: %s N=%d done: %s p99 playlist %.1f ms, segment %.1f ms, errors %ld, roomcastd %.0f%%%s\n",
              mode.c_str(), n, c.ok ? "" : c.note.c_str(), pctOf(c.stats.ttfbPlaylist, 0.99),
              pctOf(c.stats.ttfbSegment, 0.99),
              c.stats.non2xx + c.stats.timeouts + c.stats.connFailures, c.roomcastdPct,
              c.roomcastdAlive ? "" : " (roomcastd DEAD or unresponsive)");
      sleepFor(2);  // let the sockets of the last cell go
    }

  printSummary(o, cells);
  printDetails(o, cells);
  printGoals(cells);
  writeJson(o, cells);
  if (!o.keep) {
    std::string cmd = "rm -rf '" + dir + "'";
    (void)!system(cmd.c_str());
  }
  return 0;
}
