#include "media/room_pipeline.h"

#include <glib/gstdio.h>

#include <algorithm>

#include "glib_support/owned_data.h"
#include "glib_support/post_to_context.h"
#include "media/debug.h"
#include "media/output_branch.h"
#include "media/pipeline_fragment.h"
#include "media/speaker_peer.h"
#include "media/webrtc_util.h"

#define GST_CAT_DEFAULT roomcast_room_debug

namespace roomcast::media {

using core::Error;
using core::ErrorCode;

RoomPipeline::RoomPipeline(Passkey, RoomPipelineConfig config, Handlers handlers)
    : config_(std::move(config)), handlers_(std::move(handlers)) {}

core::Result<std::unique_ptr<RoomPipeline>> RoomPipeline::start(const RoomPipelineConfig& config, Handlers handlers) {
  auto room = std::make_unique<RoomPipeline>(Passkey(), config, std::move(handlers));
  if (auto built = room->build(); !built) return built.error();
  if (gst_element_set_state(room->pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    return Error{ErrorCode::Internal, "the room pipeline did not start"};
  GST_INFO("room %s: pipeline playing", config.roomId.c_str());
  return room;
}

// Where roomcastd reaches inside hlssink2, for what its properties cannot say (1.22; the
// other place is writeTablesOncePerSegment, through the message a segment's close posts):
// its target-duration counts whole seconds and its segments are numbered from 0, while the
// splitmuxsink inside it takes any length (max-size-time) and a first index (start-index).
// Shorter segments let players start closer to live: they start a few segments behind the
// newest (GStreamer's hlsdemux four, hls.js two target durations). A rebuilt rendition numbers
// its segments on where the failed one stopped: the names stay unique in the served window,
// which lists segments by name.
static void setSegmentLengthAndFirstIndex(GstBin* hlssink2, unsigned segmentMs, unsigned startIndex) {
  GstIterator* children = gst_bin_iterate_elements(hlssink2);
  GValue child = G_VALUE_INIT;
  while (gst_iterator_next(children, &child) == GST_ITERATOR_OK) {
    auto* element = GST_ELEMENT(g_value_get_object(&child));
    GstElementFactory* factory = gst_element_get_factory(element);
    if (factory && g_str_equal(gst_plugin_feature_get_name(GST_PLUGIN_FEATURE(factory)), "splitmuxsink"))
      g_object_set(element, "max-size-time", static_cast<guint64>(segmentMs) * GST_MSECOND, "start-index",
                   static_cast<gint>(startIndex), nullptr);
    g_value_reset(&child);
  }
  g_value_unset(&child);
  gst_iterator_free(children);
}

// mpegtsmux writes PAT and PMT every 100 ms by default: a third of a 48 kbps segment. Every
// segment starts with both anyway (the muxer is reset per segment), which is all a player
// joining at a segment needs, so after that they are left out. Called when a segment closes:
// 1.22's mpegtsmux asserts if pmt-interval is set before its program exists.
static void writeTablesOncePerSegment(GstObject* splitmuxsink) {
  constexpr guint kTenSeconds = 10 * 90000;  // in ticks of the 90 kHz MPEG clock
  GstElement* muxer = nullptr;
  if (!g_object_class_find_property(G_OBJECT_GET_CLASS(splitmuxsink), "muxer")) return;
  g_object_get(splitmuxsink, "muxer", &muxer, nullptr);
  if (!muxer) return;
  guint pmt = 0;
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(muxer), "pmt-interval")) {
    g_object_get(muxer, "pmt-interval", &pmt, nullptr);
    if (pmt != kTenSeconds) g_object_set(muxer, "pat-interval", kTenSeconds, "pmt-interval", kTenSeconds, nullptr);
  }
  gst_object_unref(muxer);
}

static core::Status linkIntoTee(GstBin* pipeline, GstElement* tee, GstElement* output) {
  if (!GST_OBJECT_PARENT(output)) gst_bin_add(pipeline, output);
  g_autoptr(GstPad) teeSrc = gst_element_request_pad_simple(tee, "src_%u");
  g_autoptr(GstPad) sink = gst_element_get_static_pad(output, "sink");
  if (!teeSrc || !sink || gst_pad_link(teeSrc, sink) != GST_PAD_LINK_OK)
    return Error{ErrorCode::Internal, std::string("cannot link output ") + GST_OBJECT_NAME(output)};
  return core::Ok{};
}

core::Status RoomPipeline::build() {
  pipeline_ = ElementPtr::adopt(gst_pipeline_new(("room-" + config_.roomId).c_str()));
  mixer_ = makeElement("mixminus", "mixer");
  ElementPtr tee = makeElement("tee", "program");
  if (!tee) return Error{ErrorCode::Internal, "GStreamer core elements are missing"};
  if (!mixer_) return Error{ErrorCode::Internal, "the mixminus element is missing (GST_PLUGIN_PATH)"};

  // Speakers come and go; the room ends only when told (finish()). Levels drive the
  // active-speaker events.
  g_object_set(mixer_.get(), "eos-after-inputs", FALSE, "level-interval", G_GUINT64_CONSTANT(100000000), "max-wait",
               static_cast<guint64>(config_.mixerMaxWaitMs) * GST_MSECOND, nullptr);
  // Program outputs must never hold the mixer back; each fragment starts with its own queue.
  g_object_set(tee.get(), "allow-not-linked", TRUE, nullptr);

  GstBin* bin = GST_BIN(pipeline_.get());
  gst_bin_add_many(bin, mixer_.get(), tee.get(), nullptr);
  if (!gst_element_link(mixer_.get(), tee.get())) return Error{ErrorCode::Internal, "cannot link the room's mixer"};

  // One hlssink2 per rendition, writing into memory (media/hls_memory_sink.h). roomcastd
  // renders the playlists that are served itself (see hls/hls_room.h): hlssink2's own only
  // tell it which segments are whole and how long they are.
  tee_ = tee;
  auto addOutput = [&](const char* rendition, const char* fragment, const char* prefix) {
    auto output = std::make_unique<HlsOutput>();
    output->rendition = rendition;
    output->fragment = fragment;
    output->segmentPrefix = config_.segmentTag.empty() ? prefix : prefix + ("-" + config_.segmentTag + "-");
    hls_.push_back(std::move(output));
  };
  addOutput("main", "program-hls", "segment");
  if (config_.lowRendition) addOutput("low", "program-hls-low", "low");
  for (auto& output : hls_)
    if (auto started = startHls(*output); !started) return started;

  // Encode once what every silent speaker hears (mixminus skip-silent: their minus is the
  // program): one encoder for all of them instead of one each. In the mixer's thread, like
  // the speakers' own encoders.
  ElementPtr encoder = makeElement("opusenc", "program-opus-enc");
  programOpus_ = makeElement("tee", "program-opus");
  if (!encoder || !programOpus_) return Error{ErrorCode::Internal, "the Opus plugins are missing"};
  configureVoiceOpusEncoder(encoder.get(), config_.opusBitrate, false);
  g_object_set(programOpus_.get(), "allow-not-linked", TRUE, nullptr);
  gst_bin_add_many(bin, encoder.get(), programOpus_.get(), nullptr);
  if (!gst_element_link(encoder.get(), programOpus_.get()))
    return Error{ErrorCode::Internal, "cannot link the program's Opus encoder"};
  if (auto linked = linkIntoTee(bin, tee.get(), encoder.get()); !linked) return linked;
  // Nobody silent on stage (or nobody on stage): nothing to encode.
  g_autoptr(GstPad) encoderSink = gst_element_get_static_pad(encoder.get(), "sink");
  addSharedEncoderGate(encoderSink, sharedListeners_);
  g_autoptr(GstPad) encoderSrc = gst_element_get_static_pad(encoder.get(), "src");
  addSharedReturnFanout(encoderSrc, directReturns_);

  if (!config_.recordingPath.empty())
    if (auto started = startRecording(config_.recordingPath); !started) return started;

  g_autoptr(GstBus) bus = gst_pipeline_get_bus(GST_PIPELINE(pipeline_.get()));
  // Only what onBusMessage reads goes to the control loop. The rest (state changes and
  // stream-status of every element: hlssink2 makes a new file sink for each segment) was
  // about 30 messages a second per idle room, each a wake-up of the control thread and an
  // iteration over all its descriptors, i.e. over every WebSocket of every room.
  gst_bus_set_sync_handler(bus, &RoomPipeline::filterBusMessage, nullptr, nullptr);
  GSource* watch = gst_bus_create_watch(bus);
  // GLib 2.74 blocks a source for its dispatch by taking its descriptor out of the poll set
  // and putting it back, and each of those wakes the loop: one wasted iteration over every
  // descriptor (every WebSocket) per bus message. onBusMessage never iterates the loop, so
  // the block is not needed.
  g_source_set_can_recurse(watch, TRUE);
  // A bus source calls a GstBusFunc through the GSourceFunc slot; the double cast says so.
  busWatch_ = glib_support::Source::attach(
      watch, config_.context,
      reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)()>(&RoomPipeline::onBusMessage)), this);
  return core::Ok{};
}

