// The listener tier over real HTTP: roomcastd's own playlists (program-date-time, ENDLIST),
// what ffmpeg thinks of them, cache headers, ETags, ranges, CORS, segments never served
// half-written, a late listener starting near the live edge, listener counting, and a real
// nginx in front (the shipped edge config) serving the same bytes, collapsing misses, and
// refreshing its cached playlist four times a second.
#include <glib.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

#include <arpa/inet.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cstring>
#include <sstream>

#include "audio/tone.h"
#include "audio/wav.h"
#include "hls/defaults.h"
#include "hls_playlist.h"
#include "loopback_socket.h"
#include "nginx.h"
#include "processes.h"
#include "room_helpers.h"
#include "ws_client.h"

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {

double unixNow() { return static_cast<double>(g_get_real_time()) / G_USEC_PER_SEC; }

std::string hlsBase(const Daemon& d, const TestRoom& room) { return d.url() + "/hls/" + room.id + "/"; }

TEST(Hls, PlaylistsPlayInFfmpegStayNearLiveAndEndWithEndlist) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  Process host({cli(), "--server", daemon.url(), "speak", room.id, "--token", room.hostToken, "--tone", "440",
                "--seconds", "12"});
  ASSERT_TRUE(host.waitForOutput("speaking", 30)) << daemon.log();
  const std::string base = hlsBase(daemon, room);
  ASSERT_TRUE(waitForSegments(base + "index.m3u8", 3, 15));

  // While the speaker talks, the newest listed segment ended less than 2.5 s ago.
  std::vector<double> ages;
  for (int second = 4; second <= 8; second++) {
    ASSERT_TRUE(host.waitForOutput("heard " + std::to_string(second) + " s\n", 10));
    auto r = http("GET", base + "index.m3u8");
    ASSERT_EQ(r.status, 200);
    auto listed = parsePlaylist(r.body);
    ASSERT_FALSE(listed.empty());
    ASSERT_GT(listed.back().startUnix, 0) << "every segment has EXT-X-PROGRAM-DATE-TIME:\n" << r.body;
    ages.push_back(unixNow() - (listed.back().startUnix + listed.back().duration));
    EXPECT_NE(r.body.find("#EXT-X-TARGETDURATION:1\n"), std::string::npos) << r.body;
    double windowSeconds = 0;
    for (const auto& segment : listed) {
      windowSeconds += segment.duration;
      EXPECT_LE(segment.duration, roomcast::hls::kDefaultSegmentMs / 1000.0 + 0.05) << "segments of the default length";
    }
    EXPECT_LE(windowSeconds, 7.0) << "a short rolling window (about 6 s)";
  }
  for (double age : ages) EXPECT_LT(age, 2.5) << "newest segment age";
  RecordProperty("newest_segment_age_max_s", std::to_string(*std::max_element(ages.begin(), ages.end())));

  // ffmpeg: every playlist decodes with nothing to say.
  for (const char* playlist : {"master.m3u8", "index.m3u8", "low.m3u8"}) {
    auto probe = run({"ffmpeg", "-nostdin", "-v", "error", "-i", base + playlist, "-t", "3", "-f", "null", "-"}, 60);
    EXPECT_EQ(probe.exitStatus, 0) << playlist << ": " << probe.stderrText;
    EXPECT_EQ(probe.stderrText, "") << playlist;
  }
  auto master = http("GET", base + "master.m3u8");
  EXPECT_NE(master.body.find("#EXT-X-STREAM-INF:BANDWIDTH=28000"), std::string::npos) << "a low rendition ≤ 32 kbps";

  ASSERT_EQ(host.wait(60).exitStatus, 0);
  auto ended = http("DELETE", daemon.url() + "/api/v1/rooms/" + room.id, "", {{"Authorization", "Bearer " + room.hostToken}});
  ASSERT_EQ(ended.status, 200) << ended.body;
  // The finished room is served from its files: final playlists with ENDLIST.
  auto last = http("GET", base + "index.m3u8");
  ASSERT_EQ(last.status, 200);
  EXPECT_NE(last.body.find("#EXT-X-ENDLIST"), std::string::npos) << last.body;
  EXPECT_NE(last.header("Cache-Control").find("immutable"), std::string::npos);
  auto probe = run({"ffmpeg", "-nostdin", "-v", "error", "-i", base + "index.m3u8", "-f", "null", "-"}, 60);
  EXPECT_EQ(probe.exitStatus, 0) << probe.stderrText;
  EXPECT_EQ(probe.stderrText, "");
}

