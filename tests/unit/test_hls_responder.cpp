// What roomcastd answers for HLS, without any HTTP library: byte ranges, validators, cache
// headers, counting, and how a new connection is routed by its first bytes.
#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include "hls/first_request.h"
#include "hls/hls_responder.h"
#include "hls/hls_room.h"
#include "hls/listener_counting.h"
#include "signaling/auth.h"

using namespace roomcast;
using hls::ByteRange;
using hls::FirstRequest;

namespace {

// The responder only asks whether a session is signed: the server's secret answers that.
struct SignedSessions final : hls::ListenerCounting {
  signaling::TokenAuthority auth{std::string(40, 's'), 3600};
  bool signedByThisServer(const std::string& session, const std::string& roomId) const override {
    return auth.verifyListenerSession(session, roomId);
  }
  bool count(const std::string&, const std::string&) override { return false; }
};

std::string headerOf(const hls::HlsResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (name == k) return v;
  return "";
}

struct Fixture : ::testing::Test {
  hls::Registry registry{6};
  SignedSessions sessions;
  signaling::TokenAuthority& auth = sessions.auth;
  hls::HlsResponder responder{"/nonexistent", &registry, sessions};

  void SetUp() override {
    hls::Room& room = registry.open("r1", {{"main", "index.m3u8", 56000}, {"low", "low.m3u8", 28000}});
    hls::Segment s;
    s.name = "segment00000.ts";
    s.duration = 0.5;
    s.startUnixMs = 1'700'000'000'000;
    s.bytes = std::make_shared<const std::string>(std::string(1000, 'x'));
    room.rendition("main")->add(s);
    registry.publish("r1");
  }
  hls::HlsResponse get(std::string_view path, std::string range = "", std::string etag = "",
                             std::string session = "") {
    return responder.respond({"GET", path, std::move(session), std::move(etag), std::move(range)});
  }
};

}  // namespace

TEST(ByteRange, ParsesTheFormsPlayersSend) {
  auto r = hls::parseByteRange("bytes=0-99", 1000);
  EXPECT_EQ(r.kind, ByteRange::Kind::Single);
  EXPECT_EQ(r.start, 0u);
  EXPECT_EQ(r.end, 99u);
  r = hls::parseByteRange("bytes=900-", 1000);
  EXPECT_EQ(r.start, 900u);
  EXPECT_EQ(r.end, 999u);
  r = hls::parseByteRange("bytes=-100", 1000);
  EXPECT_EQ(r.start, 900u);
  EXPECT_EQ(r.end, 999u);
  r = hls::parseByteRange("bytes=500-5000", 1000);
  EXPECT_EQ(r.end, 999u) << "an end past the body is the body's end";
  EXPECT_EQ(hls::parseByteRange("bytes=-5000", 1000).start, 0u);
}

TEST(ByteRange, UnsatisfiableAndUnknownForms) {
  EXPECT_EQ(hls::parseByteRange("bytes=1000-", 1000).kind, ByteRange::Kind::Unsatisfiable);
  EXPECT_EQ(hls::parseByteRange("bytes=-0", 1000).kind, ByteRange::Kind::Unsatisfiable);
  // Ignored, so the whole body is sent: other units, several ranges, garbage, reversed.
  for (const char* h : {"items=0-1", "bytes=0-1,5-6", "bytes=abc", "bytes=5-1", "bytes=", "bytes=1-2x",
                        "bytes=99999999999999999999999-"})
    EXPECT_EQ(hls::parseByteRange(h, 1000).kind, ByteRange::Kind::Whole) << h;
}

TEST(FirstRequestRoute, HlsRequestsGoToTheListenerThreadOthersToLibsoup) {
  EXPECT_EQ(hls::classifyFirstRequest("GET /hls/r1/index.m3u8 HTTP/1.1\r\n"), FirstRequest::Hls);
  EXPECT_EQ(hls::classifyFirstRequest("HEAD /hls/"), FirstRequest::Hls);
  EXPECT_EQ(hls::classifyFirstRequest("OPTIONS /hls/x"), FirstRequest::Hls);
  EXPECT_EQ(hls::classifyFirstRequest("GET /api/v1/health HTTP/1.1"), FirstRequest::Other);
  EXPECT_EQ(hls::classifyFirstRequest("GET /ws/r1 HTTP/1.1"), FirstRequest::Other);
  EXPECT_EQ(hls::classifyFirstRequest("POST /hls/r1/index.m3u8"), FirstRequest::Other);
  EXPECT_EQ(hls::classifyFirstRequest("\x16\x03\x01"), FirstRequest::Other) << "TLS is libsoup's to refuse";
  EXPECT_EQ(hls::classifyFirstRequest("GET /hl"), FirstRequest::Undecided);
  EXPECT_EQ(hls::classifyFirstRequest("G"), FirstRequest::Undecided);
  EXPECT_EQ(hls::classifyFirstRequest(""), FirstRequest::Undecided);
}

