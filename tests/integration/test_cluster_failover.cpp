// Failover: three roomcastd nodes on a real redis-server behind the cluster's nginx edge. A room
// runs on node A with two CLI speakers (their WebSockets relayed to A through B and C) and an
// HLS listener through the edge; it has some chat. A is killed with SIGKILL. Within 10 s the room
// is live on another node with the same id, title, topic and chat; both speakers' processes
// reconnect by themselves and hear each other again; the listener, which keeps polling the edge,
// hears the tone before and after, and the gap is measured from the segments' wall-clock times.
#include <glib.h>
#include <gtest/gtest.h>
#include <libsoup/soup.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

#include "audio/wav.h"
#include "hls_playlist.h"
#include "nginx.h"
#include "processes.h"
#include "redis_server.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"  // jsonString

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {

const std::string kSecret = "ops-secret-for-cluster-tests-0123456789abcdef";

std::vector<std::string> nodeArgs(const std::string& redisUrl) {
  std::vector<std::string> args = configFileArgs("[server]\nsecret = " + kSecret + "-tokens\n[auth]\napi_key = ops\napi_secret = " + kSecret + "\n[cluster]\n");
  args.push_back("--redis");
  args.push_back(redisUrl);
  return args;
}

TestRoom createRoomHere(const Daemon& daemon, const std::string& title, const std::string& topic) {
  const HttpResponse r = http("POST", daemon.url() + "/api/v1/rooms",
                              R"({"title":")" + title + R"(","topic":")" + topic + R"("})",
                              {{"Content-Type", "application/json"}, {"X-Roomcast-Placed", "1"}});
  return r.status == 201 ? TestRoom{jsonString(r.body, "id"), jsonString(r.body, "host_token")} : TestRoom{};
}

// A live HLS listener that survives a failover: polls the media playlist through the edge every
// 250 ms (a 502/503 while the room moves is a miss, not an end) and downloads each new segment,
// keyed by its name and wall-clock start, as a player would.
class HlsFollower {
 public:
  struct Fetched {
    ListedSegment segment;
    bool discontinuity = false;  // EXT-X-DISCONTINUITY before it in the playlist
    std::string file;
  };
  HlsFollower(std::string playlistUrl, std::string dir) : url_(std::move(playlistUrl)), dir_(std::move(dir)) {
    thread_ = std::thread([this] { run(); });
  }
  ~HlsFollower() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Fetched> fetched() const {
    std::lock_guard lock(mutex_);
    return fetched_;
  }
  int misses() const { return misses_; }

 private:
  void run() {
    g_autoptr(GMainContext) context = g_main_context_new();
    g_main_context_push_thread_default(context);
    {
      g_autoptr(SoupSession) session = soup_session_new_with_options("timeout", 5, nullptr);
      while (!stop_) {
        poll(session);
        g_usleep(250 * 1000);  // a player's reload interval, not a wait for an event
      }
    }
    g_main_context_pop_thread_default(context);
  }
  void poll(SoupSession* session) {
    std::string text;
    if (!get(session, url_, text)) {
      misses_++;
      return;
    }
    const std::vector<ListedSegment> listed = parsePlaylist(text);
    for (const ListedSegment& segment : listed) {
      const std::string key = segment.name + "@" + std::to_string(static_cast<long long>(segment.startUnix * 1000));
      if (seen_.count(key)) continue;
      std::string bytes;
      const std::string base = url_.substr(0, url_.rfind('/') + 1);
      if (!get(session, base + segment.name, bytes)) continue;
      seen_.insert(key);
      Fetched f{segment, discontinuityBefore(text, segment.name), dir_ + "/seg-" + std::to_string(seen_.size()) + ".ts"};
      g_file_set_contents(f.file.c_str(), bytes.data(), static_cast<gssize>(bytes.size()), nullptr);
      std::lock_guard lock(mutex_);
      fetched_.push_back(std::move(f));
    }
  }
  static bool discontinuityBefore(const std::string& playlist, const std::string& name) {
    const size_t at = playlist.find("\n" + name);
    if (at == std::string::npos) return false;
    const size_t previousSegment = playlist.rfind(".ts", at);
    const size_t tag = playlist.rfind("#EXT-X-DISCONTINUITY\n", at);
    return tag != std::string::npos && (previousSegment == std::string::npos || tag > previousSegment);
  }
  static bool get(SoupSession* session, const std::string& url, std::string& out) {
    g_autoptr(SoupMessage) msg = soup_message_new("GET", url.c_str());
    if (!msg) return false;
    g_autoptr(GBytes) body = soup_session_send_and_read(session, msg, nullptr, nullptr);
    if (!body || soup_message_get_status(msg) != 200) return false;
    gsize size = 0;
    const auto* data = static_cast<const char*>(g_bytes_get_data(body, &size));
    out.assign(data ? data : "", size);
    return true;
  }

  std::string url_, dir_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> misses_{0};
  std::set<std::string> seen_;  // the thread's own
  mutable std::mutex mutex_;
  std::vector<Fetched> fetched_;
};

// Whether the segment carries `frequency` most of its length.
bool segmentHasTone(const std::string& file, double frequency) {
  const std::string wav = file + ".wav";
  const auto decoded = run({"ffmpeg", "-nostdin", "-v", "error", "-i", file, "-ac", "1", "-ar", "48000", "-y", wav}, 30);
  PcmAudio audio;
  if (decoded.exitStatus != 0 || !roomcast::audio::readWav(wav, audio) || audio.seconds() < 0.2) return false;
  return fractionWithToneAbove(audio, frequency, 0.05, audio.seconds() - 0.05, -35) >= 0.6;
}

// The node a room is on, as `asked` answers GET /api/v1/rooms/{id} ("" when it does not know it).
std::string roomNode(const Daemon& asked, const std::string& roomId) {
  const HttpResponse r = http("GET", asked.url() + "/api/v1/rooms/" + roomId);
  return r.status == 200 ? jsonString(r.body, "node") : "";
}

}  // namespace

