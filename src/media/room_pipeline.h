// One GstPipeline per room:
//
//   speakers' branches ─▶ mixminus.sink_N       mixminus keeps the room's time itself, so the
//                         mixminus.minus_N ─▶    program runs with or without speakers
//   mixminus.src ─ tee ─┬─ pipelines/program-hls.pipeline     (AAC → hlssink2)
//                       ├─ pipelines/program-hls-low.pipeline (AAC, 24 kbps), if configured
//   mixminus.record ─ pipelines/program-record.pipeline       (Opus → Ogg → file), while recording
//                       └─ opusenc ─ tee "program-opus"        the program encoded once for every
//                                                              silent speaker's return
//
// The mixer's one thread pushes every output; the fragments start with a queue so each output
// runs on a thread of its own. HLS segments go to memory (media/hls_memory_sink.h), the
// recording to a file. An output that fails (the recording on a full disk, a muxer error)
// costs that output for a while, never the room: its error stops at its input
// (media/output_branch.h) and the branch is rebuilt on the control thread with a back-off.
//
// Owned and changed on the control thread only. Its bus is watched on the control context.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "glib_support/source.h"
#include "hls/defaults.h"
#include "media/direct_rtp_return.h"
#include "media/gst_ptr.h"
#include "media/hls_memory_sink.h"
#include "media/peer_gates.h"

namespace roomcast::media {

struct RoomPipelineConfig {
  std::string roomId;
  std::string pipelinesDir;
  std::string recordingPath;   // empty: not recorded
  int opusBitrate = 32000;     // of the shared program encoding (silent speakers' return)
  unsigned mixerMaxWaitMs = 18; // how long a due frame waits for a late speaker
  bool lowRendition = true;    // a second, low-bandwidth HLS rendition
  unsigned hlsSegmentMs = hls::kDefaultSegmentMs;  // HLS segment length (hlssink2 only knows whole seconds)
  // Segments are named segment%05d.ts (low%05d.ts), or segment-<tag>-%05d.ts with a tag: a
  // room reopened after a failover must not reuse a name its dead owner served (the edge
  // caches segments by path, as immutable), so each such start has a tag of its own.
  std::string segmentTag;
  unsigned recordStopDeadlineMs = 5000;  // a stopped recording's branch is dropped after this without its EOS
  GMainContext* context = nullptr;
};

class RoomPipeline {
  // Only start() can make one, so only it constructs: the constructor is public for std::make_unique.
  struct Passkey {
    explicit Passkey() = default;
  };

 public:
  // One mixer input's speech level over the last interval.
  struct InputLevel {
    std::string mixerPad;
    double rmsDb;
  };
  // Run on the control context. onError gets the name of the pipeline child that failed;
  // onLevels the level of each mixer input that sent audio, every 100 ms while any does.
  // An HLS segment was closed: which rendition ("main", "low"), when it ended (wall clock,
  // from the pipeline's running time), and what hlssink2 handed over since the last one: the
  // segments it listed (with their bytes) and the names it let go of.
  struct SegmentClosed {
    std::string rendition;
    int64_t endUnixMs = 0;
    HlsMemorySink::Closed closed;
  };
  struct Handlers {
    std::function<void(const std::string& childName, const std::string& message)> onError;
    std::function<void(const std::vector<InputLevel>& levels)> onLevels;
    std::function<void(const SegmentClosed& segment)> onSegmentClosed;
    // A speaker's recognizer heard something: `final` ends an utterance (partials come first).
    std::function<void(const std::string& element, const std::string& text, bool final)> onRecognized;
    // A speaker's recognizer branch took in the end of its stream (SpeakerPeer::beginFlush):
    // every word it had is reported above. `element` names the branch's sink.
    std::function<void(const std::string& element)> onRecognizerFlushed;
    // The recording's branch failed (a full disk): it is gone; the room goes on.
    std::function<void(const std::string& message)> onRecordingFailed;
    // An HLS rendition's branch failed (an element's error): it is gone until it is rebuilt; the
    // mixer and the speakers' returns go on.
    std::function<void(const std::string& rendition, const std::string& message)> onHlsFailed;
    // A failed rendition runs again: its next segment starts a new timeline.
    std::function<void(const std::string& rendition)> onHlsRestarted;
  };
  // An HLS rendition is given up on for this long after its first failure in a row, doubling
  // with each further one up to the last figure.
  static constexpr unsigned kHlsRetryFirstMs = 500;
  static constexpr unsigned kHlsRetryMaxMs = 4000;