TEST_F(Fixture, SegmentWithValidatorsRangesAndCacheHeaders) {
  auto whole = get("/hls/r1/segment00000.ts");
  EXPECT_EQ(whole.status, 200);
  EXPECT_STREQ(whole.contentType, "video/mp2t");
  EXPECT_EQ(whole.length, 1000u);
  EXPECT_EQ(headerOf(whole, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(headerOf(whole, "Accept-Ranges"), "bytes");
  EXPECT_EQ(headerOf(whole, "Access-Control-Allow-Origin"), "*");
  const std::string etag = headerOf(whole, "ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(get("/hls/r1/segment00000.ts", "", etag).status, 304);
  auto part = get("/hls/r1/segment00000.ts", "bytes=10-19");
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.offset, 10u);
  EXPECT_EQ(part.length, 10u);
  EXPECT_EQ(headerOf(part, "Content-Range"), "bytes 10-19/1000");
  auto beyond = get("/hls/r1/segment00000.ts", "bytes=2000-");
  EXPECT_EQ(beyond.status, 416);
  EXPECT_EQ(headerOf(beyond, "Content-Range"), "bytes */1000");
  EXPECT_EQ(beyond.contentType, nullptr);
}

TEST_F(Fixture, PlaylistsCountSessionsAndWaitForSegments) {
  auto playlist = get("/hls/r1/index.m3u8", "", "", "abc");
  EXPECT_EQ(playlist.status, 200);
  EXPECT_EQ(headerOf(playlist, "Cache-Control"), "public, max-age=1");
  EXPECT_NE(playlist.body->find("segment00000.ts"), std::string::npos);
  EXPECT_EQ(playlist.countRoom, "r1") << "the caller verifies and counts";
  EXPECT_EQ(playlist.countSession, "abc");
  EXPECT_TRUE(get("/hls/r1/index.m3u8").countSession.empty());
  auto empty = get("/hls/r1/low.m3u8", "", "", "abc");
  EXPECT_EQ(empty.status, 404) << "nothing listed yet";
  EXPECT_EQ(empty.countSession, "abc") << "still a listener";
  EXPECT_EQ(responder.stats().playlistRequests, 3u);
}

TEST_F(Fixture, MasterNamesOnlySignedSessions) {
  auto forged = get("/hls/r1/master.m3u8", "", "", "abc.def");
  EXPECT_EQ(forged.body->find("session"), std::string::npos);
  const std::string signedSession = auth.issueListenerSession("r1");
  auto master = get("/hls/r1/master.m3u8", "", "", signedSession);
  EXPECT_NE(master.body->find("index.m3u8?session=" + signedSession), std::string::npos) << *master.body;
  EXPECT_NE(master.body->find("low.m3u8?session="), std::string::npos);
}

TEST_F(Fixture, UnsafeNamesMethodsAndClosedRooms) {
  EXPECT_EQ(get("/hls/r1/../secret.ts").status, 404);
  EXPECT_EQ(get("/hls/r1/.hlssink2-main.m3u8").status, 404);
  EXPECT_EQ(get("/hls/r1/notes.txt").status, 404);
  EXPECT_EQ(get("/hls/r1").status, 404);
  EXPECT_EQ(responder.stats().notFound, 4u);
  EXPECT_EQ(responder.respondFile({"GET", "", "", "", ""}, "/nonexistent/x.ogg", "audio/ogg", "private").status, 404);
  EXPECT_EQ(responder.stats().notFound, 4u) << "a missing recording is not an HLS 404";
  EXPECT_EQ(responder.respond({"DELETE", "/hls/r1/index.m3u8", "", "", ""}).status, 405);
  EXPECT_EQ(responder.respond({"OPTIONS", "/hls/r1/index.m3u8", "", "", ""}).status, 204);
  registry.close("r1");
  EXPECT_EQ(get("/hls/r1/index.m3u8").status, 404) << "served from files once closed; there are none here";
}

// An ended room is served from its files. A media playlist that never got its ENDLIST (the
// process was killed) is not final: it must not be cached for a year like a finished one.
TEST(EndedRoom, OnlyFinishedPlaylistsAreCachedForever) {
  g_autofree char* root = g_dir_make_tmp("roomcast-hls-XXXXXX", nullptr);
  ASSERT_NE(root, nullptr);
  const std::string finished = std::string(root) + "/done", killed = std::string(root) + "/killed";
  ASSERT_EQ(g_mkdir(finished.c_str(), 0700), 0);
  ASSERT_EQ(g_mkdir(killed.c_str(), 0700), 0);
  const std::string head = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:0.75,\nsegment00000.ts\n";
  ASSERT_TRUE(g_file_set_contents((finished + "/index.m3u8").c_str(), (head + "#EXT-X-ENDLIST\n").c_str(), -1, nullptr));
  ASSERT_TRUE(g_file_set_contents((killed + "/index.m3u8").c_str(), head.c_str(), -1, nullptr));
  ASSERT_TRUE(g_file_set_contents((killed + "/segment00000.ts").c_str(), "seg", -1, nullptr));

  hls::Registry registry{6};
  SignedSessions sessions;
  hls::HlsResponder responder{root, &registry, sessions};
  auto get = [&](std::string_view path, std::string etag = "") {
    return responder.respond({"GET", path, "", std::move(etag), ""});
  };
  auto done = get("/hls/done/index.m3u8");
  EXPECT_EQ(done.status, 200);
  EXPECT_EQ(headerOf(done, "Cache-Control"), "public, max-age=31536000, immutable");
  auto cut = get("/hls/killed/index.m3u8");
  EXPECT_EQ(cut.status, 200);
  EXPECT_EQ(headerOf(cut, "Cache-Control"), "no-cache");
  auto revalidated = get("/hls/killed/index.m3u8", headerOf(cut, "ETag"));
  EXPECT_EQ(revalidated.status, 304);
  EXPECT_EQ(headerOf(revalidated, "Cache-Control"), "no-cache") << "a 304 refreshes the cache's headers";
  EXPECT_EQ(headerOf(get("/hls/killed/segment00000.ts"), "Cache-Control"), "public, max-age=31536000, immutable")
      << "a listed segment is whole";
  EXPECT_EQ(get("/hls/killed/low.m3u8").status, 404);

  for (const char* f : {"done/index.m3u8", "killed/index.m3u8", "killed/segment00000.ts"})
    g_remove((std::string(root) + "/" + f).c_str());
  g_rmdir(finished.c_str());
  g_rmdir(killed.c_str());
  g_rmdir(root);
}
