#include "media/room_pipeline.h"

#include <glib/gstdio.h>

#include "media/debug.h"
#include "media/pipeline_fragment.h"
#include "media/webrtc_util.h"

#define GST_CAT_DEFAULT roomcast_room_debug

namespace roomcast::media {

using core::Error;
using core::ErrorCode;

RoomPipeline::RoomPipeline(RoomPipelineConfig config, Handlers handlers)
    : config_(std::move(config)), handlers_(std::move(handlers)) {}

core::Result<std::unique_ptr<RoomPipeline>> RoomPipeline::start(const RoomPipelineConfig& config, Handlers handlers) {
  std::unique_ptr<RoomPipeline> room(new RoomPipeline(config, std::move(handlers)));
  if (auto built = room->build(); !built) return built.error();
  if (gst_element_set_state(room->pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    return Error{ErrorCode::Internal, "the room pipeline did not start"};
  GST_INFO("room %s: pipeline playing", config.roomId.c_str());
  return room;
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

  // One hlssink2 per rendition. It writes the segments (and deletes old ones); roomcastd
  // writes the playlists that are served (see hls/hls_room.h), so hlssink2's own go to a
  // hidden file that is never served.
  struct HlsOutput {
    const char* fragment;
    const char* bin;
    const char* segments;
    const char* playlist;
  };
  std::vector<HlsOutput> outputs{{"program-hls", "hls-main", "segment%05d.ts", ".hlssink2-main.m3u8"}};
  if (config_.lowRendition) outputs.push_back({"program-hls-low", "hls-low", "low%05d.ts", ".hlssink2-low.m3u8"});
  for (const auto& output : outputs) {
    auto hls = loadFragmentBin(config_.pipelinesDir, output.fragment, output.bin);
    if (!hls) return hls.error();
    g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(hls.value().get()), "hls");
    if (!sink) return Error{ErrorCode::Internal, std::string(output.fragment) + ".pipeline must name its hlssink2 'hls'"};
    g_autofree char* segments = g_build_filename(config_.hlsDir.c_str(), output.segments, nullptr);
    g_autofree char* playlist = g_build_filename(config_.hlsDir.c_str(), output.playlist, nullptr);
    g_object_set(sink, "location", segments, "playlist-location", playlist, nullptr);
    if (auto linked = linkIntoTee(bin, tee.get(), hls.value().get()); !linked) return linked;
  }

  // tee stops serving later branches when one fails: the files first.
  if (!config_.recordingPath.empty()) {
    auto record = loadFragmentBin(config_.pipelinesDir, "program-record", "record-output");
    if (!record) return record.error();
    g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(record.value().get()), "file");
    if (!sink) return Error{ErrorCode::Internal, "program-record.pipeline must name its filesink 'file'"};
    g_object_set(sink, "location", config_.recordingPath.c_str(), nullptr);
    if (auto linked = linkIntoTee(bin, tee.get(), record.value().get()); !linked) return linked;
  }

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

  g_autoptr(GstBus) bus = gst_pipeline_get_bus(GST_PIPELINE(pipeline_.get()));
  busWatch_ = gst_bus_create_watch(bus);
  // A bus source calls a GstBusFunc through the GSourceFunc slot; the double cast says so.
  g_source_set_callback(busWatch_, reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)()>(&RoomPipeline::onBusMessage)),
                        this, nullptr);
  g_source_attach(busWatch_, config_.context);
  return core::Ok{};
}

RoomPipeline::~RoomPipeline() {
  if (finishDeadline_) { g_source_destroy(finishDeadline_); g_source_unref(finishDeadline_); }
  if (busWatch_) { g_source_destroy(busWatch_); g_source_unref(busWatch_); }
  if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
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

gboolean RoomPipeline::onBusMessage(GstBus*, GstMessage* message, gpointer data) {
  auto* self = static_cast<RoomPipeline*>(data);
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ERROR: {
      GError* error = nullptr;
      g_autofree char* debug = nullptr;
      gst_message_parse_error(message, &error, &debug);
      const std::string child = topLevelChildName(GST_MESSAGE_SRC(message), GST_OBJECT(self->pipeline_.get()));
      GST_WARNING("room %s: error from %s: %s (%s)", self->config_.roomId.c_str(), child.c_str(), error->message,
                  debug ? debug : "");
      std::string text = error->message;
      g_error_free(error);
      if (self->handlers_.onError) self->handlers_.onError(child, text);  // may destroy self: return right after
      return G_SOURCE_CONTINUE;
    }
    case GST_MESSAGE_ELEMENT: {
      const GstStructure* s = gst_message_get_structure(message);
      GstClockTime runningTime = GST_CLOCK_TIME_NONE;
      if (s && gst_structure_has_name(s, "splitmuxsink-fragment-closed") && self->handlers_.onSegmentClosed &&
          gst_structure_get_uint64(s, "running-time", &runningTime)) {
        // hlssink2 has already listed the segment in its playlist: it handles this message
        // on its way up, before the bus sees it.
        const std::string child = topLevelChildName(GST_MESSAGE_SRC(message), GST_OBJECT(self->pipeline_.get()));
        if (child.rfind("hls-", 0) == 0)
          self->handlers_.onSegmentClosed({child.substr(4), self->unixMsAtRunningTime(runningTime)});
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
  finishDeadline_ = g_timeout_source_new(deadlineMs);
  g_source_set_callback(
      finishDeadline_,
      [](gpointer data) -> gboolean {
        auto* self = static_cast<RoomPipeline*>(data);
        GST_WARNING("room %s: outputs did not finish in time", self->config_.roomId.c_str());
        self->completeFinish(false);
        return G_SOURCE_REMOVE;
      },
      this, nullptr);
  g_source_attach(finishDeadline_, config_.context);
  // The mixer ends every output after the tick in progress (or at its first, if the room
  // ends before it started ticking).
  gst_element_send_event(mixer_.get(), gst_event_new_eos());
}

void RoomPipeline::completeFinish(bool clean) {
  if (finishDeadline_) {
    g_source_destroy(finishDeadline_);
    g_source_unref(finishDeadline_);
    finishDeadline_ = nullptr;
  }
  auto done = std::move(finishDone_);
  finishDone_ = nullptr;
  if (done) done(clean);  // may destroy this
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
