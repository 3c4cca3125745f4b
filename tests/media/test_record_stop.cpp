// RoomPipeline::stopRecording: whichever of the recording's EOS and its deadline comes first
// finishes the stop, exactly once. The hazard tested: the EOS passes the file's pad (its
// callback posted to the control thread) while the deadline is already due; the deadline
// runs first, tears the branch down and frees the stop, and then the EOS's callback runs.
// It must find nothing to finish (under ASan, a callback holding a raw pointer to the stop
// is a heap-use-after-free here).
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "media/room_pipeline.h"
#include "processes.h"
#include "wait.h"

using roomcast::media::RoomPipeline;
using roomcast::media::RoomPipelineConfig;

namespace {

constexpr auto kEventTimeout = std::chrono::seconds(10);

off_t fileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// Holds the recording's EOS at the file's pad until opened (its probe comes before the
// pipeline's own), and tells when the EOS has passed every probe added after it.
struct EosGate {
  std::mutex mutex;
  std::condition_variable changed;
  bool opened = false;
  bool passed = false;

  static GstPadProbeReturn hold(GstPad*, GstPadProbeInfo* info, gpointer data) {
    if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) != GST_EVENT_EOS) return GST_PAD_PROBE_OK;
    auto* gate = static_cast<EosGate*>(data);
    std::unique_lock lock(gate->mutex);
    gate->changed.wait_for(lock, kEventTimeout, [gate] { return gate->opened; });
    return GST_PAD_PROBE_REMOVE;
  }
  static GstPadProbeReturn observe(GstPad*, GstPadProbeInfo* info, gpointer data) {
    if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) != GST_EVENT_EOS) return GST_PAD_PROBE_OK;
    auto* gate = static_cast<EosGate*>(data);
    std::lock_guard lock(gate->mutex);
    gate->passed = true;
    gate->changed.notify_all();
    return GST_PAD_PROBE_REMOVE;
  }
};

class RecordStopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    context_ = g_main_context_new();
    dir_ = g_dir_make_tmp("roomcast-record-stop-XXXXXX", nullptr);
    ASSERT_NE(dir_, nullptr);
  }
  void TearDown() override {
    room_.reset();
    while (g_main_context_iteration(context_, FALSE)) {
    }
    g_main_context_unref(context_);
    g_unlink(recordingPath().c_str());
    g_rmdir(dir_);
    g_free(dir_);
  }

  std::string recordingPath() const { return std::string(dir_) + "/room.ogg"; }

  // A room recording from the start, until its file has its first pages.
  void startRecordingRoom(unsigned stopDeadlineMs) {
    RoomPipelineConfig config;
    config.roomId = "record-stop";
    config.pipelinesDir = roomcast::testing::sourcePath("pipelines");
    config.recordingPath = recordingPath();
    config.lowRendition = false;
    config.recordStopDeadlineMs = stopDeadlineMs;
    config.context = context_;
    auto started = RoomPipeline::start(config, {});
    ASSERT_TRUE(started) << started.error().message;
    room_ = std::move(started.value());
    ASSERT_TRUE(roomcast::testing::pollUntil([&] { return fileSize(recordingPath()) > 0; }, 10))
        << "the recording never wrote its first page";
  }

  GstPad* fileSinkPad() {
    g_autoptr(GstElement) record = gst_bin_get_by_name(room_->bin(), "record-1");
    g_autoptr(GstElement) file = record ? gst_bin_get_by_name(GST_BIN(record), "file") : nullptr;
    return file ? gst_element_get_static_pad(file, "sink") : nullptr;
  }

  GMainContext* context_ = nullptr;
  char* dir_ = nullptr;
  std::unique_ptr<RoomPipeline> room_;
  std::vector<bool> stops_;  // each done(clean), in order
};

TEST_F(RecordStopTest, AnEosWhoseCallbackRunsAfterTheDeadlineFindsTheStopAlreadyFinished) {
  ASSERT_NO_FATAL_FAILURE(startRecordingRoom(0));  // the deadline is due at the first iteration
  g_autoptr(GstPad) fileSink = fileSinkPad();
  ASSERT_NE(fileSink, nullptr);
  EosGate gate;
  gst_pad_add_probe(fileSink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, &EosGate::hold, &gate, nullptr);

  room_->stopRecording([this](bool clean) { stops_.push_back(clean); });
  gst_pad_add_probe(fileSink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, &EosGate::observe, &gate, nullptr);
  {
    std::unique_lock lock(gate.mutex);
    gate.opened = true;
    gate.changed.notify_all();
    ASSERT_TRUE(gate.changed.wait_for(lock, kEventTimeout, [&] { return gate.passed; }))
        << "the EOS never reached the file";
  }
  // The control context has not run since: the deadline (attached first) and the EOS's
  // callback are both due, and the deadline is dispatched first.
  ASSERT_TRUE(roomcast::testing::iterateUntil(context_, [&] { return !stops_.empty(); }, 10));
  while (g_main_context_iteration(context_, FALSE)) {
  }
  EXPECT_EQ(stops_, std::vector<bool>{false}) << "finished once, by the deadline";
  EXPECT_FALSE(room_->recording());
  g_autoptr(GstElement) record = gst_bin_get_by_name(room_->bin(), "record-1");
  EXPECT_EQ(record, nullptr) << "the recording's branch is gone from the pipeline";
}

TEST_F(RecordStopTest, AnEosBeforeTheDeadlineFinishesTheStopCleanlyOnce) {
  ASSERT_NO_FATAL_FAILURE(startRecordingRoom(5000));
  room_->stopRecording([this](bool clean) { stops_.push_back(clean); });
  ASSERT_TRUE(roomcast::testing::iterateUntil(context_, [&] { return !stops_.empty(); }, 10));
  while (g_main_context_iteration(context_, FALSE)) {
  }
  EXPECT_EQ(stops_, std::vector<bool>{true});
  g_autoptr(GstElement) record = gst_bin_get_by_name(room_->bin(), "record-1");
  EXPECT_EQ(record, nullptr);
}

}  // namespace
