// roomcastd's composition root (app::Daemon) and its start-up checks. In-process: a daemon
// with a live, recording room ends it on SIGTERM (the recording finished and indexed) before
// run() returns, and taking the daemon down closes its port and every descriptor it opened.
// As a program: a bad moderation policy stops roomcastd before it touches the store.
#include <arpa/inet.h>
#include <dirent.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "app/daemon.h"
#include "app/daemon_inputs.h"
#include "app/options.h"
#include "processes.h"
#include "store/database.h"
#include "wait.h"

using namespace roomcast;
using namespace roomcast::testing;

namespace {

int openDescriptors() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* entry = readdir(dir))
    if (entry->d_name[0] != '.') count++;
  closedir(dir);
  return count - 1;  // the directory's own
}

bool acceptsConnections(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return connected;
}

app::Options daemonOptions(const std::string& dataDir, int port) {
  std::vector<std::string> args{"roomcastd", "--listen", "127.0.0.1:" + std::to_string(port), "--data-dir", dataDir};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  auto options = app::parseOptions(static_cast<int>(args.size()), argv.data());
  EXPECT_TRUE(options) << options.error().message;
  return options.value();
}

// The size of the first file in `dir` (0: none yet).
goffset recordedBytes(const std::string& dir) {
  g_autoptr(GDir) listing = g_dir_open(dir.c_str(), 0, nullptr);
  const char* name = listing ? g_dir_read_name(listing) : nullptr;
  if (!name) return 0;
  g_autofree char* path = g_build_filename(dir.c_str(), name, nullptr);
  GStatBuf st;
  return g_stat(path, &st) == 0 ? st.st_size : 0;
}

// The POST runs on its own thread (a blocking client) while this one turns the daemon's loop.
HttpResponse createRecordingRoom(int port) {
  std::atomic<bool> done{false};
  HttpResponse response;
  std::thread client([&] {
    response = http("POST", "http://127.0.0.1:" + std::to_string(port) + "/api/v1/rooms",
                    R"({"title":"daemon test","record":true})");
    done = true;
    g_main_context_wakeup(g_main_context_default());
  });
  iterateUntil(g_main_context_default(), [&] { return done.load(); }, 30);
  client.join();
  return response;
}

struct Lifetime {
  bool roomEndedBeforeRunReturned = false;
  bool stoppedBySigterm = false;
  int exitCode = -1;
};

// One daemon from start to teardown: a recording room, then SIGTERM.
Lifetime liveOnce(const std::string& dataDir) {
  Lifetime seen;
  const int port = freeTcpPort();
  app::Options options = daemonOptions(dataDir, port);
  auto inputs = app::loadDaemonInputs(options);
  if (auto* failed = std::get_if<app::StartFailure>(&inputs)) {
    ADD_FAILURE() << failed->message;
    return seen;
  }
  {
    app::Daemon daemon(options, std::move(std::get<app::DaemonInputs>(inputs)));
    auto started = daemon.start();
    EXPECT_TRUE(started) << started.error().message;
    EXPECT_TRUE(acceptsConnections(port));
    const HttpResponse created = createRecordingRoom(port);
    EXPECT_EQ(created.status, 201) << created.body;
    // Some audio in the recording first: the room's clock runs with nobody on stage.
    const std::string recordings = dataDir + "/recordings";
    EXPECT_TRUE(iterateUntil(g_main_context_default(), [&] { return recordedBytes(recordings) > 4000; }, 20))
        << "no audio recorded";
    // A daemon that does not stop on SIGTERM is stopped by a second signal, and the test fails.
    static bool secondSignal;
    secondSignal = false;
    const guint guard = g_timeout_add_seconds(30, [](gpointer) -> gboolean {
      secondSignal = true;
      raise(SIGINT);
      return G_SOURCE_REMOVE;
    }, nullptr);
    kill(getpid(), SIGTERM);
    seen.exitCode = daemon.run();
    seen.stoppedBySigterm = !secondSignal;
    if (!secondSignal) g_source_remove(guard);
  }
  EXPECT_FALSE(acceptsConnections(port)) << "the port is closed with the daemon";
  auto store = store::Database::open(dataDir + "/roomcast.db");
  if (!store) return seen;
  const auto rows = store.value()->recordings(10);
  seen.roomEndedBeforeRunReturned = !rows.empty() && rows[0].status == "finished" && rows[0].durationSeconds > 0;
  return seen;
}

TEST(Daemon, SigtermFinishesTheRoomsThenTeardownClosesEveryDescriptorItOpened) {
  gst_init(nullptr, nullptr);
  TempDir first("roomcast-daemon-1"), second("roomcast-daemon-2");
  // The first daemon also makes what a process makes once (GStreamer's registry, the DTLS
  // certificate, thread pools); the second must leave exactly as many descriptors open.
  const Lifetime once = liveOnce(first.path() + "/data");
  EXPECT_TRUE(once.stoppedBySigterm);
  EXPECT_TRUE(once.roomEndedBeforeRunReturned) << "the recording was not finished at SIGTERM";
  EXPECT_EQ(once.exitCode, 0);
  const int before = openDescriptors();
  const Lifetime twice = liveOnce(second.path() + "/data");
  EXPECT_TRUE(twice.stoppedBySigterm);
  EXPECT_TRUE(twice.roomEndedBeforeRunReturned);
  EXPECT_EQ(openDescriptors(), before) << "descriptors left open by a daemon that was taken down";
}

TEST(Daemon, ABadModerationPolicyStopsRoomcastdBeforeItTouchesTheStore) {
  TempDir dir("roomcast-daemon-policy");
  const std::string dataDir = dir.path() + "/data";
  ASSERT_EQ(g_mkdir_with_parents(dataDir.c_str(), 0700), 0);
  {
    // A recording a crash cut off: the next start that runs recovers it.
    auto store = store::Database::open(dataDir + "/roomcast.db");
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE(store.value()->recordingStarted("r1", "cut off", dataDir + "/recordings/gone.ogg", 1000));
  }
  const std::string config = dir.path() + "/roomcast.conf";
  ASSERT_TRUE(g_file_set_contents(
      config.c_str(), ("[moderation]\nenabled = true\npolicy = " + dir.path() + "/no-such-policy.json\n").c_str(), -1,
      nullptr));
  auto r = run({buildPath("src/app/roomcastd"), "--listen", "127.0.0.1:" + std::to_string(freeTcpPort()),
                "--data-dir", dataDir, "--config", config},
               30);
  ASSERT_TRUE(r.finished) << r.stderrText;
  EXPECT_EQ(r.exitStatus, 1) << r.stderrText;
  EXPECT_NE(r.stderrText.find("no-such-policy.json"), std::string::npos) << r.stderrText;
  EXPECT_EQ(r.stderrText.find("listening on"), std::string::npos) << r.stderrText;
  EXPECT_EQ(r.stderrText.find("recording "), std::string::npos) << "the store was touched: " << r.stderrText;
  auto store = store::Database::open(dataDir + "/roomcast.db");
  ASSERT_TRUE(store);
  EXPECT_EQ(store.value()->unfinishedRecordings().size(), 1u) << "recovered by a start that did not run";
}

}  // namespace