RoomPipeline::~RoomPipeline() {
  // Before the pipeline stops: no callback into this object from here on.
  finishDeadline_.reset();
  busWatch_.reset();
  for (auto& output : hls_) output->retry.reset();
  if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
  for (auto& output : hls_)
    if (output->teePad) gst_object_unref(output->teePad);
  pipeline_.reset();
  unrefSharedListeners(sharedListeners_);
  GST_INFO("room %s: pipeline destroyed", config_.roomId.c_str());
}

// The name of the direct child of the pipeline that contains `object`.
static std::string topLevelChildName(GstObject* object, GstObject* pipeline) {
  GstObject* current = object;
  while (current && GST_OBJECT_PARENT(current) && GST_OBJECT_PARENT(current) != pipeline)
    current = GST_OBJECT_PARENT(current);
  return current ? GST_OBJECT_NAME(current) : "";
}

// A sync handler that drops a message owns it. Each message holds its source: left
// unreffed, every state change kept its element alive for good, and a speaker's webrtcbin
// with it (its ICE agent, sockets and threads: ~16 fds and 2 threads per session).
static GstBusSyncReply dropMessage(GstMessage* message) {
  gst_message_unref(message);
  return GST_BUS_DROP;
}

GstBusSyncReply RoomPipeline::filterBusMessage(GstBus*, GstMessage* message, gpointer) {
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ERROR:
    case GST_MESSAGE_EOS:
      return GST_BUS_PASS;
    case GST_MESSAGE_ELEMENT: {
      const GstStructure* s = gst_message_get_structure(message);
      const bool read = s && (gst_structure_has_name(s, "splitmuxsink-fragment-closed") ||
                              gst_structure_has_name(s, "pocketsphinx") || gst_structure_has_name(s, "mixminus-levels") ||
                              gst_structure_has_name(s, SpeakerPeer::kRecognizerFlushed));
      return read ? GST_BUS_PASS : dropMessage(message);
    }
    default:
      return dropMessage(message);
  }
}

