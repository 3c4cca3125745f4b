// Recordings, their transcripts (with an FTS5 index) and the moderation log in the store.
#include <glib.h>

#include <algorithm>

#include "store/database.h"

namespace roomcast::store {

std::string columnText(sqlite3_stmt* st, int i) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
  return text ? text : "";
}

// A recording's part is its place in its session by start (ties broken by the archive id, which
// every node has the same), so every node numbers the parts alike whatever order it learnt them in.
const char* const kRecordingColumns =
    "r.id, r.room_id, r.title, r.path, r.started_at_ms, COALESCE(r.ended_at_ms, 0), COALESCE(r.duration_s, 0), "
    "r.status, COALESCE(r.note, ''), COALESCE(r.storage_url, ''), COALESCE(r.upload_error, ''), "
    "COALESCE(r.archive_id, ''), r.node, r.session, "
    "(SELECT COUNT(*) FROM recordings p WHERE p.session = r.session AND (p.started_at_ms < r.started_at_ms OR "
    "(p.started_at_ms = r.started_at_ms AND COALESCE(p.archive_id, '') < COALESCE(r.archive_id, '')))) + 1, "
    "(SELECT COUNT(*) FROM recordings p WHERE p.session = r.session), r.revision";

RecordingRow readRecording(sqlite3_stmt* st) {
  RecordingRow r;
  r.id = sqlite3_column_int64(st, 0);
  r.roomId = columnText(st, 1);
  r.title = columnText(st, 2);
  r.path = columnText(st, 3);
  r.startedAtMs = sqlite3_column_int64(st, 4);
  r.endedAtMs = sqlite3_column_int64(st, 5);
  r.durationSeconds = sqlite3_column_double(st, 6);
  r.status = columnText(st, 7);
  r.note = columnText(st, 8);
  r.storageUrl = columnText(st, 9);
  r.uploadError = columnText(st, 10);
  r.archiveId = columnText(st, 11);
  r.node = columnText(st, 12);
  r.session = columnText(st, 13);
  r.part = sqlite3_column_int(st, 14);
  r.parts = sqlite3_column_int(st, 15);
  r.revision = sqlite3_column_int64(st, 16);
  return r;
}

namespace {

std::string column(sqlite3_stmt* st, int i) { return columnText(st, i); }

// Words to an FTS5 query that cannot be anything but words: each quoted, all required.
std::string ftsQuery(const std::string& words) {
  std::string query, word;
  auto flush = [&] {
    if (word.empty()) return;
    if (!query.empty()) query += " ";
    query += "\"" + word + "\"";
    word.clear();
  };
  for (unsigned char c : words) {
    if (g_ascii_isalnum(c) || c >= 0x80 || c == '\'') word += static_cast<char>(c);
    else flush();
  }
  flush();
  return query;
}

// Failures that may pass: the disk is full or failing now, the file cannot be opened (no file
// descriptors), or another writer holds the database.
bool mayPass(int code) {
  switch (code & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
      return true;
    default:
      return false;
  }
}
}  // namespace

core::Status Database::writeRecording(const PendingRecordingWrite& w) {
  Statement st;
  const char* sql = w.start ? "INSERT INTO recordings(room_id, title, path, started_at_ms, status, archive_id, session) "
                              "VALUES(?,?,?,?,'recording',?,?)"
                            : "UPDATE recordings SET ended_at_ms=?, duration_s=?, status=?, note=?, revision=revision+1 "
                              "WHERE path=? AND node=''";
  if (!st.prepare(db_, sql)) return sqlError(db_, "prepare");
  if (w.start) {
    sqlite3_bind_text(st.stmt, 1, w.roomId.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st.stmt, 2, w.title.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st.stmt, 3, w.path.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st.stmt, 4, w.startedAtMs);
    sqlite3_bind_text(st.stmt, 5, w.archiveId.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st.stmt, 6, w.session.c_str(), -1, SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_int64(st.stmt, 1, w.endedAtMs);
    sqlite3_bind_double(st.stmt, 2, w.seconds);
    sqlite3_bind_text(st.stmt, 3, w.status.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st.stmt, 4, w.note.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st.stmt, 5, w.path.c_str(), -1, SQLITE_TRANSIENT);
  }
  if (sqlite3_step(st.stmt) != SQLITE_DONE) return sqlError(db_, w.start ? "insert recording" : "update recording");
  publishRecording(w.path);
  return core::Ok{};
}

size_t Database::retryPendingRecordingWrites() {
  auto& pending = pendingRecordings_.writes;
  size_t done = 0;
  while (done < pending.size()) {
    if (auto written = writeRecording(pending[done]); !written && mayPass(sqlite3_extended_errcode(db_))) break;
    // Written, or failed for good (it would fail the same way forever): either way, done.
    done++;
  }
  if (done) {
    g_message("store: %zu recording row update(s) written late, %zu still waiting", done, pending.size() - done);
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(done));
  }
  return pending.size();
}

