// bench-ws-scale: roomcastd's WebSocket tier with N listeners in one room. Per size a fresh
// roomcastd (pinned to --server-cpu) and N WebSocket clients driven by one epoll thread of
// this program (pinned to --generator-cpu; a minimal RFC 6455 client written here), in
// phases: idle, connect, drain, steady (chat broadcasts and reactions, a measured window),
// teardown. What each phase measures is "What it measures" in this benchmark's newest
// bench/results/ file; options: --help and bench/README.md (ws-scale).

#include <glib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "children.h"
#include "loopback_client.h"
#include "rest_client.h"

namespace {

using namespace roomcast::bench;

// ---- Small helpers

int64_t clockNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}
int64_t monoNs() { return clockNs(CLOCK_MONOTONIC); }
int64_t realNs() { return clockNs(CLOCK_REALTIME); }

std::string trim(std::string s) { return g_strstrip(s.data()); }

// /proc/<pid>/schedstat of one thread: seconds on the CPU and seconds runnable but waiting for it.
struct SchedStat {
  double run = 0, wait = 0;
};
SchedStat schedStat(const std::string& path) {
  SchedStat st;
  std::ifstream f(path);
  unsigned long long run = 0, wait = 0;
  if (f >> run >> wait) {
    st.run = run / 1e9;
    st.wait = wait / 1e9;
  }
  return st;
}
// The daemon's main thread (the GLib main loop that serves every socket) and this thread.
SchedStat serverMainThread(pid_t pid) { return schedStat("/proc/" + std::to_string(pid) + "/schedstat"); }
SchedStat generatorThread() { return schedStat("/proc/thread-self/schedstat"); }

// TcpExt counters of this network namespace (/proc/net/netstat), e.g. ListenOverflows.
std::map<std::string, long long> tcpExt() {
  std::map<std::string, long long> out;
  std::ifstream f("/proc/net/netstat");
  std::string names, values;
  while (std::getline(f, names) && std::getline(f, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    std::string name, value;
    n >> name;
    v >> value;
    while (n >> name && v >> value) out[name] = std::atoll(value.c_str());
  }
  return out;
}

struct Percentiles {
  size_t n = 0;
  double p50 = NAN, p90 = NAN, p99 = NAN, max = NAN, min = NAN, mean = NAN;
};
Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  p.p50 = nearestRankPercentile(v, 0.50);
  p.p90 = nearestRankPercentile(v, 0.90);
  p.p99 = nearestRankPercentile(v, 0.99);
  p.min = *std::min_element(v.begin(), v.end());
  p.max = *std::max_element(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  p.mean = sum / static_cast<double>(v.size());
  return p;
}

std::string jnum(double v, int decimals = 3) {
  if (!std::isfinite(v)) return "null";
  return strf("%.*f", decimals, v);
}

// ---- Options

struct Options {
  std::string roomcastd;
  std::vector<int> sizes{1000, 5000, 10000};
  double seconds = 30;           // measured steady window
  double warmup = 5;             // steady load before the window
  double idleSeconds = 5;        // idle daemon (room, no clients) CPU window
  double reactPercent = 1.0;     // share of clients that react once a second
  int chatSenders = 4;           // chat senders take turns (chat limit: burst 5, then 1 per 2 s)
  int concurrency = 8;           // connections in flight (connect .. welcome); roomcastd listens with a backlog of 10
  int sourceAddresses = 4;       // 127.0.0.2 .. 127.0.0.(1+K)
  int serverCpu = 0;
  int generatorCpu = 1;
  double connectTimeout = 1800;  // s, for the whole connect phase
  double drainTimeout = 1800;    // s, participant-joined backlog
  double quiet = 3;              // s without any message ends the drain early
  double grace = 5;              // s after the window for late broadcasts
  std::string teardown = "delete";  // delete | close
  std::string json = "bench-ws-scale.json";
  bool keepWorkdir = false;
};

Options parseOptions(int argc, char** argv) {
  Options o;
  parseFlags(argc, argv,
             "bench-ws-scale: N WebSocket listeners in one roomcastd room: connect time, RSS, CPU,\n"
             "chat broadcast delivery delay, messages per client per second.",
             {{"--roomcastd", "PATH", "the daemon (required)", setText(o.roomcastd)},
              {"--sizes", "LIST", "client counts (default 1000,5000,10000)", [&o](const std::string& v) { o.sizes = intList(v, 2, 1 << 20); }},
              {"--seconds", "S", "steady window (default 30; one broadcast per second)", setNumber(o.seconds, 1, 1e6)},
              {"--warmup", "S", "steady load before the window (default 5)", setNumber(o.warmup, 0, 1e6)},
              {"--idle-seconds", "S", "idle daemon CPU window (default 5)", setNumber(o.idleSeconds, 0, 1e6)},
              {"--react-percent", "P", "% of clients that react once a second (default 1)", setNumber(o.reactPercent, 0, 100)},
              {"--chat-senders", "K", "chat senders taking turns (default 4)", setInt(o.chatSenders, 1, 1 << 20)},
              {"--concurrency", "C", "connections in flight (default 8; roomcastd's listen backlog is 10)",
               setInt(o.concurrency, 1, 1 << 20)},
              {"--source-addresses", "K", "client source addresses 127.0.0.2.. (default 4)", setInt(o.sourceAddresses, 1, 250)},
              {"--server-cpu", "C", "pinning of roomcastd (default 0; -1: none)", setInt(o.serverCpu, -1, 4096)},
              {"--generator-cpu", "C", "pinning of this program (default 1; -1: none)", setInt(o.generatorCpu, -1, 4096)},
              {"--connect-timeout", "S", "the whole connect phase (default 1800)", setNumber(o.connectTimeout, 0, 1e6)},
              {"--drain-timeout", "S", "the participant-joined backlog (default 1800)", setNumber(o.drainTimeout, 0, 1e6)},
              {"--grace", "S", "wait for late broadcasts after the window (default 5)", setNumber(o.grace, 0, 1e6)},
              {"--teardown", "delete|close", "end by DELETE of the room (default) or by every client closing",
               [&o](const std::string& v) {
                 require(v == "delete" || v == "close", "delete or close");
                 o.teardown = v;
               }},
              {"--json", "FILE", "results (default bench-ws-scale.json)", setText(o.json)},
              {"--keep-workdir", "", "keep the daemon's data dir and log", setSwitch(o.keepWorkdir)}});
  if (o.roomcastd.empty()) die("--roomcastd PATH is required");
  return o;
}

// roomcastd's log lines with WARNING, CRITICAL or ERROR: how many, and the first few.
void scanDaemonLog(const std::string& log, size_t* warnings, std::vector<std::string>* notable) {
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("WARNING") == std::string::npos && line.find("CRITICAL") == std::string::npos &&
        line.find("ERROR") == std::string::npos)
      continue;
    ++*warnings;
    if (notable->size() < 8) notable->push_back(line.substr(0, 300));
  }
}

// ---- WebSocket clients

enum class ConnState : uint8_t { Idle, Connecting, Upgrading, Hello, Joined, Closed };

struct Conn {
  int fd = -1;
  ConnState state = ConnState::Idle;
  bool failed = false;         // never got to welcome
  bool closeReceived = false;  // the server sent a close frame
  bool closeSent = false;
  uint16_t closeCode = 0;
  int fragOpcode = 0;
  std::string in;    // unparsed bytes
  std::string out;   // unsent bytes
  std::string frag;  // a fragmented message so far
  std::string key;   // Sec-WebSocket-Key
  int64_t startNs = 0, connectedNs = 0, upgradedNs = 0, welcomeNs = 0, closedNs = 0;
  uint32_t joinedEvents = 0;
  uint32_t errors = 0;
  uint16_t retransAtConnect = 0;  // TCP_INFO tcpi_total_retrans when the TCP connect completed (SYNs)
  uint16_t retransAtWelcome = 0;  // ... and at the welcome
  uint32_t pings = 0;
  // steady window counters (by read time)
  uint32_t winMessages = 0, winChat = 0, winReactions = 0, winOther = 0;
  uint64_t reactionSum = 0;    // sum of all "reactions" counts received since the load began
};

struct Broadcast {
  int64_t sentRealNs = 0;
  int64_t serverSentAtMs = 0;  // sent_at_ms as first seen
  bool measured = false;
  std::vector<int32_t> appUs;     // per client, -1 = not received
  std::vector<int32_t> kernelUs;  // per client, -1 = not received / no timestamp
  uint32_t received = 0;
};

struct SizeResult;