gboolean RoomPipeline::onBusMessage(GstBus*, GstMessage* message, gpointer data) {
  auto* self = static_cast<RoomPipeline*>(data);
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ERROR: {
      g_autoptr(GError) error = nullptr;
      g_autofree char* debug = nullptr;
      gst_message_parse_error(message, &error, &debug);
      std::string text = error->message;
      GstObject* source = GST_MESSAGE_SRC(message);
      // A failing branch may post more than one error; those that arrive after it was taken
      // out of the room find it gone, and are about nothing the room still has.
      if (!isInside(source, self->pipeline_.get())) {
        GST_DEBUG("room %s: error from a removed output: %s", self->config_.roomId.c_str(), text.c_str());
        return G_SOURCE_CONTINUE;
      }
      // An HLS rendition that fails (a full disk, no file descriptors) is rebuilt later.
      if (HlsOutput* output = self->hlsOutputOf(source)) {
        self->failHls(*output, text + (debug ? std::string(" (") + debug + ")" : std::string()));
        return G_SOURCE_CONTINUE;
      }
      // A recording that fails (a full disk) costs the recording, never the live room.
      if (self->recordBin_ && isInside(source, self->recordBin_.get())) {
        GST_WARNING("room %s: recording failed: %s", self->config_.roomId.c_str(), text.c_str());
        self->abortRecording();
        if (self->handlers_.onRecordingFailed) self->handlers_.onRecordingFailed(text);
        return G_SOURCE_CONTINUE;
      }
      const std::string child = topLevelChildName(source, GST_OBJECT(self->pipeline_.get()));
      GST_WARNING("room %s: error from %s: %s (%s)", self->config_.roomId.c_str(), child.c_str(), text.c_str(),
                  debug ? debug : "");
      if (self->handlers_.onError) self->handlers_.onError(child, text);  // may destroy self: return right after
      return G_SOURCE_CONTINUE;
    }
    case GST_MESSAGE_ELEMENT: {
      const GstStructure* s = gst_message_get_structure(message);
      GstClockTime runningTime = GST_CLOCK_TIME_NONE;
      if (s && gst_structure_has_name(s, "splitmuxsink-fragment-closed") && self->handlers_.onSegmentClosed &&
          gst_structure_get_uint64(s, "running-time", &runningTime)) {
        // hlssink2 has already listed the segment in its playlist: it handles this message
        // on its way up, before the bus sees it, so the memory sink holds the segment now.
        // Only the live branch of a rendition counts (not one removed after a failure).
        if (HlsOutput* output = self->hlsOutputOf(GST_MESSAGE_SRC(message))) {
          output->closed++;
          output->failures = 0;
          writeTablesOncePerSegment(GST_MESSAGE_SRC(message));
          self->handlers_.onSegmentClosed(
              {output->rendition, self->unixMsAtRunningTime(runningTime), output->memory->take()});
        }
        return G_SOURCE_CONTINUE;
      }
      if (s && gst_structure_has_name(s, "pocketsphinx") && self->handlers_.onRecognized) {
        gboolean final = FALSE;
        gst_structure_get_boolean(s, "final", &final);
        const char* text = gst_structure_get_string(s, "hypothesis");
        self->handlers_.onRecognized(GST_OBJECT_NAME(GST_MESSAGE_SRC(message)), text ? text : "", final);
        return G_SOURCE_CONTINUE;
      }
      // Posted after the recognizer's last words, on the same bus: they have been handled.
      if (s && gst_structure_has_name(s, SpeakerPeer::kRecognizerFlushed) && self->handlers_.onRecognizerFlushed) {
        self->handlers_.onRecognizerFlushed(GST_OBJECT_NAME(GST_MESSAGE_SRC(message)));
        return G_SOURCE_CONTINUE;
      }
      if (s && gst_structure_has_name(s, "mixminus-levels") && self->handlers_.onLevels) {
        const GValue* pads = gst_structure_get_value(s, "pads");
        const GValue* rms = gst_structure_get_value(s, "rms-db");
        std::vector<InputLevel> levels;
        for (guint i = 0; pads && rms && i < gst_value_array_get_size(pads) && i < gst_value_array_get_size(rms); i++)
          levels.push_back({g_value_get_string(gst_value_array_get_value(pads, i)),
                            g_value_get_double(gst_value_array_get_value(rms, i))});
        self->handlers_.onLevels(levels);
      }
      return G_SOURCE_CONTINUE;
    }
    case GST_MESSAGE_EOS:
      GST_INFO("room %s: program finished (EOS)", self->config_.roomId.c_str());
      if (self->finishDone_) self->completeFinish(true);
      return G_SOURCE_CONTINUE;
    default:
      return G_SOURCE_CONTINUE;
  }
}

