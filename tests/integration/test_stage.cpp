// The stage over the real protocol with real WebRTC clients (roomcast speak): a raised hand
// pre-warms and is heard only once promoted; host mute takes it out of the mix; removal
// disconnects and bans; a dropped speaker resumes within the grace period or leaves once.
#include <glib.h>
#include <gtest/gtest.h>

#include <cmath>

#include "audio/tone.h"
#include "audio/wav.h"
#include "processes.h"
#include "room_helpers.h"
#include "ws_client.h"

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {

using Room = TestRoom;
std::string token(const Daemon& daemon, const Room& room, const char* role, const char* name) {
  std::string t = issueToken(daemon, room, role, name);
  EXPECT_FALSE(t.empty());
  return t;
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
               "--seconds", "120", "--out", dir + "/ann.wav"});
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
  const double live = meanToneDb(heard, 660, promoteAt + 0.6, muteAt);
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

  // While her hand was up (silent, not mixed) Ann heard the room: the host's tone, and never
  // her own.
  PcmAudio annHeard;
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/ann.wav", annHeard));
  const double annPrewarmEnd = promoteAt - prewarmed - 0.1;
  EXPECT_GT(meanToneDb(annHeard, 440, 0.3, annPrewarmEnd), -20) << "a pre-warmed hand hears the room";
  EXPECT_LT(toneDb(annHeard, 660, 0.3, annPrewarmEnd), -60);
  EXPECT_LT(toneDb(annHeard, 660, annPrewarmEnd + 0.8, muteAt - prewarmed), -40) << "on stage: her own mix-minus";
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

namespace {

// The JSON of the first "event: {...}" line of the given type in a client's output.
std::string eventLine(const std::string& output, const std::string& type) {
  const std::string marker = "event: {\"type\":\"" + type + "\"";
  const size_t at = output.find(marker);
  if (at == std::string::npos) return {};
  const size_t start = at + 7, end = output.find('\n', start);
  return output.substr(start, end - start);
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) n++;
  return n;
}

// Start times and durations of the segments a playlist lists, as ffprobe reads them. Every
// segment is fetched first, at once: the live playlist slides on while ffprobe runs, and on a
// loaded machine a segment could leave it (and the disk) before its turn.
std::vector<std::pair<double, double>> segmentTimes(const std::string& playlistUrl, const std::string& playlist,
                                                    const std::string& scratchDir) {
  std::vector<std::string> files;
  const std::string base = playlistUrl.substr(0, playlistUrl.rfind('/') + 1);
  size_t at = 0;
  while ((at = playlist.find("segment", at)) != std::string::npos) {
    const size_t end = playlist.find('\n', at);
    const std::string name = playlist.substr(at, end - at);
    at = end;
    const auto body = http("GET", base + name);
    if (body.status != 200) continue;
    files.push_back(scratchDir + "/probe-" + std::to_string(files.size()) + ".ts");
    if (!g_file_set_contents(files.back().c_str(), body.body.data(), static_cast<gssize>(body.body.size()), nullptr))
      files.pop_back();
  }
  std::vector<std::pair<double, double>> out;
  for (const std::string& file : files) {
    auto probe = run({"ffprobe", "-v", "error", "-show_entries", "format=start_time,duration", "-of", "csv=p=0", file}, 30);
    double start = 0, duration = 0;
    if (sscanf(probe.stdoutText.c_str(), "%lf,%lf", &start, &duration) == 2) out.emplace_back(start, duration);
  }
  return out;
}

