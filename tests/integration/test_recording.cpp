// Recording on real components: a SIGKILLed roomcastd leaves a file that ffmpeg plays to
// within 2 s of the kill, recovered and indexed at the next start; a speaker who opted out is
// heard live (HLS) but not in the recording; the host starts and stops recording live and
// everyone is told, a promoted listener before going on stage; a full disk (a small tmpfs in a
// private mount namespace) stops the recording, not the room, and recording resumes when
// space returns. Proved by decoding and signal analysis.
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <memory>

#include "audio/tone.h"
#include "audio/wav.h"
#include "media/ogg_duration.h"
#include "full_disk.h"
#include "processes.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {

double wallSeconds() { return static_cast<double>(g_get_real_time()) / G_USEC_PER_SEC; }

TestRoom createRecordedRoom(const Daemon& daemon, bool record = true) {
  auto r = http("POST", daemon.url() + "/api/v1/rooms",
                std::string(R"({"title":"Recorded room","topic":"tests","record":)") + (record ? "true" : "false") + "}");
  EXPECT_EQ(r.status, 201) << r.body;
  return {jsonString(r.body, "id"), jsonString(r.body, "host_token")};
}

std::string recordings(const Daemon& daemon) { return http("GET", daemon.url() + "/api/v1/recordings").body; }

// The listing's entry whose storage.local ends in `path`'s file name, or -1.
long long indexOfRecording(const std::string& listing, const std::string& path) {
  const std::string file = path.substr(path.rfind('/') + 1);
  for (long long i = 0; i < jsonCount(listing, "recordings"); i++) {
    const std::string url = jsonString(listing, "recordings." + std::to_string(i) + ".url");
    if (url.size() >= file.size() && url.compare(url.size() - file.size(), file.size(), file) == 0) return i;
  }
  return -1;
}

// ffmpeg decodes `path` to mono 48 kHz; `errors` gets what it complained about.
bool decode(const std::string& path, const std::string& wav, PcmAudio& out, std::string* errors = nullptr) {
  const auto r = run({"ffmpeg", "-nostdin", "-v", "error", "-i", path, "-ac", "1", "-ar", "48000", "-y", wav}, 60);
  if (errors) *errors = r.stderrText;
  return r.exitStatus == 0 && roomcast::audio::readWav(wav, out);
}

// Sends the host's (or anyone's) hello and waits for the welcome.
bool join(WsClient& ws, const Daemon& daemon, const std::string& roomId, const std::string& token, std::string& welcome) {
  if (!ws.connect(wsUrl(daemon, roomId))) return false;
  ws.send(R"({"type":"hello","version":1,"token":")" + token + "\"}");
  return ws.waitForType("welcome", welcome, 15);
}

TEST(Recording, SigkillLeavesAFileThatPlaysToTheKillAndTheNextStartRecoversIt) {
  const TempDir scratch("roomcast-crash-");
  const std::string& dataDir = scratch.path();
  DaemonOptions options;
  options.dataDir = dataDir;
  auto daemon = std::make_unique<Daemon>(options);
  ASSERT_TRUE(daemon->ready()) << daemon->log();
  const TestRoom room = createRecordedRoom(*daemon);
  Process speaker({cli(), "--server", daemon->url(), "speak", room.id, "--token", room.hostToken, "--tone", "440",
                   "--seconds", "60"});
  ASSERT_TRUE(speaker.waitForOutput("connected", 30)) << speaker.errors() << daemon->log();

  const std::string listing = recordings(*daemon);
  ASSERT_EQ(jsonCount(listing, "recordings"), 1) << listing;
  EXPECT_EQ(jsonString(listing, "recordings.0.status"), "recording");
  const std::string path = jsonString(listing, "recordings.0.storage.local");
  const double startedAt = jsonNumber(listing, "recordings.0.started_at_ms") / 1000.0;
  ASSERT_FALSE(path.empty()) << listing;
  // Let the file grow to several seconds of the speaker, then crash the server.
  ASSERT_TRUE(pollUntil([&] { return roomcast::media::oggOpusDurationSeconds(path).value_or(0) >= 6; }, 30))
      << daemon->log();
  const double killedAt = wallSeconds();
  daemon->kill();
  speaker.kill();

  PcmAudio audio;
  std::string errors;
  ASSERT_TRUE(decode(path, dataDir + "/crashed.wav", audio, &errors)) << errors;
  const double recordedSeconds = killedAt - startedAt;
  EXPECT_GE(audio.seconds(), recordedSeconds - 2.0) << "the file plays to within 2 s of the kill";
  EXPECT_LE(audio.seconds(), recordedSeconds + 0.5);
  // The speaker is heard up to the end: the last second that plays holds the tone.
  const double end = audio.seconds();
  EXPECT_GT(meanToneDb(audio, 440, end - 1.2, end - 0.2), -25) << "the tone should reach the end of the file";

  // The next start finds the cut-off recording, indexes it with the length it has.
  DaemonOptions again = options;
  again.logSuffix = "-restarted";
  daemon = std::make_unique<Daemon>(again);
  ASSERT_TRUE(daemon->ready()) << daemon->log();
  const std::string recovered = recordings(*daemon);
  const long long i = indexOfRecording(recovered, path);
  ASSERT_GE(i, 0) << recovered;
  const std::string at = "recordings." + std::to_string(i);
  EXPECT_EQ(jsonString(recovered, at + ".status"), "recovered") << recovered;
  EXPECT_NEAR(jsonNumber(recovered, at + ".duration_s"), audio.seconds(), 0.5) << recovered;
  EXPECT_FALSE(jsonIsNull(recovered, at + ".ended_at_ms")) << recovered;
  EXPECT_EQ(jsonString(recovered, at + ".room"), room.id);
  // And the archive serves it.
  const auto file = http("GET", daemon->url() + "/recordings/" + path.substr(path.rfind('/') + 1));
  EXPECT_EQ(file.status, 200);
  EXPECT_EQ(file.header("Content-Type"), "audio/ogg");
}

