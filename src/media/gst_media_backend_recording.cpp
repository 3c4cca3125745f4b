// GstMediaBackend: recording files, live. One file per stretch of recording; when the disk
// fails one (full), the room goes on and a new file starts once space returns.
#include <glib/gstdio.h>
#include <sys/statvfs.h>

#include "glib_support/owned_data.h"
#include "glib_support/post_to_context.h"
#include "media/debug.h"
#include "media/gst_media_backend.h"
#include "media/ogg_duration.h"

#define GST_CAT_DEFAULT roomcast_room_debug

namespace roomcast::media {

using core::Error;
using core::ErrorCode;

namespace {
int64_t nowMs() { return g_get_real_time() / 1000; }
}  // namespace

std::string GstMediaBackend::recordingsDir() const {
  g_autofree char* dir = g_build_filename(config_.dataDir.c_str(), "recordings", nullptr);
  return dir;
}

core::Status GstMediaBackend::startRecording(const std::string& roomId) {
  auto it = rooms_.find(roomId);
  if (it == rooms_.end()) return Error{ErrorCode::NotFound, "room has no media"};
  LiveRoom& room = it->second;
  if (room.recording.wanted) return Error{ErrorCode::Conflict, "already recording"};
  room.recording.wanted = true;
  auto started = beginRecording(roomId, room);
  // A full disk is not the host's error: the recording starts when space returns.
  if (!started && room.recordingRetry.pending()) return core::Ok{};
  if (!started) room.recording.wanted = false;
  return started;
}

core::Status GstMediaBackend::beginRecording(const std::string& roomId, LiveRoom& room) {
  const std::string dir = recordingsDir();
  if (g_mkdir_with_parents(dir.c_str(), 0755) != 0) return Error{ErrorCode::Internal, "cannot create " + dir};
  struct statvfs fs {};
  if (statvfs(dir.c_str(), &fs) == 0 &&
      static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < config_.recordingMinFreeBytes) {
    retryRecordingLater(roomId);
    return Error{ErrorCode::Internal, "no space left for recordings in " + dir};
  }
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();
  g_autofree char* stamp = g_date_time_format(now, "%Y%m%dT%H%M%SZ");
  const std::string name = roomId + "-" + stamp + "-" + std::to_string(++room.recording.serial) + ".ogg";
  g_autofree char* path = g_build_filename(dir.c_str(), name.c_str(), nullptr);
  if (auto started = room.pipeline->startRecording(path); !started) return started;
  room.recording.path = path;
  room.recording.startedAtMs = nowMs();
  // Told from the next main-loop iteration, never from inside this call: the room may be
  // being created right now.
  core::RecordingInfo info;
  info.path = room.recording.path;
  info.startedAtMs = room.recording.startedAtMs;
  std::weak_ptr<int> alive = alive_;
  glib_support::postToContext(
      context_,
      [this, alive, roomId, info] {
        if (!alive.expired() && observer_ && rooms_.count(roomId)) observer_->onRecordingStarted(roomId, info);
      },
      G_PRIORITY_DEFAULT_IDLE);
  return core::Ok{};
}

core::RecordingInfo GstMediaBackend::finishedRecording(const Recording& recording, bool failed,
                                                       const std::string& reason) const {
  core::RecordingInfo info;
  info.path = recording.path;
  info.startedAtMs = recording.startedAtMs;
  info.endedAtMs = nowMs();
  info.seconds = oggOpusDurationSeconds(recording.path).value_or(0);
  info.failed = failed;
  info.reason = reason;
  return info;
}

void GstMediaBackend::stopRecording(const std::string& roomId) {
  auto it = rooms_.find(roomId);
  if (it == rooms_.end()) return;
  Recording& recording = it->second.recording;
  recording.wanted = false;
  it->second.recordingRetry.reset();
  if (recording.path.empty()) return;
  Recording stopped = recording;
  recording.path.clear();
  std::weak_ptr<int> alive = alive_;
  it->second.pipeline->stopRecording([this, alive, roomId, stopped](bool clean) {
    if (alive.expired()) return;
    auto info = finishedRecording(stopped, false, clean ? "stopped by the host" : "stopped (the file may be cut short)");
    if (observer_) observer_->onRecordingStopped(roomId, info);
  });
}

void GstMediaBackend::onRecordingFailed(const std::string& roomId, const std::string& message) {
  auto it = rooms_.find(roomId);
  if (it == rooms_.end()) return;
  Recording& recording = it->second.recording;
  outputFailures_++;
  g_warning("room %s: recording stopped by a write error (%s); the room goes on", roomId.c_str(), message.c_str());
  if (!recording.path.empty()) {
    auto info = finishedRecording(recording, true, message);
    recording.path.clear();
    if (observer_) observer_->onRecordingStopped(roomId, info);
  }
  if (recording.wanted) retryRecordingLater(roomId);
}

// While a recording is wanted but the disk cannot take it: look again every couple of
// seconds (only then; nothing ticks otherwise).
void GstMediaBackend::retryRecordingLater(const std::string& roomId) {
  auto it = rooms_.find(roomId);
  if (it == rooms_.end() || it->second.recordingRetry.pending()) return;
  struct Retry {
    GstMediaBackend* self;
    std::weak_ptr<int> alive;
    std::string roomId;
  };
  auto retry = glib_support::handOff(Retry{this, alive_, roomId});
  it->second.recordingRetry = glib_support::Source::timeout(
      context_, config_.recordingRetryMs,
      [](gpointer data) -> gboolean {
        auto* r = &glib_support::handedOff<Retry>(data);
        if (r->alive.expired()) return G_SOURCE_REMOVE;
        auto room = r->self->rooms_.find(r->roomId);
        if (room == r->self->rooms_.end()) return G_SOURCE_REMOVE;
        room->second.recordingRetry.reset();  // beginRecording may arm the next one
        if (!room->second.recording.wanted || !room->second.recording.path.empty()) return G_SOURCE_REMOVE;
        if (auto started = r->self->beginRecording(r->roomId, room->second); started) {
          r->self->outputRestarts_++;
          g_message("room %s: recording again", r->roomId.c_str());
        }
        return G_SOURCE_REMOVE;  // beginRecording re-arms the retry when it is still full
      },
      retry);
}

void GstMediaBackend::setPeerInRecording(const std::string& roomId, const std::string& peerId, bool inRecording) {
  auto it = rooms_.find(roomId);
  if (it == rooms_.end()) return;
  auto peer = it->second.peers.find(peerId);
  if (peer != it->second.peers.end()) peer->second.peer->setInRecording(inRecording);
}

}  // namespace roomcast::media
