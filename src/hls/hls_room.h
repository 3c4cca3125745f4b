// The HLS side of a live room, as roomcastd serves it: for each rendition a rolling window of
// closed segments (in memory: hlssink2 writes them there, see media/hls_memory_sink.h, so a
// listener never gets a half-written one and nothing is read back from disk), and the playlists rendered from them with
// EXT-X-PROGRAM-DATE-TIME, EXT-X-DISCONTINUITY and EXT-X-ENDLIST. Plain C++: the media layer
// feeds it on the control thread. What the HTTP side serves is a published copy (PublishedRoom):
// rendered once per change on the control thread, read from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace roomcast::hls {

struct Segment {
  std::string name;            // as listed and served (and its copy's name in the room's HLS directory)
  uint64_t sequence = 0;       // media sequence number
  double duration = 0;         // seconds
  int64_t startUnixMs = 0;     // wall clock of the first sample (EXT-X-PROGRAM-DATE-TIME)
  bool discontinuity = false;  // the timeline restarts here
  std::shared_ptr<const std::string> bytes;  // the whole MPEG-TS file
};

struct RenditionInfo {
  std::string id;          // "main", "low"
  std::string playlist;    // "index.m3u8"
  int bandwidth = 0;       // bits per second, for the master playlist (payload plus overhead)
  std::string codecs = "mp4a.40.2";
};

class Rendition {
 public:
  // Consecutive segments whose wall-clock times are further apart than this are separated by
  // EXT-X-DISCONTINUITY.
  static constexpr int64_t kTimelineJumpMs = 500;

  Rendition(RenditionInfo info, size_t window);
  const RenditionInfo& info() const { return info_; }
  // Appends a closed segment; older ones beyond the window are dropped, and their names
  // returned (the room's copy on disk drops them too).
  std::vector<std::string> add(Segment segment);
  void markDiscontinuity() { discontinuityPending_ = true; }
  // Before the first add: this rendition continues one that players may have heard (the room's
  // earlier owner, dead now). Its first segment gets media sequence `nextSequence` and is
  // marked discontinuous, with discontinuity sequence number `discontinuitySequence` (at least
  // 1: the tags before it are taken as having left the window). False once a segment was added.
  bool continueFrom(uint64_t nextSequence, uint64_t discontinuitySequence);
  void end() { ended_ = true; }
  bool ended() const { return ended_; }
  const std::deque<Segment>& segments() const { return segments_; }
  // The last few minutes of segments, kept past the playlist window (evidence for reports).
  const std::deque<Segment>& recent() const { return recent_; }
  void keepRecent(size_t segments) { recentWindow_ = segments; }
  uint64_t nextSequence() const { return nextSequence_; }
  // The discontinuity sequence number of the newest segment: EXT-X-DISCONTINUITY tags so far.
  uint64_t discontinuitySequence() const;
  // The media playlist; `version` changes whenever its text does (an ETag).
  std::string playlist() const;
  std::string version() const;
  int64_t lastChangeUnixMs() const { return lastChangeUnixMs_; }

 private:
  RenditionInfo info_;
  size_t window_;
  std::deque<Segment> segments_;
  std::deque<Segment> recent_;
  size_t recentWindow_ = 0;
  uint64_t nextSequence_ = 0;
  uint64_t discontinuitySequence_ = 0;  // discontinuities that left the window
  bool discontinuityPending_ = false;
  bool firstDiscontinuous_ = false;  // continueFrom: the first segment too
  bool ended_ = false;
  int64_t lastChangeUnixMs_ = 0;
};

// The master playlist of these renditions; `query` ("?session=...", or "") is appended to each
// variant URI.
std::string renderMaster(const std::vector<RenditionInfo>& renditions, const std::string& query);

// A live room as the HTTP side serves it: immutable once published.
struct PublishedFile {
  std::shared_ptr<const std::string> bytes;
  std::string etag;  // with quotes
  int64_t lastModifiedUnixMs = 0;
};
struct PublishedRoom {
  std::vector<RenditionInfo> renditions;
  // Media playlists by file name; nullopt while a rendition lists no segment yet.
  std::map<std::string, std::optional<PublishedFile>> playlists;
  std::map<std::string, PublishedFile> segments;  // every listed segment, by file name
  bool ended = false;
};

class Room {
 public:
  Room(const std::vector<RenditionInfo>& renditions, size_t window);
  Rendition* rendition(const std::string& id);
  // The master playlist; `query` ("?session=...", or "") is appended to each variant URI.
  std::string master(const std::string& query) const { return renderMaster(infos(), query); }
  std::vector<RenditionInfo> infos() const;
  void end();
  bool ended() const;
  const std::vector<Rendition>& renditions() const { return renditions_; }

 private:
  std::vector<Rendition> renditions_;
};

// Every room's HLS state, by room id. All of it belongs to the control thread except
// published(), which any thread may call.
class Registry {
 public:
  explicit Registry(size_t window = 6) : window_(window) {}
  Room& open(const std::string& roomId, const std::vector<RenditionInfo>& renditions);
  Room* find(const std::string& roomId);
  // After a room's segments or state changed: renders what is served from now on.
  void publish(const std::string& roomId);
  void close(const std::string& roomId);  // the room is gone: its files on disk remain
  size_t window() const { return window_; }
  // What is served for a live room, or null (any thread).
  std::shared_ptr<const PublishedRoom> published(const std::string& roomId) const;

 private:
  size_t window_;
  std::map<std::string, std::unique_ptr<Room>> rooms_;
  mutable std::mutex publishedMutex_;
  std::map<std::string, std::shared_ptr<const PublishedRoom>> published_;
};

// hlssink2 writes its own playlist (into memory); what roomcastd learns from it is the list of
// segments and their durations, in order.
struct ListedSegment {
  std::string name;
  double duration = 0;
};
std::vector<ListedSegment> parseMediaPlaylist(const std::string& text);

}  // namespace roomcast::hls
