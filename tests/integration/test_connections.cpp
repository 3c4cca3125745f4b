// Every connection reaped, every client bounded: keep-alive connections closed by their clients
// leave no descriptor behind, request bodies are counted as they arrive (chunked included),
// every phase of a connection has a deadline (headers, body, keep-alive idle, WebSocket hello),
// half-sent requests cost the control thread nothing while they wait, and one client address
// cannot hold more than its share. Observed from outside: /proc/PID/fd, /proc/PID/stat,
// /proc/PID/status, and what real sockets on loopback receive.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "processes.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;

namespace {

double now() { return g_get_monotonic_time() / 1e6; }

int portOf(const Daemon& daemon) { return std::stoi(daemon.url().substr(daemon.url().rfind(':') + 1)); }

// A TCP connection to the daemon from `source` (any 127.x.y.z: all of 127/8 is loopback).
int connectFrom(const char* source, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool sendAll(int fd, const std::string& text) {
  size_t sent = 0;
  while (sent < text.size()) {
    const ssize_t n = send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads one response (headers and a Content-Length body); "" if none came by the deadline.
std::string readResponse(int fd, double timeoutSeconds) {
  std::string in;
  const double deadline = now() + timeoutSeconds;
  while (now() < deadline) {
    const size_t end = in.find("\r\n\r\n");
    if (end != std::string::npos) {
      const size_t at = in.find("Content-Length: ");
      const size_t length = at == std::string::npos ? 0 : std::stoul(in.substr(at + 16));
      if (in.size() >= end + 4 + length) return in;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buffer[4096];
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return in;
    in.append(buffer, static_cast<size_t>(n));
  }
  return in;
}

int statusOf(const std::string& response) {
  return response.rfind("HTTP/1.", 0) == 0 && response.size() > 12 ? std::stoi(response.substr(9, 3)) : 0;
}
std::string bodyOf(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

// True when the server has closed the connection (EOF or reset), anything it sent drained.
bool closedByPeer(int fd, double timeoutSeconds) {
  const double deadline = now() + timeoutSeconds;
  char buffer[65536];
  while (now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
  }
  return false;
}

bool isClosedNow(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  char byte;
  const ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

int fdCount(int pid) {
  DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!dir) return -1;
  int n = 0;
  while (dirent* entry = readdir(dir))
    if (entry->d_name[0] != '.') n++;
  closedir(dir);
  return n;
}

// User plus system CPU time of the whole process, seconds.
double cpuSeconds(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; i++) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long statusKb(int pid, const std::string& key) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

std::string writeConfig(const TempDir& dir, const std::string& server) {
  const std::string path = dir.path() + "/roomcast.conf";
  std::ofstream(path) << "[server]\n" << server;
  return path;
}

const char kHealth[] = "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

class Connections : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("roomcast-connections");
    // Short deadlines so that the tests see them; keep-alive long, so that what reaps a closed
    // connection is its close, not the idle timeout.
    const std::string config = writeConfig(*dir_,
                                           "header_timeout_s = 6\n"
                                           "body_timeout_s = 3\n"
                                           "keepalive_timeout_s = 120\n"
                                           "hello_timeout_s = 1.5\n"
                                           "max_connections_per_address = 5\n");
    daemon_ = new Daemon(std::vector<std::string>{"--config", config});
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  void SetUp() override { ASSERT_TRUE(daemon_->ready()) << daemon_->log(); }
  void TearDown() override { EXPECT_TRUE(daemon_->running()) << daemon_->log(); }

  static int port() { return portOf(*daemon_); }
  static int pid() { return daemon_->pid(); }

  static TempDir* dir_;
  static Daemon* daemon_;
};

TempDir* Connections::dir_ = nullptr;
Daemon* Connections::daemon_ = nullptr;

// One request with keep-alive, read the answer, close: what a health check does every few
// seconds. Each such connection must be gone from the daemon as soon as the client closes it.
TEST_F(Connections, ClosedKeepAliveConnectionsLeaveNoDescriptor) {
  auto oneRequest = [&] {
    const int fd = connectFrom("127.0.0.1", port());
    if (fd < 0) return false;
    const bool ok = sendAll(fd, kHealth) && statusOf(readResponse(fd, 10)) == 200;
    close(fd);
    return ok;
  };
  for (int i = 0; i < 5; i++) ASSERT_TRUE(oneRequest());  // whatever the first requests open lazily
  int baseline = -1;
  bool settled = false;
  ASSERT_TRUE(pollUntil([&] {
    if (settled) return true;
    const int n = fdCount(pid());
    settled = n == baseline;
    baseline = n;
    return settled;
  }, 10, 0.5));

  for (int i = 0; i < 500; i++) ASSERT_TRUE(oneRequest()) << "request " << i;
  int after = fdCount(pid());
  printf("[ figures  ] descriptors: %d before, %d right after 500 closed keep-alive requests\n", baseline, after);
  EXPECT_TRUE(pollUntil([&] { return (after = fdCount(pid())) <= baseline + 2; }, 15))
      << "descriptors: " << baseline << " before, " << after << " 15 s after 500 closed keep-alive requests";
}

// A 50 MB chunked body (no Content-Length to refuse it by) is refused by its first bytes past
// the 16 KiB limit: 413 with the stable code within a second, the connection closed, and the
// daemon's peak resident memory grows by less than 5 MB.
TEST_F(Connections, ChunkedBodyOverTheLimitIsRefusedAsItArrives) {
  // Resets the peak (VmHWM) to what is resident now (proc(5), clear_refs "5").
  std::ofstream("/proc/" + std::to_string(pid()) + "/clear_refs") << "5";
  const long before = statusKb(pid(), "VmRSS");
  ASSERT_GT(before, 0);

  const int fd = connectFrom("127.0.0.1", port());
  ASSERT_GE(fd, 0);
  const double start = now();
  ASSERT_TRUE(sendAll(fd, "POST /api/v1/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n"));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'a') + "\r\n";  // 64 KiB of body
  constexpr size_t kTotal = 50u << 20;
  size_t sentBody = 0, offset = 0;
  std::string response;
  double answeredAt = 0;
  while (now() - start < 30) {
    pollfd p{fd, static_cast<short>(POLLIN | (sentBody < kTotal ? POLLOUT : 0)), 0};
    if (poll(&p, 1, 100) <= 0) continue;
    if (p.revents & POLLIN) {
      char buffer[4096];
      const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        if (response.empty()) answeredAt = now();
        response.append(buffer, static_cast<size_t>(n));
      }
      if (n <= 0) break;  // closed after the answer
      continue;
    }
    if (sentBody >= kTotal) continue;
    const ssize_t n = send(fd, chunk.data() + offset, chunk.size() - offset, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) break;  // the server has gone away
    if (n <= 0) continue;
    offset += static_cast<size_t>(n);
    if (offset == chunk.size()) {
      offset = 0;
      sentBody += 0x10000;
      if (sentBody >= kTotal) sendAll(fd, "0\r\n\r\n");
    }
  }
  close(fd);
  ASSERT_FALSE(response.empty()) << "no answer; " << sentBody << " body bytes sent";
  EXPECT_EQ(statusOf(response), 413) << response;
  EXPECT_EQ(jsonString(bodyOf(response), "error.code"), "too_large") << response;
  EXPECT_LT(answeredAt - start, 1.0) << "answered after " << sentBody << " body bytes";
  printf("[ figures  ] 413 after %.3f s and %zu body bytes sent\n", answeredAt - start, sentBody);
  EXPECT_LT(sentBody, kTotal) << "the whole body was taken";
  const long peak = statusKb(pid(), "VmHWM");
  printf("[ figures  ] peak RSS %ld kB -> %ld kB\n", before, peak);
  EXPECT_LT(peak - before, 5 * 1024) << "peak resident memory grew from " << before << " kB to " << peak << " kB";
  // The daemon serves everyone else as before.
  EXPECT_EQ(http("GET", daemon_->url() + "/api/v1/health").status, 200);
}

// Headers in, then a body that stops halfway: closed at the body deadline (3 s here).
TEST_F(Connections, StalledBodyIsClosedAtTheBodyDeadline) {
  const int fd = connectFrom("127.0.0.1", port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(sendAll(fd, "POST /api/v1/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          "Content-Length: 100\r\n\r\n{\"title\":"));
  const double start = now();
  EXPECT_TRUE(closedByPeer(fd, 20)) << "a stalled body was held";
  EXPECT_GT(now() - start, 2.0) << "closed before the body deadline";
  close(fd);
}

// A WebSocket that never says hello is closed at the hello deadline (1.5 s here), with a policy
// violation; one that said hello stays.
TEST_F(Connections, WebSocketWithoutHelloIsClosedAtTheDeadline) {
  const auto created = http("POST", daemon_->url() + "/api/v1/rooms", R"({"title":"hello deadline"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string ws = "ws://" + daemon_->url().substr(7) + "/ws/" + jsonString(created.body, "id");
  WsClient silent, host;
  ASSERT_TRUE(silent.connect(ws));
  ASSERT_TRUE(host.connect(ws));
  host.send(R"({"type":"hello","version":1,"token":")" + jsonString(created.body, "host_token") + "\"}");
  std::string welcome;
  ASSERT_TRUE(host.waitForType("welcome", welcome, 15));
  const double start = now();
  ASSERT_TRUE(silent.waitClosed(20)) << "a WebSocket without hello was held";
  EXPECT_GT(now() - start, 0.5);
  EXPECT_EQ(silent.closeCode(), SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  EXPECT_TRUE(host.isOpen()) << "the session that said hello was closed too";
  // Twenty more: their descriptors go with them (the room's own files come and go: a margin).
  const int before = fdCount(pid());
  {
    std::vector<std::unique_ptr<WsClient>> silentOnes;
    for (int i = 0; i < 20; i++) {
      silentOnes.push_back(std::make_unique<WsClient>());
      ASSERT_TRUE(silentOnes.back()->connect(ws));
    }
    for (auto& c : silentOnes) EXPECT_TRUE(c->waitClosed(20));
  }
  int after = 0;
  EXPECT_TRUE(pollUntil([&] { return (after = fdCount(pid())) <= before + 3; }, 10))
      << "descriptors: " << before << " before 20 WebSockets without hello, " << after << " after they were closed";
  http("DELETE", daemon_->url() + "/api/v1/rooms/" + jsonString(created.body, "id"), {},
       {{"Authorization", "Bearer " + jsonString(created.body, "host_token")}});
}

// 1200 connections that send part of a request and stop: 1000 inside the first bytes the
// router looks at ("GET /hl"), 200 inside headers libsoup reads. While they wait, the daemon
// stays nearly idle; at the header deadline (6 s here) every one of them is closed.
TEST_F(Connections, PartialRequestsCostNothingAndCloseAtTheHeaderDeadline) {
  const int before = fdCount(pid());
  std::vector<int> fds;
  for (int i = 0; i < 1200; i++) {
    const int fd = connectFrom("127.0.0.1", port());
    ASSERT_GE(fd, 0) << "connection " << i;
    fds.push_back(fd);
    ASSERT_TRUE(sendAll(fd, i < 1000 ? "GET /hl" : "POST /api/v1/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"));
  }
  const double sent = now();
  // Measured once the daemon holds them (accepting them is work, waiting must not be); a few
  // of its own descriptors may close meanwhile.
  ASSERT_TRUE(pollUntil([&] { return fdCount(pid()) >= before + 1190; }, 10, 0.05))
      << fdCount(pid()) - before << " of 1200 accepted";
  const double cpuBefore = cpuSeconds(pid());
  const double from = now();
  // A wait with nothing to wait for: the measurement window (no event marks its end).
  pollUntil([] { return false; }, 3.0, 0.5);
  const double cpu = cpuSeconds(pid()) - cpuBefore;
  const double window = now() - from;
  int closedEarly = 0;
  for (int fd : fds) closedEarly += isClosedNow(fd);
  EXPECT_EQ(closedEarly, 0) << "closed before the header deadline";
  // Waiting costs ~0 here; the old 5 ms re-check loop took a third of a core (1000 of them, on
  // this loaded 2-core machine; 95 % when measured alone).
  printf("[ figures  ] %.2f s of CPU in %.2f s holding 1200 partial requests\n", cpu, window);
  EXPECT_LT(cpu, 0.15 * window) << cpu << " s of CPU in " << window << " s with 1200 partial requests";

  size_t closed = 0;
  std::vector<bool> done(fds.size(), false);
  while (closed < fds.size() && now() < sent + 30) {
    std::vector<pollfd> waiting;
    for (size_t i = 0; i < fds.size(); i++)
      if (!done[i]) waiting.push_back({fds[i], POLLIN, 0});
    if (poll(waiting.data(), waiting.size(), 200) <= 0) continue;
    for (size_t i = 0; i < fds.size(); i++)
      if (!done[i] && isClosedNow(fds[i])) {
        done[i] = true;
        closed++;
      }
  }
  EXPECT_EQ(closed, fds.size()) << "partial requests held past the header deadline";
  EXPECT_GT(now() - sent, 5.0) << "closed before the header deadline";
  for (int fd : fds) close(fd);
  EXPECT_EQ(http("GET", daemon_->url() + "/api/v1/health").status, 200);
}

// Five connections per address here: the sixth from the same address is told 429 and closed at
// once, while other addresses are served; when one of the five closes, the address may connect
// again.
TEST_F(Connections, PerAddressCapRefusesTheConnectionOverIt) {
  std::vector<int> held;
  for (int i = 0; i < 5; i++) {
    const int fd = connectFrom("127.0.0.2", port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(sendAll(fd, kHealth));
    ASSERT_EQ(statusOf(readResponse(fd, 10)), 200) << "connection " << i;  // now idle, kept alive
    held.push_back(fd);
  }
  const int over = connectFrom("127.0.0.2", port());
  ASSERT_GE(over, 0);
  const std::string refused = readResponse(over, 10);
  EXPECT_EQ(statusOf(refused), 429) << refused;
  EXPECT_EQ(jsonString(bodyOf(refused), "error.code"), "rate_limited") << refused;
  EXPECT_TRUE(closedByPeer(over, 10));
  close(over);

  const int other = connectFrom("127.0.0.3", port());
  ASSERT_GE(other, 0);
  EXPECT_TRUE(sendAll(other, kHealth));
  EXPECT_EQ(statusOf(readResponse(other, 10)), 200) << "another address was refused";
  close(other);
  // The five still work.
  EXPECT_TRUE(sendAll(held[0], kHealth));
  EXPECT_EQ(statusOf(readResponse(held[0], 10)), 200);

  close(held.back());
  held.pop_back();
  bool served = false;  // pollUntil asks once more after the last try: ask the daemon only until served
  EXPECT_TRUE(pollUntil([&] {
    if (served) return true;
    const int again = connectFrom("127.0.0.2", port());
    served = again >= 0 && sendAll(again, kHealth) && statusOf(readResponse(again, 5)) == 200;
    if (again >= 0) close(again);
    return served;
  }, 10, 0.2)) << "a closed connection still counted against its address";
  for (int fd : held) close(fd);
}

// An idle keep-alive connection is closed at the keep-alive timeout (1 s here).
TEST(ConnectionsIdle, IdleKeepAliveConnectionIsClosedAtTheTimeout) {
  TempDir dir("roomcast-connections-idle");
  Daemon daemon(std::vector<std::string>{"--config", writeConfig(dir, "keepalive_timeout_s = 1\n")});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const int fd = connectFrom("127.0.0.1", portOf(daemon));
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(sendAll(fd, kHealth));
  ASSERT_EQ(statusOf(readResponse(fd, 10)), 200);
  // A second request on the same connection is served (it is kept alive).
  ASSERT_TRUE(sendAll(fd, kHealth));
  ASSERT_EQ(statusOf(readResponse(fd, 10)), 200);
  const double idleSince = now();
  EXPECT_TRUE(closedByPeer(fd, 20)) << "an idle keep-alive connection was held";
  EXPECT_GT(now() - idleSince, 0.5) << "closed before the keep-alive timeout";
  close(fd);
}

// Out of descriptors (its open-file limit lowered to what it holds, from outside with
// prlimit): accept fails with EMFILE, and the daemon backs off instead of spinning on a
// listening socket that stays readable; when descriptors are back, the waiting clients are served.
TEST(ConnectionsEmfile, AcceptBacksOffAtTheFdLimitAndRecovers) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const int pid = daemon.pid();
  rlimit original{};
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, nullptr, &original), 0);
  rlimit starved = original;
  starved.rlim_cur = static_cast<rlim_t>(fdCount(pid));
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, &starved, nullptr), 0);
  std::vector<int> waiting;
  for (int i = 0; i < 5; i++) {
    const int fd = connectFrom("127.0.0.1", portOf(daemon));  // the kernel's backlog takes it
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(sendAll(fd, kHealth));
    waiting.push_back(fd);
  }
  const double cpuBefore = cpuSeconds(pid);
  const double from = now();
  pollUntil([] { return false; }, 3.0, 0.5);  // the measurement window
  const double cpu = cpuSeconds(pid) - cpuBefore;
  const double window = now() - from;
  printf("[ figures  ] %.2f s of CPU in %.2f s out of descriptors\n", cpu, window);
  EXPECT_LT(cpu, 0.15 * window) << "accepting spun: " << cpu << " s of CPU in " << window << " s";
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, &original, nullptr), 0);
  for (int fd : waiting) {
    EXPECT_EQ(statusOf(readResponse(fd, 10)), 200) << "not served once descriptors were back";
    close(fd);
  }
  EXPECT_TRUE(daemon.running()) << daemon.log();
}

}  // namespace
