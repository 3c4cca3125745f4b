// A speaker's last words reach the archive however the speaker or the room ends. The
// recognizer (pocketsphinx) commits an utterance only at a pause; these speakers never pause
// (one phrase said over and over, back to back) and are cut off mid-speech: by leaving, by
// a demotion, by the room ending, by the server shutting down. Speech is synthesized by flite and sent over
// WebRTC by `roomcast speak`, as in test_transcription.cpp.
#include <glib.h>
#include <gtest/gtest.h>

#include <memory>

#include "audio/wav.h"
#include "processes.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {

// `text` said `times` times with no pause between, after 1 s of silence and with none after.
// Returns the WAV's length in seconds.
double continuousSpeech(const std::string& text, int times, const std::string& path) {
  const std::string once = path + ".once.wav";
  const auto r = run({"flite", "-t", text, "-o", once}, 30);
  PcmAudio phrase;
  if (r.exitStatus != 0 || !roomcast::audio::readWav(once, phrase)) return 0;
  // flite pads a phrase with silence; trimmed, the repetitions run into each other.
  size_t first = 0, last = phrase.samples.size();
  while (first < last && std::abs(phrase.samples[first]) < 300) first++;
  while (last > first && std::abs(phrase.samples[last - 1]) < 300) last--;
  PcmAudio out;
  out.sampleRate = phrase.sampleRate;
  out.channels = phrase.channels;
  out.samples.assign(static_cast<size_t>(out.sampleRate) * out.channels, 0);
  for (int i = 0; i < times; i++)
    out.samples.insert(out.samples.end(), phrase.samples.begin() + first, phrase.samples.begin() + last);
  return roomcast::audio::writeWav(path, out) ? out.seconds() : 0;
}

std::string writeConfig(const std::string& dir) {
  const std::string path = dir + "/roomcast.conf";
  g_file_set_contents(path.c_str(), "[transcription]\nenabled = true\n", -1, nullptr);
  return path;
}

TestRoom createRecordedRoom(const Daemon& daemon) {
  auto r = http("POST", daemon.url() + "/api/v1/rooms", R"({"title":"Last words","record":true,"host_name":"Alan"})");
  EXPECT_EQ(r.status, 201) << r.body;
  return {jsonString(r.body, "id"), jsonString(r.body, "host_token")};
}

std::string search(const Daemon& daemon, const std::string& words) {
  return http("GET", daemon.url() + "/api/v1/recordings?q=" + words).body;
}

// Waits until `words` are found in the archive, said by `speaker`.
bool archivedAs(const Daemon& daemon, const std::string& words, const std::string& speaker, std::string& hits) {
  return pollUntil([&] {
    hits = search(daemon, words);
    return jsonCount(hits, "hits") > 0 && jsonString(hits, "hits.0.speaker") == speaker;
  }, 30, 0.25);
}

// The host's view: the speaker is heard (loud in the mix), then has talked for `seconds` more.
bool heardFor(WsClient& host, double seconds) {
  std::string msg;
  if (!host.waitFor([](const std::string& m) {
        return jsonString(m, "type") == "active-speakers" && jsonCount(m, "identities") > 0;
      }, msg, 60))
    return false;
  const double from = nowSeconds();
  // The speaker talks on without a pause: nothing announces the seconds passing.
  return pollUntil([&] { return nowSeconds() - from >= seconds; }, seconds + 1, 0.1);
}

struct Stage {
  TestRoom room;
  WsClient host;
  std::string speakerToken;
};

void openStage(const Daemon& daemon, Stage& stage) {
  stage.room = createRecordedRoom(daemon);
  std::string msg;
  ASSERT_TRUE(stage.host.connect(wsUrl(daemon, stage.room.id)));
  stage.host.send(R"({"type":"hello","version":1,"token":")" + stage.room.hostToken + "\"}");
  ASSERT_TRUE(stage.host.waitForType("welcome", msg));
  stage.speakerToken = issueToken(daemon, stage.room, "speaker", "Grace");
}

TEST(LastWords, SpeakerWhoLeavesMidSentenceIsArchived) {
  const TempDir scratch("roomcast-last-words-");
  const std::string& dir = scratch.path();
  Daemon daemon({"--config", writeConfig(dir)});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const double seconds = continuousSpeech("good morning everybody", 8, dir + "/grace.wav");
  ASSERT_GT(seconds, 6) << "flite should synthesize the phrase";
  Stage stage;
  openStage(daemon, stage);

  // Talks for 5 s without a pause, then leaves while still talking.
  Process grace({cli(), "--server", daemon.url(), "speak", stage.room.id, "--token", stage.speakerToken, "--file",
                 dir + "/grace.wav", "--seconds", "5"});
  ASSERT_TRUE(grace.waitForOutput("connected", 30)) << daemon.log();
  EXPECT_EQ(grace.wait(60).exitStatus, 0);
  std::string hits;
  EXPECT_TRUE(archivedAs(daemon, "morning", "Grace", hits)) << "the words said before leaving: " << hits << daemon.log();
}

