// What roomcastd keeps and how: a data dir and database only its user can read (also when an
// earlier version left them readable), no room answered 201 that the store did not keep,
// evidence files with names that never collide and a disk quota, and the web app's security
// headers.
#include <glib/gstdio.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "processes.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;

namespace {

unsigned modeOf(const std::string& path) {
  GStatBuf st;
  return g_stat(path.c_str(), &st) == 0 ? static_cast<unsigned>(st.st_mode & 0777) : 01000;  // 01000: missing
}

// A daemon on <dir>/data, a data dir it creates itself (the log stays in <dir>).
DaemonOptions onDataDir(const std::string& dir, std::vector<std::string> args = {}) {
  DaemonOptions options;
  options.dataDir = dir;
  options.args = {"--data-dir", dir + "/data"};
  options.args.insert(options.args.end(), args.begin(), args.end());
  return options;
}

struct Client {
  WsClient ws;
  std::string identity;
  bool join(const Daemon& daemon, const std::string& roomId, const std::string& token) {
    if (!ws.connect(wsUrl(daemon, roomId))) return false;
    ws.send(R"({"type":"hello","version":1,"token":")" + token + "\"}");
    std::string welcome;
    if (!ws.waitForType("welcome", welcome)) return false;
    identity = jsonString(welcome, "you.identity");
    return true;
  }
};

}  // namespace

TEST(DataDir, IsPrivateWhenCreatedAndMadePrivateWhenFound) {
  TempDir dir("roomcast-perm");
  const mode_t previous = umask(022);  // the usual umask: what the files would get by default
  const std::string data = dir.path() + "/data";
  {
    Daemon daemon(onDataDir(dir.path()));
    ASSERT_TRUE(daemon.ready()) << daemon.log();
    EXPECT_EQ(modeOf(data), 0700u);
    EXPECT_EQ(modeOf(data + "/roomcast.db"), 0600u);
    EXPECT_EQ(modeOf(data + "/roomcast.db-wal"), 0600u);
    EXPECT_EQ(modeOf(data + "/roomcast.db-shm"), 0600u);
    EXPECT_EQ(modeOf(data + "/secret"), 0600u);
    EXPECT_EQ(createRoom(daemon).id.empty(), false);
  }
  // As an earlier version left them: readable by everyone.
  ASSERT_EQ(g_chmod(data.c_str(), 0755), 0);
  ASSERT_EQ(g_chmod((data + "/roomcast.db").c_str(), 0644), 0);
  ASSERT_EQ(g_chmod((data + "/secret").c_str(), 0644), 0);
  {
    DaemonOptions again = onDataDir(dir.path());
    again.logSuffix = "-again";
    Daemon daemon(again);
    ASSERT_TRUE(daemon.ready()) << daemon.log();
    EXPECT_EQ(modeOf(data), 0700u);
    EXPECT_EQ(modeOf(data + "/roomcast.db"), 0600u);
    EXPECT_EQ(modeOf(data + "/roomcast.db-wal"), 0600u);
    EXPECT_EQ(modeOf(data + "/secret"), 0600u);
    EXPECT_NE(daemon.log().find("now 700"), std::string::npos) << daemon.log();
  }
  umask(previous);
}

