#include "app/store_environment.h"

#include <glib.h>
#include <glib/gstdio.h>

#include <cerrno>

#include "media/ogg_duration.h"

namespace roomcast::app {

namespace {

bool isLocalFile(const std::string& path) { return g_file_test(path.c_str(), G_FILE_TEST_IS_REGULAR); }

}  // namespace

void warnStoreFailure(const core::Error& error, const std::string& what) {
  if (what.empty())
    g_warning("store: %s", error.message.c_str());
  else
    g_warning("store: %s: %s", what.c_str(), error.message.c_str());
}

core::Status StoreEnvironment::roomCreated(const core::RoomInfo& room) {
  if (!warnIfFailed(store_.roomCreated(room), "room " + room.id + " not created"))
    return core::Error{core::ErrorCode::StoreUnavailable, "the room could not be stored; try again later"};
  return core::Ok{};
}

void StoreEnvironment::roomEnded(const std::string& roomId, int64_t endedAtMs) {
  warnIfFailed(store_.roomEnded(roomId, endedAtMs));
}

void StoreEnvironment::recordingStarted(const core::RoomInfo& room, const core::RecordingInfo& recording) {
  // The session: the room's life, which a failover continues under the same id and created_at.
  warnIfFailed(store_.recordingStarted(room.id, room.title, recording.path, recording.startedAtMs,
                                       room.id + "@" + std::to_string(room.createdAtUnixMs)));
}

void StoreEnvironment::recordingStopped(const core::RecordingInfo& recording) {
  warnIfFailed(store_.recordingStopped(recording.path, recording.endedAtMs, recording.seconds,
                                       recording.failed ? "failed" : "finished", recording.reason));
}

void StoreEnvironment::transcribed(const core::RoomInfo& room, const core::Participant& speaker,
                                   const std::string& text, int64_t startMs, int64_t endMs) {
  if (speaker.recordingOptOut) return;
  warnIfFailed(store_.transcriptAdded({room.id, speaker.identity, speaker.name, text, startMs, endMs}));
}

void StoreEnvironment::provideTo(core::ConversationEnvironment& env) {
  env.chatPosted = [this](const std::string& roomId, const core::ChatMessage& message) {
    warnIfFailed(store_.chatPosted(roomId, message));
  };
  env.chatDeleted = [this](const std::string& roomId, uint64_t id, int64_t atMs) {
    warnIfFailed(store_.chatDeleted(roomId, id, atMs));
  };
  // A report the store did not take is still acted on; it has no id (0).
  env.reportFiled = [this](const core::Report& report) -> uint64_t {
    auto id = store_.reportFiled(report);
    return warnIfFailed(id) ? id.value() : 0;
  };
}

void StoreEnvironment::moderationLogged(const std::string& roomId, const core::ModerationAlert& alert, int64_t atMs) {
  warnIfFailed(store_.moderationLogged(roomId, alert, atMs));
}

void StoreEnvironment::recoverUnfinishedRecordings() {
  for (const auto& row : store_.unfinishedRecordings()) {
    GStatBuf st;
    const bool exists = g_stat(row.path.c_str(), &st) == 0;
    const double seconds = exists ? media::oggOpusDurationSeconds(row.path).value_or(0) : 0;
    const int64_t endedMs = exists ? static_cast<int64_t>(st.st_mtime) * 1000 : row.startedAtMs;
    (void)store_.recordingStopped(row.path, endedMs, seconds, exists ? "recovered" : "failed",
                                  exists ? "cut off when roomcastd stopped; recovered at the next start"
                                         : "the file is missing");
    g_message("recording %s: %s, %.1f s", row.path.c_str(), exists ? "recovered" : "missing", seconds);
  }
}

std::vector<core::Report> StoreEnvironment::reports(const std::string& roomId) { return store_.reports(roomId, 500); }

std::vector<core::RecordingRow> StoreEnvironment::recordings() {
  auto rows = store_.recordings(500);
  for (auto& row : rows) row.localFile = row.node.empty() && isLocalFile(row.path);
  return rows;
}

std::vector<core::TranscriptHit> StoreEnvironment::search(const std::string& words) {
  auto hits = store_.search(words, 50);
  for (auto& hit : hits) hit.recording.localFile = hit.recording.node.empty() && isLocalFile(hit.recording.path);
  return hits;
}

core::Status StoreEnvironment::deleteRecording(int64_t id) {
  auto path = store_.deleteRecording(id);
  if (!path) return path.error();
  if (path.value().empty()) return core::Ok{};  // another node's file: that node removes it
  if (g_unlink(path.value().c_str()) != 0 && errno != ENOENT)
    g_warning("recording %s left out of the archive, but its file stays: %s", path.value().c_str(), g_strerror(errno));
  g_message("recording %s deleted by the operator", path.value().c_str());
  return core::Ok{};
}

}  // namespace roomcast::app