class Generator {
 public:
  Generator(const Options& opt, int n, int port, std::string roomId, std::vector<std::string> tokens)
      : opt_(opt), n_(n), port_(port), roomId_(std::move(roomId)), tokens_(std::move(tokens)), conns_(n) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) die("epoll_create1");
    readBuf_.resize(256 * 1024);
    rng_ = static_cast<uint64_t>(realNs()) | 1;
  }
  ~Generator() {
    for (auto& c : conns_)
      if (c.fd >= 0) close(c.fd);
    close(ep_);
  }

  // ---- phases

  // Connects everyone; returns when all have a welcome or failed, or at the timeout.
  void connectAll() {
    connectStartNs_ = monoNs();
    launching_ = true;
    const int64_t deadline = connectStartNs_ + static_cast<int64_t>(opt_.connectTimeout * 1e9);
    run([&] { return joined_ + failedConnects_ >= n_; }, deadline);
    launching_ = false;
    connectEndNs_ = lastWelcomeNs_ ? lastWelcomeNs_ : monoNs();
    connectTimedOut_ = joined_ + failedConnects_ < n_;
    // Whatever is still on its way counts as failed.
    for (auto& c : conns_) {
      if (c.state != ConnState::Joined && c.state != ConnState::Closed && !c.failed) {
        c.failed = true;
        failedConnects_++;
        failReasons_["timed out before welcome"]++;
      }
    }
  }

  // participant-joined backlog: until every announcement arrived, or quiet for --quiet s.
  void drain() {
    const int64_t t0 = monoNs();
    expectedJoinedEvents_ = 0;  // listeners are not announced (docs/protocol.md)
    const int64_t deadline = t0 + static_cast<int64_t>(opt_.drainTimeout * 1e9);
    run([&] {
      if (joinedEventsTotal_ >= expectedJoinedEvents_) return true;
      return (monoNs() - lastMessageNs_) / 1e9 >= opt_.quiet;
    }, deadline);
    drainEndNs_ = monoNs();
    drainedAll_ = joinedEventsTotal_ >= expectedJoinedEvents_;
    // Only the time up to the last message counts when it ended by being quiet.
    drainSeconds_ = ((drainedAll_ ? drainEndNs_ : lastMessageNs_) - t0) / 1e9;
  }

  // Just runs the loop (answers pings, reads whatever comes).
  void idle(double seconds) {
    const int64_t deadline = monoNs() + static_cast<int64_t>(seconds * 1e9);
    run([] { return false; }, deadline);
  }

  // One broadcast per second and the reactions; measured window after the warm-up.
  // `onWindow(true/false)` is called at the window's start and end (for the CPU samples).
  void steady(const std::function<void(bool)>& onWindow, const std::function<void()>& everySecond) {
    // Chat senders spread over the room; reactors likewise (not the senders).
    for (int k = 0; k < opt_.chatSenders; k++) senders_.push_back(static_cast<int>((static_cast<int64_t>(k) * n_) / opt_.chatSenders));
    int reactors = static_cast<int>(std::lround(n_ * opt_.reactPercent / 100.0));
    reactors = std::clamp(reactors, 0, n_);
    for (int k = 0; k < reactors; k++) {
      int idx = static_cast<int>((static_cast<int64_t>(k) * n_) / std::max(reactors, 1) + n_ / std::max(2 * reactors, 1)) % n_;
      reactors_.push_back(idx);
    }
    const int64_t t0 = monoNs();
    windowStartNs_ = t0 + static_cast<int64_t>(opt_.warmup * 1e9);
    windowEndNs_ = windowStartNs_ + static_cast<int64_t>(opt_.seconds * 1e9);
    nextChatNs_ = t0;
    nextReactNs_ = t0 + (reactors_.empty() ? 0 : 1000000000LL / (2 * static_cast<int64_t>(reactors_.size())));
    reactIntervalNs_ = reactors_.empty() ? 0 : 1000000000LL / static_cast<int64_t>(reactors_.size());
    nextSecondNs_ = t0 + 1000000000LL;
    onWindow_ = onWindow;
    everySecond_ = everySecond;
    loadRunning_ = true;
    run([&] { return monoNs() >= windowEndNs_; }, windowEndNs_ + 1000000000LL);
    loadRunning_ = false;
    if (inWindow_) {
      inWindow_ = false;
      onWindow_(false);
    }
    // Late broadcasts: until every measured one reached every connected client, or the grace.
    const int64_t graceEnd = monoNs() + static_cast<int64_t>(opt_.grace * 1e9);
    run([&] {
      for (const auto& b : broadcasts_)
        if (b.measured && b.received < static_cast<uint32_t>(openJoined())) return false;
      return true;
    }, graceEnd);
    // The reactions sent last are flushed 200 ms after the first of their window; a lagging
    // server takes longer: wait (up to the grace) until every client has all of them counted.
    const int64_t reactEnd = monoNs() + static_cast<int64_t>(opt_.grace * 1e9);
    idle(0.3);
    run([&] {
      for (const auto& c : conns_)
        if (c.state == ConnState::Joined && c.reactionSum < reactionsSent_) return false;
      return true;
    }, reactEnd);
  }

  // DELETE the room (the server closes every socket) or every client closes: until all closed.
  double teardown(const std::string& hostToken, double timeout, std::string* httpResult) {
    tearingDown_ = true;
    const int64_t t0 = monoNs();
    std::thread deleter;
    if (opt_.teardown == "delete") {
      deleter = std::thread([this, hostToken, httpResult] {
        RestClient http("http://127.0.0.1:" + std::to_string(port_), 60);  // a DELETE waits for the room's outputs
        auto r = http.request("DELETE", "/api/v1/rooms/" + roomId_, "", hostToken);
        *httpResult = strf("HTTP %d %s", r.status, r.body.substr(0, 200).c_str());
      });
    } else {
      for (size_t i = 0; i < conns_.size(); i++)
        if (conns_[i].state == ConnState::Joined) sendClose(i, 1000);
    }
    run([&] { return openCount() == 0; }, t0 + static_cast<int64_t>(timeout * 1e9));
    const double seconds = (monoNs() - t0) / 1e9;
    if (deleter.joinable()) deleter.join();
    stillOpenAfterTeardown_ = openCount();
    return seconds;
  }

  // ---- results (public for the report)
  const Options& opt_;
  int n_;
  int port_;
  std::string roomId_;
  std::vector<std::string> tokens_;
  std::vector<Conn> conns_;
  std::vector<Broadcast> broadcasts_;
  std::vector<int> senders_, reactors_;
  std::map<std::string, uint64_t> failReasons_;
  std::map<std::string, uint64_t> otherTypes_;      // message types besides the expected ones
  std::map<std::string, uint64_t> errorSamples_;    // error messages received (text -> count)
  std::map<std::string, uint64_t> closeReasons_;    // unexpected closes
  int joined_ = 0, failedConnects_ = 0;
  int inFlight_ = 0;
  bool connectTimedOut_ = false;
  int64_t connectStartNs_ = 0, connectEndNs_ = 0, lastWelcomeNs_ = 0;
  uint64_t joinedEventsTotal_ = 0, expectedJoinedEvents_ = 0;
  uint64_t bytesReceived_ = 0;
  bool drainedAll_ = false;
  double drainSeconds_ = 0;
  int64_t drainEndNs_ = 0;
  int64_t windowStartNs_ = 0, windowEndNs_ = 0;
  uint64_t reactionsSent_ = 0, chatsSent_ = 0;
  uint64_t unexpectedCloses_ = 0;
  uint64_t protocolErrors_ = 0;  // frames we could not make sense of
  int stillOpenAfterTeardown_ = 0;
  uint64_t kernelStampMissing_ = 0;
  int64_t maxOutBacklog_ = 0;  // largest unsent buffer on any client

  int openJoined() const {
    int k = 0;
    for (const auto& c : conns_) k += c.state == ConnState::Joined;
    return k;
  }
  int openCount() const {
    int k = 0;
    for (const auto& c : conns_) k += c.fd >= 0;
    return k;
  }

 private:
  uint64_t nextRandom() {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return rng_;
  }

  // The event loop: until done() or the deadline (monotonic ns).
  void run(const std::function<bool()>& done, int64_t deadline) {
    epoll_event events[512];
    for (;;) {
      if (launching_) launch();
      timers();
      if (done()) return;
      int64_t now = monoNs();
      if (now >= deadline) return;
      int64_t wakeAt = deadline;
      if (loadRunning_) {
        wakeAt = std::min({wakeAt, nextChatNs_, nextSecondNs_, windowStartNs_ > now ? windowStartNs_ : wakeAt,
                           windowEndNs_});
        if (!reactors_.empty()) wakeAt = std::min(wakeAt, nextReactNs_);
      }
      int timeoutMs = static_cast<int>(std::clamp<int64_t>((wakeAt - now + 999999) / 1000000, 0, 100));
      int got = epoll_wait(ep_, events, 512, timeoutMs);
      if (got < 0) {
        if (errno == EINTR) continue;
        die(std::string("epoll_wait: ") + std::strerror(errno));
      }
      for (int i = 0; i < got; i++) {
        const size_t idx = static_cast<size_t>(events[i].data.u64);
        const uint32_t e = events[i].events;
        Conn& c = conns_[idx];
        if (c.fd < 0) continue;
        if (c.state == ConnState::Connecting) {
          if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) connected(idx);
          continue;
        }
        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) readable(idx);
        if (conns_[idx].fd >= 0 && (e & EPOLLOUT)) flush(idx);
      }
    }
  }

  void timers() {
    if (!loadRunning_) return;
    const int64_t now = monoNs();
    if (!inWindow_ && now >= windowStartNs_ && now < windowEndNs_) {
      inWindow_ = true;
      onWindow_(true);
    }
    if (inWindow_ && now >= windowEndNs_) {
      inWindow_ = false;
      onWindow_(false);
    }
    while (now >= nextChatNs_) {
      sendChat(now);
      nextChatNs_ += 1000000000LL;
    }
    if (!reactors_.empty()) {
      static const char* names[] = {"clap", "heart", "fire", "laugh"};
      int budget = 1000;  // never spin here for long
      while (now >= nextReactNs_ && budget-- > 0) {
        const size_t who = static_cast<size_t>(reactors_[reactCursor_ % reactors_.size()]);
        const char* name = names[reactCursor_ % 4];
        reactCursor_++;
        nextReactNs_ += reactIntervalNs_;
        if (conns_[who].state != ConnState::Joined) continue;
        sendText(who, std::string(R"({"type":"react","reaction":")") + name + "\"}");
        reactionsSent_++;
      }
    }
    if (now >= nextSecondNs_) {
      nextSecondNs_ += 1000000000LL;
      if (everySecond_) everySecond_();
    }
  }

  void sendChat(int64_t nowMono) {
    const size_t b = broadcasts_.size();
    const size_t who = static_cast<size_t>(senders_[b % senders_.size()]);
    Broadcast br;
    br.measured = nowMono >= windowStartNs_ && nowMono < windowEndNs_;
    br.appUs.assign(static_cast<size_t>(n_), -1);
    br.kernelUs.assign(static_cast<size_t>(n_), -1);
    if (conns_[who].state != ConnState::Joined) {
      br.measured = false;  // the sender is gone: nothing to measure
      broadcasts_.push_back(std::move(br));
      return;
    }
    broadcasts_.push_back(std::move(br));
    const int64_t t = realNs();
    broadcasts_.back().sentRealNs = t;
    sendText(who, strf(R"({"type":"chat","text":"b=%zu t=%)" PRId64 R"("})", b, t));
    chatsSent_++;
  }

  void launch() {
    while (inFlight_ < opt_.concurrency && nextLaunch_ < conns_.size()) {
      const size_t idx = nextLaunch_++;
      Conn& c = conns_[idx];
      c.startNs = monoNs();
      std::string error;
      c.fd = startLoopbackConnect(port_, static_cast<long>(idx), opt_.sourceAddresses, true, error);
      if (c.fd < 0) {
        failConnect(idx, error);
        continue;
      }
      inFlight_++;
      c.state = ConnState::Connecting;
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.u64 = idx;
      epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    }
  }

  void failConnect(size_t idx, const std::string& why) {
    Conn& c = conns_[idx];
    if (c.state != ConnState::Idle) inFlight_--;
    if (c.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      close(c.fd);
    }
    c.fd = -1;
    c.state = ConnState::Closed;
    c.failed = true;
    c.closedNs = monoNs();
    failedConnects_++;
    failReasons_[why]++;
  }

  void connected(size_t idx) {
    Conn& c = conns_[idx];
    if (const std::string error = socketError(c.fd); !error.empty()) return failConnect(idx, error);
    c.retransAtConnect = static_cast<uint16_t>(std::min<uint32_t>(totalRetrans(c.fd), 65535));
    c.connectedNs = monoNs();
    unsigned char raw[16];
    for (int i = 0; i < 16; i += 8) {
      uint64_t r = nextRandom();
      std::memcpy(raw + i, &r, 8);
    }
    g_autofree gchar* key = g_base64_encode(raw, sizeof raw);
    c.key = key;
    c.state = ConnState::Upgrading;
    std::string req = "GET /ws/" + roomId_ + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + c.key +
                      "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    c.out += req;
    setEvents(idx);
    flush(idx);
  }

  void setEvents(size_t idx) {
    Conn& c = conns_[idx];
    if (c.fd < 0) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (c.out.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT));
    ev.data.u64 = idx;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void flush(size_t idx) {
    Conn& c = conns_[idx];
    const bool hadBacklog = !c.out.empty();
    while (!c.out.empty()) {
      ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        c.out.erase(0, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == EINTR) continue;
      return lost(idx, std::string("send: ") + std::strerror(errno));
    }
    maxOutBacklog_ = std::max<int64_t>(maxOutBacklog_, static_cast<int64_t>(c.out.size()));
    if (hadBacklog != !c.out.empty() || !c.out.empty()) setEvents(idx);
  }

  // A masked client frame.
  void sendFrame(size_t idx, int opcode, std::string_view payload) {
    Conn& c = conns_[idx];
    if (c.fd < 0) return;
    std::string& o = c.out;
    const bool wasEmpty = o.empty();
    o.push_back(static_cast<char>(0x80 | opcode));
    const size_t len = payload.size();
    if (len < 126) {
      o.push_back(static_cast<char>(0x80 | len));
    } else if (len < 65536) {
      o.push_back(static_cast<char>(0x80 | 126));
      o.push_back(static_cast<char>(len >> 8));
      o.push_back(static_cast<char>(len & 0xff));
    } else {
      o.push_back(static_cast<char>(0x80 | 127));
      for (int i = 7; i >= 0; i--) o.push_back(static_cast<char>((static_cast<uint64_t>(len) >> (8 * i)) & 0xff));
    }
    const uint32_t mask = static_cast<uint32_t>(nextRandom());
    unsigned char m[4];
    std::memcpy(m, &mask, 4);
    o.append(reinterpret_cast<const char*>(m), 4);
    const size_t at = o.size();
    o.append(payload);
    for (size_t i = 0; i < len; i++) o[at + i] = static_cast<char>(o[at + i] ^ m[i & 3]);
    if (wasEmpty) flush(idx);
  }
  void sendText(size_t idx, const std::string& text) { sendFrame(idx, 0x1, text); }
  void sendClose(size_t idx, uint16_t code) {
    Conn& c = conns_[idx];
    if (c.closeSent) return;
    c.closeSent = true;
    char p[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
    sendFrame(idx, 0x8, std::string_view(p, 2));
  }

  // The socket is gone (EOF, error).
  void lost(size_t idx, const std::string& why) {
    Conn& c = conns_[idx];
    if (c.fd < 0) return;
    if (c.state == ConnState::Connecting || c.state == ConnState::Upgrading || c.state == ConnState::Hello)
      return failConnect(idx, why);
    epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
    c.closedNs = monoNs();
    const bool wasJoined = c.state == ConnState::Joined;
    c.state = ConnState::Closed;
    if (wasJoined && !tearingDown_) {
      unexpectedCloses_++;
      closeReasons_[why + (c.closeReceived ? strf(" (close frame %u)", c.closeCode) : " (no close frame)")]++;
    }
  }

  void readable(size_t idx) {
    Conn& c = conns_[idx];
    for (int rounds = 0; rounds < 4 && c.fd >= 0; rounds++) {
      iovec iov{readBuf_.data(), readBuf_.size()};
      alignas(cmsghdr) char control[256];
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      ssize_t n = recvmsg(c.fd, &msg, 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR) continue;
        return lost(idx, std::string("recv: ") + std::strerror(errno));
      }
      if (n == 0) return lost(idx, "EOF");
      readRealNs_ = realNs();
      readMonoNs_ = monoNs();
      lastMessageNs_ = readMonoNs_;
      kernelRealNs_ = 0;
      for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(cm), sizeof ts);
          kernelRealNs_ = static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
        }
      }
      bytesReceived_ += static_cast<uint64_t>(n);
      std::string_view data(readBuf_.data(), static_cast<size_t>(n));
      if (c.in.empty()) {
        size_t used = consume(idx, data);
        if (conns_[idx].fd >= 0 && used < data.size()) conns_[idx].in.assign(data.substr(used));
      } else {
        c.in.append(data);
        size_t used = consume(idx, c.in);
        if (conns_[idx].fd >= 0) conns_[idx].in.erase(0, used);
      }
      if (static_cast<size_t>(n) < readBuf_.size()) return;  // probably drained
    }
  }

  // Parses what it can; returns the bytes used.
  size_t consume(size_t idx, std::string_view data) {
    Conn& c = conns_[idx];
    size_t pos = 0;
    if (c.state == ConnState::Upgrading) {
      size_t end = data.find("\r\n\r\n");
      if (end == std::string_view::npos) {
        if (data.size() > 16384) lost(idx, "upgrade response too long");
        return 0;
      }
      std::string_view head = data.substr(0, end);
      if (head.rfind("HTTP/1.1 101", 0) != 0) {
        std::string first(head.substr(0, head.find("\r\n")));
        lost(idx, "upgrade refused: " + first);
        return data.size();
      }
      std::string expect = c.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
      GChecksum* sum = g_checksum_new(G_CHECKSUM_SHA1);
      g_checksum_update(sum, reinterpret_cast<const guchar*>(expect.data()), static_cast<gssize>(expect.size()));
      guint8 digest[20];
      gsize dlen = sizeof digest;
      g_checksum_get_digest(sum, digest, &dlen);
      g_checksum_free(sum);
      g_autofree gchar* accept = g_base64_encode(digest, dlen);
      if (headerValue(std::string(head), "Sec-WebSocket-Accept") != accept) {
        lost(idx, "bad Sec-WebSocket-Accept");
        return data.size();
      }
      pos = end + 4;
      c.state = ConnState::Hello;
      c.upgradedNs = readMonoNs_;
      sendText(idx, R"({"type":"hello","version":1,"token":")" + tokens_[idx] + "\"}");
      if (conns_[idx].fd < 0) return data.size();
    }
    for (;;) {
      if (conns_[idx].fd < 0) return data.size();
      const size_t avail = data.size() - pos;
      if (avail < 2) return pos;
      const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data() + pos);
      const bool fin = p[0] & 0x80;
      const int opcode = p[0] & 0x0f;
      const bool masked = p[1] & 0x80;
      uint64_t len = p[1] & 0x7f;
      size_t hdr = 2;
      if (len == 126) {
        if (avail < 4) return pos;
        len = (static_cast<uint64_t>(p[2]) << 8) | p[3];
        hdr = 4;
      } else if (len == 127) {
        if (avail < 10) return pos;
        len = 0;
        for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
        hdr = 10;
      }
      if (masked) hdr += 4;
      if (len > (1u << 24)) {
        protocolErrors_++;
        lost(idx, "frame too large");
        return data.size();
      }
      if (avail < hdr + len) return pos;
      std::string unmasked;
      std::string_view payload(data.data() + pos + hdr, static_cast<size_t>(len));
      if (masked) {  // servers must not mask; accept it anyway
        unmasked.assign(payload);
        const unsigned char* m = p + hdr - 4;
        for (size_t i = 0; i < unmasked.size(); i++) unmasked[i] = static_cast<char>(unmasked[i] ^ m[i & 3]);
        payload = unmasked;
      }
      pos += hdr + static_cast<size_t>(len);
      frame(idx, fin, opcode, payload);
    }
  }

  void frame(size_t idx, bool fin, int opcode, std::string_view payload) {
    Conn& c = conns_[idx];
    switch (opcode) {
      case 0x9:  // ping
        c.pings++;
        sendFrame(idx, 0xA, payload);
        return;
      case 0xA:  // pong
        return;
      case 0x8:  // close
        c.closeReceived = true;
        c.closeCode = payload.size() >= 2 ? static_cast<uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                                    static_cast<unsigned char>(payload[1]))
                                          : 1005;
        if (!tearingDown_ && c.state == ConnState::Joined) {
          const std::string reason(payload.size() > 2 ? payload.substr(2, 100) : std::string_view());
          closeReasons_[strf("close frame %u \"%s\"", c.closeCode, reason.c_str())]++;
        }
        sendClose(idx, c.closeCode == 1005 ? 1000 : c.closeCode);
        return;
      case 0x0:  // continuation
        c.frag.append(payload);
        if (fin) {
          std::string whole = std::move(c.frag);
          c.frag.clear();
          if (c.fragOpcode == 0x1) message(idx, whole);
        }
        return;
      case 0x1:
      case 0x2:
        if (!fin) {
          c.fragOpcode = opcode;
          c.frag.assign(payload);
          return;
        }
        if (opcode == 0x1) message(idx, payload);
        else protocolErrors_++;
        return;
      default:
        protocolErrors_++;
        return;
    }
  }

  static uint32_t totalRetrans(int fd) {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
    return info.tcpi_total_retrans;
  }

  static std::string_view typeOf(std::string_view m) {
    size_t at = m.find("\"type\"");
    if (at == std::string_view::npos) return {};
    at += 6;
    while (at < m.size() && (m[at] == ' ' || m[at] == ':')) at++;
    if (at >= m.size() || m[at] != '"') return {};
    size_t end = m.find('"', at + 1);
    if (end == std::string_view::npos) return {};
    return m.substr(at + 1, end - at - 1);
  }

  static int64_t numberAfter(std::string_view m, std::string_view key) {
    size_t at = m.find(key);
    if (at == std::string_view::npos) return -1;
    at += key.size();
    while (at < m.size() && (m[at] == ' ' || m[at] == ':' || m[at] == '"')) at++;
    int64_t v = 0;
    bool any = false;
    while (at < m.size() && m[at] >= '0' && m[at] <= '9') {
      v = v * 10 + (m[at] - '0');
      at++;
      any = true;
    }
    return any ? v : -1;
  }

  void message(size_t idx, std::string_view m) {
    Conn& c = conns_[idx];
    const std::string_view type = typeOf(m);
    const bool inWin = readMonoNs_ >= windowStartNs_ && readMonoNs_ < windowEndNs_ && windowStartNs_ > 0;
    if (inWin) c.winMessages++;
    if (type == "participant-joined") {
      c.joinedEvents++;
      joinedEventsTotal_++;
      if (inWin) c.winOther++;
      return;
    }
    if (type == "chat") {
      if (inWin) c.winChat++;
      // text "b=<seq> t=<ns>"
      const int64_t b = numberAfter(m, "b=");
      const int64_t t = numberAfter(m, " t=");
      if (b < 0 || static_cast<size_t>(b) >= broadcasts_.size() || t != broadcasts_[static_cast<size_t>(b)].sentRealNs) {
        otherTypes_["chat (not ours)"]++;
        return;
      }
      Broadcast& br = broadcasts_[static_cast<size_t>(b)];
      if (br.appUs[idx] >= 0) return;  // duplicate
      br.received++;
      br.appUs[idx] = static_cast<int32_t>(std::clamp<int64_t>((readRealNs_ - t) / 1000, 0, INT32_MAX));
      if (kernelRealNs_ > 0)
        br.kernelUs[idx] = static_cast<int32_t>(std::clamp<int64_t>((kernelRealNs_ - t) / 1000, 0, INT32_MAX));
      else
        kernelStampMissing_++;
      if (!br.serverSentAtMs) br.serverSentAtMs = numberAfter(m, "\"sent_at_ms\"");
      return;
    }
    if (type == "reactions") {
      if (inWin) c.winReactions++;
      size_t at = m.find("\"counts\"");
      if (at != std::string_view::npos) {
        // {"clap":3,"heart":1}: sum the numbers after ':'
        for (size_t i = at + 8; i < m.size() && m[i] != '}'; i++) {
          if (m[i] == ':') {
            size_t j = i + 1;
            while (j < m.size() && m[j] == ' ') j++;
            uint64_t v = 0;
            while (j < m.size() && m[j] >= '0' && m[j] <= '9') v = v * 10 + static_cast<uint64_t>(m[j++] - '0');
            c.reactionSum += v;
            i = j - 1;
          }
        }
      }
      return;
    }
    if (inWin) c.winOther++;
    if (type == "welcome") {
      if (c.state == ConnState::Hello) {
        c.state = ConnState::Joined;
        c.welcomeNs = readMonoNs_;
        c.retransAtWelcome = static_cast<uint16_t>(std::min<uint32_t>(totalRetrans(c.fd), 65535));
        lastWelcomeNs_ = readMonoNs_;
        joined_++;
        inFlight_--;
      }
      return;
    }
    if (type == "error") {
      c.errors++;
      std::string text(m.substr(0, 200));
      if (errorSamples_.size() < 20 || errorSamples_.count(text)) errorSamples_[text]++;
      if (c.state == ConnState::Hello) {
        // hello refused: this client will not join
        c.failed = true;
        failReasons_["hello refused: " + text]++;
        failedConnects_++;
        inFlight_--;
        epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
        close(c.fd);
        c.fd = -1;
        c.state = ConnState::Closed;
      }
      return;
    }
    otherTypes_[type.empty() ? std::string("(no type)") : std::string(type)]++;
  }

  int ep_;
  std::vector<char> readBuf_;
  uint64_t rng_;
  size_t nextLaunch_ = 0;
  bool launching_ = false;
  bool loadRunning_ = false;
  bool inWindow_ = false;
  bool tearingDown_ = false;
  int64_t nextChatNs_ = 0, nextReactNs_ = 0, reactIntervalNs_ = 0, nextSecondNs_ = 0;
  size_t reactCursor_ = 0;
  int64_t readRealNs_ = 0, readMonoNs_ = 0, kernelRealNs_ = 0, lastMessageNs_ = 0;
  std::function<void(bool)> onWindow_;
  std::function<void()> everySecond_;
};

