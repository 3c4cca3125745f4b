// Transcription and automated moderation on real components: two speakers say different
// phrases (synthesized by flite) at the same time over WebRTC; pocketsphinx on each speaker's
// own input puts each phrase in the archive under the right name, found by a search for a
// spoken word. A phrase that breaks a test policy mutes its speaker within a bounded time,
// logged with the words and the room's audio as evidence.
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include <cmath>

#include "audio/tone.h"
#include "audio/wav.h"
#include "processes.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {

std::string writeConfig(const std::string& dir, const std::string& text) {
  const std::string path = dir + "/roomcast.conf";
  g_file_set_contents(path.c_str(), text.c_str(), -1, nullptr);
  return path;
}

TestRoom createRecordedRoom(const Daemon& daemon) {
  auto r = http("POST", daemon.url() + "/api/v1/rooms", R"({"title":"Morning show","record":true,"host_name":"Alan"})");
  EXPECT_EQ(r.status, 201) << r.body;
  return {jsonString(r.body, "id"), jsonString(r.body, "host_token")};
}

std::string search(const Daemon& daemon, const std::string& words) {
  g_autofree char* escaped = g_uri_escape_string(words.c_str(), nullptr, FALSE);
  return http("GET", daemon.url() + "/api/v1/recordings?q=" + escaped).body;
}

// The speaker of the first hit for `words` (waits until there is one: the recognizer ends an
// utterance at the next silence and works on its own queue, behind the live audio).
std::string firstSpeakerFor(const Daemon& daemon, const std::string& words, std::string& result, double timeout) {
  pollUntil([&] {
    result = search(daemon, words);
    return jsonCount(result, "hits") > 0;
  }, timeout, 0.25);
  return jsonString(result, "hits.0.speaker");
}

TEST(Transcription, EachSpeakerIsTranscribedUnderTheirNameAndFoundBySearch) {
  const TempDir scratch("roomcast-transcribe-");
  const std::string& dir = scratch.path();
  Daemon daemon({"--config", writeConfig(dir, "[transcription]\nenabled = true\n")});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const double graceSeconds = synthesizeSpeech("good morning everybody", 3, dir + "/grace.wav");
  const double alanSeconds = synthesizeSpeech("welcome everybody", 3, dir + "/alan.wav");
  ASSERT_GT(graceSeconds, 5) << "flite should synthesize the phrase";
  ASSERT_GT(alanSeconds, 5);

  const TestRoom room = createRecordedRoom(daemon);
  const std::string graceToken = issueToken(daemon, room, "speaker", "Grace");
  // Both talk at once: each recognizer hears only its own speaker.
  Process alan({cli(), "--server", daemon.url(), "speak", room.id, "--token", room.hostToken, "--file", dir + "/alan.wav",
                "--seconds", std::to_string(alanSeconds + 1)});
  Process grace({cli(), "--server", daemon.url(), "speak", room.id, "--token", graceToken, "--file", dir + "/grace.wav",
                 "--seconds", std::to_string(graceSeconds + 1)});
  ASSERT_TRUE(alan.waitForOutput("connected", 30)) << daemon.log();
  ASSERT_TRUE(grace.waitForOutput("connected", 30)) << daemon.log();

  std::string hits;
  EXPECT_EQ(firstSpeakerFor(daemon, "morning", hits, 60), "Grace") << hits << daemon.log();
  EXPECT_NE(jsonString(hits, "hits.0.snippet").find("[morning]"), std::string::npos) << hits;
  const double offset = jsonNumber(hits, "hits.0.offset_s");
  EXPECT_GE(offset, 0.5) << "said after the recording started (1 s of silence first): " << hits;
  EXPECT_LE(offset, 60) << hits;
  EXPECT_EQ(jsonString(hits, "hits.0.recording.room"), room.id);
  EXPECT_EQ(firstSpeakerFor(daemon, "welcome", hits, 60), "Alan") << hits;
  // Words nobody said find nothing; the search words cannot be FTS5 syntax.
  EXPECT_EQ(jsonCount(search(daemon, "banana"), "hits"), 0);
  EXPECT_EQ(http("GET", daemon.url() + "/api/v1/recordings?q=%22morning%20OR%20NEAR(").status, 200);

  EXPECT_EQ(grace.wait(60).exitStatus, 0);
  EXPECT_EQ(alan.wait(60).exitStatus, 0);
  const auto ended = http("DELETE", daemon.url() + "/api/v1/rooms/" + room.id, {},
                          {{"Authorization", "Bearer " + room.hostToken}});
  ASSERT_EQ(ended.status, 200);
  // The listing names who is heard in the recording.
  const std::string listing = http("GET", daemon.url() + "/api/v1/recordings").body;
  ASSERT_EQ(jsonCount(listing, "recordings.0.speakers"), 2) << listing;
  EXPECT_EQ(jsonString(listing, "recordings.0.speakers.0"), "Alan") << listing;
  EXPECT_EQ(jsonString(listing, "recordings.0.speakers.1"), "Grace") << listing;
}