TEST(Recording, SpeakerWhoOptedOutIsHeardLiveButNotInTheRecording) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const TestRoom room = createRecordedRoom(daemon);
  const std::string guestToken = issueToken(daemon, room, "speaker", "Ada");
  const std::string dir = daemon.dataDir();
  WsClient watcher;
  std::string welcome, msg;
  ASSERT_TRUE(join(watcher, daemon, room.id, issueToken(daemon, room, "listener", "Watcher"), welcome));
  EXPECT_TRUE(jsonBool(welcome, "room.recording")) << welcome;

  Process host({cli(), "--server", daemon.url(), "speak", room.id, "--token", room.hostToken, "--tone", "440",
                "--seconds", "14"});
  ASSERT_TRUE(host.waitForOutput("connected", 30)) << daemon.log();
  Process guest({cli(), "--server", daemon.url(), "speak", room.id, "--token", guestToken, "--tone", "660",
                 "--seconds", "12", "--recording-opt-out"});
  ASSERT_TRUE(guest.waitForOutput("connected", 30)) << daemon.log();
  // Everyone is told who is left out of the recording.
  ASSERT_TRUE(watcher.waitFor([](const std::string& m) { return jsonString(m, "type") == "recording-opt-out"; }, msg, 15));
  EXPECT_TRUE(jsonBool(msg, "opt_out")) << msg;

  Process listener({cli(), "--server", daemon.url(), "listen", room.id, "--seconds", "6", "--out", dir + "/hls.wav"});
  const auto heard = listener.wait(60);
  ASSERT_EQ(heard.exitStatus, 0) << heard.stderrText;
  EXPECT_EQ(guest.wait(60).exitStatus, 0);
  EXPECT_EQ(host.wait(60).exitStatus, 0);
  const auto ended = http("DELETE", daemon.url() + "/api/v1/rooms/" + room.id, {},
                          {{"Authorization", "Bearer " + room.hostToken}});
  ASSERT_EQ(ended.status, 200) << ended.body;

  PcmAudio live, recorded;
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/hls.wav", live));
  const double liveHost = meanToneDb(live, 440, 1, live.seconds() - 0.5), liveGuest = meanToneDb(live, 660, 1, live.seconds() - 0.5);
  EXPECT_GT(liveHost, -25) << "the live room has the host";
  EXPECT_GT(liveGuest, -25) << "the live room has the opted-out guest";

  ASSERT_TRUE(decode(jsonString(ended.body, "recording"), dir + "/recording.wav", recorded));
  ASSERT_GT(recorded.seconds(), 10);
  const double recHost = meanToneDb(recorded, 440, 2, recorded.seconds() - 2);
  const double recGuest = toneDb(recorded, 660, 2, recorded.seconds() - 2);
  EXPECT_GT(recHost, -25) << "the recording has the host";
  EXPECT_GE(recHost - recGuest, 30) << "the guest who opted out is not in the recording (host " << recHost
                                    << " dB, guest " << recGuest << " dB)";
}