// ---- One size

struct SizeResult {
  int n = 0;
  // setup
  double tokensSeconds = 0;
  int tokensIssued = 0;
  std::string daemonNofile;
  long rssFreshKb = 0, rssIdleKb = 0, rssConnectedKb = 0, rssWindowStartKb = 0, rssWindowEndKb = 0, hwmKb = 0;
  long rssWindowMinKb = 0, rssWindowMaxKb = 0;
  long threadsConnected = 0;
  double idleCpuPct = NAN;
  // connect
  int joined = 0, failedConnects = 0;
  bool connectTimedOut = false;
  double connectSeconds = 0, connectsPerSecond = 0;
  Percentiles connectLatencyMs, tcpConnectMs, upgradeMs, helloMs;
  double connectServerCpuPct = NAN, connectGeneratorCpuPct = NAN;
  uint64_t ownSynRetrans = 0, ownRetransToWelcome = 0;  // TCP_INFO of our sockets
  int connectsWithSynRetrans = 0;
  double connectServerWaitPct = NAN;  // main thread runnable but not running, % of the phase
  double serverWaitPct = NAN, generatorWaitPct = NAN;  // the same in the steady window
  long long listenOverflows = 0, listenDrops = 0, synRetrans = 0;  // during the connect phase
  std::string loadBefore, loadAfter;
  uint64_t joinedEvents = 0, expectedJoinedEvents = 0;
  bool drainedAll = false;
  double drainSeconds = 0;
  uint64_t bytesConnectPhase = 0;
  // steady
  double windowSeconds = 0;
  double serverCpuPct = NAN, generatorCpuPct = NAN, otherCpuPct = NAN, serverCoreBusyPct = NAN;
  int broadcastsMeasured = 0;
  Percentiles deliveryAppMs, deliveryKernelMs, serverStampMs;
  std::vector<double> broadcastP99Ms, broadcastMaxMs;  // per measured broadcast (app read time)
  uint64_t missingDeliveries = 0;
  double msgsPerClientMean = 0, msgsPerClientMax = 0, msgsPerClientMin = 0;
  double chatPerClient = 0, reactionsPerClientMean = 0, reactionsPerClientMax = 0, otherPerClientMax = 0;
  uint64_t reactionsSent = 0, reactionSumMin = 0, reactionSumMax = 0;
  uint64_t chatsSent = 0;
  uint64_t pingsAnswered = 0;
  uint64_t errorMessages = 0, unexpectedCloses = 0, protocolErrors = 0, kernelStampMissing = 0;
  int64_t maxOutBacklog = 0;
  std::map<std::string, uint64_t> failReasons, otherTypes, errorSamples, closeReasons;
  // teardown
  double teardownSeconds = 0;
  int stillOpen = 0;
  std::string deleteResult;
  std::string daemonExit;
  double daemonExitSeconds = 0;
  size_t daemonWarnings = 0;
  std::vector<std::string> daemonNotable;
  std::string logPath;
};

