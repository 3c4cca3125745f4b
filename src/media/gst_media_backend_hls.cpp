// GstMediaBackend: the rooms' HLS. Segments arrive from the pipeline in memory
// (RoomPipeline::SegmentClosed, media/hls_memory_sink.h) and are published to hls::Registry,
// which the listener wing serves; a copy goes to the room's directory for after the room ends.
#include <glib/gstdio.h>

#include <algorithm>
#include <cerrno>

#include "media/debug.h"
#include "media/gst_media_backend.h"

#define GST_CAT_DEFAULT roomcast_room_debug

namespace roomcast::media {

namespace {

// Writes `contents` to a temporary file beside `path` and renames it over `path`: a reader sees
// the old file or the new one, never half of one. No fsync: this is the room's copy of what
// listeners get from memory, rewritten with every segment; a crash may lose its newest version,
// not the file, and a slow disk only delays the copy.
bool replaceFileWithoutSync(const char* path, const std::string& contents, int mode, GError** error) {
  const std::string temporary = std::string(path) + ".part";
  if (!g_file_set_contents_full(temporary.c_str(), contents.data(), static_cast<gssize>(contents.size()),
                                G_FILE_SET_CONTENTS_NONE, mode, error))
    return false;
  if (g_rename(temporary.c_str(), path) != 0) {
    const int saved = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "cannot rename %s: %s", temporary.c_str(),
                g_strerror(saved));
    g_unlink(temporary.c_str());
    return false;
  }
  return true;
}

}  // namespace

std::string GstMediaBackend::hlsDirFor(const std::string& roomId) const {
  g_autofree char* dir = g_build_filename(config_.dataDir.c_str(), "hls", roomId.c_str(), nullptr);
  return dir;
}

// A name of this start of the room, for its segments' names: the wall clock's milliseconds in
// base 36 (8 characters until 2059). Only one node owns a room at a time, so two starts of one
// room never share a millisecond; names stay well under the 64 characters HlsResponder serves.
static std::string startTag(int64_t unixMs) {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  uint64_t value = static_cast<uint64_t>(std::max<int64_t>(0, unixMs));
  std::string tag;
  do {
    tag.insert(tag.begin(), kDigits[value % 36]);
    value /= 36;
  } while (value);
  return tag;
}

void GstMediaBackend::openHls(const core::RoomMediaConfig& room, RoomPipelineConfig& pipeline) {
  if (!config_.hls) return;
  // Bandwidth in the master playlist: the AAC bitrate plus about 15 % of MPEG-TS overhead.
  std::vector<hls::RenditionInfo> renditions{{"main", "index.m3u8", 56000}};
  if (config_.lowRendition) renditions.push_back({"low", "low.m3u8", 28000});
  hls::Room& hlsRoom = config_.hls->open(room.roomId, renditions);
  // The last three minutes of the program, for evidence (a report, a moderation action).
  hlsRoom.rendition("main")->keepRecent(180000 / std::max(1u, config_.hlsSegmentMs));
  if (!room.continueHls) return;
  // Every rendition continues from the same numbers, so players switching between them
  // stay aligned.
  for (const auto& info : renditions)
    hlsRoom.rendition(info.id)->continueFrom(room.continueHls->nextSequence, room.continueHls->discontinuitySequence);
  pipeline.segmentTag = startTag(g_get_real_time() / 1000);
  g_message("room %s: HLS continues at media sequence %" G_GUINT64_FORMAT ", discontinuity %" G_GUINT64_FORMAT
            " (segments %s)",
            room.roomId.c_str(), room.continueHls->nextSequence, room.continueHls->discontinuitySequence,
            pipeline.segmentTag.c_str());
}

// The furthest of the renditions: a continuation past it is past all of them.
std::optional<core::HlsPosition> GstMediaBackend::hlsPosition(const std::string& roomId) const {
  const hls::Room* room = config_.hls && rooms_.count(roomId) ? config_.hls->find(roomId) : nullptr;
  if (!room || room->renditions().empty()) return std::nullopt;
  core::HlsPosition position;
  position.segmentMs = config_.hlsSegmentMs;
  position.atUnixMs = g_get_real_time() / 1000;
  for (const auto& rendition : room->renditions()) {
    position.nextSequence = std::max(position.nextSequence, rendition.nextSequence());
    position.discontinuitySequence = std::max(position.discontinuitySequence, rendition.discontinuitySequence());
  }
  return position;
}