// Segments go from hlssink2 to listeners through memory: while a room plays and a listener
// fetches it, roomcastd opens no segment or playlist file for reading (strace on the live
// daemon for 3 s; before, it read hlssink2's playlist and each new segment back, ~10 opens a
// second). It does write the copy of what it serves (for after the room ends): those opens
// show that strace saw the HLS path at work.
TEST(Hls, LiveSegmentsAndPlaylistsAreNeverReadFromDisk) {
  g_autofree char* strace = g_find_program_in_path("strace");
  if (!strace) GTEST_SKIP() << "needs strace (scripts/setup.sh)";
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  const std::string base = hlsBase(daemon, room);
  ASSERT_TRUE(waitForSegments(base + "index.m3u8", 2, 15)) << daemon.log();
  Process listener({cli(), "--server", daemon.url(), "listen", room.id, "--seconds", "8"});
  TempDir dir("roomcast-strace");
  const std::string trace = dir.path() + "/trace";
  auto traced = run({"timeout", "-s", "INT", "3", strace, "-f", "-e", "trace=openat", "-o", trace, "-p",
                     std::to_string(daemon.pid())}, 30);
  g_autofree char* text = nullptr;
  ASSERT_TRUE(g_file_get_contents(trace.c_str(), &text, nullptr, nullptr)) << traced.stderrText;
  std::istringstream lines(text);
  std::string line, reads;
  size_t written = 0, read = 0;
  while (std::getline(lines, line)) {
    if (line.find(".ts") == std::string::npos && line.find(".m3u8") == std::string::npos) continue;
    if (line.find("O_CREAT") != std::string::npos) written++;
    else reads += line + "\n", read++;
  }
  printf("in 3 s roomcastd opened %zu HLS files to write, %zu to read\n", written, read);
  EXPECT_GE(written, 4u) << "two renditions close a segment every 750 ms:\n" << text;
  EXPECT_EQ(reads, "") << "opened to read";
  EXPECT_EQ(listener.wait(60).exitStatus, 0) << listener.errors();
}

