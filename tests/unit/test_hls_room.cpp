// The playlists roomcastd serves, rendered from its segment window (hls/hls_room.h).
#include <glib.h>
#include <gtest/gtest.h>

#include <string>

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