// The room and N listener tokens over REST (setup, timed apart).
struct RoomSetup {
  std::string roomId, hostToken;
  std::vector<std::string> tokens;
};

RoomSetup createRoomAndTokens(SizeResult& R, Roomcastd& d, int n) {
  RestClient http(d.url(), 60);
  auto created = http.request("POST", "/api/v1/rooms", R"({"title":"ws-scale"})");
  const std::string roomId = jsonMember(created.body, "id");
  const std::string hostToken = jsonMember(created.body, "host_token");
  if (created.status != 201 || roomId.empty()) die(strf("POST /api/v1/rooms: HTTP %d %s", created.status, created.body.c_str()));
  RoomSetup out{roomId, hostToken, {}};
  std::vector<std::string>& tokens = out.tokens;
  tokens.reserve(static_cast<size_t>(n));
  const int64_t tk0 = monoNs();
  for (int i = 0; i < n; i++) {
    auto r = http.request("POST", "/api/v1/rooms/" + roomId + "/tokens",
                          strf(R"({"role":"listener","name":"n%d"})", i));
    std::string token = jsonMember(r.body, "token");
    if (r.status != 201 || token.empty()) die(strf("token %d: HTTP %d %s", i, r.status, r.body.c_str()));
    tokens.push_back(std::move(token));
  }
  R.tokensSeconds = (monoNs() - tk0) / 1e9;
  R.tokensIssued = n;
  note("   room %s, %d tokens in %.1f s", roomId.c_str(), n, R.tokensSeconds);

  return out;
}

