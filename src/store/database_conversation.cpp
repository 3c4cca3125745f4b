// Chat messages and reports in the store.
#include "store/database.h"

namespace roomcast::store {

namespace {
std::string column(sqlite3_stmt* st, int i) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
  return text ? text : "";
}
}  // namespace

core::Status Database::chatPosted(const std::string& roomId, const core::ChatMessage& m) {
  Statement st;
  if (!st.prepare(db_, "INSERT INTO chat_messages(room_id, id, identity, name, text, sent_at_ms) VALUES(?,?,?,?,?,?)"))
    return sqlError(db_, "prepare");
  sqlite3_bind_text(st.stmt, 1, roomId.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.stmt, 2, static_cast<sqlite3_int64>(m.id));
  sqlite3_bind_text(st.stmt, 3, m.identity.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.stmt, 4, m.name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.stmt, 5, m.text.c_str(), static_cast<int>(m.text.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.stmt, 6, m.sentAtMs);
  if (sqlite3_step(st.stmt) != SQLITE_DONE) return sqlError(db_, "insert chat message");
  return core::Ok{};
}

core::Status Database::chatDeleted(const std::string& roomId, uint64_t id, int64_t atMs) {
  Statement st;
  if (!st.prepare(db_, "UPDATE chat_messages SET deleted_at_ms=? WHERE room_id=? AND id=?"))
    return sqlError(db_, "prepare");
  sqlite3_bind_int64(st.stmt, 1, atMs);
  sqlite3_bind_text(st.stmt, 2, roomId.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.stmt, 3, static_cast<sqlite3_int64>(id));
  if (sqlite3_step(st.stmt) != SQLITE_DONE) return sqlError(db_, "delete chat message");
  return core::Ok{};
}

core::Result<uint64_t> Database::reportFiled(const core::Report& r) {
  Statement st;
  if (!st.prepare(db_, "INSERT INTO reports(room_id, reporter, identity, message_id, message_text, reason, created_at_ms, "
                         "evidence_path) VALUES(?,?,?,?,?,?,?,?)"))
    return sqlError(db_, "prepare");
  sqlite3_bind_text(st.stmt, 1, r.roomId.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.stmt, 2, r.reporter.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.stmt, 3, r.targetIdentity.c_str(), -1, SQLITE_TRANSIENT);
  if (r.messageId) {
    sqlite3_bind_int64(st.stmt, 4, static_cast<sqlite3_int64>(r.messageId));
    sqlite3_bind_text(st.stmt, 5, r.messageText.c_str(), -1, SQLITE_TRANSIENT);
  }
  sqlite3_bind_text(st.stmt, 6, r.reason.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.stmt, 7, r.createdAtMs);
  if (!r.evidencePath.empty()) sqlite3_bind_text(st.stmt, 8, r.evidencePath.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st.stmt) != SQLITE_DONE) return sqlError(db_, "insert report");
  return static_cast<uint64_t>(sqlite3_last_insert_rowid(db_));
}

std::vector<core::Report> Database::reports(const std::string& roomId, size_t limit) {
  std::vector<core::Report> out;
  Statement st;
  if (!st.prepare(db_, "SELECT id, reporter, identity, message_id, message_text, reason, created_at_ms, COALESCE(evidence_path, '') "
                         "FROM reports "
                         "WHERE room_id=? ORDER BY id DESC LIMIT ?"))
    return out;
  sqlite3_bind_text(st.stmt, 1, roomId.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.stmt, 2, static_cast<sqlite3_int64>(limit));
  while (sqlite3_step(st.stmt) == SQLITE_ROW) {
    core::Report r;
    r.id = static_cast<uint64_t>(sqlite3_column_int64(st.stmt, 0));
    r.roomId = roomId;
    r.reporter = column(st.stmt, 1);
    r.targetIdentity = column(st.stmt, 2);
    r.messageId = static_cast<uint64_t>(sqlite3_column_int64(st.stmt, 3));
    r.messageText = column(st.stmt, 4);
    r.reason = column(st.stmt, 5);
    r.createdAtMs = sqlite3_column_int64(st.stmt, 6);
    r.evidencePath = column(st.stmt, 7);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace roomcast::store