TEST(Stage, DroppedSpeakerResumesWithinGraceThenLeavesOnceAfterIt) {
  Daemon daemon({"--reconnect-grace", "8"});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  Room room = createRoom(daemon);
  // A listener's token: the stage role comes from the promotion, so keeping it across the
  // drop is the room's doing, not the token's.
  const std::string guestToken = token(daemon, room, "listener", "Guest");
  const std::string dir = daemon.dataDir();

  Process host({cli(), "--server", daemon.url(), "speak", room.id, "--token", room.hostToken, "--tone", "440",
                "--seconds", "120", "--out", dir + "/host.wav"});
  ASSERT_TRUE(host.waitForOutput("speaking", 30)) << daemon.log();
  const double t0 = nowSeconds();

  const std::vector<std::string> guestArgs{cli(), "--server", daemon.url(), "speak", room.id, "--token", guestToken,
                                           "--raise-hand", "--tone", "660", "--seconds", "120"};
  auto guest = std::make_unique<Process>(guestArgs);
  ASSERT_TRUE(guest->waitForOutput("connected", 30));
  auto promoted = http("POST", daemon.url() + "/api/v1/rooms/" + room.id + "/moderation",
                       R"({"action":"promote","name":"Guest"})", {{"Authorization", "Bearer " + room.hostToken}});
  ASSERT_EQ(promoted.status, 200) << promoted.body;
  ASSERT_TRUE(guest->waitForOutput("promoted", 10));
  ASSERT_TRUE(guest->waitForOutput("heard 3 s\n", 30));
  const double firstStint = nowSeconds() - t0;
  const std::string firstWelcome = eventLine(guest->output(), "welcome");
  ASSERT_EQ(jsonString(firstWelcome, "you.role"), "listener") << firstWelcome;

  // Cut: the client dies with its WebSocket and WebRTC session.
  guest->kill();
  guest->wait(10);
  ASSERT_TRUE(host.waitForOutput(R"("type":"reconnecting")", 10)) << "the room is told";
  const double cutAt = nowSeconds() - t0;
  // Stay away for a second or two of the host's audio before coming back.
  ASSERT_TRUE(host.waitForOutput("heard " + std::to_string(static_cast<int>(cutAt) + 2) + " s\n", 10));

  // Back within the grace period, into a new webrtcbin: same role, same slot.
  const double restartAt = nowSeconds() - t0;
  guest = std::make_unique<Process>(guestArgs);
  ASSERT_TRUE(guest->waitForOutput("speaking", 30)) << guest->output() << daemon.log();
  const double resumedAt = nowSeconds() - t0;
  ASSERT_TRUE(host.waitForOutput(R"("type":"reconnected")", 10));
  ASSERT_TRUE(guest->waitForOutput("heard 2 s\n", 10));
  const double secondStint = nowSeconds() - t0;
  const std::string secondWelcome = eventLine(guest->output(), "welcome");
  EXPECT_EQ(jsonString(secondWelcome, "you.role"), "speaker") << "the promotion survives the drop";
  EXPECT_EQ(jsonInt(secondWelcome, "you.slot"), jsonInt(firstWelcome, "you.slot")) << "slot kept";
  EXPECT_GT(jsonInt(firstWelcome, "you.slot"), 0);

  // The HLS timeline went on through the drop: contiguous segments, none longer than 2 s.
  const std::string hls = daemon.url() + "/hls/" + room.id + "/index.m3u8";
  const auto playlist = http("GET", hls);
  auto segments = segmentTimes(hls, playlist.body, dir);
  ASSERT_GE(segments.size(), 4u) << playlist.body;
  for (size_t i = 1; i < segments.size(); i++) {
    EXPECT_NEAR(segments[i].first, segments[i - 1].first + segments[i - 1].second, 0.1) << "gap before segment " << i;
    EXPECT_LE(segments[i].second, 2.0);
  }

  // Cut again and stay away: exactly one "left", when the grace runs out.
  guest->kill();
  guest->wait(10);
  ASSERT_TRUE(host.waitForOutput(R"("reason":"timeout")", 20)) << daemon.log();
  const double leftAt = nowSeconds() - t0;
  ASSERT_TRUE(host.waitForOutput("heard " + std::to_string(static_cast<int>(leftAt) + 3) + " s\n", 10));

  auto ended = http("DELETE", daemon.url() + "/api/v1/rooms/" + room.id, {}, {{"Authorization", "Bearer " + room.hostToken}});
  ASSERT_EQ(ended.status, 200);
  const auto hostRun = host.wait(30);
  ASSERT_EQ(hostRun.exitStatus, 0);
  EXPECT_EQ(count(hostRun.stdoutText, R"("type":"participant-left")"), 1) << hostRun.stdoutText;
  EXPECT_EQ(count(hostRun.stdoutText, R"("type":"reconnecting")"), 2);
  EXPECT_EQ(count(hostRun.stdoutText, R"("type":"reconnected")"), 1);
  // The guest came in as a listener (counted, not announced) and came on stage once; the
  // resume is neither a new join nor a new promotion.
  EXPECT_EQ(count(hostRun.stdoutText, R"("type":"participant-joined")"), 0) << "the resume is not a new join";
  EXPECT_EQ(count(hostRun.stdoutText, R"("type":"role-changed")"), 1);

  // The host's return never stalled: its audio kept pace with the wall clock, and it heard
  // the guest in both stints but not while the guest was away.
  PcmAudio heard;
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/host.wav", heard));
  EXPECT_NEAR(heard.seconds(), nowSeconds() - t0, 1.0) << "no gap or stall in the host's return";
  EXPECT_GT(meanToneDb(heard, 660, firstStint - 1.0, firstStint), -25);
  EXPECT_LT(toneDb(heard, 660, cutAt + 0.5, resumedAt - 0.3), -60);
  EXPECT_GT(meanToneDb(heard, 660, secondStint - 1.0, secondStint), -25);
  // From starting the new client to hearing the room again (process start, gst_init, ICE, DTLS).
  RecordProperty("resume_ms", std::to_string(static_cast<int>((resumedAt - restartAt) * 1000)));
}

}  // namespace