void RoomPipeline::finish(unsigned deadlineMs, std::function<void(bool)> done) {
  finishDone_ = std::move(done);
  // A rendition that is down stays down: nothing is rebuilt for a room that is ending.
  for (auto& output : hls_) output->retry.reset();
  finishDeadline_ = glib_support::Source::timeout(
      config_.context, deadlineMs,
      [](gpointer data) -> gboolean {
        auto* self = static_cast<RoomPipeline*>(data);
        GST_WARNING("room %s: outputs did not finish in time", self->config_.roomId.c_str());
        self->completeFinish(false);
        return G_SOURCE_REMOVE;
      },
      this);
  // The mixer ends every output after the tick in progress (or at its first, if the room
  // ends before it started ticking).
  gst_element_send_event(mixer_.get(), gst_event_new_eos());
}

void RoomPipeline::completeFinish(bool clean) {
  finishDeadline_.reset();
  auto done = std::move(finishDone_);
  finishDone_ = nullptr;
  if (done) done(clean);  // may destroy this
}

// --- HLS renditions: built, failed, rebuilt -------------------------------------------

RoomPipeline::HlsOutput* RoomPipeline::hlsOutputOf(GstObject* object) {
  for (auto& output : hls_)
    if (output->bin && isInside(object, output->bin.get())) return output.get();
  return nullptr;
}