TEST(Hls, CacheHeadersValidatorsRangesCorsAndNoHalfWrittenSegment) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  const std::string base = hlsBase(daemon, room);
  ASSERT_TRUE(waitForSegments(base + "index.m3u8", 2, 15)) << "a room plays silence with nobody on stage";

  auto playlist = http("GET", base + "index.m3u8");
  EXPECT_EQ(playlist.header("Content-Type"), "application/vnd.apple.mpegurl");
  EXPECT_EQ(playlist.header("Cache-Control"), "public, max-age=1");
  EXPECT_EQ(playlist.header("Access-Control-Allow-Origin"), "*");
  EXPECT_FALSE(playlist.header("ETag").empty());
  EXPECT_FALSE(playlist.header("Last-Modified").empty());
  auto listed = parsePlaylist(playlist.body);
  ASSERT_FALSE(listed.empty());

  auto segment = http("GET", base + listed.back().name);
  ASSERT_EQ(segment.status, 200);
  EXPECT_EQ(segment.header("Content-Type"), "video/mp2t");
  EXPECT_EQ(segment.header("Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(segment.header("Accept-Ranges"), "bytes");
  EXPECT_EQ(segment.body[0], 0x47) << "MPEG-TS sync byte";
  const std::string etag = segment.header("ETag");
  ASSERT_FALSE(etag.empty());
  auto again = http("GET", base + listed.back().name, "", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  auto range = http("GET", base + listed.back().name, "", {{"Range", "bytes=0-99"}});
  EXPECT_EQ(range.status, 206);
  EXPECT_EQ(range.body, segment.body.substr(0, 100));
  EXPECT_EQ(range.header("Content-Range"), "bytes 0-99/" + std::to_string(segment.body.size()));
  auto beyond = http("GET", base + listed.back().name, "",
                     {{"Range", "bytes=" + std::to_string(segment.body.size() + 10) + "-"}});
  EXPECT_EQ(beyond.status, 416);
  auto preflight = http("OPTIONS", base + "index.m3u8", "", {{"Origin", "https://player.example"},
                                                             {"Access-Control-Request-Headers", "range"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_NE(preflight.header("Access-Control-Allow-Headers").find("Range"), std::string::npos);
  EXPECT_EQ(http("POST", base + "index.m3u8", "{}").status, 405);
  const int traversal = http("GET", base + "..%2Fsecret").status;
  EXPECT_TRUE(traversal == 400 || traversal == 404) << traversal;
  EXPECT_EQ(http("GET", base + ".hlssink2-main.m3u8").status, 404) << "hlssink2's own playlist is never served";

  // The segment after the newest listed one is being written on disk right now; it is not
  // served until it is complete and listed.
  const std::string& newest = listed.back().name;  // segmentNNNNN.ts
  const int n = std::stoi(newest.substr(7, 5));
  char next[32];
  std::snprintf(next, sizeof next, "segment%05d.ts", n + 1);
  const std::string onDisk = daemon.dataDir() + "/hls/" + room.id + "/" + next;
  const bool writing = g_file_test(onDisk.c_str(), G_FILE_TEST_EXISTS);
  auto early = http("GET", base + next);
  if (early.status == 200) {
    // It closed between the two requests: then it must be listed now.
    EXPECT_NE(http("GET", base + "index.m3u8").body.find(next), std::string::npos);
  } else {
    EXPECT_EQ(early.status, 404);
    RecordProperty("half_written_segment_seen_on_disk", writing ? "yes" : "no");
  }
}

// One request on a raw connection; the response's head and body (by Content-Length).
struct RawResponse {
  std::string head;
  std::string body;
  bool closedAfter = false;  // the server closed the connection after it (asked with waitForClose)
};

// The connection's receive timeout (SO_RCVTIMEO, rawConnect) bounds every wait.
RawResponse rawExchange(int fd, const std::string& request, bool waitForClose = false) {
  RawResponse out;
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return out;
  std::string data;
  char buf[65536];
  size_t headEnd = std::string::npos, length = 0;
  for (;;) {
    if (headEnd == std::string::npos && (headEnd = data.find("\r\n\r\n")) != std::string::npos) {
      out.head = data.substr(0, headEnd + 2);
      g_autofree char* lower = g_ascii_strdown(out.head.c_str(), -1);
      const char* cl = std::strstr(lower, "content-length:");
      length = cl ? std::strtoul(cl + 15, nullptr, 10) : 0;
      headEnd += 4;
    }
    if (headEnd != std::string::npos && data.size() >= headEnd + length) break;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    data.append(buf, static_cast<size_t>(n));
  }
  out.body = data.substr(headEnd, length);
  if (waitForClose) out.closedAfter = recv(fd, buf, sizeof buf, 0) == 0;
  return out;
}

// Every receive on it waits at most 20 s.
int rawConnect(const std::string& url) { return connectLoopback(portOfUrl(url), 20); }

std::string headerOf(const RawResponse& r, const char* name) {
  g_autofree char* lowerHead = g_ascii_strdown(r.head.c_str(), -1);
  g_autofree char* lowerName = g_ascii_strdown(name, -1);
  const std::string head(lowerHead), key = std::string("\r\n") + lowerName + ":";
  const size_t at = head.find(key);
  if (at == std::string::npos) return "";
  size_t start = at + key.size();
  while (start < head.size() && head[start] == ' ') start++;
  return r.head.substr(start, head.find("\r\n", start) - start);
}

// A connection that begins with an HLS request is served by the listener thread
// (libmicrohttpd); one that begins with anything else by libsoup. Both give the same answers,
// and an HLS connection that then asks for something else is sent to a new connection.
TEST(Hls, BothServingThreadsGiveTheSameAnswersAndOtherRequestsMoveToANewConnection) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  const std::string path = "/hls/" + room.id + "/";
  ASSERT_TRUE(waitForSegments(hlsBase(daemon, room) + "index.m3u8", 2, 15));

  // libsoup: the connection's first request is the health check.
  const int soupFd = rawConnect(daemon.url()), hlsFd = rawConnect(daemon.url());
  ASSERT_GE(soupFd, 0);
  ASSERT_GE(hlsFd, 0);
  auto get = [](const std::string& target, const std::string& extra = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
  };
  RawResponse health = rawExchange(soupFd, get("/api/v1/health"));
  ASSERT_NE(health.head.find(" 200 "), std::string::npos) << health.head;
  // (Each further exchange on a connection shows that it was kept open.)
  RawResponse viaSoup = rawExchange(soupFd, get(path + "index.m3u8"));
  RawResponse viaListener = rawExchange(hlsFd, get(path + "index.m3u8"));
  ASSERT_NE(viaSoup.head.find(" 200 "), std::string::npos) << viaSoup.head;
  ASSERT_NE(viaListener.head.find(" 200 "), std::string::npos) << viaListener.head;
  EXPECT_FALSE(headerOf(viaSoup, "Server").empty()) << "libsoup names itself: " << viaSoup.head;
  EXPECT_TRUE(headerOf(viaListener, "Server").empty()) << "the listener thread does not: " << viaListener.head;
  const std::string segment = parsePlaylist(viaListener.body).back().name;

  // The same segment, whole and as a range, from both.
  for (const std::string& extra : {std::string(), std::string("Range: bytes=100-199\r\n")}) {
    RawResponse a = rawExchange(soupFd, get(path + segment, extra));
    RawResponse b = rawExchange(hlsFd, get(path + segment, extra));
    EXPECT_EQ(a.head.substr(0, 12), b.head.substr(0, 12)) << a.head << "\n---\n" << b.head;
    EXPECT_EQ(a.body, b.body);
    EXPECT_FALSE(a.body.empty());
    for (const char* name : {"Content-Type", "Cache-Control", "ETag", "Last-Modified", "Accept-Ranges",
                             "Content-Range", "Access-Control-Allow-Origin", "Content-Length"})
      EXPECT_EQ(headerOf(a, name), headerOf(b, name)) << name;
  }
  RawResponse missing = rawExchange(hlsFd, get(path + "segment99999.ts"));
  EXPECT_NE(missing.head.find(" 404 "), std::string::npos) << missing.head;

  // The HLS connection asks for the API: sent elsewhere, and closed.
  RawResponse moved = rawExchange(hlsFd, get("/api/v1/health?x=1"), true);
  EXPECT_NE(moved.head.find(" 307 "), std::string::npos) << moved.head;
  EXPECT_EQ(headerOf(moved, "Location"), "/api/v1/health?x=1");
  EXPECT_TRUE(moved.closedAfter);
  close(soupFd);
  close(hlsFd);

  // A client that follows it (libsoup's, keeping one connection) gets its answer, a POST too.
  g_autoptr(SoupSession) session = soup_session_new_with_options("timeout", 30, nullptr);
  auto ask = [&](const char* method, const std::string& target, const std::string& body) {
    g_autoptr(SoupMessage) msg = soup_message_new(method, (daemon.url() + target).c_str());
    if (!body.empty()) {
      g_autoptr(GBytes) bytes = g_bytes_new(body.data(), body.size());
      soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
    }
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization",
                                 ("Bearer " + room.hostToken).c_str());
    g_autoptr(GBytes) reply = soup_session_send_and_read(session, msg, nullptr, nullptr);
    return static_cast<int>(soup_message_get_status(msg));
  };
  EXPECT_EQ(ask("GET", path + "index.m3u8", ""), 200);  // a connection that begins with HLS
  EXPECT_EQ(ask("POST", "/api/v1/rooms/" + room.id + "/tokens", R"({"role":"speaker","name":"Ada"})"), 201)
      << "redirected, repeated with its body on a new connection";
  EXPECT_EQ(ask("GET", "/api/v1/rooms/" + room.id, ""), 200);
}

// Players hold a connection each: more than select()'s 1024 at once are served (libmicrohttpd's
// default connection limit would refuse them).
TEST(Hls, MoreThanAThousandPlayerConnectionsAreServedAtOnce) {
  constexpr int kConnections = 1500;
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max < kConnections + 256) GTEST_SKIP() << "the open file hard limit is " << limit.rlim_max;
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  const std::string playlist = "/hls/" + room.id + "/index.m3u8";
  ASSERT_TRUE(waitForSegments(daemon.url() + playlist, 1, 15));
  const std::string request = "GET " + playlist + " HTTP/1.1\r\nHost: test\r\n\r\n";
  std::vector<int> fds;
  for (int i = 0; i < kConnections; i++) {
    const int fd = rawConnect(daemon.url());
    ASSERT_GE(fd, 0) << "connection " << i;
    fds.push_back(fd);
    ASSERT_EQ(rawExchange(fd, request).head.find("HTTP/1.1 200"), 0u) << "connection " << i;
  }
  // Every one of them is still open and answers again.
  int answered = 0;
  for (int fd : fds) {
    answered += rawExchange(fd, request).head.find("HTTP/1.1 200") == 0;
    close(fd);
  }
  EXPECT_EQ(answered, kConnections);
}

TEST(Hls, LateListenerStartsWithinSecondsOfTheLiveEdge) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  // 440 Hz for 10 s, then 880 Hz: a listener started at the switch hears 440 only for as long
  // as it plays behind the live edge.
  PcmAudio speech;
  for (int i = 0; i < 48000 * 20; i++)
    speech.samples.push_back(static_cast<int16_t>(12000 * std::sin(2 * M_PI * (i < 480000 ? 440 : 880) * i / 48000.0)));
  const std::string wav = daemon.dataDir() + "/switch.wav";
  ASSERT_TRUE(roomcast::audio::writeWav(wav, speech));
  Process host({cli(), "--server", daemon.url(), "speak", room.id, "--token", room.hostToken, "--file", wav,
                "--seconds", "19"});
  ASSERT_TRUE(host.waitForOutput("heard 10 s\n", 40)) << daemon.log();
  Process listener({cli(), "--server", daemon.url(), "listen", room.id, "--seconds", "7", "--out",
                    daemon.dataDir() + "/late.wav", "--rendition", "main"});
  ASSERT_EQ(listener.wait(60).exitStatus, 0);
  PcmAudio heard;
  ASSERT_TRUE(roomcast::audio::readWav(daemon.dataDir() + "/late.wav", heard));
  auto mono = roomcast::audio::toMonoFloat(heard);
  // The first 100 ms window where 880 Hz dominates: how far behind live the player began.
  double switchAt = -1;
  for (size_t at = 0; at + 4800 <= mono.size(); at += 4800) {
    if (roomcast::audio::tonePower(mono.data() + at, 4800, 48000, 880) >
        10 * roomcast::audio::tonePower(mono.data() + at, 4800, 48000, 440)) {
      switchAt = at / 48000.0;
      break;
    }
  }
  ASSERT_GE(switchAt, 0) << "the listener never reached the live part";
  EXPECT_LT(switchAt, 5.0) << "a late listener begins within a few seconds of the live edge";
  RecordProperty("late_listener_behind_live_s", std::to_string(switchAt));
}

// A config file for roomcastd: listeners count as gone 2 s after their last request.
std::vector<std::string> shortListenerTimeout() { return configFileArgs("[hls]\nlistener_idle_s = 2\n"); }

// A WebSocket in the room as an anonymous listener: the listener-count events it receives.
struct Watcher {
  WsClient ws;
  bool join(const Daemon& daemon, const TestRoom& room) {
    auto token = http("POST", daemon.url() + "/api/v1/rooms/" + room.id + "/tokens", R"({"role":"listener","name":"w"})");
    if (!ws.connect(wsUrl(daemon, room.id))) return false;
    ws.send(R"({"type":"hello","version":1,"token":")" + jsonString(token.body, "token") + "\"}");
    std::string msg;
    return ws.waitForType("welcome", msg);
  }
  bool waitForCount(long long count, double timeoutSeconds) {
    std::string msg;
    return ws.waitFor([&](const std::string& m) {
      return jsonString(m, "type") == "listener-count" && jsonInt(m, "count") == count;
    }, msg, timeoutSeconds);
  }
};

