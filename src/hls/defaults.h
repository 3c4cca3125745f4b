// HLS settings' defaults and limits, declared once: roomcastd's options ([hls] segment_ms), the
// media layer's configs and the docs (data/roomcast.conf, docs/operating.md) follow these.
#pragma once

namespace roomcast::hls {

// Segment length in milliseconds. Players start a few segments behind the newest, so shorter
// segments bring listeners closer to live, for more requests (bench/README.md: hls-latency and
// hls-cost). The playlists' target duration stays 1 s, so a segment is at most that long.
constexpr unsigned kDefaultSegmentMs = 750;
constexpr unsigned kMinSegmentMs = 250;
constexpr unsigned kMaxSegmentMs = 1000;

}  // namespace roomcast::hls
