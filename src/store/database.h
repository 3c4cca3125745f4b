// The embedded store: one SQLite file in the data dir (WAL, busy timeout). Rooms and
// recordings are kept here so the archive outlives the process. Control thread only.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/archive.h"
#include "core/events.h"
#include "core/result.h"
#include "core/room.h"
#include "glib_support/source.h"

namespace roomcast::store {

using RecordingRow = core::RecordingRow;
using TranscriptHit = core::TranscriptHit;

// Recording rows whose write failed for a reason that passes (a full disk, an I/O error, the
// database busy): kept in order and written again before the next recording write, on every
// listing, and every few seconds on the control loop until they land. A recording that
// failed on a full disk must not stay `recording` in the archive because its last update
// failed on the same disk; until it lands, listings show the row as it will be.
struct PendingRecordingWrite {
  bool start = false;  // an INSERT (recordingStarted), else an UPDATE (recordingStopped)
  std::string roomId, title, path, status, note;
  std::string archiveId, session;  // an INSERT's
  int64_t startedAtMs = 0, endedAtMs = 0;
  double seconds = 0;
};
struct PendingRecordingWrites {
  static constexpr unsigned kRetrySeconds = 2;
  std::vector<PendingRecordingWrite> writes;
  glib_support::Source retry;  // on the default main context (the control loop)
};

struct TranscriptSegment {
  std::string roomId;
  std::string identity;
  std::string name;
  std::string text;
  int64_t startMs = 0;  // wall clock
  int64_t endMs = 0;
};


// What this node adds to the archive, told as facts for the cluster's shared log (set by the
// app on a cluster node; facts made before it is set are held, at most kMaxHeldFacts).
using ArchiveSink = std::function<void(core::ArchiveFact)>;
struct ArchiveFacts {
  static constexpr size_t kMaxHeldFacts = 10000;
  ArchiveSink sink;
  bool holding = false;
  std::vector<core::ArchiveFact> held;
};

class Database {
  // Only open() can make one, so only it constructs: the constructor is public for std::make_unique.
  struct Passkey {
    explicit Passkey() = default;
  };

 public:
  static core::Result<std::unique_ptr<Database>> open(const std::string& path);
  Database(Passkey, sqlite3* db) : db_(db) {}
  static constexpr int kBusyTimeoutMs = 5000;  // how long a write waits for another writer's lock
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Health: one real write (a row rewritten in a table of its own), waiting at most
  // `busyMs` for another writer's lock, so a health request never stalls the control loop long.
  core::Status probeWrite(int64_t nowMs, int busyMs);

  core::Status roomCreated(const core::RoomInfo& room);
  core::Status roomEnded(const std::string& roomId, int64_t endedAtMs);
  // Recordings and transcripts (database_recordings.cpp).
  // `session`: "<room id>@<room created_at ms>" (the room id alone when empty).
  core::Result<int64_t> recordingStarted(const std::string& roomId, const std::string& title, const std::string& path,
                                         int64_t startedAtMs, const std::string& session = {});
  core::Status recordingStopped(const std::string& path, int64_t endedAtMs, double seconds, const std::string& status,
                                const std::string& note);
  // Recording rows not written yet (see PendingRecordingWrite); writes what it can now.
  size_t retryPendingRecordingWrites();
  core::Status recordingUploaded(const std::string& path, const std::string& url);
  core::Status recordingUploadFailed(const std::string& path, const std::string& error);
  // Ended recordings with audio that have no storage URL yet (to upload).
  std::vector<RecordingRow> recordingsAwaitingUpload();
  std::vector<RecordingRow> unfinishedRecordings();
  std::vector<RecordingRow> recordings(size_t limit);
  // Takes an ended recording out of the archive; returns its file's path (the caller removes the
  // file; "" when another node holds it). NotFound for no such id, Conflict while it is still being written.
  core::Result<std::string> deleteRecording(int64_t id);
  core::Status transcriptAdded(const TranscriptSegment& segment);
  std::vector<TranscriptSegment> transcript(const std::string& roomId, int64_t fromMs, int64_t toMs);
  // Full-text search over what was said (FTS5 query syntax, words are ANDed).
  std::vector<TranscriptHit> search(const std::string& words, size_t limit);
  core::Status moderationLogged(const std::string& roomId, const core::ModerationAlert& alert, int64_t atMs);

  // The cluster's archive (database_archive.cpp). Facts of what this node adds go to `sink`.
  void holdArchiveFacts() { archive_.holding = true; }
  void setArchiveSink(ArchiveSink sink);
  // Applies facts read from the shared log (in its order) and moves the cursor to `lastId`, in
  // one transaction. `self`: this node's URL (its own facts only fill in rows it lacks).
  // Returns the files of this node's recordings that another node deleted (to remove).
  core::Result<std::vector<std::string>> applyArchiveFacts(const std::vector<core::ArchiveFact>& facts,
                                                           const std::string& self, const std::string& lastId);
  std::string archiveCursor();  // "0" when nothing was applied yet
  // The node URL of the node holding recording file `fileName` when it is another node's; "" otherwise.
  std::string recordingHolder(const std::string& fileName);

  // Chat and reports (database_conversation.cpp).
  core::Status chatPosted(const std::string& roomId, const core::ChatMessage& message);
  core::Status chatDeleted(const std::string& roomId, uint64_t id, int64_t atMs);
  core::Result<uint64_t> reportFiled(const core::Report& report);
  std::vector<core::Report> reports(const std::string& roomId, size_t limit);

 private:
  core::Status exec(const char* sql);
  core::Status writeRecording(const PendingRecordingWrite& write);
  // Writes it, or keeps it for later when the failure may pass; queued behind older ones.
  core::Status writeOrKeepRecording(PendingRecordingWrite write);
  void applyPendingRecordingWrites(std::vector<RecordingRow>& rows) const;
  void publish(core::ArchiveFact fact);
  void publishRecording(const std::string& path);  // this node's row, as it is now
  core::Status applyArchiveFact(const core::ArchiveFact& fact, const std::string& self,
                                std::vector<std::string>& removed);
  sqlite3* db_;
  PendingRecordingWrites pendingRecordings_;
  ArchiveFacts archive_;
};

// One prepared statement, finalized when it goes out of scope.
struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
  bool prepare(sqlite3* db, const char* sql) { return sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK; }
};
core::Error sqlError(sqlite3* db, const char* what);
// The recording columns every archive query reads (alias `r`), and a row from them.
extern const char* const kRecordingColumns;
RecordingRow readRecording(sqlite3_stmt* st);
std::string columnText(sqlite3_stmt* st, int i);

}  // namespace roomcast::store
