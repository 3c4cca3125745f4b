// The health check's write: proof that the store takes writes now (not only that it opened).
#include "store/database.h"

namespace roomcast::store {

core::Status Database::probeWrite(int64_t nowMs, int busyMs) {
  sqlite3_busy_timeout(db_, busyMs);
  // Its own table, created on first use: no migration, and no other table's rows are touched.
  core::Status result = exec("CREATE TABLE IF NOT EXISTS health_probe (id INTEGER PRIMARY KEY, written_at_ms INTEGER)");
  if (result) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO health_probe (id, written_at_ms) VALUES (1, ?)", -1, &st,
                           nullptr) != SQLITE_OK) {
      result = sqlError(db_, "health probe");
    } else {
      sqlite3_bind_int64(st, 1, nowMs);
      if (sqlite3_step(st) != SQLITE_DONE) result = sqlError(db_, "health probe");
      sqlite3_finalize(st);
    }
  }
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  return result;
}

}  // namespace roomcast::store
