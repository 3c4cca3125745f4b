// The store adapter (app/store_environment) on a real SQLite store: what the core's
// environments hand it lands in the database, a failed write is logged once as "store: ..."
// and the room goes on, and only a room that cannot be stored is refused. Failures are real:
// a second connection drops the table the write needs.
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "app/store_environment.h"
#include "store/database.h"

using namespace roomcast;

namespace {

// Every warning and message logged while it lives. roomcast logs structured (GStreamer's
// flags), so this is a log writer: GLib takes one per process, installed at the first capture.
class CapturedLog {
 public:
  CapturedLog() {
    static const bool installed = [] {
      g_log_set_writer_func(&CapturedLog::write, nullptr, nullptr);
      return true;
    }();
    (void)installed;
    current_ = this;
  }
  ~CapturedLog() { current_ = nullptr; }
  std::vector<std::string> warnings, messages;

 private:
  static GLogWriterOutput write(GLogLevelFlags level, const GLogField* fields, gsize count, gpointer data) {
    if (current_ && (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE))) {
      for (gsize i = 0; i < count; i++)
        if (g_strcmp0(fields[i].key, "MESSAGE") == 0)
          (level & G_LOG_LEVEL_WARNING ? current_->warnings : current_->messages)
              .push_back(static_cast<const char*>(fields[i].value));
    }
    return g_log_writer_default(level, fields, count, data);
  }
  static inline CapturedLog* current_ = nullptr;
};

class StoreEnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_autofree char* dir = g_dir_make_tmp("roomcast-store-env-XXXXXX", nullptr);
    ASSERT_NE(dir, nullptr);
    dir_ = dir;
    auto db = store::Database::open(dir_ + "/roomcast.db");
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(db.value());
  }
  void TearDown() override {
    db_.reset();
    g_autofree char* command = g_strdup_printf("rm -rf '%s'", dir_.c_str());
    ASSERT_EQ(system(command), 0);
  }
  // Breaks the store for one kind of write, as another process could.
  void dropTable(const char* table) {
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/roomcast.db").c_str(), &other), SQLITE_OK);
    const std::string sql = std::string("DROP TABLE ") + table;
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(other, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(other);
  }
  std::string writeFile(const char* name) {
    const std::string path = dir_ + "/" + name;
    EXPECT_TRUE(g_file_set_contents(path.c_str(), "not audio", -1, nullptr));
    return path;
  }
  const core::RecordingRow* row(const std::vector<core::RecordingRow>& rows, const std::string& path) {
    for (const auto& r : rows)
      if (r.path == path) return &r;
    return nullptr;
  }

  std::string dir_;
  std::unique_ptr<store::Database> db_;
};

core::RoomInfo room(const char* id) {
  core::RoomInfo info;
  info.id = id;
  info.title = std::string("room ") + id;
  return info;
}

core::RecordingInfo recording(const std::string& path, int64_t startedAtMs) {
  core::RecordingInfo info;
  info.path = path;
  info.startedAtMs = startedAtMs;
  return info;
}

TEST_F(StoreEnvironmentTest, ARoomTheStoreCannotKeepIsRefusedWithOneWarning) {
  app::StoreEnvironment env(*db_);
  EXPECT_TRUE(env.roomCreated(room("kept")));
  dropTable("rooms");
  CapturedLog log;
  const core::Status refused = env.roomCreated(room("lost"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ErrorCode::StoreUnavailable);
  ASSERT_EQ(log.warnings.size(), 1u);
  EXPECT_EQ(log.warnings[0].rfind("store: room lost not created: ", 0), 0u) << log.warnings[0];
  // Ending a room the store lost goes on, with the same kind of warning.
  env.roomEnded("lost", 1000);
  ASSERT_EQ(log.warnings.size(), 2u);
  EXPECT_EQ(log.warnings[1].rfind("store: ", 0), 0u) << log.warnings[1];
}

TEST_F(StoreEnvironmentTest, ChatAndReportsGoOnWhenTheStoreFails) {
  app::StoreEnvironment store(*db_);
  core::ConversationEnvironment env;
  store.provideTo(env);
  core::Report report;
  report.roomId = "r1";
  report.reporter = "alice";
  report.reason = "spam";
  const uint64_t firstId = env.reportFiled(report);
  EXPECT_GT(firstId, 0u);
  EXPECT_EQ(db_->reports("r1", 10).size(), 1u);

  dropTable("chat_messages");
  dropTable("reports");
  CapturedLog log;
  env.chatPosted("r1", core::ChatMessage{1, "alice", "Alice", "hello", 1000});
  env.chatDeleted("r1", 1, 2000);
  EXPECT_EQ(env.reportFiled(report), 0u) << "a report the store did not take has no id";
  ASSERT_EQ(log.warnings.size(), 3u);
  for (const auto& warning : log.warnings) EXPECT_EQ(warning.rfind("store: ", 0), 0u) << warning;
}

TEST_F(StoreEnvironmentTest, TranscriptsAreKeptUnlessTheSpeakerOptedOut) {
  app::StoreEnvironment env(*db_);
  core::Participant speaker;
  speaker.identity = "bob";
  speaker.name = "Bob";
  env.transcribed(room("r2"), speaker, "kept words", 1000, 2000);
  speaker.recordingOptOut = true;
  env.transcribed(room("r2"), speaker, "private words", 3000, 4000);
  const auto segments = db_->transcript("r2", 0, 10000);
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_EQ(segments[0].text, "kept words");
}

TEST_F(StoreEnvironmentTest, RecordingsCutOffByACrashAreRecoveredAndListedWithTheirFiles) {
  app::StoreEnvironment env(*db_);
  const std::string present = writeFile("cut-off.ogg");
  const std::string missing = dir_ + "/gone.ogg";
  env.recordingStarted(room("r3"), recording(present, 1000));
  env.recordingStarted(room("r3"), recording(missing, 2000));
  const std::string finished = writeFile("finished.ogg");
  env.recordingStarted(room("r3"), recording(finished, 3000));
  env.recordingStopped(core::RecordingInfo{finished, 3000, 9000, 6.0, false, ""});
  ASSERT_EQ(db_->unfinishedRecordings().size(), 2u);

  CapturedLog log;
  env.recoverUnfinishedRecordings();
  EXPECT_TRUE(db_->unfinishedRecordings().empty());
  EXPECT_TRUE(log.warnings.empty());
  const auto rows = env.recordings();
  ASSERT_NE(row(rows, present), nullptr);
  EXPECT_EQ(row(rows, present)->status, "recovered");
  EXPECT_TRUE(row(rows, present)->localFile);
  ASSERT_NE(row(rows, missing), nullptr);
  EXPECT_EQ(row(rows, missing)->status, "failed");
  EXPECT_FALSE(row(rows, missing)->localFile);
  ASSERT_NE(row(rows, finished), nullptr);
  EXPECT_EQ(row(rows, finished)->status, "finished");
  EXPECT_DOUBLE_EQ(row(rows, finished)->durationSeconds, 6.0);

  // The admin API's delete: out of the archive, and its file gone.
  ASSERT_TRUE(env.deleteRecording(row(rows, finished)->id));
  EXPECT_FALSE(g_file_test(finished.c_str(), G_FILE_TEST_EXISTS));
  EXPECT_EQ(row(env.recordings(), finished), nullptr);
}

}  // namespace
