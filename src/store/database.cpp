#include "store/database.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace roomcast::store {

using core::Error;
using core::ErrorCode;

namespace {

// Each entry upgrades the schema by one version; never edit a shipped entry.
const char* const kMigrations[] = {
    R"sql(
    CREATE TABLE rooms (
      id TEXT PRIMARY KEY,
      title TEXT NOT NULL,
      topic TEXT NOT NULL,
      record INTEGER NOT NULL,
      created_at_ms INTEGER NOT NULL,
      ended_at_ms INTEGER
    );
    CREATE TABLE recordings (
      id INTEGER PRIMARY KEY,
      room_id TEXT NOT NULL REFERENCES rooms(id),
      path TEXT NOT NULL,
      started_at_ms INTEGER NOT NULL,
      ended_at_ms INTEGER NOT NULL,
      duration_s REAL NOT NULL
    );
    )sql",
    R"sql(
    CREATE TABLE chat_messages (
      room_id TEXT NOT NULL,
      id INTEGER NOT NULL,
      identity TEXT NOT NULL,
      name TEXT NOT NULL,
      text TEXT NOT NULL,
      sent_at_ms INTEGER NOT NULL,
      deleted_at_ms INTEGER,
      PRIMARY KEY (room_id, id)
    );
    CREATE TABLE reports (
      id INTEGER PRIMARY KEY,
      room_id TEXT NOT NULL,
      reporter TEXT NOT NULL,
      identity TEXT NOT NULL,
      message_id INTEGER,
      message_text TEXT,
      reason TEXT NOT NULL,
      created_at_ms INTEGER NOT NULL
    );
    CREATE INDEX reports_by_room ON reports(room_id, id);
    )sql",
    // Recordings are indexed as they start (so a crash leaves a row to recover), there may be
    // several per room, and each has a status.
    R"sql(
    CREATE TABLE recordings_v3 (
      id INTEGER PRIMARY KEY,
      room_id TEXT NOT NULL,
      title TEXT NOT NULL,
      path TEXT NOT NULL UNIQUE,
      started_at_ms INTEGER NOT NULL,
      ended_at_ms INTEGER,
      duration_s REAL,
      status TEXT NOT NULL,
      note TEXT,
      storage_url TEXT
    );
    INSERT INTO recordings_v3(id, room_id, title, path, started_at_ms, ended_at_ms, duration_s, status)
      SELECT r.id, r.room_id, COALESCE(rooms.title, ''), r.path, r.started_at_ms, r.ended_at_ms, r.duration_s, 'finished'
      FROM recordings r LEFT JOIN rooms ON rooms.id = r.room_id;
    DROP TABLE recordings;
    ALTER TABLE recordings_v3 RENAME TO recordings;
    CREATE INDEX recordings_by_room ON recordings(room_id, started_at_ms);
    CREATE TABLE transcript_segments (
      id INTEGER PRIMARY KEY,
      room_id TEXT NOT NULL,
      identity TEXT NOT NULL,
      name TEXT NOT NULL,
      text TEXT NOT NULL,
      start_ms INTEGER NOT NULL,
      end_ms INTEGER NOT NULL
    );
    CREATE INDEX transcript_by_room_time ON transcript_segments(room_id, start_ms);
    CREATE VIRTUAL TABLE transcript_fts USING fts5(text, name, content='transcript_segments', content_rowid='id');
    CREATE TRIGGER transcript_indexed AFTER INSERT ON transcript_segments BEGIN
      INSERT INTO transcript_fts(rowid, text, name) VALUES (new.id, new.text, new.name);
    END;
    ALTER TABLE reports ADD COLUMN evidence_path TEXT;
    CREATE TABLE moderation_actions (
      id INTEGER PRIMARY KEY,
      room_id TEXT NOT NULL,
      identity TEXT NOT NULL,
      name TEXT NOT NULL,
      category TEXT NOT NULL,
      severity TEXT NOT NULL,
      action TEXT NOT NULL,
      snippet TEXT NOT NULL,
      span_start_ms INTEGER NOT NULL,
      span_end_ms INTEGER NOT NULL,
      evidence_path TEXT,
      created_at_ms INTEGER NOT NULL
    );
    )sql",
    // Uploads to S3: the last failure, so the archive says why a recording is still local.
    R"sql(
    ALTER TABLE recordings ADD COLUMN upload_error TEXT;
    )sql",
    // A cluster's archive (docs/cluster.md, "The archive"): every node holds every node's
    // recordings and transcripts, each under an id that is the same everywhere; `node` is the
    // node holding the file ('' for this one); recordings of one room's life (a failover reopens
    // it with the same created_at) share a session. The cursor is how far the shared log was applied.
    R"sql(
    ALTER TABLE recordings ADD COLUMN archive_id TEXT;
    ALTER TABLE recordings ADD COLUMN node TEXT NOT NULL DEFAULT '';
    ALTER TABLE recordings ADD COLUMN session TEXT NOT NULL DEFAULT '';
    ALTER TABLE recordings ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
    UPDATE recordings SET archive_id = lower(hex(randomblob(16))),
      session = room_id || '@' || COALESCE((SELECT created_at_ms FROM rooms WHERE rooms.id = recordings.room_id), 0);
    CREATE UNIQUE INDEX recordings_by_archive_id ON recordings(archive_id);
    CREATE INDEX recordings_by_session ON recordings(session, started_at_ms);
    ALTER TABLE transcript_segments ADD COLUMN archive_id TEXT;
    UPDATE transcript_segments SET archive_id = lower(hex(randomblob(16)));
    CREATE UNIQUE INDEX transcript_by_archive_id ON transcript_segments(archive_id);
    CREATE TABLE archive_cursor (stream TEXT PRIMARY KEY, last_id TEXT NOT NULL);
    )sql",
};

}  // namespace

