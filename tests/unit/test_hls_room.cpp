// The playlists roomcastd serves, rendered from its segment window (hls/hls_room.h).
#include <glib.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/media_backend.h"
#include "hls/defaults.h"
#include "hls/hls_room.h"
#include "processes.h"

using namespace roomcast::hls;

namespace {

// The listed segment of that name, if any (what the published copy serves).
const Segment* listed(const Rendition& r, const std::string& name) {
  for (const auto& s : r.segments())
    if (s.name == name) return &s;
  return nullptr;
}

Segment seg(const std::string& name, int64_t startMs, double duration = 1.0) {
  Segment s;
  s.name = name;
  s.startUnixMs = startMs;
  s.duration = duration;
  s.bytes = std::make_shared<const std::string>(name);
  return s;
}

constexpr int64_t kT0 = 1796000000000;  // 2026-11-30T00:53:20Z

TEST(HlsRendition, PlaylistCarriesSequenceDatesAndDurations) {
  Rendition r({"main", "index.m3u8", 56000}, 6);
  r.add(seg("segment00000.ts", kT0, 0.981));
  r.add(seg("segment00001.ts", kT0 + 981, 0.981));
  const std::string text = r.playlist();
  EXPECT_EQ(text,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
            "#EXT-X-PROGRAM-DATE-TIME:2026-11-30T00:53:20.000Z\n#EXTINF:0.981,\nsegment00000.ts\n"
            "#EXT-X-PROGRAM-DATE-TIME:2026-11-30T00:53:20.981Z\n#EXTINF:0.981,\nsegment00001.ts\n");
  EXPECT_EQ(listed(r, "segment00001.ts")->sequence, 1u);
  EXPECT_EQ(listed(r, "segment00002.ts"), nullptr) << "not listed: not served";
}

TEST(HlsRendition, RollingWindowAdvancesMediaSequence) {
  Rendition r({"main", "index.m3u8", 56000}, 3);
  std::vector<std::string> dropped;
  for (int i = 0; i < 5; i++)
    for (auto& name : r.add(seg("s" + std::to_string(i) + ".ts", kT0 + i * 1000))) dropped.push_back(name);
  EXPECT_EQ(dropped, (std::vector<std::string>{"s0.ts", "s1.ts"})) << "what left the window, oldest first";
  EXPECT_EQ(r.segments().size(), 3u);
  EXPECT_NE(r.playlist().find("#EXT-X-MEDIA-SEQUENCE:2\n"), std::string::npos);
  EXPECT_EQ(listed(r, "s1.ts"), nullptr) << "out of the window";
  EXPECT_NE(listed(r, "s4.ts"), nullptr);
}

TEST(HlsRendition, VersionChangesWithEverySegmentAndAtTheEnd) {
  Rendition r({"main", "index.m3u8", 56000}, 6);
  r.add(seg("a.ts", kT0));
  const std::string v1 = r.version();
  r.add(seg("b.ts", kT0 + 1000));
  const std::string v2 = r.version();
  r.end();
  EXPECT_NE(v1, v2);
  EXPECT_NE(v2, r.version());
  EXPECT_NE(r.playlist().find("#EXT-X-ENDLIST\n"), std::string::npos);
}

TEST(HlsRendition, TimelineJumpAndRestartBecomeDiscontinuities) {
  Rendition r({"main", "index.m3u8", 56000}, 3);
  r.add(seg("a.ts", kT0));
  r.add(seg("b.ts", kT0 + 1000));     // contiguous
  r.add(seg("c.ts", kT0 + 9000));     // the timeline jumped 7 s
  r.markDiscontinuity();              // e.g. the pipeline restarted
  r.add(seg("d.ts", kT0 + 10000));
  std::string text = r.playlist();
  EXPECT_EQ(text.find("#EXT-X-DISCONTINUITY-SEQUENCE"), std::string::npos);
  EXPECT_NE(text.find("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-30T00:53:29.000Z\n#EXTINF:1.000,\nc.ts"),
            std::string::npos) << text;
  EXPECT_NE(text.find("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-30T00:53:30.000Z\n#EXTINF:1.000,\nd.ts"),
            std::string::npos) << text;
  // Once a discontinuity leaves the window, players are told how many went before.
  r.add(seg("e.ts", kT0 + 11000));
  r.add(seg("f.ts", kT0 + 12000));
  text = r.playlist();
  EXPECT_NE(text.find("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"), std::string::npos) << text;  // c.ts left; d.ts is still listed
}

// A room reopened on another node after its owner died: its playlists go on past every number
// the dead owner may have used, after a discontinuity, so players keep the stream.
TEST(HlsRendition, ContinuedRenditionStartsAtTheSequenceAfterADiscontinuity) {
  Rendition r({"main", "index.m3u8", 56000}, 3);
  ASSERT_TRUE(r.continueFrom(1000, 5));
  EXPECT_EQ(r.playlist(), "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:1000\n"
                          "#EXT-X-DISCONTINUITY-SEQUENCE:4\n")
      << "nothing listed yet (not served either: PublishedRoom)";
  r.add(seg("a.ts", kT0));
  r.add(seg("b.ts", kT0 + 1000));
  EXPECT_FALSE(r.continueFrom(0, 1)) << "only before the first segment";
  EXPECT_EQ(r.playlist(),
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:1000\n"
            "#EXT-X-DISCONTINUITY-SEQUENCE:4\n"
            "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-30T00:53:20.000Z\n#EXTINF:1.000,\na.ts\n"
            "#EXT-X-PROGRAM-DATE-TIME:2026-11-30T00:53:21.000Z\n#EXTINF:1.000,\nb.ts\n");
  EXPECT_EQ(listed(r, "b.ts")->sequence, 1001u);
  EXPECT_EQ(r.nextSequence(), 1002u);
  EXPECT_EQ(r.discontinuitySequence(), 5u) << "a.ts's tag on top of the 4 before";
  // The discontinuous first segment leaves the window: its tag is counted in the header.
  r.add(seg("c.ts", kT0 + 2000));
  r.add(seg("d.ts", kT0 + 3000));
  const std::string text = r.playlist();
  EXPECT_NE(text.find("#EXT-X-MEDIA-SEQUENCE:1001\n#EXT-X-DISCONTINUITY-SEQUENCE:5\n#EXT-X-PROGRAM-DATE-TIME"),
            std::string::npos) << text;
  EXPECT_EQ(text.find("#EXT-X-DISCONTINUITY\n"), std::string::npos) << text;
  EXPECT_EQ(r.discontinuitySequence(), 5u);
}

TEST(HlsRendition, DiscontinuitySequenceCountsEveryTagSoFar) {
  Rendition r({"main", "index.m3u8", 56000}, 2);
  r.add(seg("a.ts", kT0));
  EXPECT_EQ(r.discontinuitySequence(), 0u) << "a room's first segment is no discontinuity";
  r.markDiscontinuity();
  r.add(seg("b.ts", kT0 + 1000));
  r.add(seg("c.ts", kT0 + 9000));  // a jump
  EXPECT_EQ(r.discontinuitySequence(), 2u);
  r.add(seg("d.ts", kT0 + 10000));
  r.add(seg("e.ts", kT0 + 11000));  // both tagged segments have left the window
  EXPECT_EQ(r.discontinuitySequence(), 2u);
}

// continueAfter (core/media_backend.h): the owner may have closed one segment per segmentMs
// since its position was known, and one more (the one it was writing then).
TEST(HlsContinuation, StartsPastEverySegmentTheDeadOwnerMayHaveMade) {
  const roomcast::core::HlsPosition last{100, 2, 750, kT0};
  auto at = [&](int64_t nowMs) { return roomcast::core::continueAfter(last, nowMs); };
  EXPECT_EQ(at(kT0).nextSequence, 101u) << "segment 100 may have closed right after the position";
  EXPECT_EQ(at(kT0 + 749).nextSequence, 101u);
  EXPECT_EQ(at(kT0 + 750).nextSequence, 102u);
  EXPECT_EQ(at(kT0 + 7499).nextSequence, 110u);
  EXPECT_EQ(at(kT0 + 7500).nextSequence, 111u) << "100..110 may be taken: one at T+0, then one every 750 ms";
  EXPECT_EQ(at(kT0 - 5000).nextSequence, 101u) << "a clock behind the dead owner's: no time passed";
  const roomcast::core::HlsPosition next = at(kT0 + 10000);
  EXPECT_EQ(next.discontinuitySequence, 3u) << "the first new segment is one discontinuity further";
  EXPECT_EQ(next.segmentMs, 750u);
  EXPECT_EQ(next.atUnixMs, kT0 + 10000);
  EXPECT_EQ(roomcast::core::continueAfter({7, 0, 0, kT0}, kT0 + 10).nextSequence, 18u)
      << "no segment length: each millisecond may have been a segment";
  EXPECT_EQ(roomcast::core::continueAfter({0, 0, 750, INT64_MIN}, INT64_MAX).nextSequence,
            UINT64_MAX / 750 + 1)
      << "no overflow from a record's nonsense";
}

// A rendition reports a position that continues into another rendition as the brief says:
// the continued one's first segment is numbered past and one discontinuity further.
TEST(HlsContinuation, PositionOfOneRenditionContinuesInAnother) {
  Rendition dead({"main", "index.m3u8", 56000}, 3);
  for (int i = 0; i < 5; i++) dead.add(seg("segment0000" + std::to_string(i) + ".ts", kT0 + i * 750, 0.75));
  const roomcast::core::HlsPosition position{dead.nextSequence(), dead.discontinuitySequence(), 750, kT0 + 3750};
  const roomcast::core::HlsPosition next = roomcast::core::continueAfter(position, kT0 + 3750 + 4000);
  Rendition reopened({"main", "index.m3u8", 56000}, 3);
  ASSERT_TRUE(reopened.continueFrom(next.nextSequence, next.discontinuitySequence));
  reopened.add(seg("segment-x-00000.ts", kT0 + 8000, 0.75));
  EXPECT_EQ(reopened.segments().front().sequence, 5u + 4000 / 750 + 1);
  EXPECT_TRUE(reopened.segments().front().discontinuity);
  EXPECT_EQ(reopened.discontinuitySequence(), 1u);
  EXPECT_NE(reopened.playlist().find("#EXT-X-MEDIA-SEQUENCE:11\n#EXT-X-DISCONTINUITY\n"), std::string::npos)
      << reopened.playlist();
}

TEST(HlsRoom, MasterListsRenditionsWithTheSession) {
  Room room({{"main", "index.m3u8", 56000}, {"low", "low.m3u8", 28000}}, 6);
  EXPECT_EQ(room.master("?session=abc"),
            "#EXTM3U\n#EXT-X-VERSION:3\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=56000,CODECS=\"mp4a.40.2\"\nindex.m3u8?session=abc\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=28000,CODECS=\"mp4a.40.2\"\nlow.m3u8?session=abc\n");
  EXPECT_FALSE(room.ended());
  room.end();
  EXPECT_TRUE(room.ended());
}

// What the HTTP side serves: a copy made on publish(), unchanged by later changes until the
// next publish().
TEST(HlsRegistry, PublishedCopyHasListedSegmentsAndPlaylists) {
  Registry registry(6);
  Room& room = registry.open("r", {{"main", "index.m3u8", 56000}, {"low", "low.m3u8", 28000}});
  auto empty = registry.published("r");
  ASSERT_NE(empty, nullptr) << "a room is published when it opens";
  EXPECT_FALSE(empty->playlists.at("index.m3u8").has_value()) << "nothing to play yet";
  room.rendition("low")->add(seg("low00000.ts", kT0));
  EXPECT_TRUE(registry.published("r")->segments.empty()) << "not before publish()";
  registry.publish("r");
  auto live = registry.published("r");
  EXPECT_EQ(live->segments.count("low00000.ts"), 1u);
  EXPECT_EQ(live->segments.count("segment00000.ts"), 0u);
  ASSERT_TRUE(live->playlists.at("low.m3u8").has_value());
  EXPECT_EQ(*live->playlists.at("low.m3u8")->bytes, room.rendition("low")->playlist());
  EXPECT_FALSE(live->playlists.at("index.m3u8").has_value());
  EXPECT_FALSE(live->ended);
  room.end();
  registry.publish("r");
  EXPECT_TRUE(registry.published("r")->ended);
  EXPECT_FALSE(live->ended) << "an earlier copy is never changed";
  registry.close("r");
  EXPECT_EQ(registry.published("r"), nullptr);
}

TEST(HlsParse, ReadsSegmentsAndDurationsFromHlssink2Playlists) {
  const auto entries = parseMediaPlaylist(
      "#EXTM3U\r\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-TARGETDURATION:1\n\n"
      "#EXTINF:0.99845802783966064,\nsegment00004.ts\n#EXTINF:0.5,\nsegment00005.ts\n#EXT-X-ENDLIST\n");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].name, "segment00004.ts");
  EXPECT_NEAR(entries[0].duration, 0.998458, 1e-6);
  EXPECT_EQ(entries[1].name, "segment00005.ts");
  EXPECT_TRUE(parseMediaPlaylist("").empty());
  EXPECT_TRUE(parseMediaPlaylist("segment-without-extinf.ts\n").empty());
}

// The default segment length is declared once (hls/defaults.h); the example config and the
// operator's guide state it, and must state what the code does.
TEST(HlsDefaults, TheDocsStateTheDefaultSegmentLength) {
  const std::string ms = std::to_string(kDefaultSegmentMs);
  auto text = [](const char* relative) {
    g_autofree char* contents = nullptr;
    EXPECT_TRUE(g_file_get_contents(roomcast::testing::sourcePath(relative).c_str(), &contents, nullptr, nullptr))
        << relative;
    return std::string(contents ? contents : "");
  };
  EXPECT_NE(text("data/roomcast.conf").find("\nsegment_ms = " + ms + "\n"), std::string::npos);
  const std::string guide = text("docs/operating.md");
  EXPECT_NE(guide.find("`segment_ms` (" + ms + ":"), std::string::npos) << "[hls] segment_ms's default";
  EXPECT_NE(guide.find(ms + " ms\nsegments, `[hls] segment_ms`"), std::string::npos) << "Listeners at scale";
  EXPECT_NE(text("docs/protocol.md").find("(" + ms + " ms by default)"), std::string::npos);
}

}  // namespace
