// The stage over the real protocol with real WebRTC clients (roomcast speak): a raised hand
// pre-warms and is heard only once promoted; host mute takes it out of the mix; removal
// disconnects and bans; a dropped speaker resumes within the grace period or leaves once.
#include <glib.h>
#include <gtest/gtest.h>

#include <cmath>

#include "audio/tone.h"
#include "audio/wav.h"
#include "processes.h"
#include "ws_client.h"

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {

std::string cli() { return buildPath("src/client/roomcast"); }
double nowSeconds() { return static_cast<double>(g_get_monotonic_time()) / G_USEC_PER_SEC; }

struct Room {
  std::string id, hostToken;
};

Room createRoom(Daemon& daemon) {
  auto created = run({cli(), "--server", daemon.url(), "create", "--title", "Stage"}, 30);
  EXPECT_EQ(created.exitStatus, 0) << created.stderrText;
  return {jsonString(created.stdoutText, "id"), jsonString(created.stdoutText, "host_token")};
}

// Power of `frequency` in dB over [from, to) seconds of a recording.
double toneDb(const PcmAudio& audio, double frequency, double from, double to) {
  auto mono = roomcast::audio::toMonoFloat(audio);
  const size_t a = static_cast<size_t>(std::max(0.0, from) * audio.sampleRate);
  const size_t b = std::min(mono.size(), static_cast<size_t>(to * audio.sampleRate));
  if (b < a + 480) return NAN;  // under 10 ms says nothing
  const double p = roomcast::audio::tonePower(mono.data() + a, b - a, audio.sampleRate, frequency);
  return 10 * std::log10(p + 1e-20);
}

std::string wsUrl(const Daemon& daemon, const std::string& room) { return "ws://" + daemon.url().substr(7) + "/ws/" + room; }

std::string token(const Daemon& daemon, const Room& room, const char* role, const char* name) {
  auto r = http("POST", daemon.url() + "/api/v1/rooms/" + room.id + "/tokens",
                std::string(R"({"role":")") + role + R"(","name":")" + name + "\"}",
                {{"Authorization", "Bearer " + room.hostToken}});
  EXPECT_EQ(r.status, 201) << r.body;
  return jsonString(r.body, "token");
}

std::string heardLine(int seconds) { return "heard " + std::to_string(seconds) + " s\n"; }

TEST(Stage, RaisedHandIsPrewarmedThenPromotedThenMutedThenRemoved) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  Room room = createRoom(daemon);
  const std::string dir = daemon.dataDir();

  Process host({cli(), "--server", daemon.url(), "speak", room.id, "--token", room.hostToken, "--tone", "440",
                "--seconds", "120", "--out", dir + "/host.wav"});
  ASSERT_TRUE(host.waitForOutput("speaking", 30)) << daemon.log();
  const double t0 = nowSeconds();  // ≈ the first sample of host.wav

  // Every wait below is on an event: a line the clients print as they hear the room
  // ("heard N s" each second of received audio) or as the server tells them things.
  Process ann({cli(), "--server", daemon.url(), "speak", room.id, "--raise-hand", "--name", "Ann", "--tone", "660",
               "--seconds", "120"});
  ASSERT_TRUE(ann.waitForOutput("connected", 30)) << "pre-warm: Ann hears the room before she is promoted";
  const double prewarmed = nowSeconds() - t0;
  ASSERT_TRUE(host.waitForOutput(R"("type":"hand-raised")", 10)) << "the host sees the hand";
  ASSERT_TRUE(ann.waitForOutput(heardLine(2), 10));

  const double promoteAt = nowSeconds() - t0;
  auto promoted = run({cli(), "--server", daemon.url(), "promote", room.id, "Ann", "--token", room.hostToken}, 30);
  ASSERT_EQ(promoted.exitStatus, 0) << promoted.stderrText;
  ASSERT_TRUE(ann.waitForOutput("promoted", 10));
  ASSERT_TRUE(ann.waitForOutput(heardLine(5), 10));

  const double muteAt = nowSeconds() - t0;
  auto muted = run({cli(), "--server", daemon.url(), "mute", room.id, "Ann", "--token", room.hostToken}, 30);
  ASSERT_EQ(muted.exitStatus, 0) << muted.stderrText;
  ASSERT_TRUE(ann.waitForOutput(R"("type":"mute-changed")", 10)) << "Ann is told she was muted";
  ASSERT_TRUE(ann.waitForOutput(heardLine(7), 10));

  const double removeAt = nowSeconds() - t0;
  auto removed = run({cli(), "--server", daemon.url(), "remove", room.id, "Ann", "--token", room.hostToken}, 30);
  ASSERT_EQ(removed.exitStatus, 0) << removed.stderrText;
  const auto annResult = ann.wait(30);
  EXPECT_EQ(annResult.exitStatus, 3) << "removed: disconnected, with its own exit code\n" << annResult.stderrText;
  EXPECT_NE(annResult.stdoutText.find(R"("type":"removed")"), std::string::npos);
  ASSERT_TRUE(host.waitForOutput(R"("reason":"removed")", 10)) << "the room is told Ann left";

  // End the room: the host's client stops cleanly and writes what it heard.
  auto ended = http("DELETE", daemon.url() + "/api/v1/rooms/" + room.id, {}, {{"Authorization", "Bearer " + room.hostToken}});
  ASSERT_EQ(ended.status, 200);
  ASSERT_EQ(host.wait(30).exitStatus, 0);
  PcmAudio heard;
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/host.wav", heard));

  const double prewarm = toneDb(heard, 660, prewarmed + 0.3, promoteAt - 0.05);
  const double live = toneDb(heard, 660, promoteAt + 0.6, muteAt);
  const double afterMute = toneDb(heard, 660, muteAt + 0.6, removeAt);
  EXPECT_LT(prewarm, -60) << "a pre-warming hand is not in the mix";
  EXPECT_GT(live, -25) << "promoted: the host hears Ann";
  EXPECT_LT(afterMute, -60) << "muted by the host: out of the mix";
  EXPECT_LT(toneDb(heard, 440, 1.0, removeAt), live - 30) << "the host never hears themselves";

  // Promotion gap as the host hears it: the first 20 ms window after the promote request in
  // which Ann's tone is within 20 dB of its level while live.
  double gap = NAN;
  for (double t = promoteAt; t < promoteAt + 3; t += 0.02)
    if (toneDb(heard, 660, t, t + 0.02) > live - 20) { gap = t - promoteAt; break; }
  EXPECT_LT(gap, 1.0) << "promotion is instant: no renegotiation";
  RecordProperty("promotion_gap_ms", std::to_string(static_cast<int>(gap * 1000)));
  RecordProperty("prewarm_660_db", std::to_string(prewarm));
  RecordProperty("live_660_db", std::to_string(live));
  RecordProperty("muted_660_db", std::to_string(afterMute));
}