unsigned RoomPipeline::hlsOutputsDown() const {
  unsigned down = 0;
  for (const auto& output : hls_) down += output->bin ? 0 : 1;
  return down;
}

core::Status RoomPipeline::startHls(HlsOutput& output) {
  auto hls = loadFragmentBin(config_.pipelinesDir, output.fragment, "hls-" + output.rendition);
  if (!hls) return hls.error();
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(hls.value().get()), "hls");
  if (!sink) return Error{ErrorCode::Internal, output.fragment + ".pipeline must name its hlssink2 'hls'"};
  // Names only, no directory: the locations are the names segments are listed and served by.
  g_object_set(sink, "location", (output.segmentPrefix + "%05d.ts").c_str(), "playlist-location",
               (output.rendition + ".m3u8").c_str(), nullptr);
  output.memory = HlsMemorySink::attach(sink);
  setSegmentLengthAndFirstIndex(GST_BIN(sink), config_.hlsSegmentMs, output.startIndex);
  isolateBranchInput(hls.value().get());
  // The bin completes its own state changes: hlssink2's sink prerolls (ASYNC), and a branch
  // added to a playing room otherwise stays PAUSED waiting for a preroll the running
  // pipeline never completes (measured with GStreamer 1.22: a rebuilt rendition wrote one
  // segment header and stalled).
  g_object_set(hls.value().get(), "async-handling", TRUE, nullptr);
  GstBin* bin = GST_BIN(pipeline_.get());
  if (!gst_bin_add(bin, hls.value().get())) return Error{ErrorCode::Internal, "cannot add " + output.fragment};
  // In a running room, playing before the tee can push into it (at build time the pipeline is
  // still NULL and this does nothing).
  gst_element_sync_state_with_parent(hls.value().get());
  GstPad* teeSrc = gst_element_request_pad_simple(tee_.get(), "src_%u");
  g_autoptr(GstPad) input = gst_element_get_static_pad(hls.value().get(), "sink");
  if (!teeSrc || !input || gst_pad_link(teeSrc, input) != GST_PAD_LINK_OK) {
    if (teeSrc) {
      gst_element_release_request_pad(tee_.get(), teeSrc);
      gst_object_unref(teeSrc);
    }
    gst_bin_remove(bin, hls.value().get());
    discardBranch(hls.value());
    return Error{ErrorCode::Internal, "cannot link output " + output.fragment};
  }
  output.bin = hls.value();
  output.teePad = teeSrc;
  output.closed = 0;
  return core::Ok{};
}

// On the control thread, from the branch's first error. The mixer is not waited for: the
// tee's pad is unlinked and released between two of its pushes (the pad's stream lock), and
// a push into the branch never blocks (a leaky queue) nor fails (isolateBranchInput).
void RoomPipeline::failHls(HlsOutput& output, const std::string& message) {
  if (!output.bin) return;
  GST_WARNING("room %s: HLS rendition %s failed after %u segments: %s", config_.roomId.c_str(),
              output.rendition.c_str(), output.closed, message.c_str());
  ElementPtr bin = std::move(output.bin);
  output.bin.reset();
  g_autoptr(GstPad) input = gst_element_get_static_pad(bin.get(), "sink");
  gst_pad_unlink(output.teePad, input);
  gst_element_release_request_pad(tee_.get(), output.teePad);
  gst_object_unref(output.teePad);
  output.teePad = nullptr;
  gst_bin_remove(GST_BIN(pipeline_.get()), bin.get());
  discardBranch(bin);

  // The segment being written when it failed was cut short and never listed: it goes with
  // the branch's memory. The next branch numbers its segments on from past it.
  output.startIndex += output.closed + 1;
  output.memory.reset();
  output.failures++;
  retryHlsLater(output);
  if (handlers_.onHlsFailed) handlers_.onHlsFailed(output.rendition, message);
}