TEST(Moderation, PhraseBreakingThePolicyMutesTheSpeakerWithinBoundedTime) {
  const TempDir scratch("roomcast-moderate-");
  const std::string& dir = scratch.path();
  const std::string policy = dir + "/policy.json";
  g_file_set_contents(policy.c_str(), R"({
    "categories": [{"name": "test-greeting", "severity": "medium", "terms": ["good morning"]}],
    "actions": {"low": "notify", "medium": "mute", "high": "remove"}
  })", -1, nullptr);
  Daemon daemon({"--config", writeConfig(dir, "[moderation]\nenabled = true\npolicy = " + policy + "\n")});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const double seconds = synthesizeSpeech("good morning everybody", 3, dir + "/grace.wav");
  ASSERT_GT(seconds, 5);
  const TestRoom room = createRecordedRoom(daemon);

  WsClient host;
  std::string msg;
  ASSERT_TRUE(host.connect(wsUrl(daemon, room.id)));
  host.send(R"({"type":"hello","version":1,"token":")" + room.hostToken + "\"}");
  ASSERT_TRUE(host.waitForType("welcome", msg));
  Process grace({cli(), "--server", daemon.url(), "speak", room.id, "--token",
                 issueToken(daemon, room, "speaker", "Grace"), "--file", dir + "/grace.wav", "--seconds",
                 std::to_string(seconds + 1)});
  ASSERT_TRUE(grace.waitForOutput("connected", 30)) << daemon.log();

  // The mute is applied, then the host is told why (either order is fine for a client).
  std::string muted;
  ASSERT_TRUE(host.waitFor([&](const std::string& m) {
    if (jsonString(m, "type") == "mute-changed") muted = m;
    return jsonString(m, "type") == "moderation";
  }, msg, 60)) << daemon.log();
  const double arrived = static_cast<double>(g_get_real_time()) / G_USEC_PER_SEC;
  EXPECT_EQ(jsonString(msg, "name"), "Grace") << msg;
  EXPECT_EQ(jsonString(msg, "category"), "test-greeting") << msg;
  EXPECT_EQ(jsonString(msg, "action"), "mute") << msg;
  EXPECT_NE(jsonString(msg, "snippet").find("good morning"), std::string::npos) << msg;
  // Bounded: the action follows the end of the words within a few seconds.
  const double saidUntil = static_cast<double>(jsonInt(msg, "span_end_ms")) / 1000.0;
  EXPECT_LT(arrived - saidUntil, 8.0) << "moderation lag behind the words: " << msg;
  const std::string graceId = jsonString(msg, "identity");
  const std::string evidence = jsonString(msg, "evidence");
  // Applied live: the speaker leaves every mix, the room and the speaker are told.
  if (muted.empty()) {
    ASSERT_TRUE(host.waitFor([&](const std::string& m) { return jsonString(m, "type") == "mute-changed"; }, muted, 10));
  }
  EXPECT_EQ(jsonString(muted, "identity"), graceId) << muted;
  EXPECT_TRUE(jsonBool(muted, "muted")) << muted;
  EXPECT_TRUE(grace.waitForOutput(R"("type":"mute-changed")", 10));

  // The evidence: the room's last minutes of audio, kept as a file that plays and holds the
  // speech (not silence).
  ASSERT_FALSE(evidence.empty()) << "the moderation event names its evidence";
  // Written off the control thread and renamed into place whole: wait for it to appear.
  ASSERT_TRUE(pollUntil([&] { return g_file_test(evidence.c_str(), G_FILE_TEST_EXISTS); }, 10)) << evidence;
  const auto decoded = run({"ffmpeg", "-nostdin", "-v", "error", "-i", evidence, "-ac", "1", "-ar", "48000", "-y",
                            dir + "/evidence.wav"}, 60);
  ASSERT_EQ(decoded.exitStatus, 0) << decoded.stderrText;
  PcmAudio audio;
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/evidence.wav", audio));
  EXPECT_GT(audio.seconds(), 2.0);
  const auto mono = roomcast::audio::toMonoFloat(audio);
  EXPECT_GT(roomcast::audio::rmsDbfs(mono.data(), mono.size()), -45) << "the evidence should hold the speech";
  grace.terminate();
}

}  // namespace