// The segments hlssink2 listed since the last one, from memory (RoomPipeline hands them over):
// dated backwards from the end of the newest, published, and copied to the room's directory.
void GstMediaBackend::onSegmentClosed(const std::string& roomId, const RoomPipeline::SegmentClosed& closed) {
  hls::Room* room = config_.hls ? config_.hls->find(roomId) : nullptr;
  hls::Rendition* rendition = room ? room->rendition(closed.rendition) : nullptr;
  if (!rendition) return;
  const auto& listed = closed.closed.segments;
  int64_t endMs = closed.endUnixMs;
  std::vector<hls::Segment> added;
  for (size_t i = listed.size(); i-- > 0;) {  // newest first, to date them backwards
    const std::shared_ptr<const std::string>& bytes = closed.closed.bytes[i];
    // Whole MPEG-TS packets (188 bytes, sync byte 0x47) or nothing.
    if (bytes->empty() || bytes->size() % 188 != 0 || bytes->front() != 0x47) {
      GST_WARNING("room %s: %s is not whole MPEG-TS (%zu bytes): not published", roomId.c_str(),
                  listed[i].name.c_str(), bytes->size());
      continue;
    }
    hls::Segment segment;
    segment.name = listed[i].name;
    segment.duration = listed[i].duration;
    segment.startUnixMs = endMs - static_cast<int64_t>(listed[i].duration * 1000);
    segment.bytes = bytes;
    endMs = segment.startUnixMs;
    added.push_back(std::move(segment));
  }
  const std::string dir = hlsDirFor(roomId);
  std::vector<std::string> dropped;
  for (auto it = added.rbegin(); it != added.rend(); ++it) {
    copyToRoomDir(roomId, dir, it->name, it->bytes);
    for (auto& name : rendition->add(std::move(*it))) dropped.push_back(std::move(name));
  }
  if (!added.empty()) writePlaylists(roomId, *room);
  // What left the window leaves the room's directory too, once the playlists on disk no longer
  // list it (also the segments of an HLS branch rebuilt after a failure, which its hlssink2
  // never got to let go of).
  for (const auto& name : dropped) {
    g_autofree char* path = g_build_filename(dir.c_str(), name.c_str(), nullptr);
    diskWriter_.post([path = std::string(path)] { g_unlink(path.c_str()); });
  }
}

void GstMediaBackend::onHlsFailed(const std::string& roomId, const std::string& rendition, const std::string& message) {
  outputFailures_++;
  // Logged without GST_DEBUG too: an operator must see that listeners are not being served.
  g_warning("room %s: HLS rendition %s stopped by a write error (%s); the room goes on, retrying", roomId.c_str(),
            rendition.c_str(), message.c_str());
  hls::Room* room = config_.hls ? config_.hls->find(roomId) : nullptr;
  if (hls::Rendition* r = room ? room->rendition(rendition) : nullptr) r->markDiscontinuity();
}

void GstMediaBackend::onHlsRestarted(const std::string& roomId, const std::string& rendition) {
  outputRestarts_++;
  g_message("room %s: HLS rendition %s running again", roomId.c_str(), rendition.c_str());
  hls::Room* room = config_.hls ? config_.hls->find(roomId) : nullptr;
  if (hls::Rendition* r = room ? room->rendition(rendition) : nullptr) r->markDiscontinuity();
}

// What is served comes from memory (hls::Registry). The room's directory gets a copy of it,
// written on diskWriter_ (never on the control thread, which would make every room wait for a
// slow disk) and never read back while the room lives, for two readers: HlsResponder, which
// serves a room that has ended (or whose process was killed, after a restart) from these
// files, and an operator who looks. Segments first, then the playlists that list them, in that
// order on the one thread, each replaced whole: a listed segment on disk is always complete. A
// full disk costs the copy, never what listeners get.
void GstMediaBackend::copyToRoomDir(const std::string& roomId, const std::string& dir, const std::string& name,
                                    std::shared_ptr<const std::string> contents) {
  g_autofree char* path = g_build_filename(dir.c_str(), name.c_str(), nullptr);
  diskWriter_.post([roomId, path = std::string(path), contents = std::move(contents)] {
    g_autoptr(GError) error = nullptr;
    if (!replaceFileWithoutSync(path.c_str(), *contents, 0644, &error))
      GST_WARNING("room %s: cannot write %s: %s", roomId.c_str(), path.c_str(), error->message);
  });
}

void GstMediaBackend::writePlaylists(const std::string& roomId, const hls::Room& room) {
  config_.hls->publish(roomId);  // what the HTTP side serves
  const std::string dir = hlsDirFor(roomId);
  for (const auto& rendition : room.renditions())
    copyToRoomDir(roomId, dir, rendition.info().playlist, std::make_shared<const std::string>(rendition.playlist()));
  copyToRoomDir(roomId, dir, "master.m3u8", std::make_shared<const std::string>(room.master("")));
}

}  // namespace roomcast::media