TEST(LastWords, RoomEndedMidSentenceKeepsTheLastWords) {
  const TempDir scratch("roomcast-last-words-");
  const std::string& dir = scratch.path();
  Daemon daemon({"--config", writeConfig(dir)});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const double seconds = continuousSpeech("good morning everybody", 12, dir + "/grace.wav");
  ASSERT_GT(seconds, 10);
  Stage stage;
  openStage(daemon, stage);
  Process grace({cli(), "--server", daemon.url(), "speak", stage.room.id, "--token", stage.speakerToken, "--file",
                 dir + "/grace.wav", "--seconds", "30"});
  ASSERT_TRUE(grace.waitForOutput("connected", 30)) << daemon.log();
  ASSERT_TRUE(heardFor(stage.host, 4)) << daemon.log();
  std::string hits = search(daemon, "morning");
  ASSERT_EQ(jsonCount(hits, "hits"), 0) << "nothing is committed while the speaker talks on: " << hits;

  ASSERT_EQ(http("DELETE", daemon.url() + "/api/v1/rooms/" + stage.room.id, {},
                 {{"Authorization", "Bearer " + stage.room.hostToken}}).status, 200);
  EXPECT_TRUE(archivedAs(daemon, "morning", "Grace", hits)) << "the words said before the room ended: " << hits
                                                             << daemon.log();
  grace.terminate();
}

TEST(LastWords, SpeakerDemotedMidSentenceIsArchived) {
  const TempDir scratch("roomcast-last-words-");
  const std::string& dir = scratch.path();
  Daemon daemon({"--config", writeConfig(dir)});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const double seconds = continuousSpeech("good morning everybody", 12, dir + "/grace.wav");
  ASSERT_GT(seconds, 10);
  Stage stage;
  openStage(daemon, stage);
  Process grace({cli(), "--server", daemon.url(), "speak", stage.room.id, "--token", stage.speakerToken, "--file",
                 dir + "/grace.wav", "--seconds", "30"});
  std::string joined;
  ASSERT_TRUE(stage.host.waitFor([](const std::string& m) {
    return jsonString(m, "type") == "participant-joined" && jsonString(m, "participant.name") == "Grace";
  }, joined, 30)) << daemon.log();
  ASSERT_TRUE(grace.waitForOutput("connected", 30)) << daemon.log();
  ASSERT_TRUE(heardFor(stage.host, 4)) << daemon.log();

  // Back to the audience while still talking: their session ends, their words stay theirs.
  stage.host.send(R"({"type":"demote","identity":")" + jsonString(joined, "participant.identity") + "\"}");
  std::string changed;
  ASSERT_TRUE(stage.host.waitFor([](const std::string& m) {
    return jsonString(m, "type") == "role-changed" || jsonString(m, "type") == "error";
  }, changed, 10));
  ASSERT_EQ(jsonString(changed, "role"), "listener") << changed;
  std::string hits;
  EXPECT_TRUE(archivedAs(daemon, "morning", "Grace", hits)) << "the words said before the demotion: " << hits
                                                             << daemon.log();
  grace.terminate();
}

TEST(LastWords, ServerShutdownMidSentenceKeepsTheLastWords) {
  const TempDir scratch("roomcast-last-words-");
  const std::string& dir = scratch.path();
  const std::string config = writeConfig(dir);
  const double seconds = continuousSpeech("good morning everybody", 12, dir + "/grace.wav");
  ASSERT_GT(seconds, 10);
  const std::string dataDir = dir + "/data";
  g_mkdir_with_parents(dataDir.c_str(), 0700);
  {
    auto daemon = std::make_unique<Daemon>(DaemonOptions{{"--config", config}, dataDir, {}, ""});
    ASSERT_TRUE(daemon->ready()) << daemon->log();
    Stage stage;
    openStage(*daemon, stage);
    Process grace({cli(), "--server", daemon->url(), "speak", stage.room.id, "--token", stage.speakerToken, "--file",
                   dir + "/grace.wav", "--seconds", "30"});
    ASSERT_TRUE(grace.waitForOutput("connected", 30)) << daemon->log();
    ASSERT_TRUE(heardFor(stage.host, 4)) << daemon->log();
    // SIGTERM while Grace still talks: the daemon ends every room before it exits.
    daemon.reset();
  }
  Daemon after(DaemonOptions{{"--config", config}, dataDir, {}, "-after"});
  ASSERT_TRUE(after.ready()) << after.log();
  std::string hits;
  EXPECT_TRUE(archivedAs(after, "morning", "Grace", hits)) << "the words said before SIGTERM: " << hits;
}

}  // namespace
