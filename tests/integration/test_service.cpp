// roomcastd as a service: /api/v1/health checks what it claims, and systemd hears from it.
// - Another process holding the database's write lock: health answers 503 naming "database",
//   and 200 again once the lock is gone.
// - The data dir's file system full (an 8 MB tmpfs in a private mount namespace): 503 naming
//   "disk", 200 again once space returns.
// - Under a notify socket (what systemd's Type=notify gives it): READY=1 only once the server
//   answers, WATCHDOG=1 again and again from the control loop, STOPPING=1 on SIGTERM.
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "full_disk.h"
#include "processes.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;

namespace {

HttpResponse health(const Daemon& daemon) { return http("GET", daemon.url() + "/api/v1/health"); }

bool failedNames(const HttpResponse& r, const std::string& check) {
  for (long long i = 0; i < jsonCount(r.body, "failed"); i++)
    if (jsonString(r.body, "failed." + std::to_string(i)) == check) return true;
  return false;
}

TEST(Health, AllChecksPassOnAFreshServerWithARoom) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const TestRoom room = createRoom(daemon);
  ASSERT_FALSE(room.id.empty());
  const HttpResponse r = health(daemon);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(jsonString(r.body, "status"), "ok") << r.body;
  for (const char* check : {"database", "rooms", "disk"})
    EXPECT_TRUE(jsonBool(r.body, std::string("checks.") + check + ".ok")) << check << ": " << r.body;
  EXPECT_EQ(jsonString(r.body, "checks.rooms.detail"), "1 live") << r.body;
}

TEST(Health, DatabaseThatTakesNoWritesAnswers503NamingIt) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  ASSERT_EQ(health(daemon).status, 200);

  // Another process (a backup tool, a sqlite3 shell left in a transaction) holds the write lock.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((daemon.dataDir() + "/roomcast.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(other);
  const gint64 asked = g_get_monotonic_time();
  const HttpResponse locked = health(daemon);
  const double seconds = (g_get_monotonic_time() - asked) / 1e6;
  EXPECT_EQ(locked.status, 503) << locked.body;
  EXPECT_EQ(jsonString(locked.body, "status"), "failing") << locked.body;
  EXPECT_TRUE(failedNames(locked, "database")) << locked.body;
  EXPECT_FALSE(failedNames(locked, "disk")) << locked.body;
  EXPECT_FALSE(jsonBool(locked.body, "checks.database.ok", true)) << locked.body;
  EXPECT_NE(jsonString(locked.body, "checks.database.detail").find("locked"), std::string::npos) << locked.body;
  // The probe waits a quarter second for the lock, not the store's 5 s: generous bound.
  EXPECT_LT(seconds, 4.0);
  std::printf("health with the database locked: %d in %.3f s: %s\n", locked.status, seconds, locked.body.c_str());

  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_TRUE(pollUntil([&] { return health(daemon).status == 200; }, 10)) << health(daemon).body;
}

TEST(Health, FullDiskAnswers503NamingIt) {
  if (!canMountPrivately()) GTEST_SKIP() << "needs mount namespaces (unshare --mount, as root)";
  const TempDir scratch("roomcast-health-disk-");
  const std::string dataDir = scratch.path() + "/data";
  ASSERT_EQ(g_mkdir_with_parents(dataDir.c_str(), 0755), 0);
  const std::string config = scratch.path() + "/roomcast.conf";
  ASSERT_TRUE(g_file_set_contents(config.c_str(), "[server]\nmin_free_disk_mb = 2\n", -1, nullptr));
  DaemonOptions options;
  options.dataDir = dataDir;
  options.args = {"--config", config};
  options.prefix = {"unshare", "--mount", "--propagation", "private", "sh", "-c",
                    "mount -t tmpfs -o size=8m roomcast-test \"$0\" && exec \"$@\"", dataDir};
  Daemon daemon(options);
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const HttpResponse before = health(daemon);
  ASSERT_EQ(before.status, 200) << before.body;
  const std::string inside = "/proc/" + std::to_string(daemon.pid()) + "/root" + dataDir;

  EXPECT_GT(fillUp(inside + "/filler"), 1024u * 1024u);
  const HttpResponse full = health(daemon);
  EXPECT_EQ(full.status, 503) << full.body;
  EXPECT_TRUE(failedNames(full, "disk")) << full.body;
  EXPECT_NE(jsonString(full.body, "checks.disk.detail").find("below 2 MB"), std::string::npos) << full.body;
  std::printf("health on a full disk: %d %s\n", full.status, full.body.c_str());

  ASSERT_EQ(g_unlink((inside + "/filler").c_str()), 0);
  EXPECT_TRUE(pollUntil([&] { return health(daemon).status == 200; }, 10)) << health(daemon).body;
}