core::Status Database::writeOrKeepRecording(PendingRecordingWrite write) {
  auto& pending = pendingRecordings_;
  // In order: an update must not land before the insert it updates.
  if (!pending.writes.empty() && retryPendingRecordingWrites() > 0) {
    pending.writes.push_back(std::move(write));
    return core::Error{core::ErrorCode::Internal, "the store cannot be written now; the recording row is kept to write later"};
  }
  auto written = writeRecording(write);
  if (written || !mayPass(sqlite3_extended_errcode(db_))) return written;
  pending.writes.push_back(std::move(write));
  if (!pending.retry.pending())
    pending.retry = glib_support::Source::timeoutSeconds(
        nullptr, PendingRecordingWrites::kRetrySeconds,
        [](gpointer data) -> gboolean {
          auto* self = static_cast<Database*>(data);
          if (self->retryPendingRecordingWrites() > 0) return G_SOURCE_CONTINUE;
          self->pendingRecordings_.retry.reset();
          return G_SOURCE_REMOVE;
        },
        this);
  return core::Error{core::ErrorCode::Internal, written.error().message + " (kept; written again when it can be)"};
}

core::Result<int64_t> Database::recordingStarted(const std::string& roomId, const std::string& title,
                                                 const std::string& path, int64_t startedAtMs,
                                                 const std::string& session) {
  PendingRecordingWrite w;
  w.start = true;
  g_autofree char* uuid = g_uuid_string_random();
  w.archiveId = uuid;
  w.session = session.empty() ? roomId : session;
  w.roomId = roomId;
  w.title = title;
  w.path = path;
  w.startedAtMs = startedAtMs;
  if (auto written = writeOrKeepRecording(std::move(w)); !written) return written.error();
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

core::Status Database::recordingStopped(const std::string& path, int64_t endedAtMs, double seconds,
                                        const std::string& status, const std::string& note) {
  PendingRecordingWrite w;
  w.path = path;
  w.endedAtMs = endedAtMs;
  w.seconds = seconds;
  w.status = status;
  w.note = note;
  return writeOrKeepRecording(std::move(w));
}

// What the rows will be once the kept writes land: a recording that failed on a full disk
// is listed as failed (with what was written) even while its row cannot be updated.
void Database::applyPendingRecordingWrites(std::vector<RecordingRow>& rows) const {
  for (const auto& w : pendingRecordings_.writes) {
    auto row = std::find_if(rows.begin(), rows.end(), [&](const RecordingRow& r) { return r.path == w.path; });
    if (w.start) {
      if (row != rows.end()) continue;
      RecordingRow added;
      added.roomId = w.roomId;
      added.title = w.title;
      added.path = w.path;
      added.startedAtMs = w.startedAtMs;
      added.status = "recording";
      rows.insert(rows.begin(), std::move(added));
    } else if (row != rows.end()) {
      row->endedAtMs = w.endedAtMs;
      row->durationSeconds = w.seconds;
      row->status = w.status;
      row->note = w.note;
    }
  }
}

core::Status Database::recordingUploaded(const std::string& path, const std::string& url) {
  Statement st;
  if (!st.prepare(db_, "UPDATE recordings SET storage_url=?, upload_error=NULL, revision=revision+1 WHERE path=? AND node=''"))
    return sqlError(db_, "prepare");
  sqlite3_bind_text(st.stmt, 1, url.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.stmt, 2, path.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st.stmt) != SQLITE_DONE) return sqlError(db_, "update recording");
  publishRecording(path);
  return core::Ok{};
}

core::Status Database::recordingUploadFailed(const std::string& path, const std::string& error) {
  Statement st;
  if (!st.prepare(db_, "UPDATE recordings SET upload_error=?, revision=revision+1 WHERE path=? AND node=''"))
    return sqlError(db_, "prepare");
  sqlite3_bind_text(st.stmt, 1, error.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.stmt, 2, path.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st.stmt) != SQLITE_DONE) return sqlError(db_, "update recording");
  publishRecording(path);
  return core::Ok{};
}