TEST(ClusterFailover, AKilledNodesRoomComesBackElsewhereWithItsSpeakersListenersAndChat) {
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  std::unique_ptr<Daemon> nodes[3];
  for (auto& node : nodes) node = std::make_unique<Daemon>(nodeArgs(redis.url()));
  Daemon &a = *nodes[0], &b = *nodes[1], &c = *nodes[2];
  ASSERT_TRUE(a.ready() && b.ready() && c.ready()) << a.log() << b.log() << c.log();
  auto logs = [&] { return redis.log() + "\n--- A\n" + a.log() + "\n--- B\n" + b.log() + "\n--- C\n" + c.log(); };
  TempDir dir("roomcast-failover-");

  const TestRoom room = createRoomHere(a, "Failover room", "what survives a node");
  ASSERT_FALSE(room.id.empty());
  ASSERT_TRUE(pollUntil([&] { return roomNode(b, room.id) == a.url(); }, 10)) << logs();
  const std::string guestToken = issueToken(a, room, "speaker", "Guest");
  ASSERT_FALSE(guestToken.empty());

  // Chat through B (relayed to A), kept in the room's stream.
  for (const char* line : {"first line", "second line", "third line"}) {
    const auto sent = run({cli(), "--server", b.url(), "chat", room.id, "--token", room.hostToken, "--send", line}, 30);
    ASSERT_EQ(sent.exitStatus, 0) << sent.stderrText;
  }

  // The host (440 Hz) through B, the guest (660 Hz) through C, each knowing the other nodes too.
  const std::string servers = b.url() + "," + c.url();
  Process host({cli(), "--server", servers, "speak", room.id, "--token", room.hostToken, "--tone", "440", "--seconds",
                "90", "--out", dir.path() + "/host.wav"});
  Process guest({cli(), "--server", c.url() + "," + b.url(), "speak", room.id, "--token", guestToken, "--tone", "660",
                 "--seconds", "90", "--out", dir.path() + "/guest.wav"});
  ASSERT_TRUE(host.waitForOutput("connected", 30)) << host.errors() << logs();
  ASSERT_TRUE(guest.waitForOutput("connected", 30)) << guest.errors() << logs();
  ASSERT_TRUE(guest.waitForOutput("heard 3 s\n", 30)) << guest.errors();

  Nginx edge(std::vector<std::string>{a.url(), b.url(), c.url()}, freeUdpPort());
  ASSERT_TRUE(edge.ready()) << edge.log();
  HlsFollower listener(edge.url() + "/hls/" + room.id + "/index.m3u8", dir.path());
  ASSERT_TRUE(pollUntil([&] { return listener.fetched().size() >= 6; }, 30)) << edge.log();

  // SIGKILL the owner.
  const double killedAt = nowSeconds();
  const double killedAtUnix = static_cast<double>(g_get_real_time()) / G_USEC_PER_SEC;  // segments' clock
  a.kill();
  std::string newOwner;
  ASSERT_TRUE(pollUntil(
      [&] {
        newOwner = roomNode(b, room.id);
        return !newOwner.empty() && newOwner != a.url();
      },
      20))
      << logs();
  const double failoverSeconds = nowSeconds() - killedAt;
  g_print("the room was live on %s %.1f s after its node was killed\n", newOwner.c_str(), failoverSeconds);
  EXPECT_LE(failoverSeconds, 10.0);
  Daemon& owner = newOwner == b.url() ? b : c;

  // Same room: id, title, topic; the chat history as it was, read through the other node.
  const HttpResponse info = http("GET", owner.url() + "/api/v1/rooms/" + room.id);
  EXPECT_EQ(jsonString(info.body, "title"), "Failover room");
  EXPECT_EQ(jsonString(info.body, "topic"), "what survives a node");
  Daemon& other = &owner == &b ? c : b;
  const auto history = run({cli(), "--server", other.url(), "chat", room.id, "--history"}, 30);
  EXPECT_EQ(history.exitStatus, 0) << history.stderrText;
  const size_t first = history.stdoutText.find("first line"), second = history.stdoutText.find("second line"),
               third = history.stdoutText.find("third line");
  EXPECT_TRUE(first != std::string::npos && second != std::string::npos && third != std::string::npos &&
              first < second && second < third)
      << history.stdoutText;

  // Both speakers come back by themselves (same processes) and hear each other again: six
  // seconds of the new session (each session counts what it heard from 0).
  const size_t hostReconnected = host.waitForOutputAfter(0, "reconnected\n", 30);
  ASSERT_NE(hostReconnected, std::string::npos) << host.output() << host.errors() << logs();
  const size_t guestReconnected = guest.waitForOutputAfter(0, "reconnected\n", 30);
  ASSERT_NE(guestReconnected, std::string::npos) << guest.output() << guest.errors() << logs();
  ASSERT_NE(host.waitForOutputAfter(hostReconnected, "heard 6 s\n", 40), std::string::npos) << host.errors() << logs();
  ASSERT_NE(guest.waitForOutputAfter(guestReconnected, "heard 6 s\n", 40), std::string::npos) << guest.errors();
  const size_t fetchedBefore = listener.fetched().size();
  ASSERT_TRUE(pollUntil([&] { return listener.fetched().size() >= fetchedBefore + 6; }, 30));
  listener.stop();

  const auto ended =
      http("DELETE", owner.url() + "/api/v1/rooms/" + room.id, {}, {{"Authorization", "Bearer " + room.hostToken}});
  EXPECT_EQ(ended.status, 200) << ended.body;
  const auto hostRun = host.wait(60), guestRun = guest.wait(60);
  EXPECT_EQ(hostRun.exitStatus, 0) << hostRun.stderrText;
  EXPECT_EQ(guestRun.exitStatus, 0) << guestRun.stderrText;

  // What each speaker heard after its reconnection: the other's tone (the last seconds).
  PcmAudio hostHeard, guestHeard;
  ASSERT_TRUE(roomcast::audio::readWav(dir.path() + "/host.wav", hostHeard));
  ASSERT_TRUE(roomcast::audio::readWav(dir.path() + "/guest.wav", guestHeard));
  const double hostAfter = fractionWithToneAbove(hostHeard, 660, hostHeard.seconds() - 4, hostHeard.seconds() - 0.5, -25);
  const double guestAfter =
      fractionWithToneAbove(guestHeard, 440, guestHeard.seconds() - 4, guestHeard.seconds() - 0.5, -25);
  g_print("after the failover the host hears the guest in %.0f %% and the guest the host in %.0f %% of 3.5 s\n",
          100 * hostAfter, 100 * guestAfter);
  EXPECT_GE(hostAfter, 0.7);
  EXPECT_GE(guestAfter, 0.7);

  // The listener: the tone before the kill and after the failover, and the gap between them.
  const auto segments = listener.fetched();
  double lastBefore = NAN, firstAfter = NAN;
  bool discontinuity = false;
  long long maxSequenceBefore = -1, minSequenceAfter = -1;
  for (const auto& f : segments) {
    const double end = f.segment.startUnix + f.segment.duration;
    const bool tone = segmentHasTone(f.file, 440);
    if (f.segment.startUnix < killedAtUnix - 0.5) {
      maxSequenceBefore = std::max(maxSequenceBefore, f.segment.sequence);
      if (tone) lastBefore = std::isnan(lastBefore) ? end : std::max(lastBefore, end);
    } else if (f.segment.startUnix > killedAtUnix) {
      if (minSequenceAfter < 0 || f.segment.sequence < minSequenceAfter) minSequenceAfter = f.segment.sequence;
      discontinuity = discontinuity || f.discontinuity;
      if (tone && (std::isnan(firstAfter) || f.segment.startUnix < firstAfter)) firstAfter = f.segment.startUnix;
    }
  }
  ASSERT_FALSE(std::isnan(lastBefore)) << "the listener heard no tone before the kill";
  ASSERT_FALSE(std::isnan(firstAfter)) << "the listener heard no tone after the failover";
  g_print("listener: %zu segments, %d playlist misses; the tone stopped at -%.1f s and came back at +%.1f s: a gap of "
          "%.1f s; media sequence %lld before, %lld after\n",
          segments.size(), listener.misses(), killedAtUnix - lastBefore, firstAfter - killedAtUnix, firstAfter - lastBefore,
          maxSequenceBefore, minSequenceAfter);
  EXPECT_TRUE(discontinuity) << "the reopened room's first segments should follow an EXT-X-DISCONTINUITY";
  EXPECT_GT(minSequenceAfter, maxSequenceBefore) << "the media sequence should go on, not start again";
}
