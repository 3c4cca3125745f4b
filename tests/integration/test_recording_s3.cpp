// roomcastd with [s3]: a room's recording goes to a local S3-compatible server (s3rver behind
// tests/support/s3_server.js, which checks every Signature V4) once it ends; the object is
// the recording (ffmpeg decodes the speaker's tone from it), the archive lists the S3 URL and
// the local copy is gone only after that. With a wrong secret the upload fails loudly (log,
// archive) and the local file stays, playable.
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include "audio/tone.h"
#include "audio/wav.h"
#include "processes.h"
#include "room_helpers.h"
#include "s3_server.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {

constexpr const char* kBucket = "roomcast-archive";

std::string s3Config(const std::string& dir, const S3Server& server, const std::string& secret) {
  const std::string path = dir + "/roomcast.conf";
  const std::string text = "[s3]\nendpoint = " + server.endpoint() + "\nbucket = " + kBucket +
                           "\naccess_key = " + S3Server::kAccessKey + "\nsecret_key = " + secret +
                           "\nprefix = rooms/\nmax_attempts = 3\n";
  g_file_set_contents(path.c_str(), text.c_str(), -1, nullptr);
  return path;
}

// Records 4 s of a 440 Hz speaker, ends the room; returns the local recording path.
std::string recordARoom(const Daemon& daemon) {
  auto created = http("POST", daemon.url() + "/api/v1/rooms", R"({"title":"Archived","record":true})");
  EXPECT_EQ(created.status, 201);
  const std::string id = jsonString(created.body, "id"), host = jsonString(created.body, "host_token");
  Process speaker({cli(), "--server", daemon.url(), "speak", id, "--token", host, "--tone", "440", "--seconds", "4"});
  EXPECT_TRUE(speaker.waitForOutput("connected", 30));
  EXPECT_EQ(speaker.wait(60).exitStatus, 0);
  auto ended = http("DELETE", daemon.url() + "/api/v1/rooms/" + id, {}, {{"Authorization", "Bearer " + host}});
  EXPECT_EQ(ended.status, 200) << ended.body;
  return jsonString(ended.body, "recording");
}

// Seconds of the decoded bytes in which `frequency` dominates (0.2 s windows).
double toneSecondsIn(const std::string& bytes, const std::string& dir, double frequency) {
  const std::string ogg = dir + "/object.ogg", wav = dir + "/object.wav";
  g_file_set_contents(ogg.c_str(), bytes.data(), static_cast<gssize>(bytes.size()), nullptr);
  const auto r = run({"ffmpeg", "-nostdin", "-v", "error", "-i", ogg, "-ac", "1", "-ar", "48000", "-y", wav}, 60);
  PcmAudio audio;
  if (r.exitStatus != 0 || !roomcast::audio::readWav(wav, audio)) return 0;
  const auto mono = roomcast::audio::toMonoFloat(audio);
  return roomcast::audio::fractionOfWindowsWithTone(mono, audio.sampleRate, frequency) * audio.seconds();
}

class RecordingS3 : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(g_file_test(sourcePath("node_modules/s3rver/package.json").c_str(), G_FILE_TEST_EXISTS))
        << "npm s3rver is missing: bash scripts/setup.sh installs it";
    server_ = std::make_unique<S3Server>(kBucket);
    ASSERT_TRUE(server_->start()) << server_->log();
    dir_ = makeTempDir("roomcast-s3-rec-");
  }
  void TearDown() override { removeTempDir(dir_); }
  // Records a room (`local`: its file) and waits until the archive's listing (`listing`) shows
  // `field` of that recording: where the upload went, or why it failed.
  void recordUntilListed(const Daemon& daemon, const char* field, std::string& local, std::string& listing) {
    local = recordARoom(daemon);
    ASSERT_FALSE(local.empty());
    ASSERT_TRUE(pollUntil([&] {
      listing = http("GET", daemon.url() + "/api/v1/recordings").body;
      return !jsonString(listing, field).empty();
    }, 60, 0.2)) << listing << daemon.log() << server_->log();
  }
  std::unique_ptr<S3Server> server_;
  std::string dir_;
};

TEST_F(RecordingS3, FinishedRecordingIsUploadedVerifiedThenRemovedLocally) {
  Daemon daemon({"--config", s3Config(dir_, *server_, S3Server::kSecretKey)});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  std::string local, listing;
  ASSERT_NO_FATAL_FAILURE(recordUntilListed(daemon, "recordings.0.storage.s3", local, listing));
  const std::string url = jsonString(listing, "recordings.0.storage.s3");
  const std::string file = local.substr(local.rfind('/') + 1);
  EXPECT_EQ(url, server_->endpoint() + "/" + kBucket + "/rooms/" + jsonString(listing, "recordings.0.room") + "/" + file);
  EXPECT_EQ(jsonString(listing, "recordings.0.url"), url) << "played from S3 once the local copy is gone";
  EXPECT_TRUE(pollUntil([&] { return !g_file_test(local.c_str(), G_FILE_TEST_EXISTS); }, 10))
      << "the local copy goes once the upload is verified";

  const S3Object object = signedGet(S3Server::kAccessKey, S3Server::kSecretKey, url);
  ASSERT_EQ(object.status, 200);
  EXPECT_GE(toneSecondsIn(object.body, dir_, 440), 3.0) << "the object is the recording: it holds the 4 s tone";
  EXPECT_NE(daemon.log().find("verified"), std::string::npos) << daemon.log();
}

TEST_F(RecordingS3, WrongSecretFailsLoudlyAndKeepsTheLocalFile) {
  Daemon daemon({"--config", s3Config(dir_, *server_, "not-the-secret")});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  std::string local, listing;
  ASSERT_NO_FATAL_FAILURE(recordUntilListed(daemon, "recordings.0.storage.upload_error", local, listing));
  EXPECT_NE(jsonString(listing, "recordings.0.storage.upload_error").find("SignatureDoesNotMatch"), std::string::npos)
      << listing;
  EXPECT_TRUE(jsonString(listing, "recordings.0.storage.s3").empty());
  EXPECT_EQ(jsonString(listing, "recordings.0.storage.local"), local);
  EXPECT_NE(daemon.log().find("FAILED"), std::string::npos) << "loud in the log: " << daemon.log();
  // The local recording is untouched and still served.
  g_autofree char* bytes = nullptr;
  gsize size = 0;
  ASSERT_TRUE(g_file_get_contents(local.c_str(), &bytes, &size, nullptr));
  EXPECT_GE(toneSecondsIn(std::string(bytes, size), dir_, 440), 3.0);
  EXPECT_EQ(http("GET", jsonString(listing, "recordings.0.url")).status, 200);
}

}  // namespace
