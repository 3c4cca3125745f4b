// A listener's view of a media playlist, parsed independently of the server's own HLS code so
// that tests check what goes over the wire, not what the server meant to write.
#pragma once

#include <string>
#include <vector>

namespace roomcast::testing {

struct ListedSegment {
  std::string name;
  long long sequence = 0;  // EXT-X-MEDIA-SEQUENCE + position: stable across window moves
  double duration = 0;
  double startUnix = 0;  // from EXT-X-PROGRAM-DATE-TIME
};

std::vector<ListedSegment> parsePlaylist(const std::string& text);

// Sequence number of the newest listed segment; -1 when the playlist cannot be fetched or is empty.
long long newestSegmentSequence(const std::string& playlistUrl);

// Waits until the media playlist lists at least `count` segments (a segment appears every
// 500 ms while the room runs).
bool waitForSegments(const std::string& playlistUrl, size_t count, double timeoutSeconds);

// Waits until the newest listed segment's sequence number is at least `sequence`.
bool waitForSegmentSequence(const std::string& playlistUrl, long long sequence, double timeoutSeconds);

}  // namespace roomcast::testing
