// oggOpusDurationSeconds against what ffmpeg decodes, on files made by the same elements as a
// recording (opusenc ! oggmux): one that starts at 0, one whose first timestamp is 5 s in (a
// recording started mid-room: oggmux starts its granule there), and one cut mid-page (a crash).
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <fstream>

#include "audio/wav.h"
#include "media/ogg_duration.h"
#include "processes.h"

using namespace roomcast::testing;

namespace {

// 3 s of tone through opusenc ! oggmux, timestamps starting at `offsetSeconds`.
std::string encode(const std::string& dir, const char* name, double offsetSeconds) {
  const std::string path = dir + "/" + name;
  const std::string line = "audiotestsrc num-buffers=150 samplesperbuffer=960 timestamp-offset=" +
                           std::to_string(static_cast<long long>(offsetSeconds * GST_SECOND)) +
                           " ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! opusenc frame-size=20 ! oggmux ! "
                           "filesink location=" + path;
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(line.c_str(), &error);
  EXPECT_EQ(error, nullptr) << (error ? error->message : "");
  if (!pipeline) return path;
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* done = gst_bus_timed_pop_filtered(bus, 30 * GST_SECOND,
                                                static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  EXPECT_TRUE(done && GST_MESSAGE_TYPE(done) == GST_MESSAGE_EOS);
  if (done) gst_message_unref(done);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return path;
}

double decodedSeconds(const std::string& path) {
  const std::string wav = path + ".wav";
  const auto r = run({"ffmpeg", "-nostdin", "-v", "error", "-i", path, "-ac", "1", "-ar", "48000", "-y", wav}, 60);
  roomcast::audio::PcmAudio audio;
  return r.exitStatus == 0 && roomcast::audio::readWav(wav, audio) ? audio.seconds() : -1;
}

TEST(OggDuration, MatchesWhatFfmpegDecodes) {
  const TempDir scratch("roomcast-ogg-");
  const std::string& dir = scratch.path();
  for (double offset : {0.0, 5.0}) {
    const std::string path = encode(dir, offset == 0 ? "zero.ogg" : "offset.ogg", offset);
    const double decoded = decodedSeconds(path);
    ASSERT_GT(decoded, 2.9) << path;
    EXPECT_NEAR(roomcast::media::oggOpusDurationSeconds(path).value_or(-1), decoded, 0.03)
        << "first timestamp at " << offset << " s";
  }
}

TEST(OggDuration, FileCutMidPageGivesTheCompletePages) {
  const TempDir scratch("roomcast-ogg-");
  const std::string& dir = scratch.path();
  const std::string whole = encode(dir, "whole.ogg", 5.0);
  std::ifstream in(whole, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = dir + "/cut.ogg";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() * 2 / 3 + 7);  // mid-page
  const double decoded = decodedSeconds(cut);
  ASSERT_GT(decoded, 1.0);
  EXPECT_NEAR(roomcast::media::oggOpusDurationSeconds(cut).value_or(-1), decoded, 0.3);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