TEST(Hls, ListenerCountRisesWithListenersAndFallsAfterTheyStop) {
  Daemon daemon(shortListenerTimeout());
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  Watcher watcher;
  ASSERT_TRUE(watcher.join(daemon, room));
  {
    Process a({cli(), "--server", daemon.url(), "listen", room.id, "--seconds", "6"});
    Process b({cli(), "--server", daemon.url(), "listen", room.id, "--seconds", "6", "--rendition", "low"});
    EXPECT_TRUE(watcher.waitForCount(2, 20)) << "two listeners are counted (pushed to connected clients)";
    auto r = http("GET", daemon.url() + "/api/v1/rooms/" + room.id);
    EXPECT_EQ(jsonInt(r.body, "listener_count"), 2) << r.body;
    EXPECT_EQ(a.wait(30).exitStatus, 0);
    EXPECT_EQ(b.wait(30).exitStatus, 0);
  }
  EXPECT_TRUE(watcher.waitForCount(0, 15)) << "stopped listeners are gone after the idle timeout";
  EXPECT_EQ(jsonInt(http("GET", daemon.url() + "/api/v1/rooms/" + room.id).body, "listener_count"), 0);
  // A playlist request without a session, or with a forged one, plays but does not count.
  EXPECT_EQ(http("GET", hlsBase(daemon, room) + "index.m3u8?session=abc.def").status, 200);
  EXPECT_EQ(metric(daemon, "roomcast_hls_listeners"), 0);
}