TEST(Stage, ProtocolDemoteInviteSelfMuteAndBan) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  Room room = createRoom(daemon);
  const std::string grace = token(daemon, room, "speaker", "Grace");
  const std::string lin = token(daemon, room, "listener", "Lin");
  std::string m;

  WsClient host, g, l;
  ASSERT_TRUE(host.connect(wsUrl(daemon, room.id)));
  host.send(R"({"type":"hello","version":1,"token":")" + room.hostToken + "\"}");
  ASSERT_TRUE(host.waitForType("welcome", m));
  ASSERT_TRUE(g.connect(wsUrl(daemon, room.id)));
  g.send(R"({"type":"hello","version":1,"token":")" + grace + "\"}");
  ASSERT_TRUE(g.waitForType("welcome", m));
  const std::string graceId = jsonString(m, "you.identity");
  ASSERT_TRUE(l.connect(wsUrl(daemon, room.id)));
  l.send(R"({"type":"hello","version":1,"token":")" + lin + "\"}");
  ASSERT_TRUE(l.waitForType("welcome", m));
  const std::string linId = jsonString(m, "you.identity");

  // Self-mute: everyone is told, by "self".
  g.send(R"({"type":"self-mute","muted":true})");
  ASSERT_TRUE(host.waitForType("mute-changed", m));
  EXPECT_EQ(jsonString(m, "by"), "self");
  EXPECT_EQ(jsonString(m, "identity"), graceId);

  // A speaker cannot run the stage.
  g.send(R"({"type":"promote","identity":")" + linId + "\"}");
  ASSERT_TRUE(g.waitForType("error", m));
  EXPECT_EQ(jsonString(m, "error.code"), "forbidden");

  // Demote: Grace is back in the audience.
  host.send(R"({"type":"demote","identity":")" + graceId + "\"}");
  ASSERT_TRUE(g.waitForType("role-changed", m));
  EXPECT_EQ(jsonString(m, "role"), "listener");

  // Invite: Lin is asked, declines; Grace is asked, accepts and is on stage.
  host.send(R"({"type":"invite","identity":")" + linId + "\"}");
  ASSERT_TRUE(l.waitForType("invited", m));
  l.send(R"({"type":"decline-invite"})");
  ASSERT_TRUE(host.waitForType("invite-answered", m));
  EXPECT_EQ(jsonString(m, "identity"), linId);
  host.send(R"({"type":"invite","identity":")" + graceId + "\"}");
  ASSERT_TRUE(g.waitForType("invited", m));
  g.send(R"({"type":"accept-invite"})");
  ASSERT_TRUE(l.waitFor([&](const std::string& e) {
    return jsonString(e, "type") == "role-changed" && jsonString(e, "identity") == graceId;
  }, m));
  EXPECT_EQ(jsonString(m, "role"), "speaker");

  // Hands: the host sees Lin's hand, and the queue is in the host's welcome on reconnect.
  l.send(R"({"type":"raise-hand"})");
  ASSERT_TRUE(host.waitForType("hand-raised", m));
  EXPECT_EQ(jsonString(m, "name"), "Lin");

  // Remove with ban: Lin is disconnected and the same identity is refused.
  host.send(R"({"type":"remove","identity":")" + linId + "\"}");
  ASSERT_TRUE(l.waitForType("removed", m));
  EXPECT_TRUE(l.waitClosed());
  WsClient again;
  ASSERT_TRUE(again.connect(wsUrl(daemon, room.id)));
  again.send(R"({"type":"hello","version":1,"token":")" + lin + "\"}");
  ASSERT_TRUE(again.waitForType("error", m));
  EXPECT_EQ(jsonString(m, "error.code"), "forbidden");
}

}  // namespace