std::vector<RecordingRow> Database::recordingsAwaitingUpload() {
  retryPendingRecordingWrites();
  std::vector<RecordingRow> rows;
  Statement st;
  const std::string sql = std::string("SELECT ") + kRecordingColumns +
                          " FROM recordings r WHERE ended_at_ms IS NOT NULL AND duration_s > 0 AND storage_url IS NULL "
                          "AND node = '' ORDER BY id";
  if (!st.prepare(db_, sql.c_str())) return rows;
  while (sqlite3_step(st.stmt) == SQLITE_ROW) rows.push_back(readRecording(st.stmt));
  return rows;
}

std::vector<RecordingRow> Database::unfinishedRecordings() {
  std::vector<RecordingRow> rows;
  Statement st;
  const std::string sql = std::string("SELECT ") + kRecordingColumns + " FROM recordings r WHERE ended_at_ms IS NULL AND node = ''";
  if (!st.prepare(db_, sql.c_str())) return rows;
  while (sqlite3_step(st.stmt) == SQLITE_ROW) rows.push_back(readRecording(st.stmt));
  return rows;
}

core::Result<std::string> Database::deleteRecording(int64_t id) {
  retryPendingRecordingWrites();  // a pending "stopped" update decides whether it has ended
  std::string path, node, archiveId;
  {
    Statement st;
    if (!st.prepare(db_, "SELECT path, ended_at_ms, node, COALESCE(archive_id, '') FROM recordings WHERE id=?"))
      return sqlError(db_, "prepare");
    sqlite3_bind_int64(st.stmt, 1, id);
    if (sqlite3_step(st.stmt) != SQLITE_ROW)
      return core::Error{core::ErrorCode::NotFound, "no recording with id " + std::to_string(id)};
    path = column(st.stmt, 0);
    node = column(st.stmt, 2);
    archiveId = column(st.stmt, 3);
    if (sqlite3_column_type(st.stmt, 1) == SQLITE_NULL)
      return core::Error{core::ErrorCode::Conflict, "recording " + std::to_string(id) + " is still being written"};
  }
  // Transcripts stay in the database but leave the archive with it: search lists only what was
  // said during a recording that is listed.
  Statement st;
  if (!st.prepare(db_, "DELETE FROM recordings WHERE id=?"))
    return sqlError(db_, "prepare");
  sqlite3_bind_int64(st.stmt, 1, id);
  if (sqlite3_step(st.stmt) != SQLITE_DONE) return sqlError(db_, "delete recording");
  core::ArchiveFact deleted;
  deleted.kind = core::ArchiveFact::Kind::RecordingDeleted;
  deleted.id = archiveId;
  publish(std::move(deleted));
  return node.empty() ? path : std::string();  // another node's file is that node's to remove
}

std::vector<RecordingRow> Database::recordings(size_t limit) {
  retryPendingRecordingWrites();
  std::vector<RecordingRow> rows;
  {
    Statement st;
    const std::string sql = std::string("SELECT ") + kRecordingColumns + " FROM recordings r ORDER BY started_at_ms DESC, id DESC LIMIT ?";
    if (!st.prepare(db_, sql.c_str())) return rows;
    sqlite3_bind_int64(st.stmt, 1, static_cast<sqlite3_int64>(limit));
    while (sqlite3_step(st.stmt) == SQLITE_ROW) rows.push_back(readRecording(st.stmt));
  }
  applyPendingRecordingWrites(rows);
  if (rows.size() > limit) rows.resize(limit);
  for (auto& r : rows) {
    Statement st;
    if (!st.prepare(db_, "SELECT DISTINCT name FROM transcript_segments WHERE room_id=? AND start_ms >= ? AND "
                           "start_ms <= ? ORDER BY name"))
      continue;
    sqlite3_bind_text(st.stmt, 1, r.roomId.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st.stmt, 2, r.startedAtMs);
    sqlite3_bind_int64(st.stmt, 3, r.endedAtMs ? r.endedAtMs : INT64_MAX);
    while (sqlite3_step(st.stmt) == SQLITE_ROW) r.speakers.push_back(column(st.stmt, 0));
  }
  return rows;
}