// roomcastd with the shipped nginx edge in front (the edge tells roomcastd who listens through
// its log, syslog over UDP), and a room whose HLS has begun. Check ready() before use.
struct EdgeRoom {
  EdgeRoom()
      : edgeLog(freeUdpPort()),
        daemon({"--edge-log", "127.0.0.1:" + std::to_string(edgeLog)}),
        edge(daemon.url(), edgeLog) {
    if (!daemon.ready() || !edge.ready()) return;
    room = createRoom(daemon);
    origin = hlsBase(daemon, room);
    cdn = edge.url() + "/hls/" + room.id + "/";
    started = waitForSegments(origin + "index.m3u8", 2, 15);
  }
  bool ready() const { return started; }
  std::string why() const { return daemon.log() + "\n" + edge.log(); }

  int edgeLog;
  Daemon daemon;
  Nginx edge;
  TestRoom room;
  std::string origin, cdn;  // the room's HLS folder on roomcastd and through the edge
  bool started = false;
};

TEST(Hls, NginxEdgeServesTheSameBytesCollapsesMissesAndCountsListeners) {
  EdgeRoom setup;
  ASSERT_TRUE(setup.ready()) << setup.why();
  Daemon& daemon = setup.daemon;
  Nginx& edge = setup.edge;
  const TestRoom& room = setup.room;
  const std::string &origin = setup.origin, &cdn = setup.cdn;

  // Same bytes through the edge.
  auto listed = parsePlaylist(http("GET", cdn + "index.m3u8").body);
  ASSERT_FALSE(listed.empty());
  auto viaEdge = http("GET", cdn + listed.back().name), direct = http("GET", origin + listed.back().name);
  ASSERT_EQ(viaEdge.status, 200);
  EXPECT_EQ(viaEdge.body, direct.body);
  EXPECT_EQ(viaEdge.header("Cache-Control"), "public, max-age=31536000, immutable");

  // A segment nobody has asked the edge for yet, requested by 40 listeners at once: the
  // origin serves it once.
  const size_t known = parsePlaylist(http("GET", origin + "index.m3u8").body).size();
  std::string fresh;
  const double deadline = nowSeconds() + 10;
  while (fresh.empty() && nowSeconds() < deadline) {
    auto now = parsePlaylist(http("GET", origin + "index.m3u8").body);
    if (!now.empty() && now.back().name != listed.back().name && now.size() >= known) fresh = now.back().name;
    else g_usleep(50 * 1000);  // the next segment closes within a second
  }
  ASSERT_FALSE(fresh.empty());
  const long long before = metric(daemon, "roomcast_hls_segment_requests_total");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::string first;
  for (int i = 0; i < 40; i++)
    threads.emplace_back([&] {
      auto r = http("GET", cdn + fresh);
      if (r.status == 200 && r.body == http("GET", origin + fresh).body) ok++;
    });
  for (auto& t : threads) t.join();
  const long long after = metric(daemon, "roomcast_hls_segment_requests_total");
  EXPECT_EQ(ok.load(), 40);
  // 40 direct comparisons + the edge's misses: collapsed to one.
  EXPECT_EQ(after - before, 40 + 1) << edge.log();

  // Listeners behind the edge are counted too.
  Watcher watcher;
  ASSERT_TRUE(watcher.join(daemon, room));
  auto session = http("POST", edge.url() + "/api/v1/rooms/" + room.id + "/listen", "{}");
  ASSERT_EQ(session.status, 201) << session.body;
  const std::string url = jsonString(session.body, "hls_url");
  EXPECT_EQ(url.rfind(edge.url(), 0), 0u) << "the hls_url points at the edge the listener asked: " << url;
  auto play = run({"ffmpeg", "-nostdin", "-v", "error", "-i", url, "-t", "4", "-f", "null", "-"}, 60);
  EXPECT_EQ(play.exitStatus, 0) << play.stderrText;
  EXPECT_TRUE(watcher.waitForCount(1, 10)) << "an ffmpeg listener through nginx counts";
}