// The notify socket systemd would pass in NOTIFY_SOCKET: datagrams, one message each.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    g_strlcpy(address.sun_path, path.c_str(), sizeof address.sun_path);
    bound_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
    g_unlink(path_.c_str());
  }
  bool bound() const { return bound_; }
  // Takes in what has arrived.
  const std::vector<std::string>& messages() {
    char buffer[4096];
    for (ssize_t n; (n = recv(fd_, buffer, sizeof buffer, 0)) > 0;) messages_.emplace_back(buffer, n);
    return messages_;
  }
  size_t count(const std::string& prefix) {
    size_t n = 0;
    for (const auto& m : messages())
      if (m.rfind(prefix, 0) == 0) n++;
    return n;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::vector<std::string> messages_;
};

TEST(Service, TellsSystemdItIsReadyAndAliveAndStopping) {
  const TempDir scratch("roomcast-notify-");
  NotifySocket notify(scratch.path() + "/notify");
  ASSERT_TRUE(notify.bound());
  const int port = freeTcpPort();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  // What systemd sets for a Type=notify unit with WatchdogSec=2: the watchdog is meant for the
  // PID it names, the shell's, which roomcastd takes over by exec.
  g_setenv("NOTIFY_SOCKET", (scratch.path() + "/notify").c_str(), TRUE);
  g_setenv("WATCHDOG_USEC", "2000000", TRUE);
  Process daemon({"sh", "-c", "WATCHDOG_PID=$$ exec \"$0\" \"$@\"", buildPath("src/app/roomcastd"), "--listen",
                  "127.0.0.1:" + std::to_string(port), "--data-dir", scratch.path() + "/data"});
  g_unsetenv("NOTIFY_SOCKET");
  g_unsetenv("WATCHDOG_USEC");
  ASSERT_TRUE(daemon.started());

  ASSERT_TRUE(pollUntil([&] { return notify.count("READY=1") == 1; }, 30)) << daemon.errors();
  // READY=1 came after the socket listened: the server answers at once.
  EXPECT_EQ(http("GET", url + "/api/v1/health").status, 200);
  std::string ready;
  for (const auto& m : notify.messages())
    if (m.rfind("READY=1", 0) == 0) ready = m;
  EXPECT_NE(ready.find("STATUS=listening on " + url), std::string::npos) << ready;

  // Pings every second (half of WatchdogSec) while the control loop runs.
  EXPECT_TRUE(pollUntil([&] { return notify.count("WATCHDOG=1") >= 3; }, 20)) << notify.count("WATCHDOG=1");

  daemon.terminate();
  EXPECT_TRUE(pollUntil([&] { return notify.count("STOPPING=1") == 1; }, 15)) << daemon.errors();
  EXPECT_TRUE(daemon.wait(20).finished);
}

// Without NOTIFY_SOCKET (a plain run, the tests, start.sh) nothing changes and nothing pings.
TEST(Service, RunsAsBeforeOutsideSystemd) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  EXPECT_EQ(daemon.log().find("watchdog"), std::string::npos) << daemon.log();
}

}  // namespace