// Idle: the room exists, nobody is connected.
void measureIdle(SizeResult& R, Generator& g, Roomcastd& d, const Options& opt) {
  g.idle(2);
  {
    const double c0 = processCpuSeconds(d.pid());
    const int64_t t0 = monoNs();
    g.idle(opt.idleSeconds);
    R.idleCpuPct = 100.0 * (processCpuSeconds(d.pid()) - c0) / ((monoNs() - t0) / 1e9);
  }
  R.rssIdleKb = processStatusValue(d.pid(), "VmRSS");
  note("   idle: RSS %.1f MB (fresh %.1f MB), CPU %.1f %%", R.rssIdleKb / 1024.0, R.rssFreshKb / 1024.0, R.idleCpuPct);

}

// Connect every client: time, server and generator CPU, the kernel's listen queue.
void measureConnect(SizeResult& R, Generator& g, Roomcastd& d) {
  const double s0 = processCpuSeconds(d.pid()), g0 = selfCpuSeconds();
  const SchedStat q0 = serverMainThread(d.pid());
  auto net0 = tcpExt();
  g.connectAll();
  auto net1 = tcpExt();
  R.listenOverflows = net1["ListenOverflows"] - net0["ListenOverflows"];
  R.listenDrops = net1["ListenDrops"] - net0["ListenDrops"];
  R.synRetrans = net1["TCPSynRetrans"] - net0["TCPSynRetrans"];
  const double wall = (g.connectEndNs_ - g.connectStartNs_) / 1e9;
  const double wallNow = (monoNs() - g.connectStartNs_) / 1e9;
  R.connectServerCpuPct = 100.0 * (processCpuSeconds(d.pid()) - s0) / wallNow;
  R.connectServerWaitPct = 100.0 * (serverMainThread(d.pid()).wait - q0.wait) / wallNow;
  R.connectGeneratorCpuPct = 100.0 * (selfCpuSeconds() - g0) / wallNow;
  R.joined = g.joined_;
  R.failedConnects = g.failedConnects_;
  R.connectTimedOut = g.connectTimedOut_;
  R.connectSeconds = wall;
  R.connectsPerSecond = wall > 0 ? g.joined_ / wall : 0;
  std::vector<double> lat;
  for (const auto& c : g.conns_)
    if (c.welcomeNs) lat.push_back((c.welcomeNs - c.startNs) / 1e6);
  R.connectLatencyMs = percentiles(lat);
  std::vector<double> tcp, up, hello;
  for (const auto& c : g.conns_) {
    if (!c.welcomeNs) continue;
    tcp.push_back((c.connectedNs - c.startNs) / 1e6);
    up.push_back((c.upgradedNs - c.connectedNs) / 1e6);
    hello.push_back((c.welcomeNs - c.upgradedNs) / 1e6);
  }
  R.tcpConnectMs = percentiles(tcp);
  R.upgradeMs = percentiles(up);
  R.helloMs = percentiles(hello);
  for (const auto& c : g.conns_) {
    R.ownSynRetrans += c.retransAtConnect;
    R.ownRetransToWelcome += c.retransAtWelcome;
    R.connectsWithSynRetrans += c.retransAtConnect > 0;
  }
  note("   connect: %d joined, %d failed in %.2f s (%.0f/s); server CPU %.0f %%, generator %.0f %%", R.joined,
       R.failedConnects, R.connectSeconds, R.connectsPerSecond, R.connectServerCpuPct, R.connectGeneratorCpuPct);
}

// Steady load: CPU of the server, this generator and the rest of the machine over the window.
// What the window's edges read: CPU of the server, this generator and the machine, run-queue
// waits, the clock and the server's RSS.
struct WindowEdge {
  double server = 0, generator = 0;
  MachineTicks machine;
  SchedStat serverQueue, generatorQueue;
  int64_t at = 0;
  long rssKb = 0;
};
WindowEdge windowEdge(pid_t server) {
  return {processCpuSeconds(server), selfCpuSeconds(), machineTicks(), serverMainThread(server), generatorThread(),
          monoNs(), processStatusValue(server, "VmRSS")};
}

void measureSteady(SizeResult& R, Generator& g, Roomcastd& d, const Options& opt) {
  WindowEdge e0, e1;
  long rssMin = LONG_MAX, rssMax = 0;
  bool windowOpen = false;
  g.steady([&](bool start) { (start ? e0 : e1) = windowEdge(d.pid()); windowOpen = start; },
           [&] {
             if (!windowOpen) return;
             const long rss = processStatusValue(d.pid(), "VmRSS");
             rssMin = std::min(rssMin, rss);
             rssMax = std::max(rssMax, rss);
           });
  R.rssWindowStartKb = e0.rssKb;
  R.rssWindowEndKb = e1.rssKb;
  R.windowSeconds = (e1.at - e0.at) / 1e9;
  R.rssWindowMinKb = rssMin == LONG_MAX ? 0 : rssMin;
  R.rssWindowMaxKb = rssMax;
  if (R.windowSeconds > 0) {
    const double server = e1.server - e0.server, generator = e1.generator - e0.generator;
    R.serverCpuPct = 100.0 * server / R.windowSeconds;
    R.generatorCpuPct = 100.0 * generator / R.windowSeconds;
    R.serverWaitPct = 100.0 * (e1.serverQueue.wait - e0.serverQueue.wait) / R.windowSeconds;
    R.generatorWaitPct = 100.0 * (e1.generatorQueue.wait - e0.generatorQueue.wait) / R.windowSeconds;
    const MachineTicks &p0 = e0.machine, &p1 = e1.machine;
    if (p0.total > 0 && p1.cpuBusy.size() == p0.cpuBusy.size()) {
      const double machineBusy = static_cast<double>(p1.busy - p0.busy) / static_cast<double>(clockTicks());
      R.otherCpuPct = 100.0 * (machineBusy - server - generator) / R.windowSeconds;
      const size_t core = static_cast<size_t>(opt.serverCpu);
      if (opt.serverCpu >= 0 && core < p1.cpuBusy.size() && p1.cpuTotal[core] > p0.cpuTotal[core])
        R.serverCoreBusyPct = 100.0 * static_cast<double>(p1.cpuBusy[core] - p0.cpuBusy[core]) /
                              static_cast<double>(p1.cpuTotal[core] - p0.cpuTotal[core]);
    }
  }
}