// nginx keeps cache validity in whole seconds, so the origin's max-age=1 alone would keep a
// playlist for up to 2 s. The edge config lets some playlist requests fetch the playlist from
// roomcastd and store it (BYPASS): all of them while the edge has fewer than 100 client
// connections, those in the first 10 ms of each quarter second below 1000, and those in the
// first millisecond above. The requests in between are served the fresh copy from the cache.

// What the edge served is what the origin lists (or one segment behind, if the origin closed a
// segment in between).
void expectListsWhatTheOriginLists(const std::string& fromEdge, const std::string& origin) {
  auto viaEdge = parsePlaylist(fromEdge), direct = parsePlaylist(http("GET", origin + "index.m3u8").body);
  ASSERT_FALSE(viaEdge.empty());
  ASSERT_FALSE(direct.empty());
  const bool sameOrOneBehind = viaEdge.back().name == direct.back().name ||
                               (direct.size() >= 2 && viaEdge.back().name == direct[direct.size() - 2].name);
  EXPECT_TRUE(sameOrOneBehind) << "edge: " << viaEdge.back().name << ", origin: " << direct.back().name;
}

// The edge's answer to a playlist request sent `offsetMs` after the next quarter-second
// boundary, on a connection opened beforehand (no connection set-up in the way). Timing the
// stimulus, not waiting for a result: the request must leave at that moment, and the refresh
// window can be a single millisecond, less than a loaded machine may oversleep. So it sleeps
// until 2 ms before and spins the rest. nginx stamps a request with the time its event loop
// woke, so even so it may land a little later.
struct EdgePlaylist {
  std::string cacheStatus, body;
  bool ok = false;  // 200
};
EdgePlaylist edgePlaylistAt(int fd, const std::string& path, double offsetMs) {
  const double now = unixNow();
  const double target = std::ceil(now * 4) / 4 + offsetMs / 1000;
  if (target - now > 0.002) g_usleep(static_cast<gulong>((target - now - 0.002) * G_USEC_PER_SEC));
  while (unixNow() < target) {
  }
  RawResponse r = rawExchange(fd, "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n");
  return {headerOf(r, "X-Cache-Status"), r.body, r.head.rfind("HTTP/1.1 200", 0) == 0};
}