void RoomPipeline::retryHlsLater(HlsOutput& output) {
  if (output.retry.pending() || finishDone_) return;
  const unsigned shift = std::min(output.failures > 0 ? output.failures - 1 : 0u, 8u);
  const unsigned delayMs = std::min(kHlsRetryFirstMs << shift, kHlsRetryMaxMs);
  struct Retry {
    RoomPipeline* self;
    HlsOutput* output;
  };
  output.retry = glib_support::Source::timeout(
      config_.context, delayMs,
      [](gpointer data) -> gboolean {
        auto& r = glib_support::handedOff<Retry>(data);
        r.output->retry.reset();  // onHlsRetry may arm the next one
        r.self->onHlsRetry(*r.output);
        return G_SOURCE_REMOVE;
      },
      glib_support::handOff(Retry{this, &output}));
}

void RoomPipeline::onHlsRetry(HlsOutput& output) {
  if (output.bin || finishDone_) return;
  if (auto started = startHls(output); !started) {
    GST_WARNING("room %s: HLS rendition %s not rebuilt: %s", config_.roomId.c_str(), output.rendition.c_str(),
                started.error().message.c_str());
    output.failures++;
    retryHlsLater(output);
    return;
  }
  GST_WARNING("room %s: HLS rendition %s rebuilt, segments from %u", config_.roomId.c_str(), output.rendition.c_str(),
              output.startIndex);
  if (handlers_.onHlsRestarted) handlers_.onHlsRestarted(output.rendition);
}

core::Status RoomPipeline::startRecording(const std::string& path) {
  if (recordBin_) return Error{ErrorCode::Conflict, "the room is already recording"};
  auto record = loadFragmentBin(config_.pipelinesDir, "program-record", "record-" + std::to_string(++recordSerial_));
  if (!record) return record.error();
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(record.value().get()), "file");
  if (!sink) return Error{ErrorCode::Internal, "program-record.pipeline must name its filesink 'file'"};
  g_object_set(sink, "location", path.c_str(), nullptr);
  isolateBranchInput(record.value().get());
  GstBin* bin = GST_BIN(pipeline_.get());
  gst_bin_add(bin, record.value().get());
  // Playing before the mixer can push into it; the mixer's record pad carries the program
  // without the speakers who opted out.
  gst_element_sync_state_with_parent(record.value().get());
  g_autoptr(GstPad) recordPad = gst_element_get_static_pad(mixer_.get(), "record");
  g_autoptr(GstPad) input = gst_element_get_static_pad(record.value().get(), "sink");
  if (!recordPad || !input || gst_pad_link(recordPad, input) != GST_PAD_LINK_OK) {
    gst_element_set_state(record.value().get(), GST_STATE_NULL);
    gst_bin_remove(bin, record.value().get());
    return Error{ErrorCode::Internal, "cannot link the recording"};
  }
  recordBin_ = record.value();
  GST_INFO("room %s: recording to %s", config_.roomId.c_str(), path.c_str());
  return core::Ok{};
}

namespace {
// One recording's stop, finished by whichever of its EOS and its deadline comes first. The
// deadline's callback owns it; the EOS holds only a weak handle, checked on the control thread:
// an EOS whose callback is dispatched after the deadline already finished (and freed) the stop
// finds nothing there (the EOS can pass the file's pad just before the deadline's teardown).
struct RecordStop {
  ElementPtr bin;
  std::function<void(bool)> done;
  bool finished = false;
  glib_support::Source deadline;  // its callback data holds this stop: reset() breaks the cycle
};

struct RecordEosWatch {
  GMainContext* context;
  std::weak_ptr<RecordStop> stop;
};

void completeRecordStop(const std::shared_ptr<RecordStop>& stop, bool clean) {
  if (stop->finished) return;
  stop->finished = true;
  stop->deadline.reset();  // the caller's reference keeps the stop until this returns
  if (GstObject* parent = gst_object_get_parent(GST_OBJECT(stop->bin.get()))) {
    gst_element_set_state(stop->bin.get(), GST_STATE_NULL);
    gst_bin_remove(GST_BIN(parent), stop->bin.get());
    gst_object_unref(parent);
  }
  auto done = std::move(stop->done);
  if (done) done(clean);
}

// Streaming thread: the EOS reached the file's pad, so the Ogg trailer is being written.
GstPadProbeReturn onRecordEos(GstPad*, GstPadProbeInfo* info, gpointer data) {
  if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) != GST_EVENT_EOS) return GST_PAD_PROBE_OK;
  const auto& watch = glib_support::handedOff<RecordEosWatch>(data);
  glib_support::postToContext(watch.context, [stop = watch.stop] {
    if (auto alive = stop.lock()) completeRecordStop(alive, true);
  });
  return GST_PAD_PROBE_REMOVE;
}
}  // namespace