  static core::Result<std::unique_ptr<RoomPipeline>> start(const RoomPipelineConfig& config, Handlers handlers);
  RoomPipeline(Passkey, RoomPipelineConfig config, Handlers handlers);
  ~RoomPipeline();
  RoomPipeline(const RoomPipeline&) = delete;
  RoomPipeline& operator=(const RoomPipeline&) = delete;

  GstBin* bin() const { return GST_BIN(pipeline_.get()); }
  GstElement* mixer() const { return mixer_.get(); }
  // The program in Opus, encoded once; silent speakers' returns branch off here.
  GstElement* programOpus() const { return programOpus_.get(); }
  SharedListeners* sharedListeners() const { return sharedListeners_; }
  // The silent plain-RTP speakers, sent the program's Opus frames straight from its encoder.
  const std::shared_ptr<SharedReturnFanout>& directReturns() const { return directReturns_; }
  const RoomPipelineConfig& config() const { return config_; }

  // Ends the program: EOS flows from the mixer to HLS (ENDLIST) and the recording (Ogg
  // trailer). `done(clean)` runs on the control context once every output
  // has finished, or with clean=false after `deadlineMs`. Remove speakers before calling.
  void finish(unsigned deadlineMs, std::function<void(bool clean)> done);

  // Recording: pipelines/program-record.pipeline on the mixer's record pad, one file at a
  // time. stopRecording finishes the file (Ogg trailer) and calls done(clean) on the control
  // context; abortRecording drops the branch at once (after an error).
  core::Status startRecording(const std::string& path);
  void stopRecording(std::function<void(bool clean)> done);
  void abortRecording();
  bool recording() const { return static_cast<bool>(recordBin_); }
  // HLS renditions that are down now (failed, waiting to be rebuilt).
  unsigned hlsOutputsDown() const;

  // Writes the current graph as a dot file (GST_DEBUG_DUMP_DOT_DIR must be set).
  void dumpDot(const std::string& name) const;

 private:
  core::Status build();
  // Sync handler (any thread): passes only the messages onBusMessage reads.
  static GstBusSyncReply filterBusMessage(GstBus* bus, GstMessage* message, gpointer unused);
  static gboolean onBusMessage(GstBus* bus, GstMessage* message, gpointer self);
  void completeFinish(bool clean);
  // One HLS rendition's branch, replaced as a whole after an error.
  struct HlsOutput {
    std::string rendition;      // "main", "low"
    std::string fragment;       // pipelines/<fragment>.pipeline
    std::string segmentPrefix;  // segments are named <prefix>%05d.ts (the tag included)
    std::shared_ptr<HlsMemorySink> memory;  // what the live branch's hlssink2 wrote
    ElementPtr bin;             // null while down
    GstPad* teePad = nullptr;   // the program tee's pad feeding it (a reference)
    unsigned startIndex = 0;    // the index of this branch's first segment
    unsigned closed = 0;        // segments it has closed
    unsigned failures = 0;      // in a row (no segment closed since), for the back-off
    glib_support::Source retry;  // the rebuild, while it is down
  };
  core::Status startHls(HlsOutput& output);
  void failHls(HlsOutput& output, const std::string& message);
  void retryHlsLater(HlsOutput& output);
  void onHlsRetry(HlsOutput& output);
  HlsOutput* hlsOutputOf(GstObject* object);
  int64_t unixMsAtRunningTime(GstClockTime runningTime);

  RoomPipelineConfig config_;
  Handlers handlers_;
  ElementPtr pipeline_;
  ElementPtr mixer_;
  ElementPtr programOpus_;
  ElementPtr tee_;                                     // the program, to every HLS rendition
  std::vector<std::unique_ptr<HlsOutput>> hls_;
  SharedListeners* sharedListeners_ = newSharedListeners();  // one reference
  std::shared_ptr<SharedReturnFanout> directReturns_ = std::make_shared<SharedReturnFanout>();
  glib_support::Source busWatch_;
  glib_support::Source finishDeadline_;
  std::function<void(bool)> finishDone_;
  int64_t unixMsAtRunningZero_ = 0;  // wall clock of running time 0, once known
  ElementPtr recordBin_;              // the recording's branch, while recording
  unsigned recordSerial_ = 0;
};

}  // namespace roomcast::media