// `n` client connections to the edge, each accepted (they count in nginx's
// $connections_active): stand-ins for listeners. Closed when the holder goes.
struct EdgeConnections {
  EdgeConnections(const Nginx& edge, int n) {
    for (int i = 0; i < n; i++) {
      const int fd = rawConnect(edge.url());
      if (fd < 0) return;
      fds.push_back(fd);
    }
    // nginx accepts in order: once the last connection is answered, it holds them all.
    accepted = rawExchange(fds.back(), "GET /api/v1/health HTTP/1.1\r\nHost: test\r\n\r\n").head.find("HTTP/1.1 200") == 0;
  }
  ~EdgeConnections() {
    for (int fd : fds) close(fd);
  }
  bool ready(int n) const { return accepted && static_cast<int>(fds.size()) == n; }
  std::vector<int> fds;
  bool accepted = false;
};

TEST(Hls, NginxEdgeWithFewListenersPassesEveryPlaylistRequestToTheOrigin) {
  EdgeRoom setup;
  ASSERT_TRUE(setup.ready()) << setup.why();
  const int fd = rawConnect(setup.edge.url());
  ASSERT_GE(fd, 0);
  const std::string path = "/hls/" + setup.room.id + "/index.m3u8";
  for (int i = 0; i < 5; i++) {
    auto r = edgePlaylistAt(fd, path, 125);  // mid-quarter: not a refresh window
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.cacheStatus, "BYPASS") << "request " << i;
    expectListsWhatTheOriginLists(r.body, setup.origin);
  }
  close(fd);
}

