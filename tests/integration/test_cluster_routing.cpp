// Routing in a cluster: three roomcastd nodes on a real redis-server, a room created on node A.
// Speakers reach it through nodes B and C (their WebSockets relayed to A) and hear each other;
// an HLS listener through the cluster's nginx edge (data/nginx/roomcast-cluster-edge.conf, in
// front of all three) decodes both tones whichever node nginx asked; a node that does not run
// the room answers its playlist with 307 to A, or through the edge with X-Accel-Redirect; chat
// sent through B is in the history read through C.
#include <glib.h>
#include <gtest/gtest.h>
#include <libsoup/soup.h>

#include <cmath>

#include "audio/wav.h"
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
  std::vector<std::string> args = configFileArgs("[auth]\napi_key = ops\napi_secret = " + kSecret + "\n[cluster]\n");
  args.push_back("--redis");
  args.push_back(redisUrl);
  return args;
}

// A GET whose redirect is not followed: the status and the named response header. `after`:
// a URL asked first on the same connection (a connection that begins with a request outside
// /hls/ stays with libsoup on the control thread; one that begins with /hls/ goes to the
// listener thread).
std::pair<int, std::string> getUnfollowed(const std::string& url, const char* header,
                                          const std::vector<std::pair<std::string, std::string>>& headers = {},
                                          const std::string& after = {}) {
  g_autoptr(SoupSession) session =
      soup_session_new_with_options("timeout", 30, "max-conns-per-host", 1, nullptr);  // one connection
  if (!after.empty()) {
    g_autoptr(SoupMessage) first = soup_message_new("GET", after.c_str());
    g_autoptr(GBytes) ignored = soup_session_send_and_read(session, first, nullptr, nullptr);
  }
  g_autoptr(SoupMessage) msg = soup_message_new("GET", url.c_str());
  soup_message_add_flags(msg, SOUP_MESSAGE_NO_REDIRECT);
  for (const auto& [k, v] : headers) soup_message_headers_replace(soup_message_get_request_headers(msg), k.c_str(), v.c_str());
  g_autoptr(GBytes) body = soup_session_send_and_read(session, msg, nullptr, nullptr);
  const char* value = soup_message_headers_get_one(soup_message_get_response_headers(msg), header);
  return {static_cast<int>(soup_message_get_status(msg)), value ? value : ""};
}

struct Cluster {
  Cluster() {
    if (!redis.start()) return;
    for (auto& node : nodes) node = std::make_unique<Daemon>(nodeArgs(redis.url()));
  }
  bool ready() const {
    for (const auto& node : nodes)
      if (!node || !node->ready()) return false;
    return redis.running();
  }
  std::string logs() const {
    std::string all = redis.log();
    for (const auto& node : nodes)
      if (node) all += "\n--- node " + node->url() + "\n" + node->log();
    return all;
  }
  Daemon& a() { return *nodes[0]; }
  Daemon& b() { return *nodes[1]; }
  Daemon& c() { return *nodes[2]; }

  RedisServer redis;
  std::unique_ptr<Daemon> nodes[3];
};

// A room on exactly this node: created as a request another node placed here
// (X-Roomcast-Placed), not placed on the least loaded node.
TestRoom createRoomHere(const Daemon& daemon, const std::string& title) {
  const HttpResponse r = http("POST", daemon.url() + "/api/v1/rooms", R"({"title":")" + title + R"("})",
                              {{"Content-Type", "application/json"}, {"X-Roomcast-Placed", "1"}});
  return r.status == 201 ? TestRoom{jsonString(r.body, "id"), jsonString(r.body, "host_token")} : TestRoom{};
}

}  // namespace