void RoomPipeline::stopRecording(std::function<void(bool clean)> done) {
  if (!recordBin_) {
    if (done) done(true);
    return;
  }
  auto stop = std::make_shared<RecordStop>(recordBin_, std::move(done));
  recordBin_.reset();
  // The file is finished (Ogg trailer) when the EOS reaches the filesink: then, on the
  // control thread, the branch goes. Bounded: a stuck branch is dropped after the deadline.
  g_autoptr(GstElement) file = gst_bin_get_by_name(GST_BIN(stop->bin.get()), "file");
  g_autoptr(GstPad) fileSink = gst_element_get_static_pad(file, "sink");
  auto watch = glib_support::handOff(RecordEosWatch{config_.context, stop});
  gst_pad_add_probe(fileSink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, &onRecordEos, watch.data, watch.destroy);
  stop->deadline = glib_support::Source::timeout(
      config_.context, config_.recordStopDeadlineMs,
      [](gpointer data) -> gboolean {
        GST_WARNING("recording did not finish in time");
        std::shared_ptr<RecordStop> stop = glib_support::handedOff<std::shared_ptr<RecordStop>>(data);
        completeRecordStop(stop, false);
        return G_SOURCE_REMOVE;
      },
      glib_support::handOff(std::shared_ptr<RecordStop>(stop)));
  // From the mixer's thread, between two ticks: unlink, then end the branch's stream.
  g_autoptr(GstPad) recordPad = gst_element_get_static_pad(mixer_.get(), "record");
  gst_pad_add_probe(recordPad, GST_PAD_PROBE_TYPE_IDLE, [](GstPad* pad, GstPadProbeInfo*, gpointer data) {
    auto* bin = static_cast<GstElement*>(data);
    g_autoptr(GstPad) input = gst_element_get_static_pad(bin, "sink");
    gst_pad_unlink(pad, input);
    gst_pad_send_event(input, gst_event_new_eos());
    return GST_PAD_PROBE_REMOVE;
  }, gst_object_ref(stop->bin.get()), gst_object_unref);
}

void RoomPipeline::abortRecording() {
  if (!recordBin_) return;
  ElementPtr bin = recordBin_;
  recordBin_.reset();
  g_autoptr(GstPad) recordPad = gst_element_get_static_pad(mixer_.get(), "record");
  g_autoptr(GstPad) input = gst_element_get_static_pad(bin.get(), "sink");
  gst_pad_unlink(recordPad, input);
  gst_bin_remove(GST_BIN(pipeline_.get()), bin.get());
  discardBranch(bin);
}

int64_t RoomPipeline::unixMsAtRunningTime(GstClockTime runningTime) {
  if (!unixMsAtRunningZero_) {
    g_autoptr(GstClock) clock = gst_element_get_clock(pipeline_.get());
    const GstClockTime base = gst_element_get_base_time(pipeline_.get());
    const GstClockTime now = clock ? gst_clock_get_time(clock) : base;
    unixMsAtRunningZero_ = g_get_real_time() / 1000 - static_cast<int64_t>((now - base) / GST_MSECOND);
  }
  return unixMsAtRunningZero_ + static_cast<int64_t>(runningTime / GST_MSECOND);
}

void RoomPipeline::dumpDot(const std::string& name) const {
  GST_DEBUG_BIN_TO_DOT_FILE(GST_BIN(pipeline_.get()), GST_DEBUG_GRAPH_SHOW_ALL, name.c_str());
}

}  // namespace roomcast::media
