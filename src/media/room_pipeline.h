// One GstPipeline per room:
//
//   audiotestsrc (silence, live) ─▶ mixminus.sink_0     the bed keeps the clock and the
//   speakers' branches          ─▶ mixminus.sink_N     program running with no speakers
//   mixminus.src ─ tee ─┬─ pipelines/program-hls.pipeline     (AAC → hlssink2)
//                       ├─ pipelines/program-record.pipeline  (Opus → Ogg → file), if recording
//                       └─ queue ─ opusenc ─ tee "program-opus"  the program encoded once for
//                                                  every silent speaker's return (encode_silent_once)
//
// Owned and changed on the control thread only. Its bus is watched on the control context.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "media/gst_ptr.h"

namespace roomcast::media {

struct RoomPipelineConfig {
  std::string roomId;
  std::string pipelinesDir;
  std::string hlsDir;          // playlist and segments go here
  std::string recordingPath;   // empty: not recorded
  int opusBitrate = 32000;     // of the shared program encoding (silent speakers' return)
  bool encodeSilentOnce = false;  // build the shared program encoding at all
  GMainContext* context = nullptr;
};

class RoomPipeline {
 public:
  // Run on the control context. onError gets the name of the pipeline child that failed;
  // onLevel the name of a level element and its RMS in dBFS.
  struct Handlers {
    std::function<void(const std::string& childName, const std::string& message)> onError;
    std::function<void(const std::string& element, double rmsDb)> onLevel;
  };

  static core::Result<std::unique_ptr<RoomPipeline>> start(const RoomPipelineConfig& config, Handlers handlers);
  ~RoomPipeline();
  RoomPipeline(const RoomPipeline&) = delete;
  RoomPipeline& operator=(const RoomPipeline&) = delete;

  GstBin* bin() const { return GST_BIN(pipeline_.get()); }
  GstElement* mixer() const { return mixer_.get(); }
  // The program in Opus, encoded once; silent speakers' returns branch off here.
  GstElement* programOpus() const { return programOpus_.get(); }
  const RoomPipelineConfig& config() const { return config_; }

  // Ends the program: EOS flows from the bed through the mixer to HLS (ENDLIST) and the
  // recording (Ogg trailer). `done(clean)` runs on the control context once every output
  // has finished, or with clean=false after `deadlineMs`. Remove speakers before calling.
  void finish(unsigned deadlineMs, std::function<void(bool clean)> done);

  // Writes the current graph as a dot file (GST_DEBUG_DUMP_DOT_DIR must be set).
  void dumpDot(const std::string& name) const;

 private:
  RoomPipeline(RoomPipelineConfig config, Handlers handlers);
  core::Status build();
  static gboolean onBusMessage(GstBus* bus, GstMessage* message, gpointer self);
  void completeFinish(bool clean);

  RoomPipelineConfig config_;
  Handlers handlers_;
  ElementPtr pipeline_;
  ElementPtr bed_;
  ElementPtr mixer_;
  ElementPtr programOpus_;
  GSource* busWatch_ = nullptr;
  GSource* finishDeadline_ = nullptr;
  std::function<void(bool)> finishDone_;
  bool eosWhenPlaying_ = false;
};

}  // namespace roomcast::media