TEST(ClusterRouting, SpeakersThroughOtherNodesHearEachOtherAndTheEdgeServesTheOwnersHls) {
  Cluster cluster;
  ASSERT_TRUE(cluster.ready()) << cluster.logs();
  Daemon &a = cluster.a(), &b = cluster.b(), &c = cluster.c();

  // The room lives on A (created on A's REST API, not placed elsewhere), leased to A in Redis.
  const TestRoom room = createRoomHere(a, "Routed room");
  ASSERT_FALSE(room.id.empty());
  const std::string ownerKey = "roomcast:room:" + room.id + ":owner";
  ASSERT_TRUE(pollUntil([&] { return cluster.redis.cli({"GET", ownerKey}).rfind(a.url() + " ", 0) == 0; }, 5.0))
      << cluster.redis.cli({"GET", ownerKey});
  const std::string guestToken = issueToken(a, room, "speaker", "Guest");
  ASSERT_FALSE(guestToken.empty());

  // HLS asked of C directly: 307 to A (on the listener thread, which takes a connection whose
  // first request is for /hls/); as the edge asks: an X-Accel-Redirect to A's address.
  const std::string path = "/hls/" + room.id + "/index.m3u8";
  const auto direct = getUnfollowed(c.url() + path + "?session=abc", "Location");
  EXPECT_EQ(direct.first, 307);
  EXPECT_EQ(direct.second, a.url() + path + "?session=abc");
  const auto viaEdge = getUnfollowed(c.url() + path, "X-Accel-Redirect", {{"X-Roomcast-Edge", "1"}});
  EXPECT_EQ(viaEdge.first, 200);
  EXPECT_EQ(viaEdge.second, "/_roomcast_owner/" + a.url().substr(7) + path);
  // The same on libsoup's side (the connection began with an API request).
  const auto onSoup = getUnfollowed(c.url() + path, "Location", {}, c.url() + "/api/v1/health");
  EXPECT_EQ(onSoup.first, 307);
  EXPECT_EQ(onSoup.second, a.url() + path);
  const auto onSoupViaEdge =
      getUnfollowed(c.url() + path, "X-Accel-Redirect", {{"X-Roomcast-Edge", "1"}}, c.url() + "/api/v1/health");
  EXPECT_EQ(onSoupViaEdge.second, "/_roomcast_owner/" + a.url().substr(7) + path);
  // A room nobody owns stays a 404 on every node.
  EXPECT_EQ(getUnfollowed(b.url() + "/hls/nosuchroom/index.m3u8", "Location").first, 404);

  // The host speaks (440 Hz) through B, the guest (660 Hz) through C: both WebSockets are
  // relayed to A, which runs their media.
  const std::string dir = a.dataDir();
  Process host({cli(), "--server", b.url(), "speak", room.id, "--token", room.hostToken, "--tone", "440", "--seconds",
                "60", "--out", dir + "/host.wav"});
  ASSERT_TRUE(host.waitForOutput("connected", 30)) << host.errors() << cluster.logs();
  Process guest({cli(), "--server", c.url(), "speak", room.id, "--token", guestToken, "--tone", "660", "--seconds",
                 "10", "--out", dir + "/guest.wav"});
  ASSERT_TRUE(guest.waitForOutput("connected", 30)) << guest.errors() << cluster.logs();

  // A listener through the edge in front of all three nodes, once both tones are in the room
  // (and so in the playlist's last segments, where a live player starts).
  // (Nothing listens at the edge's log port here: listener counting is not this test's.)
  Nginx edge(std::vector<std::string>{a.url(), b.url(), c.url()}, freeUdpPort());
  ASSERT_TRUE(edge.ready()) << edge.log();
  ASSERT_TRUE(guest.waitForOutput("heard 4 s\n", 30)) << guest.errors();
  const long long askedOfB = metric(b, "roomcast_hls_playlist_requests_total");
  const long long askedOfC = metric(c, "roomcast_hls_playlist_requests_total");
  const std::string listened = dir + "/edge-listener.wav";
  const auto decoded = run({"ffmpeg", "-nostdin", "-v", "error", "-i", edge.url() + path, "-t", "4", "-ac", "1", "-ar",
                            "48000", "-y", listened}, 60);
  ASSERT_EQ(decoded.exitStatus, 0) << decoded.stderrText << edge.log();
  for (int i = 0; i < 3; i++) EXPECT_EQ(http("GET", edge.url() + path).status, 200);
  // nginx asked B and C too (round robin), which run no room: what they answered was the way
  // to A, and the audio above came through it.
  EXPECT_GT(metric(b, "roomcast_hls_playlist_requests_total"), askedOfB);
  EXPECT_GT(metric(c, "roomcast_hls_playlist_requests_total"), askedOfC);

  // Chat sent through B (relayed to A) is in the history read through C.
  const auto said = run({cli(), "--server", b.url(), "chat", room.id, "--send", "hello from B"}, 30);  // an anonymous listener
  ASSERT_EQ(said.exitStatus, 0) << said.stderrText;
  const auto history = run({cli(), "--server", c.url(), "chat", room.id, "--history"}, 30);
  EXPECT_EQ(history.exitStatus, 0) << history.stderrText;
  EXPECT_NE(history.stdoutText.find(": hello from B"), std::string::npos) << history.stdoutText;

  const auto guestRun = guest.wait(60);
  ASSERT_EQ(guestRun.exitStatus, 0) << guestRun.stderrText << cluster.logs();
  const auto ended = http("DELETE", a.url() + "/api/v1/rooms/" + room.id, {}, {{"Authorization", "Bearer " + room.hostToken}});
  ASSERT_EQ(ended.status, 200) << ended.body;
  const auto hostRun = host.wait(60);
  ASSERT_EQ(hostRun.exitStatus, 0) << hostRun.stderrText << cluster.logs();

  // Each speaker hears the other (as in EndToEnd.TwoSpeakersHearEachOtherNeverThemselves).
  PcmAudio hostHeard, guestHeard, listener;
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/host.wav", hostHeard));
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/guest.wav", guestHeard));
  const double joined = toneOnset(hostHeard, 660, -30);
  ASSERT_FALSE(std::isnan(joined)) << "the host (through B) never heard the guest (through C)";
  const double hostHearsGuest = meanToneDb(hostHeard, 660, joined + 0.5, joined + 5.0);
  const double guestHearsHost = meanToneDb(guestHeard, 440, 0.5, guestHeard.seconds() - 0.5);
  EXPECT_GT(hostHearsGuest, -20) << "the host should hear the guest's 660 Hz";
  EXPECT_GT(guestHearsHost, -20) << "the guest should hear the host's 440 Hz";
  EXPECT_GE(fractionWithToneAbove(guestHeard, 440, 0.5, guestHeard.seconds() - 0.5, -20), 0.8);
  g_print("host hears guest at %.1f dB, guest hears host at %.1f dB\n", hostHearsGuest, guestHearsHost);

  // The edge's listener decoded the room's mix: both tones, most of the time.
  ASSERT_TRUE(roomcast::audio::readWav(listened, listener));
  EXPECT_GE(listener.seconds(), 3.5);
  const double with440 = fractionWithToneAbove(listener, 440, 0, listener.seconds(), -30);
  const double with660 = fractionWithToneAbove(listener, 660, 0, listener.seconds(), -30);
  g_print("edge listener: %.1f s, 440 Hz in %.0f %%, 660 Hz in %.0f %% of it\n", listener.seconds(), 100 * with440,
          100 * with660);
  EXPECT_GE(with440, 0.8);
  EXPECT_GE(with660, 0.8);
}
