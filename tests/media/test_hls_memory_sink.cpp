// HlsMemorySink: hlssink2 writes into memory. A tone is encoded and cut into segments by a real
// hlssink2 whose working directory is an empty one of the test's: every segment it lists comes
// out whole (MPEG-TS packets, the sync byte first) with the duration hlssink2 measured, each
// listed once, in order; the segments it lets go of (max-files) are named; and nothing at all
// was written to the directory.
#include <glib.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "media/hls_memory_sink.h"

using roomcast::media::HlsMemorySink;

namespace {

size_t filesIn(const std::string& dir) {
  size_t n = 0;
  g_autoptr(GDir) d = g_dir_open(dir.c_str(), 0, nullptr);
  while (d && g_dir_read_name(d)) n++;
  return n;
}

TEST(HlsMemorySink, HlssinkSegmentsArriveWholeInMemoryAndNothingTouchesTheDisk) {
  g_autofree char* dir = g_dir_make_tmp("roomcast-hls-memory-XXXXXX", nullptr);
  ASSERT_NE(dir, nullptr);
  g_autofree char* previous = g_get_current_dir();
  ASSERT_EQ(chdir(dir), 0);  // where hlssink2's relative locations would land
  // 4 s of a 440 Hz tone, as fast as it encodes, cut into 1 s segments; hlssink2 keeps 2.
  g_autoptr(GError) error = nullptr;
  GstElement* pipeline = gst_parse_launch(
      "audiotestsrc freq=440 num-buffers=188 samplesperbuffer=1024 ! audio/x-raw,rate=48000,channels=1 "
      "! voaacenc bitrate=48000 ! aacparse ! hlssink2 name=hls target-duration=1 max-files=2 "
      "location=segment%05d.ts playlist-location=index.m3u8",
      &error);
  ASSERT_NE(pipeline, nullptr) << error->message;
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "hls");
  std::shared_ptr<HlsMemorySink> memory = HlsMemorySink::attach(sink);

  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  HlsMemorySink::Closed all;
  size_t closedMessages = 0;
  for (;;) {  // each closed segment is taken when its message arrives, as RoomPipeline does
    g_autoptr(GstMessage) message = gst_bus_timed_pop_filtered(
        bus, 30 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT));
    ASSERT_NE(message, nullptr) << "no end of stream within 30 s";
    ASSERT_NE(GST_MESSAGE_TYPE(message), GST_MESSAGE_ERROR);
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS) break;
    const GstStructure* s = gst_message_get_structure(message);
    if (!s || !gst_structure_has_name(s, "splitmuxsink-fragment-closed")) continue;
    closedMessages++;
    HlsMemorySink::Closed closed = memory->take();
    EXPECT_EQ(closed.segments.size(), 1u) << "the segment is there when its message is";
    for (size_t i = 0; i < closed.segments.size(); i++) {
      all.segments.push_back(closed.segments[i]);
      all.bytes.push_back(closed.bytes[i]);
    }
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  ASSERT_EQ(chdir(previous), 0);

  ASSERT_GE(all.segments.size(), 3u);
  EXPECT_EQ(all.segments.size(), closedMessages);
  double seconds = 0;
  for (size_t i = 0; i < all.segments.size(); i++) {
    char expected[32];
    g_snprintf(expected, sizeof expected, "segment%05zu.ts", i);
    EXPECT_EQ(all.segments[i].name, expected) << "each listed once, in order";
    const std::string& bytes = *all.bytes[i];
    ASSERT_GT(bytes.size(), 188u) << expected;
    EXPECT_EQ(bytes.size() % 188, 0u) << expected << ": whole MPEG-TS packets";
    EXPECT_EQ(bytes[0], 0x47) << expected;
    seconds += all.segments[i].duration;
  }
  EXPECT_NEAR(seconds, 188 * 1024 / 48000.0, 0.1) << "the durations hlssink2 measured add up to the tone";
  EXPECT_EQ(filesIn(dir), 0u) << "nothing written to the working directory";
  g_rmdir(dir);
}

}  // namespace
