// The cluster's archive in the store: what this node adds is told as facts (to the app, which
// appends them to the shared log), and facts from the log are applied to this node's tables,
// idempotently by archive id, so that every node answers list and search from its own SQLite
// (and FTS5) with the same rows. docs/cluster.md, "The archive".
#include <glib.h>

#include "store/database.h"

namespace roomcast::store {

namespace {

void bindText(sqlite3_stmt* st, int i, const std::string& text) {
  sqlite3_bind_text(st, i, text.c_str(), -1, SQLITE_TRANSIENT);
}

}  // namespace

void Database::setArchiveSink(ArchiveSink sink) {
  archive_.sink = std::move(sink);
  archive_.holding = false;
  auto held = std::move(archive_.held);
  archive_.held.clear();
  if (archive_.sink)
    for (auto& fact : held) archive_.sink(std::move(fact));
}

void Database::publish(core::ArchiveFact fact) {
  if (fact.id.empty()) return;  // a row from before archive ids (none after the migration)
  if (archive_.sink) return archive_.sink(std::move(fact));
  if (!archive_.holding) return;  // a single box: nobody to tell
  if (archive_.held.size() >= ArchiveFacts::kMaxHeldFacts) {
    g_warning("store: %zu archive facts held for the cluster already; %s not shared", archive_.held.size(),
              fact.id.c_str());
    return;
  }
  archive_.held.push_back(std::move(fact));
}

void Database::publishRecording(const std::string& path) {
  if (!archive_.sink && !archive_.holding) return;
  Statement st;
  const std::string sql = std::string("SELECT ") + kRecordingColumns + " FROM recordings r WHERE path=? AND node=''";
  if (!st.prepare(db_, sql.c_str())) return;
  bindText(st.stmt, 1, path);
  if (sqlite3_step(st.stmt) != SQLITE_ROW) return;
  core::ArchiveFact fact;
  fact.kind = core::ArchiveFact::Kind::Recording;
  fact.recording = readRecording(st.stmt);
  fact.id = fact.recording.archiveId;
  publish(std::move(fact));
}

// A recording fact replaces the row when it is newer (its holder counts its changes: `revision`),
// so a fact read late (this node's own, coming back after a newer local write; or one appended
// twice) never rolls a row back, and a data dir started afresh gets its rows back in full.
core::Status Database::applyArchiveFact(const core::ArchiveFact& f, const std::string& self,
                                        std::vector<std::string>& removed) {
  using Kind = core::ArchiveFact::Kind;
  const bool mine = !self.empty() && f.from == self;
  Statement st;
  if (f.kind == Kind::Transcript) {
    if (!st.prepare(db_, "INSERT OR IGNORE INTO transcript_segments(room_id, identity, name, text, start_ms, end_ms, "
                         "archive_id) VALUES(?,?,?,?,?,?,?)"))
      return sqlError(db_, "prepare");
    bindText(st.stmt, 1, f.roomId);
    bindText(st.stmt, 2, f.identity);
    bindText(st.stmt, 3, f.name);
    bindText(st.stmt, 4, f.text);
    sqlite3_bind_int64(st.stmt, 5, f.startMs);
    sqlite3_bind_int64(st.stmt, 6, f.endMs);
    bindText(st.stmt, 7, f.id);
  } else if (f.kind == Kind::RecordingDeleted) {
    {
      Statement row;
      if (!row.prepare(db_, "SELECT path FROM recordings WHERE archive_id=? AND node=''")) return sqlError(db_, "prepare");
      bindText(row.stmt, 1, f.id);
      if (!mine && sqlite3_step(row.stmt) == SQLITE_ROW) removed.push_back(columnText(row.stmt, 0));
    }
    if (!st.prepare(db_, "DELETE FROM recordings WHERE archive_id=?")) return sqlError(db_, "prepare");
    bindText(st.stmt, 1, f.id);
  } else {
    const auto& r = f.recording;
    const std::string node = r.node == self ? std::string() : r.node;
    const char* sql = "INSERT INTO recordings(archive_id, node, room_id, title, path, started_at_ms, ended_at_ms, "
                      "duration_s, status, note, storage_url, upload_error, session, revision) "
                      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                      "ON CONFLICT(archive_id) DO UPDATE SET node=excluded.node, title=excluded.title, "
                      "ended_at_ms=excluded.ended_at_ms, duration_s=excluded.duration_s, status=excluded.status, "
                      "note=excluded.note, storage_url=excluded.storage_url, upload_error=excluded.upload_error, "
                      "session=excluded.session, revision=excluded.revision WHERE excluded.revision > recordings.revision";
    if (!st.prepare(db_, sql)) return sqlError(db_, "prepare");
    bindText(st.stmt, 1, f.id);
    bindText(st.stmt, 2, node);
    bindText(st.stmt, 3, r.roomId);
    bindText(st.stmt, 4, r.title);
    bindText(st.stmt, 5, r.path);
    sqlite3_bind_int64(st.stmt, 6, r.startedAtMs);
    if (r.endedAtMs) sqlite3_bind_int64(st.stmt, 7, r.endedAtMs);
    if (r.endedAtMs) sqlite3_bind_double(st.stmt, 8, r.durationSeconds);
    bindText(st.stmt, 9, r.status);
    if (!r.note.empty()) bindText(st.stmt, 10, r.note);
    if (!r.storageUrl.empty()) bindText(st.stmt, 11, r.storageUrl);
    if (!r.uploadError.empty()) bindText(st.stmt, 12, r.uploadError);
    bindText(st.stmt, 13, r.session.empty() ? r.roomId : r.session);
    sqlite3_bind_int64(st.stmt, 14, r.revision);
  }
  if (sqlite3_step(st.stmt) != SQLITE_DONE) {
    // One fact this store refuses for good (say, a file path another row already has) must not
    // stop the log: it is logged and passed over. A failure that may pass stops the batch.
    const int code = sqlite3_extended_errcode(db_) & 0xff;
    if (code == SQLITE_CONSTRAINT || code == SQLITE_MISMATCH) {
      g_warning("store: archive fact %s not applied: %s", f.id.c_str(), sqlite3_errmsg(db_));
      return core::Ok{};
    }
    return sqlError(db_, "apply archive fact");
  }
  return core::Ok{};
}

core::Result<std::vector<std::string>> Database::applyArchiveFacts(const std::vector<core::ArchiveFact>& facts,
                                                                   const std::string& self, const std::string& lastId) {
  std::vector<std::string> removed;
  if (auto begun = exec("BEGIN IMMEDIATE"); !begun) return begun.error();
  auto fail = [&](core::Error e) -> core::Result<std::vector<std::string>> {
    (void)exec("ROLLBACK");
    return e;
  };
  for (const auto& fact : facts)
    if (auto applied = applyArchiveFact(fact, self, removed); !applied) return fail(applied.error());
  Statement st;
  if (!st.prepare(db_, "INSERT INTO archive_cursor(stream, last_id) VALUES('archive', ?) "
                       "ON CONFLICT(stream) DO UPDATE SET last_id=excluded.last_id"))
    return fail(sqlError(db_, "prepare"));
  bindText(st.stmt, 1, lastId);
  if (sqlite3_step(st.stmt) != SQLITE_DONE) return fail(sqlError(db_, "archive cursor"));
  if (auto committed = exec("COMMIT"); !committed) return fail(committed.error());
  return removed;
}

std::string Database::archiveCursor() {
  Statement st;
  if (!st.prepare(db_, "SELECT last_id FROM archive_cursor WHERE stream='archive'")) return "0";
  if (sqlite3_step(st.stmt) != SQLITE_ROW) return "0";
  return columnText(st.stmt, 0);
}

std::string Database::recordingHolder(const std::string& fileName) {
  Statement st;
  if (!st.prepare(db_, "SELECT node FROM recordings WHERE node != '' AND substr(path, -length(?1)) = ?1 LIMIT 1"))
    return {};
  bindText(st.stmt, 1, "/" + fileName);
  if (sqlite3_step(st.stmt) != SQLITE_ROW) return {};
  return columnText(st.stmt, 0);
}

}  // namespace roomcast::store