// Deliveries of the measured broadcasts to every client that was joined.
void summariseDeliveries(SizeResult& R, const Generator& g) {
  std::vector<double> app, kern, stamp;
  for (const auto& b : g.broadcasts_) {
    if (!b.measured) continue;
    R.broadcastsMeasured++;
    std::vector<double> one;
    for (size_t i = 0; i < b.appUs.size(); i++) {
      const Conn& c = g.conns_[i];
      if (c.failed) continue;  // never joined: not expected
      if (b.appUs[i] < 0) {
        R.missingDeliveries++;
        continue;
      }
      app.push_back(b.appUs[i] / 1000.0);
      one.push_back(b.appUs[i] / 1000.0);
      if (b.kernelUs[i] >= 0) kern.push_back(b.kernelUs[i] / 1000.0);
    }
    if (b.serverSentAtMs > 0) stamp.push_back(static_cast<double>(b.serverSentAtMs) - b.sentRealNs / 1e6);
    auto p = percentiles(one);
    R.broadcastP99Ms.push_back(p.p99);
    R.broadcastMaxMs.push_back(p.max);
  }
  R.deliveryAppMs = percentiles(app);
  R.deliveryKernelMs = percentiles(kern);
  R.serverStampMs = percentiles(stamp);
}

// Messages per client per second in the window, and the generator's counters.
void summariseMessages(SizeResult& R, const Generator& g) {
  {
    double sum = 0, mx = 0, mn = 1e18, rsum = 0, rmx = 0, omx = 0, csum = 0;
    int k = 0;
    uint64_t rsMin = UINT64_MAX, rsMax = 0;
    for (const auto& c : g.conns_) {
      if (c.failed) continue;
      const double w = R.windowSeconds > 0 ? R.windowSeconds : 1;
      const double m = c.winMessages / w;
      sum += m;
      mx = std::max(mx, m);
      mn = std::min(mn, m);
      rsum += c.winReactions / w;
      rmx = std::max(rmx, c.winReactions / w);
      omx = std::max(omx, c.winOther / w);
      csum += c.winChat / w;
      rsMin = std::min(rsMin, c.reactionSum);
      rsMax = std::max(rsMax, c.reactionSum);
      k++;
    }
    if (k) {
      R.msgsPerClientMean = sum / k;
      R.msgsPerClientMax = mx;
      R.msgsPerClientMin = mn;
      R.reactionsPerClientMean = rsum / k;
      R.reactionsPerClientMax = rmx;
      R.otherPerClientMax = omx;
      R.chatPerClient = csum / k;
      R.reactionSumMin = rsMin;
      R.reactionSumMax = rsMax;
    }
  }
  R.reactionsSent = g.reactionsSent_;
  R.chatsSent = g.chatsSent_;
  for (const auto& c : g.conns_) {
    R.errorMessages += c.errors;
    R.pingsAnswered += c.pings;
  }
  R.unexpectedCloses = g.unexpectedCloses_;
  R.protocolErrors = g.protocolErrors_;
  R.kernelStampMissing = g.kernelStampMissing_;
  R.maxOutBacklog = g.maxOutBacklog_;
  R.failReasons = g.failReasons_;
  R.otherTypes = g.otherTypes_;
  R.errorSamples = g.errorSamples_;
  R.closeReasons = g.closeReasons_;
}

SizeResult runSize(const Options& opt, int n, const std::string& workdirBase) {
  SizeResult R;
  R.n = n;
  const std::string workdir = workdirBase + "/n" + std::to_string(n);
  g_mkdir_with_parents(workdir.c_str(), 0755);
  note("== N=%d: starting roomcastd (CPU %d)", n, opt.serverCpu);
  R.loadBefore = loadAverage();
  // The room has listeners only, nobody on stage: it must not end by itself mid-run.
  writeFile(workdir + "/roomcastd.conf", "[room]\nempty_timeout_s = 0\n");
  Roomcastd d(workdir + "/data", {"--config", workdir + "/roomcastd.conf"}, opt.serverCpu, opt.roomcastd);
  if (!d.ready()) die("roomcastd did not start:\n" + d.log());
  const int port = std::atoi(d.hostPort().c_str() + d.hostPort().rfind(':') + 1);
  note("   roomcastd pid %d, port %d", static_cast<int>(d.pid()), port);
  R.logPath = d.logPath();
  R.daemonNofile = processOpenFdLimits(d.pid());
  usleep(500000);
  R.rssFreshKb = processStatusValue(d.pid(), "VmRSS");

  auto [roomId, hostToken, tokens] = createRoomAndTokens(R, d, n);
  Generator g(opt, n, port, roomId, std::move(tokens));

  measureIdle(R, g, d, opt);
  measureConnect(R, g, d);
  g.drain();
  R.joinedEvents = g.joinedEventsTotal_;
  R.expectedJoinedEvents = g.expectedJoinedEvents_;
  R.drainedAll = g.drainedAll_;
  R.drainSeconds = g.drainSeconds_;
  R.bytesConnectPhase = g.bytesReceived_;
  note("   drain: %" PRIu64 " of %" PRIu64 " participant-joined in %.2f s after the last welcome (%.1f MB received)",
       R.joinedEvents, R.expectedJoinedEvents, R.drainSeconds, R.bytesConnectPhase / 1e6);
  g.idle(2);
  R.rssConnectedKb = processStatusValue(d.pid(), "VmRSS");
  R.threadsConnected = processStatusValue(d.pid(), "Threads");
  note("   connected: RSS %.1f MB (+%.1f MB over idle)", R.rssConnectedKb / 1024.0,
       (R.rssConnectedKb - R.rssIdleKb) / 1024.0);

  measureSteady(R, g, d, opt);
  summariseDeliveries(R, g);
  summariseMessages(R, g);
  R.hwmKb = processStatusValue(d.pid(), "VmHWM");
  note("   steady %.1f s: server CPU %.1f %%, generator %.1f %%; delivery p50 %.1f p99 %.1f max %.1f ms; %.2f msgs/client/s",
       R.windowSeconds, R.serverCpuPct, R.generatorCpuPct, R.deliveryAppMs.p50, R.deliveryAppMs.p99,
       R.deliveryAppMs.max, R.msgsPerClientMean);

  // Teardown.
  R.teardownSeconds = g.teardown(hostToken, 120, &R.deleteResult);
  R.stillOpen = g.stillOpenAfterTeardown_;
  note("   teardown (%s): %.2f s, %d sockets still open%s%s", opt.teardown.c_str(), R.teardownSeconds, R.stillOpen,
       R.deleteResult.empty() ? "" : "; ", R.deleteResult.c_str());
  const double stopStart = monotonicSeconds();
  const int status = d.child().stop(30);  // SIGTERM, then SIGKILL after 30 s
  R.daemonExitSeconds = monotonicSeconds() - stopStart;
  R.daemonExit = status < 0      ? "did not exit within 30 s of SIGTERM: SIGKILL"
                 : status >= 128 ? std::string("killed by signal ") + strsignal(status - 128)
                                 : "exited " + std::to_string(status);
  R.loadAfter = loadAverage();
  scanDaemonLog(d.log(), &R.daemonWarnings, &R.daemonNotable);
  note("   roomcastd %s after %.2f s; %zu warning lines in its log", R.daemonExit.c_str(), R.daemonExitSeconds,
       R.daemonWarnings);
  return R;
}

// ---- Report

std::string mb(long kb) { return strf("%.1f", kb / 1024.0); }

