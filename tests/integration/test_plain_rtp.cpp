// Plain-RTP speakers (no ICE, no DTLS), for benchmarks and SIP-like peers: refused unless the
// operator allows it; where allowed, a plain-RTP speaker and a WebRTC speaker hear each other
// and never themselves, and a plain-RTP raised hand is pre-warmed, then heard once promoted.
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include <cmath>

#include "audio/wav.h"
#include "processes.h"
#include "room_helpers.h"
#include "ws_client.h"

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {

// roomcastd with [media] plain_rtp = true.
std::vector<std::string> plainRtpConfig() {
  static const TempDir dir("roomcast-plain-rtp-");  // removed at exit
  static std::string path;
  if (path.empty()) {
    path = dir.path() + "/roomcast.conf";
    g_file_set_contents(path.c_str(), "[media]\nplain_rtp = true\n", -1, nullptr);
  }
  return {"--config", path};
}

TEST(PlainRtp, RefusedUnlessTheOperatorAllowsIt) {
  Daemon daemon;  // defaults: plain_rtp = false
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  WsClient ws;
  ASSERT_TRUE(ws.connect(wsUrl(daemon, room.id)));
  ws.send(R"({"type":"hello","version":1,"token":")" + room.hostToken + "\"}");
  std::string msg;
  ASSERT_TRUE(ws.waitForType("welcome", msg));
  ws.send(R"({"type":"rtp-offer","id":"r1","host":"127.0.0.1","port":40000,"payload_type":111})");
  ASSERT_TRUE(ws.waitForType("error", msg));
  EXPECT_EQ(jsonString(msg, "error.code"), "forbidden") << msg;
  EXPECT_EQ(jsonString(msg, "ref"), "r1");
  // Bad values are refused by the protocol before any policy.
  ws.send(R"({"type":"rtp-offer","host":"127.0.0.1","port":0,"payload_type":111})");
  ASSERT_TRUE(ws.waitForType("error", msg));
  EXPECT_EQ(jsonString(msg, "error.code"), "bad_request") << msg;
}

TEST(PlainRtp, PlainRtpAndWebRtcSpeakersHearEachOtherNeverThemselves) {
  Daemon daemon(plainRtpConfig());
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  const std::string guestToken = issueToken(daemon, room, "speaker", "Grace");
  ASSERT_FALSE(guestToken.empty());
  const std::string dir = daemon.dataDir();

  Process host({cli(), "--server", daemon.url(), "speak", room.id, "--token", room.hostToken, "--tone", "440",
                "--seconds", "8", "--out", dir + "/host.wav"});
  ASSERT_TRUE(host.waitForOutput("connected", 30)) << daemon.log();
  Process guest({cli(), "--server", daemon.url(), "speak", room.id, "--token", guestToken, "--plain-rtp", "--tone",
                 "660", "--seconds", "6", "--out", dir + "/guest.wav"});
  ASSERT_TRUE(guest.waitForOutput("connected", 30)) << daemon.log();
  const auto guestRun = guest.wait(60);
  const auto hostRun = host.wait(60);
  ASSERT_EQ(guestRun.exitStatus, 0) << guestRun.stderrText << daemon.log();
  ASSERT_EQ(hostRun.exitStatus, 0) << hostRun.stderrText;

  PcmAudio hostHeard, guestHeard;
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/host.wav", hostHeard));
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/guest.wav", guestHeard));
  const double from = 1.5, to = std::min(guestHeard.seconds(), 5.5);
  ASSERT_GT(to - from, 3.0) << "the plain-RTP speaker should hear several seconds of the room";
  const double guestHearsHost = toneDb(guestHeard, 440, from, to), guestHearsSelf = toneDb(guestHeard, 660, from, to);
  EXPECT_GT(guestHearsHost, -20) << "plain RTP → WebRTC: the guest hears the host";
  EXPECT_GE(guestHearsHost - guestHearsSelf, 30) << "own voice ≥ 30 dB below the other";
  // The host heard the guest while both were in (the guest left after its 6 s).
  const double hostHearsGuest = toneDb(hostHeard, 660, from, to), hostHearsSelf = toneDb(hostHeard, 440, from, to);
  EXPECT_GT(hostHearsGuest, -20) << "WebRTC ← plain RTP: the host hears the guest";
  EXPECT_GE(hostHearsGuest - hostHearsSelf, 30);
}

TEST(PlainRtp, RaisedHandIsPrewarmedThenHeardOncePromoted) {
  Daemon daemon(plainRtpConfig());
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  const std::string dir = daemon.dataDir();

  Process host({cli(), "--server", daemon.url(), "speak", room.id, "--token", room.hostToken, "--tone", "440",
                "--seconds", "15", "--out", dir + "/host.wav"});
  ASSERT_TRUE(host.waitForOutput("speaking", 30)) << daemon.log();
  const double t0 = nowSeconds();  // ≈ the first sample of host.wav
  Process ann({cli(), "--server", daemon.url(), "speak", room.id, "--raise-hand", "--name", "Ann", "--plain-rtp",
               "--tone", "660", "--seconds", "4", "--out", dir + "/ann.wav"});
  ASSERT_TRUE(ann.waitForOutput("connected", 30)) << "pre-warm over plain RTP: Ann hears the room first";
  ASSERT_TRUE(ann.waitForOutput("heard 2 s\n", 10));
  const double promoteAt = nowSeconds() - t0;
  auto promoted = run({cli(), "--server", daemon.url(), "promote", room.id, "Ann", "--token", room.hostToken}, 30);
  ASSERT_EQ(promoted.exitStatus, 0) << promoted.stderrText;
  ASSERT_TRUE(ann.waitForOutput("promoted", 10));
  const auto annRun = ann.wait(30);
  ASSERT_EQ(annRun.exitStatus, 0) << annRun.stderrText;
  const double annLeftAt = nowSeconds() - t0;
  const auto hostRun = host.wait(30);
  ASSERT_EQ(hostRun.exitStatus, 0) << hostRun.stderrText;
  ASSERT_GT(15.0, annLeftAt) << "the host must outlast Ann's turn";

  PcmAudio heard;
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/host.wav", heard));
  const double before = toneDb(heard, 660, 0.5, promoteAt - 0.05);
  const double after = toneDb(heard, 660, promoteAt + 0.6, annLeftAt - 0.3);
  EXPECT_LT(before, -60) << "a pre-warming hand is not mixed";
  EXPECT_GT(after, -20) << "promoted, Ann is heard";
}

}  // namespace