namespace {

TEST(Stage, TenFullScaleSpeakersNeverClipTheProgram) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  auto created = run({cli(), "--server", daemon.url(), "create", "--title", "Loud", "--record"}, 30);
  ASSERT_EQ(created.exitStatus, 0);
  Room room{jsonString(created.stdoutText, "id"), jsonString(created.stdoutText, "host_token")};

  std::vector<std::unique_ptr<Process>> speakers;
  for (int i = 0; i < 10; i++) {
    const std::string who = i == 0 ? room.hostToken : token(daemon, room, "speaker", ("S" + std::to_string(i)).c_str());
    // Distinct tones, all at full scale; each joins once the previous one is live, so ten
    // clients do not start up at once on a two-core machine.
    speakers.push_back(std::make_unique<Process>(std::vector<std::string>{
        cli(), "--server", daemon.url(), "speak", room.id, "--token", who, "--tone", std::to_string(300 + 70 * i),
        "--volume", "1", "--seconds", "60"}));
    ASSERT_TRUE(speakers.back()->waitForOutput("speaking", 60))
        << "speaker " << i << ":\n" << speakers.back()->output() << speakers.back()->wait(5).stderrText << daemon.log();
  }
  ASSERT_TRUE(speakers[0]->waitForOutput("heard 4 s\n", 30));

  auto ended = http("DELETE", daemon.url() + "/api/v1/rooms/" + room.id, {}, {{"Authorization", "Bearer " + room.hostToken}});
  ASSERT_EQ(ended.status, 200) << ended.body;
  for (auto& s : speakers) s->wait(30);
  const std::string decoded = daemon.dataDir() + "/loud.wav";
  auto ffmpeg = run({"ffmpeg", "-nostdin", "-v", "error", "-i", jsonString(ended.body, "recording"), "-ac", "1", "-y",
                     decoded}, 60);
  ASSERT_EQ(ffmpeg.exitStatus, 0) << ffmpeg.stderrText;
  PcmAudio program;
  ASSERT_TRUE(roomcast::audio::readWav(decoded, program));
  auto mono = roomcast::audio::toMonoFloat(program);
  // The last seconds, when all ten were talking (the end of the file is the room's end).
  const size_t window = static_cast<size_t>(2.0 * program.sampleRate);
  ASSERT_GT(mono.size(), window + 9600);
  const float* loud = mono.data() + mono.size() - window - 9600;
  const double peak = roomcast::audio::peakAbs(loud, window);
  const double rms = roomcast::audio::rmsDbfs(loud, window);
  EXPECT_LT(peak, 32767.0 / 32768.0) << "the program must not clip";
  EXPECT_GT(rms, -20) << "ten full-scale voices stay loud: limited, not silenced";
  RecordProperty("ten_speakers_peak_dbfs", std::to_string(20 * std::log10(peak)));
  RecordProperty("ten_speakers_rms_dbfs", std::to_string(rms));
}

}  // namespace