TEST(Recording, HostStartsAndStopsItLiveEveryoneIsToldAndAPromotedListenerFirst) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const TestRoom room = createRecordedRoom(daemon, false);
  WsClient listener;
  std::string welcome, msg;
  ASSERT_TRUE(join(listener, daemon, room.id, issueToken(daemon, room, "listener", "Lin"), welcome));
  EXPECT_FALSE(jsonBool(welcome, "room.recording", true)) << welcome;
  EXPECT_EQ(jsonCount(recordings(daemon), "recordings"), 0);

  // Only the host records.
  const std::string speakerToken = issueToken(daemon, room, "speaker", "Sam");
  const auto refused = run({cli(), "--server", daemon.url(), "record", room.id, "start", "--token", speakerToken}, 30);
  EXPECT_EQ(refused.exitStatus, 1);
  EXPECT_NE(refused.stderrText.find("forbidden"), std::string::npos) << refused.stderrText;

  Process host({cli(), "--server", daemon.url(), "speak", room.id, "--token", room.hostToken, "--tone", "440",
                "--seconds", "30"});
  ASSERT_TRUE(host.waitForOutput("connected", 30)) << daemon.log();
  const auto started = run({cli(), "--server", daemon.url(), "record", room.id, "start", "--token", room.hostToken}, 30);
  ASSERT_EQ(started.exitStatus, 0) << started.stderrText;
  ASSERT_TRUE(listener.waitForType("recording", msg, 15));
  EXPECT_TRUE(jsonBool(msg, "active")) << msg;
  EXPECT_TRUE(host.waitForOutput(R"("type":"recording","active":true)", 15)) << "the host's client is told too";
  // A second start is a conflict, not a second file.
  const auto twice = run({cli(), "--server", daemon.url(), "record", room.id, "start", "--token", room.hostToken}, 30);
  EXPECT_EQ(twice.exitStatus, 1);
  EXPECT_NE(twice.stderrText.find("conflict"), std::string::npos) << twice.stderrText;

  // Consent: the listener raises a hand and is promoted; the notice that the room is being
  // recorded comes before the role change that puts them on stage.
  listener.send(R"({"type":"raise-hand"})");
  ASSERT_TRUE(host.waitForOutput(R"("type":"hand-raised")", 15)) << "the host sees the hand: " << daemon.log();
  const auto promoted = run({cli(), "--server", daemon.url(), "promote", room.id, "Lin", "--token", room.hostToken}, 30);
  ASSERT_EQ(promoted.exitStatus, 0) << promoted.stderrText;
  ASSERT_TRUE(listener.waitFor([](const std::string& m) {
    const std::string type = jsonString(m, "type");
    return type == "recording-notice" || type == "role-changed";
  }, msg, 15));
  EXPECT_EQ(jsonString(msg, "type"), "recording-notice") << "told before going live: " << msg;
  EXPECT_TRUE(jsonBool(msg, "recording")) << msg;
  ASSERT_TRUE(listener.waitForType("role-changed", msg, 15));
  EXPECT_EQ(jsonString(msg, "role"), "speaker") << msg;

  // Let the recording hold a couple of seconds of the host before stopping it.
  const std::string path = jsonString(recordings(daemon), "recordings.0.storage.local");
  ASSERT_FALSE(path.empty());
  ASSERT_TRUE(pollUntil([&] { return roomcast::media::oggOpusDurationSeconds(path).value_or(0) >= 3; }, 30));
  const auto stopped = run({cli(), "--server", daemon.url(), "record", room.id, "stop", "--token", room.hostToken}, 30);
  ASSERT_EQ(stopped.exitStatus, 0) << stopped.stderrText;
  ASSERT_TRUE(listener.waitForType("recording", msg, 15));
  EXPECT_FALSE(jsonBool(msg, "active", true)) << msg;
  const std::string listing = recordings(daemon);
  EXPECT_EQ(jsonString(listing, "recordings.0.status"), "finished") << listing;
  EXPECT_GE(jsonNumber(listing, "recordings.0.duration_s"), 3) << listing;

  PcmAudio recorded;
  ASSERT_TRUE(decode(path, daemon.dataDir() + "/live.wav", recorded));
  EXPECT_GT(meanToneDb(recorded, 440, 0.5, recorded.seconds() - 0.5), -25) << "the host is in the recording";
  host.terminate();
}

// Runs roomcastd with <data>/recordings on a tmpfs of its own: a private mount namespace,
// so nothing outside the test sees it, and the tmpfs goes away with the process.
std::vector<std::string> onSmallTmpfs(const std::string& recordingsDir) {
  return {"unshare", "--mount", "--propagation", "private", "sh", "-c",
          "mount -t tmpfs -o size=4m roomcast-test \"$0\" && exec \"$@\"", recordingsDir};
}

