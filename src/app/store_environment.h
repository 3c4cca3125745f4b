// The store's side of the core's environments: what RoomManager, Conversation and the Moderator
// keep (rooms, recordings, transcripts, chat, reports, moderation actions) written to
// store::Database, and the archive reads the HTTP server serves. A write that fails is logged
// here, in one place ("store: ..."), and the room goes on: only a room that cannot be stored
// is refused. Control thread only, like the Database.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/archive.h"
#include "core/conversation.h"
#include "core/moderator.h"
#include "core/room_manager.h"
#include "store/database.h"

namespace roomcast::app {

// The one place a failed store write is logged: "store: [<what>: ]<message>".
void warnStoreFailure(const core::Error& error, const std::string& what = {});
// True when `result` succeeded; otherwise logs it (above).
template <typename T>
bool warnIfFailed(const core::Result<T>& result, const std::string& what = {}) {
  if (!result) warnStoreFailure(result.error(), what);
  return result.ok();
}

class StoreEnvironment {
 public:
  explicit StoreEnvironment(store::Database& store) : store_(store) {}

  // RoomManager's. A room the store does not take is refused (StoreUnavailable): it would be
  // missing from the archive and its recordings' index.
  core::Status roomCreated(const core::RoomInfo& room);
  void roomEnded(const std::string& roomId, int64_t endedAtMs);
  // Every recording file is indexed as it starts, so a crash leaves a row to recover.
  void recordingStarted(const core::RoomInfo& room, const core::RecordingInfo& recording);
  void recordingStopped(const core::RecordingInfo& recording);
  // Kept (searchable in the archive) unless the speaker opted out of the recording.
  void transcribed(const core::RoomInfo& room, const core::Participant& speaker, const std::string& text,
                   int64_t startMs, int64_t endMs);

  // Conversation's: sets chatPosted, chatDeleted and reportFiled.
  void provideTo(core::ConversationEnvironment& env);
  void moderationLogged(const std::string& roomId, const core::ModerationAlert& alert, int64_t atMs);

  // Recordings cut off by a crash (or a kill) play up to their last page: indexes them with
  // the length they have (at start, before any room).
  void recoverUnfinishedRecordings();

  // The archive, for the HTTP server: each recording says whether its file is still here.
  std::vector<core::Report> reports(const std::string& roomId);
  std::vector<core::RecordingRow> recordings();
  std::vector<core::TranscriptHit> search(const std::string& words);
  // The admin API's: out of the archive, then its file (one already gone is no error).
  core::Status deleteRecording(int64_t id);

 private:
  store::Database& store_;
};

}  // namespace roomcast::app
