#include "hls/hls_room.h"

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <ctime>
#include <sstream>

namespace roomcast::hls {

namespace {

std::string isoTime(int64_t unixMs) {
  const time_t seconds = static_cast<time_t>(unixMs / 1000);
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unixMs % 1000));
  return buf;
}

}  // namespace

Rendition::Rendition(RenditionInfo info, size_t window) : info_(std::move(info)), window_(window) {}

std::vector<std::string> Rendition::add(Segment segment) {
  segment.sequence = nextSequence_++;
  // A jump in the timeline (the pipeline restarted, or the mixer skipped ahead after being
  // starved) tells players to reset their decoders here.
  if (!segments_.empty()) {
    const Segment& prev = segments_.back();
    const int64_t expected = prev.startUnixMs + static_cast<int64_t>(prev.duration * 1000);
    if (std::llabs(segment.startUnixMs - expected) > kTimelineJumpMs) discontinuityPending_ = true;
  }
  segment.discontinuity =
      segment.discontinuity || firstDiscontinuous_ || (discontinuityPending_ && !segments_.empty());
  discontinuityPending_ = false;
  firstDiscontinuous_ = false;
  lastChangeUnixMs_ = segment.startUnixMs + static_cast<int64_t>(segment.duration * 1000);
  if (recentWindow_) {
    recent_.push_back(segment);  // shares the bytes
    while (recent_.size() > recentWindow_) recent_.pop_front();
  }
  segments_.push_back(std::move(segment));
  std::vector<std::string> dropped;
  while (segments_.size() > window_) {
    if (segments_.front().discontinuity) discontinuitySequence_++;
    dropped.push_back(std::move(segments_.front().name));
    segments_.pop_front();
  }
  return dropped;
}

bool Rendition::continueFrom(uint64_t nextSequence, uint64_t discontinuitySequence) {
  if (!segments_.empty() || !recent_.empty()) return false;
  nextSequence_ = nextSequence;
  // The first segment's own tag counts on top of EXT-X-DISCONTINUITY-SEQUENCE (as hls.js and
  // ffmpeg count: every tag in the playlist, the first segment's included, adds one).
  discontinuitySequence_ = discontinuitySequence ? discontinuitySequence - 1 : 0;
  firstDiscontinuous_ = true;
  return true;
}

uint64_t Rendition::discontinuitySequence() const {
  uint64_t tags = discontinuitySequence_;
  for (const auto& s : segments_) tags += s.discontinuity ? 1 : 0;
  return tags;
}

std::string Rendition::version() const {
  const uint64_t last = segments_.empty() ? 0 : segments_.back().sequence + 1;
  return info_.id + "-" + std::to_string(last) + (ended_ ? "-end" : "");
}

std::string Rendition::playlist() const {
  double longest = 1;
  for (const auto& s : segments_) longest = std::max(longest, s.duration);
  std::ostringstream out;
  out << "#EXTM3U\n#EXT-X-VERSION:3\n";
  out << "#EXT-X-TARGETDURATION:" << static_cast<int>(std::ceil(longest - 1e-3)) << "\n";
  out << "#EXT-X-MEDIA-SEQUENCE:" << (segments_.empty() ? nextSequence_ : segments_.front().sequence) << "\n";
  if (discontinuitySequence_) out << "#EXT-X-DISCONTINUITY-SEQUENCE:" << discontinuitySequence_ << "\n";
  char duration[32];
  for (const auto& s : segments_) {
    if (s.discontinuity) out << "#EXT-X-DISCONTINUITY\n";
    out << "#EXT-X-PROGRAM-DATE-TIME:" << isoTime(s.startUnixMs) << "\n";
    std::snprintf(duration, sizeof duration, "%.3f", s.duration);
    out << "#EXTINF:" << duration << ",\n" << s.name << "\n";
  }
  if (ended_) out << "#EXT-X-ENDLIST\n";
  return out.str();
}

Room::Room(const std::vector<RenditionInfo>& renditions, size_t window) {
  for (const auto& info : renditions) renditions_.emplace_back(info, window);
}

Rendition* Room::rendition(const std::string& id) {
  for (auto& r : renditions_)
    if (r.info().id == id) return &r;
  return nullptr;
}

std::string renderMaster(const std::vector<RenditionInfo>& renditions, const std::string& query) {
  std::ostringstream out;
  out << "#EXTM3U\n#EXT-X-VERSION:3\n";
  for (const auto& info : renditions) {
    out << "#EXT-X-STREAM-INF:BANDWIDTH=" << info.bandwidth << ",CODECS=\"" << info.codecs << "\"\n";
    out << info.playlist << query << "\n";
  }
  return out.str();
}

std::vector<RenditionInfo> Room::infos() const {
  std::vector<RenditionInfo> out;
  for (const auto& r : renditions_) out.push_back(r.info());
  return out;
}

void Room::end() {
  for (auto& r : renditions_) r.end();
}

bool Room::ended() const { return !renditions_.empty() && renditions_.front().ended(); }

Room& Registry::open(const std::string& roomId, const std::vector<RenditionInfo>& renditions) {
  auto& slot = rooms_[roomId];
  slot = std::make_unique<Room>(renditions, window_);
  publish(roomId);
  return *slot;
}

void Registry::publish(const std::string& roomId) {
  const Room* room = find(roomId);
  if (!room) return;
  auto out = std::make_shared<PublishedRoom>();
  out->renditions = room->infos();
  out->ended = room->ended();
  for (const auto& r : room->renditions()) {
    auto& playlist = out->playlists[r.info().playlist];
    if (!r.segments().empty())
      playlist = PublishedFile{std::make_shared<const std::string>(r.playlist()), "\"" + r.version() + "\"",
                               r.lastChangeUnixMs()};
    for (const auto& s : r.segments())
      out->segments[s.name] = {s.bytes, "\"" + roomId + "-" + s.name + "-" + std::to_string(s.bytes->size()) + "\"",
                               s.startUnixMs + static_cast<int64_t>(s.duration * 1000)};
  }
  std::lock_guard lock(publishedMutex_);
  published_[roomId] = std::move(out);
}

std::shared_ptr<const PublishedRoom> Registry::published(const std::string& roomId) const {
  std::lock_guard lock(publishedMutex_);
  auto it = published_.find(roomId);
  return it == published_.end() ? nullptr : it->second;
}

Room* Registry::find(const std::string& roomId) {
  auto it = rooms_.find(roomId);
  return it == rooms_.end() ? nullptr : it->second.get();
}

void Registry::close(const std::string& roomId) {
  rooms_.erase(roomId);
  std::lock_guard lock(publishedMutex_);
  published_.erase(roomId);
}

std::vector<ListedSegment> parseMediaPlaylist(const std::string& text) {
  std::vector<ListedSegment> out;
  std::istringstream lines(text);
  std::string line;
  double pending = -1;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("#EXTINF:", 0) == 0) {
      pending = std::strtod(line.c_str() + 8, nullptr);
    } else if (!line.empty() && line[0] != '#' && pending >= 0) {
      out.push_back({line, pending});
      pending = -1;
    }
  }
  return out;
}

}  // namespace roomcast::hls