core::Status Database::transcriptAdded(const TranscriptSegment& s) {
  Statement st;
  if (!st.prepare(db_, "INSERT INTO transcript_segments(room_id, identity, name, text, start_ms, end_ms, archive_id) "
                       "VALUES(?,?,?,?,?,?,?)"))
    return sqlError(db_, "prepare");
  g_autofree char* uuid = g_uuid_string_random();
  sqlite3_bind_text(st.stmt, 7, uuid, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.stmt, 1, s.roomId.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.stmt, 2, s.identity.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.stmt, 3, s.name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.stmt, 4, s.text.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.stmt, 5, s.startMs);
  sqlite3_bind_int64(st.stmt, 6, s.endMs);
  if (sqlite3_step(st.stmt) != SQLITE_DONE) return sqlError(db_, "insert transcript");
  core::ArchiveFact fact;
  fact.kind = core::ArchiveFact::Kind::Transcript;
  fact.id = uuid;
  fact.roomId = s.roomId;
  fact.identity = s.identity;
  fact.name = s.name;
  fact.text = s.text;
  fact.startMs = s.startMs;
  fact.endMs = s.endMs;
  publish(std::move(fact));
  return core::Ok{};
}

std::vector<TranscriptSegment> Database::transcript(const std::string& roomId, int64_t fromMs, int64_t toMs) {
  std::vector<TranscriptSegment> out;
  Statement st;
  if (!st.prepare(db_, "SELECT identity, name, text, start_ms, end_ms FROM transcript_segments WHERE room_id=? AND "
                         "start_ms >= ? AND start_ms <= ? ORDER BY start_ms"))
    return out;
  sqlite3_bind_text(st.stmt, 1, roomId.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.stmt, 2, fromMs);
  sqlite3_bind_int64(st.stmt, 3, toMs);
  while (sqlite3_step(st.stmt) == SQLITE_ROW)
    out.push_back({roomId, column(st.stmt, 0), column(st.stmt, 1), column(st.stmt, 2), sqlite3_column_int64(st.stmt, 3),
                   sqlite3_column_int64(st.stmt, 4)});
  return out;
}

std::vector<TranscriptHit> Database::search(const std::string& words, size_t limit) {
  std::vector<TranscriptHit> hits;
  const std::string query = ftsQuery(words);
  if (query.empty()) return hits;
  Statement st;
  if (!st.prepare(db_, "SELECT s.room_id, s.name, s.start_ms, snippet(transcript_fts, 0, '[', ']', '…', 16) "
                         "FROM transcript_fts JOIN transcript_segments s ON s.id = transcript_fts.rowid "
                         "WHERE transcript_fts MATCH ? ORDER BY rank LIMIT ?"))
    return hits;
  sqlite3_bind_text(st.stmt, 1, query.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.stmt, 2, static_cast<sqlite3_int64>(limit * 4));
  while (sqlite3_step(st.stmt) == SQLITE_ROW && hits.size() < limit) {
    const std::string roomId = column(st.stmt, 0);
    const int64_t at = sqlite3_column_int64(st.stmt, 2);
    // Only what was said while the room was being recorded is in the archive.
    Statement rec;
    const std::string sql = std::string("SELECT ") + kRecordingColumns +
                            " FROM recordings r WHERE room_id=? AND started_at_ms <= ? AND "
                            "(ended_at_ms IS NULL OR ended_at_ms >= ?) ORDER BY started_at_ms DESC LIMIT 1";
    if (!rec.prepare(db_, sql.c_str())) continue;
    sqlite3_bind_text(rec.stmt, 1, roomId.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(rec.stmt, 2, at);
    sqlite3_bind_int64(rec.stmt, 3, at);
    if (sqlite3_step(rec.stmt) != SQLITE_ROW) continue;
    TranscriptHit hit{readRecording(rec.stmt), column(st.stmt, 1), column(st.stmt, 3), 0};
    hit.offsetSeconds = std::max(0.0, static_cast<double>(at - hit.recording.startedAtMs) / 1000.0);
    hits.push_back(std::move(hit));
  }
  return hits;
}

core::Status Database::moderationLogged(const std::string& roomId, const core::ModerationAlert& m, int64_t atMs) {
  Statement st;
  if (!st.prepare(db_, "INSERT INTO moderation_actions(room_id, identity, name, category, severity, action, snippet, "
                         "span_start_ms, span_end_ms, evidence_path, created_at_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?)"))
    return sqlError(db_, "prepare");
  const std::string* texts[] = {&roomId, &m.identity, &m.name, &m.category, &m.severity, &m.action, &m.snippet};
  for (int i = 0; i < 7; i++) sqlite3_bind_text(st.stmt, i + 1, texts[i]->c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.stmt, 8, m.spanStartMs);
  sqlite3_bind_int64(st.stmt, 9, m.spanEndMs);
  if (!m.evidencePath.empty()) sqlite3_bind_text(st.stmt, 10, m.evidencePath.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.stmt, 11, atMs);
  if (sqlite3_step(st.stmt) != SQLITE_DONE) return sqlError(db_, "insert moderation action");
  return core::Ok{};
}

}  // namespace roomcast::store