Error sqlError(sqlite3* db, const char* what) {
  return {ErrorCode::Internal, std::string(what) + ": " + sqlite3_errmsg(db)};
}

namespace {

// Chat, reports and transcripts are for roomcastd's user alone. SQLite gives the -wal and -shm
// files the database file's permissions, so the database is created (or corrected) 0600 before
// SQLite opens it, and files an earlier version left readable are corrected too.
void makePrivate(const std::string& path) {
  if (path.empty() || path[0] == ':') return;  // ":memory:", not a file
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) {
    struct stat st {};
    if (fstat(fd, &st) == 0 && (st.st_mode & 0777) != 0600) fchmod(fd, 0600);
    ::close(fd);
  }
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    struct stat st {};
    const std::string side = path + suffix;
    if (stat(side.c_str(), &st) == 0 && (st.st_mode & 0777) != 0600) chmod(side.c_str(), 0600);
  }
}

}  // namespace

core::Result<std::unique_ptr<Database>> Database::open(const std::string& path) {
  makePrivate(path);
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    Error e{ErrorCode::Internal, "cannot open database " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory")};
    sqlite3_close(raw);
    return e;
  }
  auto db = std::make_unique<Database>(Passkey(), raw);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  if (auto s = db->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"); !s)
    return s.error();

  int version = 0;
  {
    Statement st;
    sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st.stmt, nullptr);
    if (sqlite3_step(st.stmt) == SQLITE_ROW) version = sqlite3_column_int(st.stmt, 0);
  }
  const int latest = static_cast<int>(std::size(kMigrations));
  for (int v = version; v < latest; v++) {
    std::string sql = std::string("BEGIN;") + kMigrations[v] + "PRAGMA user_version=" + std::to_string(v + 1) + ";COMMIT;";
    if (auto s = db->exec(sql.c_str()); !s) return s.error();
  }
  return db;
}

Database::~Database() { sqlite3_close(db_); }

core::Status Database::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    Error e{ErrorCode::Internal, std::string("sqlite: ") + (message ? message : "error")};
    sqlite3_free(message);
    return e;
  }
  return core::Ok{};
}

core::Status Database::roomCreated(const core::RoomInfo& room) {
  Statement st;
  if (!st.prepare(db_, // A room reopened here after a failover may have run here before: live again.
                  "INSERT INTO rooms(id, title, topic, record, created_at_ms) VALUES(?,?,?,?,?) "
                  "ON CONFLICT(id) DO UPDATE SET ended_at_ms = NULL"))
    return sqlError(db_, "prepare");
  sqlite3_bind_text(st.stmt, 1, room.id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.stmt, 2, room.title.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.stmt, 3, room.topic.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st.stmt, 4, room.record ? 1 : 0);
  sqlite3_bind_int64(st.stmt, 5, room.createdAtUnixMs);
  if (sqlite3_step(st.stmt) != SQLITE_DONE) return sqlError(db_, "insert room");
  return core::Ok{};
}

core::Status Database::roomEnded(const std::string& roomId, int64_t endedAtMs) {
  Statement st;
  if (!st.prepare(db_, "UPDATE rooms SET ended_at_ms=? WHERE id=?"))
    return sqlError(db_, "prepare");
  sqlite3_bind_int64(st.stmt, 1, endedAtMs);
  sqlite3_bind_text(st.stmt, 2, roomId.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st.stmt) != SQLITE_DONE) return sqlError(db_, "update room");
  return core::Ok{};
}

}  // namespace roomcast::store