// Another process holds the database's write lock (a backup, an operator's sqlite3 shell):
// the room cannot be stored, so it is not created. Once the lock goes, rooms are created.
TEST(Store, ARoomThatCannotBeStoredIsNotCreated) {
  TempDir dir("roomcast-store");
  Daemon daemon(onDataDir(dir.path()));
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() + "/data/roomcast.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);

  auto refused = http("POST", daemon.url() + "/api/v1/rooms", R"({"title":"Not stored"})");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(jsonString(refused.body, "error.code"), "store_unavailable") << refused.body;
  auto rooms = http("GET", daemon.url() + "/api/v1/rooms");
  EXPECT_EQ(jsonCount(rooms.body, "rooms"), 0) << rooms.body;
  EXPECT_NE(daemon.log().find("not created"), std::string::npos) << daemon.log();

  ASSERT_EQ(sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  auto created = http("POST", daemon.url() + "/api/v1/rooms", R"({"title":"Stored"})");
  EXPECT_EQ(created.status, 201) << created.body;
  rooms = http("GET", daemon.url() + "/api/v1/rooms");
  EXPECT_EQ(jsonCount(rooms.body, "rooms"), 1) << rooms.body;
  // The store holds exactly the room that was answered 201.
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT group_concat(title) FROM rooms", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  const unsigned char* titles = sqlite3_column_text(st, 0);
  EXPECT_EQ(std::string(titles ? reinterpret_cast<const char*>(titles) : ""), "Stored");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

// Reports filed in bursts (many in one millisecond) each keep their own evidence file, until
// the room's quota, then the whole evidence quota, is reached; past a quota the report is
// still stored, without evidence, and the log says why.
TEST(Evidence, UniqueFilesWithinTheRoomAndTotalQuotas) {
  TempDir dir("roomcast-evidence");
  const std::string config = dir.path() + "/roomcast.conf";
  // Each file holds the room's recent audio, about 5 kB per 750 ms segment (10 kB a moment
  // after the first segment): a room's quota of 60 kB takes a few of the burst's 8, and the
  // second room reaches the total of 90 kB before its own.
  constexpr double kRoomMb = 0.06, kTotalMb = 0.09;
  ASSERT_TRUE(g_file_set_contents(config.c_str(), ("[moderation]\nevidence_room_max_mb = " + std::to_string(kRoomMb) +
                                                   "\nevidence_max_mb = " + std::to_string(kTotalMb) + "\n").c_str(),
                                  -1, nullptr));
  Daemon daemon(onDataDir(dir.path(), {"--config", config}));
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const std::string evidenceDir = dir.path() + "/data/evidence";
  constexpr int kReports = 8;

  std::set<std::string> allPaths;
  long long kept = 0;
  for (const char* title : {"First", "Second"}) {
    const TestRoom room = createRoom(daemon, title);
    ASSERT_FALSE(room.id.empty());
    // Evidence is the room's recent HLS audio: wait for some.
    ASSERT_TRUE(pollUntil([&] { return http("GET", daemon.url() + "/hls/" + room.id + "/index.m3u8").status == 200; }, 30));
    Client host;
    ASSERT_TRUE(host.join(daemon, room.id, room.hostToken));
    std::vector<std::unique_ptr<Client>> crowd;
    for (int i = 0; i < kReports; i++) {
      crowd.push_back(std::make_unique<Client>());
      const auto token = http("POST", daemon.url() + "/api/v1/rooms/" + room.id + "/tokens",
                              R"({"role":"listener","name":"r)" + std::to_string(i) + "\"}");
      ASSERT_TRUE(crowd.back()->join(daemon, room.id, jsonString(token.body, "token")));
    }
    for (auto& c : crowd) c->ws.send(R"({"type":"report","identity":")" + host.identity + R"(","reason":"burst"})");
    std::string msg;
    for (int i = 0; i < kReports; i++) ASSERT_TRUE(host.ws.waitForType("report", msg, 20)) << "report " << i;

    auto reports = http("GET", daemon.url() + "/api/v1/rooms/" + room.id + "/reports", "",
                        {{"Authorization", "Bearer " + room.hostToken}});
    ASSERT_EQ(jsonCount(reports.body, "reports"), kReports) << "every report is stored, with evidence or not";
    std::set<std::string> paths;
    for (int i = 0; i < kReports; i++) {
      const std::string path = jsonString(reports.body, "reports." + std::to_string(i) + ".evidence");
      if (!path.empty()) paths.insert(path);
    }
    long long withEvidence = 0;
    for (int i = 0; i < kReports; i++)
      withEvidence += jsonString(reports.body, "reports." + std::to_string(i) + ".evidence").empty() ? 0 : 1;
    EXPECT_EQ(static_cast<long long>(paths.size()), withEvidence) << "each report's evidence has its own name";
    EXPECT_LT(withEvidence, kReports) << title << ": the quota must stop evidence at some point";
    // The room's files, once written (off the control thread, moments later), fit its quota.
    long long roomBytes = 0;
    EXPECT_TRUE(pollUntil([&] {
      roomBytes = 0;
      for (const auto& p : paths) {
        GStatBuf st;
        if (g_stat(p.c_str(), &st) != 0) return false;
        roomBytes += st.st_size;
      }
      return true;
    }, 30));
    EXPECT_LE(roomBytes, static_cast<long long>(kRoomMb * 1024 * 1024));
    std::printf("room %s: %lld of %d reports kept evidence, %lld bytes\n", title, withEvidence, kReports, roomBytes);
    kept += withEvidence;
    allPaths.insert(paths.begin(), paths.end());
  }
  EXPECT_GE(kept, 1);
  // The directory holds every named file and nothing else, within the total quota.
  long long files = 0, bytes = 0;
  g_autoptr(GDir) listing = g_dir_open(evidenceDir.c_str(), 0, nullptr);
  while (const char* name = listing ? g_dir_read_name(listing) : nullptr) {
    GStatBuf st;
    if (g_stat((evidenceDir + "/" + name).c_str(), &st) == 0) {
      files++;
      bytes += st.st_size;
    }
  }
  EXPECT_EQ(files, static_cast<long long>(allPaths.size())) << "no file overwrote another";
  EXPECT_LE(bytes, static_cast<long long>(kTotalMb * 1024 * 1024)) << "the total quota";
  // Which quota stopped which room depends on the files' sizes (the rooms' age): the log says
  // one of them for each report kept without evidence.
  EXPECT_NE(daemon.log().find("kept without evidence: the room's evidence quota is reached"), std::string::npos)
      << daemon.log();
}

// A room whose process was killed keeps playlists without ENDLIST. Served from its files after
// the restart, they must not be cached for a year as if final: they may yet be finished.
TEST(Hls, PlaylistsOfARoomCutOffByAKillAreNotCachedForever) {
  TempDir dir("roomcast-killed");
  std::string roomId;
  {
    Daemon first(onDataDir(dir.path()));
    ASSERT_TRUE(first.ready()) << first.log();
    roomId = createRoom(first, "Cut off").id;
    ASSERT_FALSE(roomId.empty());
    ASSERT_TRUE(pollUntil([&] {
      return http("GET", first.url() + "/hls/" + roomId + "/index.m3u8").body.find(".ts") != std::string::npos;
    }, 30));
    ASSERT_TRUE(pollUntil([&] {
      g_autofree char* text = nullptr;
      return g_file_get_contents((dir.path() + "/data/hls/" + roomId + "/index.m3u8").c_str(), &text, nullptr, nullptr) &&
             std::string(text).find(".ts") != std::string::npos;
    }, 30)) << "the playlist is on disk";
    first.kill();
  }
  DaemonOptions again = onDataDir(dir.path());
  again.logSuffix = "-again";
  Daemon second(again);
  ASSERT_TRUE(second.ready()) << second.log();
  auto playlist = http("GET", second.url() + "/hls/" + roomId + "/index.m3u8");
  ASSERT_EQ(playlist.status, 200) << playlist.body;
  EXPECT_EQ(playlist.body.find("#EXT-X-ENDLIST"), std::string::npos) << playlist.body;
  EXPECT_EQ(playlist.header("Cache-Control"), "no-cache");
  const size_t ts = playlist.body.find(".ts");
  const size_t line = playlist.body.rfind('\n', ts) + 1;
  auto segment = http("GET", second.url() + "/hls/" + roomId + "/" + playlist.body.substr(line, ts + 3 - line));
  EXPECT_EQ(segment.status, 200);
  EXPECT_EQ(segment.header("Cache-Control"), "public, max-age=31536000, immutable") << "a listed segment is whole";
}

// The web app cannot be framed, loads nothing from elsewhere, and no response is sniffed.
TEST(WebApp, SecurityHeaders) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  auto page = http("GET", daemon.url() + "/");
  ASSERT_EQ(page.status, 200);
  const std::string csp = page.header("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << csp;
  EXPECT_NE(csp.find("object-src 'none'"), std::string::npos) << csp;
  EXPECT_EQ(page.header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(page.header("X-Frame-Options"), "DENY");
  EXPECT_EQ(page.header("Referrer-Policy"), "no-referrer");
  for (const char* path : {"/app.js", "/api/v1/health", "/api/v1/rooms/nope/reports", "/recordings/none.ogg"})
    EXPECT_EQ(http("GET", daemon.url() + path).header("X-Content-Type-Options"), "nosniff") << path;
}