void printTable(const Options& opt, const std::vector<SizeResult>& results, const std::string& env) {
  std::printf("\nws-scale: N WebSocket listeners in one roomcastd room (%s)\n", env.c_str());
  std::printf("Steady load: 1 chat broadcast/s (senders rotate over %d clients), %.3g%% of the clients react once a second;\n",
              opt.chatSenders, opt.reactPercent);
  std::printf("window %.0f s after %.0f s warm-up. Server pinned to CPU %d, generator (1 thread, epoll) to CPU %d.\n\n",
              opt.seconds, opt.warmup, opt.serverCpu, opt.generatorCpu);
  std::printf("%6s %9s %9s %9s %8s %8s %24s %10s %7s %7s\n", "N", "connect", "connects", "RSS over", "server",
              "delivery", "p50 / p99 / max", "msgs per", "errors", "gen");
  std::printf("%6s %9s %9s %9s %8s %8s %24s %10s %7s %7s\n", "", "s", "per s", "idle MB", "CPU %", "samples",
              "ms", "client/s", "", "CPU %");
  for (const auto& r : results) {
    const uint64_t errors = static_cast<uint64_t>(r.failedConnects) + r.unexpectedCloses + r.missingDeliveries +
                            r.errorMessages + r.protocolErrors;
    std::printf("%6d %9.2f %9.0f %9.1f %8.1f %8zu %24s %10.2f %7" PRIu64 " %7.1f\n", r.n, r.connectSeconds,
                r.connectsPerSecond, (r.rssConnectedKb - r.rssIdleKb) / 1024.0, r.serverCpuPct, r.deliveryAppMs.n,
                strf("%.1f / %.1f / %.1f", r.deliveryAppMs.p50, r.deliveryAppMs.p99, r.deliveryAppMs.max).c_str(),
                r.msgsPerClientMean, errors, r.generatorCpuPct);
  }
  std::printf("\nDetails:\n");
  for (const auto& r : results) {
    std::printf("N=%d\n", r.n);
    std::printf("  setup: %d tokens over REST in %.1f s; daemon RLIMIT_NOFILE %s\n", r.tokensIssued, r.tokensSeconds,
                r.daemonNofile.c_str());
    std::printf("  connect: %d joined, %d failed%s; per connection (connect..welcome) p50 %.1f p99 %.1f max %.1f ms;\n"
                "           server CPU %.0f %%, generator CPU %.0f %% during the connect phase\n",
                r.joined, r.failedConnects, r.connectTimedOut ? " (TIMED OUT)" : "", r.connectLatencyMs.p50,
                r.connectLatencyMs.p99, r.connectLatencyMs.max, r.connectServerCpuPct, r.connectGeneratorCpuPct);
    std::printf("           of which TCP connect p50 %.1f p99 %.1f max %.1f; upgrade request -> 101 p50 %.1f p99 %.1f max %.1f;\n"
                "           hello -> welcome p50 %.1f p99 %.1f max %.1f ms\n",
                r.tcpConnectMs.p50, r.tcpConnectMs.p99, r.tcpConnectMs.max, r.upgradeMs.p50, r.upgradeMs.p99,
                r.upgradeMs.max, r.helloMs.p50, r.helloMs.p99, r.helloMs.max);
    std::printf("  TCP retransmissions on our sockets (TCP_INFO): %" PRIu64 " by the TCP connect (%d connections), %" PRIu64 " by the welcome\n",
                r.ownSynRetrans, r.connectsWithSynRetrans, r.ownRetransToWelcome);
    std::printf("  TCP (whole network namespace) during the connect phase: ListenOverflows +%lld, ListenDrops +%lld, TCPSynRetrans +%lld\n",
                r.listenOverflows, r.listenDrops, r.synRetrans);
    std::printf("  participant-joined announcements: %" PRIu64 " of %" PRIu64 " (= J(J-1)/2) received, %s %.2f s after the last welcome;\n"
                "           %.1f MB received by the clients by then\n",
                r.joinedEvents, r.expectedJoinedEvents, r.drainedAll ? "all" : "NOT all (quiet or timeout)",
                r.drainSeconds, r.bytesConnectPhase / 1e6);
    std::printf("  server RSS MB: fresh %s, idle room %s, all connected %s (+%s), window %s -> %s (min %s max %s), peak (VmHWM) %s; threads %ld\n",
                mb(r.rssFreshKb).c_str(), mb(r.rssIdleKb).c_str(), mb(r.rssConnectedKb).c_str(),
                mb(r.rssConnectedKb - r.rssIdleKb).c_str(), mb(r.rssWindowStartKb).c_str(), mb(r.rssWindowEndKb).c_str(),
                mb(r.rssWindowMinKb).c_str(), mb(r.rssWindowMaxKb).c_str(), mb(r.hwmKb).c_str(), r.threadsConnected);
    std::printf("  waiting for a CPU while runnable (/proc/.../schedstat), %% of the time: server main thread %.1f in the connect phase, %.1f in the window; generator %.1f in the window\n",
                r.connectServerWaitPct, r.serverWaitPct, r.generatorWaitPct);
    std::printf("  CPU %% of one core: server idle room %.1f, steady %.1f (its core %.0f %% busy), generator %.1f, other processes %.1f\n",
                r.idleCpuPct, r.serverCpuPct, r.serverCoreBusyPct, r.generatorCpuPct, r.otherCpuPct);
    std::printf("  delivery, %d broadcasts x %d clients: read by the client p50 %.1f p90 %.1f p99 %.1f max %.1f ms;\n"
                "           kernel receive stamp p50 %.1f p99 %.1f max %.1f ms; server's sent_at_ms - send p50 %.0f max %.0f ms\n",
                r.broadcastsMeasured, r.joined, r.deliveryAppMs.p50, r.deliveryAppMs.p90, r.deliveryAppMs.p99,
                r.deliveryAppMs.max, r.deliveryKernelMs.p50, r.deliveryKernelMs.p99, r.deliveryKernelMs.max,
                r.serverStampMs.p50, r.serverStampMs.max);
    if (!r.broadcastP99Ms.empty()) {
      auto p = percentiles(r.broadcastP99Ms);
      auto q = percentiles(r.broadcastMaxMs);
      std::printf("           per broadcast: p99 ranges %.1f..%.1f ms, max ranges %.1f..%.1f ms\n", p.min, p.max, q.min, q.max);
    }
    std::printf("  messages per client per second: mean %.2f (min %.2f, max %.2f): chat %.2f, reactions mean %.2f max %.2f, other max %.2f\n",
                r.msgsPerClientMean, r.msgsPerClientMin, r.msgsPerClientMax, r.chatPerClient, r.reactionsPerClientMean,
                r.reactionsPerClientMax, r.otherPerClientMax);
    std::printf("  reactions: %" PRIu64 " sent; summed counts received per client %" PRIu64 "..%" PRIu64 "; chats sent %" PRIu64 "\n",
                r.reactionsSent, r.reactionSumMin, r.reactionSumMax, r.chatsSent);
    std::printf("  keepalive: %" PRIu64 " server pings answered with pongs (all clients, whole run up to the teardown)\n", r.pingsAnswered);
    std::printf("  errors: failed connects %d, unexpected closes %" PRIu64 ", missing deliveries %" PRIu64
                ", error messages %" PRIu64 ", undecodable frames %" PRIu64 "\n",
                r.failedConnects, r.unexpectedCloses, r.missingDeliveries, r.errorMessages, r.protocolErrors);
    for (const auto& [k, v] : r.failReasons) std::printf("    failed: %s x%" PRIu64 "\n", k.c_str(), v);
    for (const auto& [k, v] : r.closeReasons) std::printf("    closed: %s x%" PRIu64 "\n", k.c_str(), v);
    for (const auto& [k, v] : r.errorSamples) std::printf("    error message: %s x%" PRIu64 "\n", k.c_str(), v);
    for (const auto& [k, v] : r.otherTypes) std::printf("    other message type: %s x%" PRIu64 "\n", k.c_str(), v);
    std::printf("  teardown (%s): %.2f s until every socket was closed (%d left open); %s\n", opt.teardown.c_str(),
                r.teardownSeconds, r.stillOpen, r.deleteResult.c_str());
    std::printf("  roomcastd: %s %.2f s after SIGTERM; %zu warning/critical lines in its log\n", r.daemonExit.c_str(),
                r.daemonExitSeconds, r.daemonWarnings);
    std::printf("  load average before %s, after %s\n", r.loadBefore.c_str(), r.loadAfter.c_str());
    for (const auto& line : r.daemonNotable) std::printf("    log: %s\n", line.c_str());
  }
  // Goal of the product owner.
  for (const auto& r : results) {
    if (r.n != 10000) continue;
    const double over = (r.rssConnectedKb - r.rssIdleKb) / 1024.0;
    std::printf("\nGoal at N=10000: RSS above idle <= 100 MB: %.1f MB (%s); p99 <= 250 ms: %.1f ms (%s)\n", over,
                over <= 100 ? "met" : "NOT met", r.deliveryAppMs.p99, r.deliveryAppMs.p99 <= 250 ? "met" : "NOT met");
  }
}

void writePercentiles(std::ostream& o, const char* name, const Percentiles& p) {
  o << "\"" << name << "\": {\"n\": " << p.n << ", \"p50\": " << jnum(p.p50) << ", \"p90\": " << jnum(p.p90)
    << ", \"p99\": " << jnum(p.p99) << ", \"min\": " << jnum(p.min) << ", \"max\": " << jnum(p.max)
    << ", \"mean\": " << jnum(p.mean) << "}";
}

void writeMap(std::ostream& o, const char* name, const std::map<std::string, uint64_t>& m) {
  o << "\"" << name << "\": {";
  bool first = true;
  for (const auto& [k, v] : m) {
    o << (first ? "" : ", ") << jsonString(k) << ": " << v;
    first = false;
  }
  o << "}";
}

