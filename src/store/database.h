// The embedded store: one SQLite file in the data dir (WAL, busy timeout). Rooms and
// recordings are kept here so the archive outlives the process. Control thread only.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/events.h"
#include "core/result.h"
#include "core/room.h"

namespace roomcast::store {

struct RecordingRow {
  int64_t id = 0;
  std::string roomId;
  std::string title;
  std::string path;
  int64_t startedAtMs = 0;
  int64_t endedAtMs = 0;
  double durationSeconds = 0;
};

class Database {
 public:
  static core::Result<std::unique_ptr<Database>> open(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  core::Status roomCreated(const core::RoomInfo& room);
  core::Status roomEnded(const std::string& roomId, int64_t endedAtMs);
  core::Status recordingFinished(const RecordingRow& row);
  std::vector<RecordingRow> recordings(size_t limit);

  // Chat and reports (database_conversation.cpp).
  core::Status chatPosted(const std::string& roomId, const core::ChatMessage& message);
  core::Status chatDeleted(const std::string& roomId, uint64_t id, int64_t atMs);
  core::Result<uint64_t> reportFiled(const core::Report& report);
  std::vector<core::Report> reports(const std::string& roomId, size_t limit);

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  core::Status exec(const char* sql);
  sqlite3* db_;
};

// One prepared statement, finalized when it goes out of scope.
struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};
core::Error sqlError(sqlite3* db, const char* what);

}  // namespace roomcast::store