// Tries up to 40 quarters until a request aimed `refreshAtMs` into one is a BYPASS; then a
// request `cachedAtMs` into a quarter (after the refresh window) must be a HIT with the same
// playlist. `fd`: a connection to the edge.
void expectRefreshWindow(const EdgeRoom& setup, int fd, double refreshAtMs, double cachedAtMs) {
  const std::string path = "/hls/" + setup.room.id + "/index.m3u8";
  ASSERT_EQ(http("GET", setup.cdn + "index.m3u8").status, 200);  // the edge has it cached now
  int bypasses = 0, others = 0;
  for (int attempt = 0; attempt < 40 && bypasses == 0; attempt++) {
    auto fresh = edgePlaylistAt(fd, path, refreshAtMs);
    ASSERT_TRUE(fresh.ok);
    if (fresh.cacheStatus != "BYPASS") {
      others++;
      continue;
    }
    bypasses++;
    expectListsWhatTheOriginLists(fresh.body, setup.origin);
    auto cached = edgePlaylistAt(fd, path, cachedAtMs);
    EXPECT_EQ(cached.cacheStatus, "HIT") << cachedAtMs << " ms into a quarter second";
    auto a = parsePlaylist(cached.body), b = parsePlaylist(fresh.body);
    ASSERT_FALSE(a.empty());
    EXPECT_EQ(a.back().name, b.back().name);
  }
  EXPECT_EQ(bypasses, 1) << "no request " << refreshAtMs << " ms into a quarter second refreshed the playlist in "
                         << others << " tries\n" << setup.edge.log();
}

TEST(Hls, NginxEdgeWithHundredsOfListenersRefreshesInTheFirst10msOfAQuarterSecond) {
  EdgeRoom setup;
  ASSERT_TRUE(setup.ready()) << setup.why();
  EdgeConnections listeners(setup.edge, 150);
  ASSERT_TRUE(listeners.ready(150));
  expectRefreshWindow(setup, listeners.fds.back(), 5, 125);
}

TEST(Hls, NginxEdgeWithThousandsOfListenersRefreshesInTheFirstMillisecondOfAQuarterSecond) {
  // Before nginx starts: it inherits the open file limit.
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max < 1100 + 512) GTEST_SKIP() << "the open file hard limit is " << limit.rlim_max;
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  EdgeRoom setup;
  ASSERT_TRUE(setup.ready()) << setup.why();
  EdgeConnections listeners(setup.edge, 1100);
  ASSERT_TRUE(listeners.ready(1100));
  expectRefreshWindow(setup, listeners.fds.back(), 0.2, 5);
}

}  // namespace