void writeJson(const Options& opt, const std::vector<SizeResult>& results, const std::string& envJson) {
  std::ofstream o(opt.json);
  o << "{\n\"benchmark\": \"ws-scale\",\n\"environment\": " << envJson << ",\n";
  o << "\"parameters\": {\"sizes\": [";
  for (size_t i = 0; i < opt.sizes.size(); i++) o << (i ? ", " : "") << opt.sizes[i];
  o << "], \"seconds\": " << opt.seconds << ", \"warmup\": " << opt.warmup << ", \"idle_seconds\": " << opt.idleSeconds
    << ", \"react_percent\": " << opt.reactPercent << ", \"chat_senders\": " << opt.chatSenders
    << ", \"concurrency\": " << opt.concurrency << ", \"source_addresses\": " << opt.sourceAddresses
    << ", \"server_cpu\": " << opt.serverCpu << ", \"generator_cpu\": " << opt.generatorCpu << ", \"teardown\": \""
    << opt.teardown << "\"},\n\"results\": [\n";
  for (size_t i = 0; i < results.size(); i++) {
    const auto& r = results[i];
    o << "{\"n\": " << r.n << ",\n";
    o << " \"setup\": {\"tokens\": " << r.tokensIssued << ", \"tokens_seconds\": " << jnum(r.tokensSeconds)
      << ", \"daemon_nofile\": \"" << r.daemonNofile << "\"},\n";
    o << " \"connect\": {\"joined\": " << r.joined << ", \"failed\": " << r.failedConnects << ", \"timed_out\": "
      << (r.connectTimedOut ? "true" : "false") << ", \"seconds\": " << jnum(r.connectSeconds)
      << ", \"per_second\": " << jnum(r.connectsPerSecond, 1) << ", ";
    writePercentiles(o, "latency_ms", r.connectLatencyMs);
    o << ", ";
    writePercentiles(o, "tcp_connect_ms", r.tcpConnectMs);
    o << ", ";
    writePercentiles(o, "upgrade_ms", r.upgradeMs);
    o << ", ";
    writePercentiles(o, "hello_to_welcome_ms", r.helloMs);
    o << ", \"server_cpu_pct\": " << jnum(r.connectServerCpuPct, 1) << ", \"generator_cpu_pct\": "
      << jnum(r.connectGeneratorCpuPct, 1) << ", \"netns_listen_overflows\": " << r.listenOverflows
      << ", \"own_retrans_at_connect\": " << r.ownSynRetrans << ", \"connections_with_syn_retrans\": "
      << r.connectsWithSynRetrans << ", \"own_retrans_by_welcome\": " << r.ownRetransToWelcome
      << ", \"netns_listen_drops\": " << r.listenDrops << ", \"netns_syn_retrans\": " << r.synRetrans
      << ", \"participant_joined_received\": " << r.joinedEvents
      << ", \"participant_joined_expected\": " << r.expectedJoinedEvents << ", \"drained_all\": "
      << (r.drainedAll ? "true" : "false") << ", \"drain_seconds_after_last_welcome\": " << jnum(r.drainSeconds)
      << ", \"bytes_received\": " << r.bytesConnectPhase << "},\n";
    o << " \"rss_kb\": {\"fresh\": " << r.rssFreshKb << ", \"idle_room\": " << r.rssIdleKb << ", \"connected\": "
      << r.rssConnectedKb << ", \"above_idle\": " << (r.rssConnectedKb - r.rssIdleKb) << ", \"window_start\": "
      << r.rssWindowStartKb << ", \"window_end\": " << r.rssWindowEndKb << ", \"window_min\": " << r.rssWindowMinKb
      << ", \"window_max\": " << r.rssWindowMaxKb << ", \"hwm\": " << r.hwmKb << "}, \"threads\": "
      << r.threadsConnected << ",\n";
    o << " \"cpu_pct\": {\"server_idle_room\": " << jnum(r.idleCpuPct, 2) << ", \"server_steady\": "
      << jnum(r.serverCpuPct, 2) << ", \"server_core_busy\": " << jnum(r.serverCoreBusyPct, 1)
      << ", \"generator_steady\": " << jnum(r.generatorCpuPct, 2) << ", \"other_processes\": " << jnum(r.otherCpuPct, 1)
      << ", \"server_main_thread_runqueue_wait_pct\": " << jnum(r.serverWaitPct, 1)
      << ", \"generator_runqueue_wait_pct\": " << jnum(r.generatorWaitPct, 1)
      << ", \"server_main_thread_runqueue_wait_pct_connect\": " << jnum(r.connectServerWaitPct, 1)
      << ", \"window_seconds\": " << jnum(r.windowSeconds) << "},\n";
    o << " \"delivery\": {\"broadcasts\": " << r.broadcastsMeasured << ", ";
    writePercentiles(o, "read_ms", r.deliveryAppMs);
    o << ", ";
    writePercentiles(o, "kernel_ms", r.deliveryKernelMs);
    o << ", ";
    writePercentiles(o, "server_sent_at_minus_send_ms", r.serverStampMs);
    o << ", \"per_broadcast_p99_ms\": [";
    for (size_t k = 0; k < r.broadcastP99Ms.size(); k++) o << (k ? ", " : "") << jnum(r.broadcastP99Ms[k], 2);
    o << "], \"per_broadcast_max_ms\": [";
    for (size_t k = 0; k < r.broadcastMaxMs.size(); k++) o << (k ? ", " : "") << jnum(r.broadcastMaxMs[k], 2);
    o << "], \"missing\": " << r.missingDeliveries << ", \"kernel_stamp_missing\": " << r.kernelStampMissing << "},\n";
    o << " \"messages_per_client_per_s\": {\"mean\": " << jnum(r.msgsPerClientMean) << ", \"min\": "
      << jnum(r.msgsPerClientMin) << ", \"max\": " << jnum(r.msgsPerClientMax) << ", \"chat_mean\": "
      << jnum(r.chatPerClient) << ", \"reactions_mean\": " << jnum(r.reactionsPerClientMean)
      << ", \"reactions_max\": " << jnum(r.reactionsPerClientMax) << ", \"other_max\": " << jnum(r.otherPerClientMax)
      << "},\n";
    o << " \"reactions\": {\"sent\": " << r.reactionsSent << ", \"sum_received_min\": " << r.reactionSumMin
      << ", \"sum_received_max\": " << r.reactionSumMax << "}, \"chats_sent\": " << r.chatsSent
      << ", \"pings_answered\": " << r.pingsAnswered << ",\n";
    o << " \"errors\": {\"failed_connects\": " << r.failedConnects << ", \"unexpected_closes\": " << r.unexpectedCloses
      << ", \"missing_deliveries\": " << r.missingDeliveries << ", \"error_messages\": " << r.errorMessages
      << ", \"undecodable_frames\": " << r.protocolErrors << ", ";
    writeMap(o, "fail_reasons", r.failReasons);
    o << ", ";
    writeMap(o, "close_reasons", r.closeReasons);
    o << ", ";
    writeMap(o, "error_samples", r.errorSamples);
    o << ", ";
    writeMap(o, "other_types", r.otherTypes);
    o << "},\n \"generator_max_unsent_bytes\": " << r.maxOutBacklog << ",\n";
    o << " \"teardown\": {\"mode\": \"" << opt.teardown << "\", \"seconds\": " << jnum(r.teardownSeconds)
      << ", \"still_open\": " << r.stillOpen << ", \"delete\": " << jsonString(r.deleteResult)
      << ", \"daemon_exit\": " << jsonString(r.daemonExit) << ", \"daemon_exit_seconds\": "
      << jnum(r.daemonExitSeconds) << ", \"daemon_warning_lines\": " << r.daemonWarnings << "},\n"
      << " \"load_average_before\": \"" << r.loadBefore << "\", \"load_average_after\": \"" << r.loadAfter << "\"}"
      << (i + 1 < results.size() ? "," : "") << "\n";
  }
  o << "]\n}\n";
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parseOptions(argc, argv);
  signal(SIGPIPE, SIG_IGN);

  // File descriptors: N client sockets here, N server sockets in the daemon (which inherits
  // this limit). Raise soft and hard limits as far as allowed.
  const int maxN = *std::max_element(opt.sizes.begin(), opt.sizes.end());
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  const rlim_t want = static_cast<rlim_t>(std::max(65536, 2 * maxN + 4096));
  rlimit raised{std::max(rl.rlim_cur, want), std::max(rl.rlim_max, want)};
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    raised = {rl.rlim_max, rl.rlim_max};  // not privileged: the hard limit
    setrlimit(RLIMIT_NOFILE, &raised);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < static_cast<rlim_t>(maxN + 256))
    die(strf("RLIMIT_NOFILE is %llu, below N=%d + 256", static_cast<unsigned long long>(rl.rlim_cur), maxN));

  const std::string portRange = trim(readFile("/proc/sys/net/ipv4/ip_local_port_range"));
  const std::string somaxconn = trim(readFile("/proc/sys/net/core/somaxconn"));
  {
    int lo = 0, hi = 0;
    std::sscanf(portRange.c_str(), "%d %d", &lo, &hi);
    const int perAddress = (maxN + opt.sourceAddresses - 1) / opt.sourceAddresses;
    if (hi - lo + 1 < perAddress + 1000)
      note("warning: ip_local_port_range %s gives %d ports; %d per source address needed: use more --source-addresses",
           portRange.c_str(), hi - lo + 1, perAddress);
  }
  utsname un{};
  uname(&un);
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  const std::string envText = strf("%ld CPUs, kernel %s, RLIMIT_NOFILE %llu", cpus, un.release,
                                   static_cast<unsigned long long>(rl.rlim_cur));
  const std::string envJson = strf(
      "{\"cpus\": %ld, \"kernel\": \"%s\", \"rlimit_nofile\": %llu, \"ip_local_port_range\": %s, \"somaxconn\": \"%s\"}",
      cpus, un.release, static_cast<unsigned long long>(rl.rlim_cur), jsonString(portRange).c_str(), somaxconn.c_str());
  note("bench-ws-scale: %s; ip_local_port_range %s; somaxconn %s; %d source addresses", envText.c_str(),
       portRange.c_str(), somaxconn.c_str(), opt.sourceAddresses);
  if (opt.serverCpu >= cpus || opt.generatorCpu >= cpus) die("--server-cpu/--generator-cpu beyond the CPUs here");
  if (!pinToCpu(opt.generatorCpu)) note("could not pin the generator to CPU %d", opt.generatorCpu);

  g_autofree gchar* workdirBase = g_dir_make_tmp("bench-ws-scale-XXXXXX", nullptr);
  if (!workdirBase) die("cannot create a temporary directory");
  std::vector<SizeResult> results;
  for (int n : opt.sizes) {
    results.push_back(runSize(opt, n, workdirBase));
    writeJson(opt, results, envJson);  // partial results survive a later failure
  }
  printTable(opt, results, envText);
  writeJson(opt, results, envJson);
  std::printf("\nJSON: %s\n", opt.json.c_str());
  if (opt.keepWorkdir) {
    std::printf("Daemon logs and data: %s\n", workdirBase);
  } else {
    const std::string cmd = std::string("rm -rf '") + workdirBase + "'";
    if (std::system(cmd.c_str()) != 0) note("could not remove %s", workdirBase);
  }
  return 0;
}