TEST(Recording, FullDiskStopsTheRecordingNotTheRoomAndItResumesWhenSpaceReturns) {
  if (!canMountPrivately()) GTEST_SKIP() << "needs mount namespaces (unshare --mount, as root or with user namespaces)";
  const TempDir scratch("roomcast-diskfull-");
  const std::string& dataDir = scratch.path();
  const std::string recordingsDir = dataDir + "/recordings";
  ASSERT_EQ(g_mkdir_with_parents(recordingsDir.c_str(), 0755), 0);
  DaemonOptions options;
  options.dataDir = dataDir;
  options.prefix = onSmallTmpfs(recordingsDir);
  Daemon daemon(options);
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  // The daemon's view of its recordings dir (the tmpfs), from outside its namespace.
  const std::string inside = "/proc/" + std::to_string(daemon.pid()) + "/root" + recordingsDir;

  const TestRoom room = createRecordedRoom(daemon);
  WsClient host;
  std::string welcome, msg;
  ASSERT_TRUE(join(host, daemon, room.id, room.hostToken, welcome));
  Process speaker({cli(), "--server", daemon.url(), "speak", room.id, "--token", issueToken(daemon, room, "speaker", "Tone"),
                   "--tone", "440", "--seconds", "60"});
  ASSERT_TRUE(speaker.waitForOutput("connected", 30)) << daemon.log();
  const std::string first = jsonString(recordings(daemon), "recordings.0.storage.local");
  ASSERT_FALSE(first.empty());
  const std::string firstInside = inside + first.substr(recordingsDir.size());
  ASSERT_TRUE(pollUntil([&] { return roomcast::media::oggOpusDurationSeconds(firstInside).value_or(0) >= 2; }, 30))
      << "the recording should be written on the tmpfs: " << daemon.log();

  // The disk fills up: the host is told, with a stable code, and the recording stops.
  EXPECT_GT(fillUp(inside + "/filler"), 1024u * 1024u);
  bool toldError = false, toldStopped = false;
  ASSERT_TRUE(host.waitFor([&](const std::string& m) {
    toldError |= jsonString(m, "error.code") == "recording_failed";
    toldStopped |= jsonString(m, "type") == "recording" && !jsonBool(m, "active", true);
    return toldError && toldStopped;
  }, msg, 30)) << "error " << toldError << ", stopped " << toldStopped << "\n" << daemon.log();

  // The room goes on: a listener hears the speaker, who is still connected.
  Process listener({cli(), "--server", daemon.url(), "listen", room.id, "--seconds", "3", "--out", dataDir + "/during.wav"});
  ASSERT_EQ(listener.wait(60).exitStatus, 0);
  PcmAudio during;
  ASSERT_TRUE(roomcast::audio::readWav(dataDir + "/during.wav", during));
  EXPECT_GT(meanToneDb(during, 440, 0.5, during.seconds()), -25) << "the live room must not stop with the recording";

  // Space returns: recording resumes on its own, into a new file.
  ASSERT_EQ(g_unlink((inside + "/filler").c_str()), 0);
  ASSERT_TRUE(host.waitFor([](const std::string& m) {
    return jsonString(m, "type") == "recording" && jsonBool(m, "active");
  }, msg, 20)) << daemon.log();
  std::string listing = recordings(daemon);
  ASSERT_EQ(jsonCount(listing, "recordings"), 2) << listing;
  const std::string second = jsonString(listing, "recordings.0.storage.local");
  const std::string secondInside = inside + second.substr(recordingsDir.size());
  ASSERT_TRUE(pollUntil([&] { return roomcast::media::oggOpusDurationSeconds(secondInside).value_or(0) >= 2; }, 30))
      << secondInside << " plays " << roomcast::media::oggOpusDurationSeconds(secondInside).value_or(-1) << " s\n"
      << listing << "\n" << run({"ls", "-la", inside}, 10).stdoutText << daemon.log();
  speaker.terminate();
  const auto ended = http("DELETE", daemon.url() + "/api/v1/rooms/" + room.id, {},
                          {{"Authorization", "Bearer " + room.hostToken}});
  ASSERT_EQ(ended.status, 200) << ended.body;

  listing = recordings(daemon);
  EXPECT_EQ(jsonString(listing, "recordings.1.status"), "failed") << listing;
  EXPECT_EQ(jsonString(listing, "recordings.0.status"), "finished") << listing;
  PcmAudio resumed;
  ASSERT_TRUE(decode(secondInside, dataDir + "/resumed.wav", resumed));
  EXPECT_GT(meanToneDb(resumed, 440, 0.5, std::min(2.0, resumed.seconds())), -25) << "the resumed recording has the room";
}

}  // namespace
