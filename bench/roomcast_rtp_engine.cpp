// bench-roomcast-rtp-engine: roomcast's room media engine fed by plain RTP, for benchmarks.
//
// It builds, in one GStreamer pipeline, what roomcastd builds for a room (see
// src/media/room_pipeline.cpp, speaker_peer.cpp and webrtc_util.cpp), with webrtcbin's
// transport (ICE, DTLS, SRTP, RTCP) replaced by plain UDP, the way Janus AudioBridge takes
// plain-RTP participants:
//
//   audiotestsrc wave=silence is-live=true samplesperbuffer=960 ! F32LE/48k/mono ! mixer.sink_0
//                                                        (the room's clock bed; mixer latency 20 ms)
//   per participant i (port L+i in, P+i out):
//     udpsrc 127.0.0.1:L+i caps=application/x-rtp,...,OPUS,payload=111
//       ! rtpjitterbuffer latency=40 do-lost=true ! rtpopusdepay
//       ! opusdec plc=true use-inband-fec=true ! audioconvert ! audioresample
//       ! audio/x-raw,format=F32LE,rate=48000,channels=1 ! level interval=100ms
//       ! mixer.sink_(i+1)          mute=true unless the participant is one of the talkers
//     mixer.minus_(i+1) ! queue leaky=downstream max-size-time=100ms ! audioconvert
//       ! opusenc audio-type=voice frame-size=20 bitrate=32000 complexity=5 inband-fec=true
//                 packet-loss-percentage=5 dtx=false
//       ! identity (--return own) or input-selector (--return shared) ! rtpopuspay pt=111 ! capsfilter
//       ! udpsink 127.0.0.1:P+i sync=true async=false     (webrtcbin's nicesink: sync, not async)
//   mixer.src ! tee ! queue ! audioconvert ! audioresample ! voaacenc bitrate=64000 ! aacparse
//             ! fakesink           (roomcastd: hlssink2; --program none drops the AAC encoder)
//
// --return own     every participant's return is its own mix-minus, encoded for it alone:
//                  roomcastd's default (encode_silent_once = false), one Opus encoder each.
// --return shared  roomcastd with encode_silent_once = true (experimental there): mixer pads
//                  skip-silent=true, the program is also encoded once (tee ! queue leaky !
//                  audioconvert ! opusenc ! tee) and an input-selector per participant switches
//                  its return to that shared encoding while the participant is silent (a GAP
//                  on minus_N) and back to its own encoder with the next minus_N buffer.
//
// Participants join the room after it plays, as peers do in roomcastd, and LATENCY messages
// are not acted on (roomcastd's bus watch ignores them): the RTP sinks added later keep a
// configured latency of 0 and send each packet as soon as it is encoded. The statistics
// report that, and what a latency recalculation would configure (--recalculate-latency true
// shows what would happen then).
//
// It prints "ready" on stdout once the pipeline plays. On SIGTERM or SIGINT it stops and
// writes its statistics (jitter buffers, packets sent, which return each participant used)
// as JSON to --stats FILE (default: stdout), then exits 0.
//
// Usage: bench-roomcast-rtp-engine --participants N --base-port P [--listen-port L]
//          [--talking K] [--return own|shared] [--jitter-latency MS] [--mixer-latency MS]
//          [--bitrate BPS] [--program aac|none] [--sink-sync true|false] [--stats FILE]

#include <glib-unix.h>
#include <gst/base/gstbasesink.h>
#include <gst/gst.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "roomcast-config.h"

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench-roomcast-rtp-engine: %s\n", what.c_str());
  std::exit(1);
}

constexpr const char* kMixCaps = "audio/x-raw,format=F32LE,rate=48000,channels=1,layout=interleaved";
constexpr int kPayloadType = 111;

struct Options {
  int participants = 0;
  int basePort = 0;    // where participant i receives its mix: P+i
  int listenPort = 0;  // where we receive participant i's RTP: L+i (default P+2000)
  int talking = -1;    // participants 0..K-1 are mixed, the others muted; -1: all
  bool shared = false;
  int jitterMs = 40;
  int mixerMs = 20;
  int bitrate = 32000;
  bool aacProgram = true;
  bool sinkSync = true;
  bool recalculateLatency = false;  // roomcastd ignores LATENCY messages; this honours them
  bool decoderFec = true;           // opusdec use-inband-fec (roomcastd: true)
  int complexity = 5;               // opusenc complexity (roomcastd: 5)
  bool encoderFec = true;           // opusenc inband-fec (roomcastd: true, packet-loss-percentage 5)
  std::string host = "127.0.0.1";
  std::string stats;
};

void usage(FILE* out) {
  std::fprintf(out,
      "Usage: bench-roomcast-rtp-engine --participants N --base-port P [options]\n"
      "  --participants N      plain-RTP participants (1..1000)\n"
      "  --base-port P         participant i receives its mix on 127.0.0.1:P+i\n"
      "  --listen-port L       we receive participant i's RTP on 127.0.0.1:L+i (default P+2000)\n"
      "  --talking K           participants 0..K-1 are mixed, the rest have pad mute=true\n"
      "                        (default: all)\n"
      "  --return own|shared   own: one Opus encoder per participant (default);\n"
      "                        shared: skip-silent + one shared program encoding for silent ones\n"
      "  --jitter-latency MS   rtpjitterbuffer latency (default 40, as webrtcbin in roomcastd)\n"
      "  --mixer-latency MS    mixminus latency (default 20)\n"
      "  --bitrate BPS         Opus bitrate of the returns (default 32000)\n"
      "  --program aac|none    program output: AAC encode to fakesink (default) or fakesink\n"
      "  --sink-sync BOOL      udpsink sync (default true, like webrtcbin's RTP nicesink)\n"
      "  --complexity N        opusenc complexity of the returns (default 5, as roomcastd)\n"
      "  --encoder-fec BOOL    opusenc inband-fec with packet-loss-percentage 5 (default true)\n"
      "  --decoder-fec BOOL    opusdec use-inband-fec (default true, as roomcastd; it holds one\n"
      "                        packet back to be able to use the next one's FEC data)\n"
      "  --recalculate-latency BOOL  redistribute the pipeline latency on LATENCY messages, as\n"
      "                        gst-launch does (default false: roomcastd's bus watch ignores them)\n"
      "  --stats FILE          where to write the statistics at exit (default stdout)\n");
}

int parseInt(const std::string& flag, const std::string& value, int lo, int hi) {
  char* end = nullptr;
  long v = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || v < lo || v > hi)
    die("bad value for " + flag + ": " + value + " (expected " + std::to_string(lo) + ".." + std::to_string(hi) + ")");
  return static_cast<int>(v);
}

Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i], value;
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      std::exit(0);
    }
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      usage(stderr);
      die("missing value for " + arg);
    }
    if (arg == "--participants") o.participants = parseInt(arg, value, 1, 1000);
    else if (arg == "--base-port") o.basePort = parseInt(arg, value, 1024, 65535);
    else if (arg == "--listen-port") o.listenPort = parseInt(arg, value, 1024, 65535);
    else if (arg == "--talking") o.talking = parseInt(arg, value, 0, 1000);
    else if (arg == "--jitter-latency") o.jitterMs = parseInt(arg, value, 0, 10000);
    else if (arg == "--mixer-latency") o.mixerMs = parseInt(arg, value, 0, 10000);
    else if (arg == "--bitrate") o.bitrate = parseInt(arg, value, 4000, 650000);
    else if (arg == "--stats") o.stats = value;
    else if (arg == "--return") {
      if (value != "own" && value != "shared") die("--return must be own or shared");
      o.shared = value == "shared";
    } else if (arg == "--program") {
      if (value != "aac" && value != "none") die("--program must be aac or none");
      o.aacProgram = value == "aac";
    } else if (arg == "--complexity") {
      o.complexity = parseInt(arg, value, 0, 10);
    } else if (arg == "--encoder-fec") {
      if (value != "true" && value != "false") die("--encoder-fec must be true or false");
      o.encoderFec = value == "true";
    } else if (arg == "--decoder-fec") {
      if (value != "true" && value != "false") die("--decoder-fec must be true or false");
      o.decoderFec = value == "true";
    } else if (arg == "--recalculate-latency") {
      if (value != "true" && value != "false") die("--recalculate-latency must be true or false");
      o.recalculateLatency = value == "true";
    } else if (arg == "--sink-sync") {
      if (value != "true" && value != "false") die("--sink-sync must be true or false");
      o.sinkSync = value == "true";
    } else {
      usage(stderr);
      die("unknown option " + arg);
    }
  }
  if (o.participants <= 0 || o.basePort <= 0) {
    usage(stderr);
    die("--participants and --base-port are required");
  }
  if (o.listenPort == 0) o.listenPort = o.basePort + 2000;
  if (o.talking < 0 || o.talking > o.participants) o.talking = o.participants;
  if (o.basePort + o.participants - 1 > 65535 || o.listenPort + o.participants - 1 > 65535)
    die("port range exceeds 65535");
  return o;
}

// ---------------------------------------------------------------------------------------

GstElement* add(GstBin* bin, const char* factory, const std::string& name = {}) {
  GstElement* e = gst_element_factory_make(factory, name.empty() ? nullptr : name.c_str());
  if (!e) die(std::string("element ") + factory + " is missing");
  gst_bin_add(bin, e);
  return e;
}

void setCaps(GstElement* capsfilter, const char* text) {
  GstCaps* caps = gst_caps_from_string(text);
  g_object_set(capsfilter, "caps", caps, nullptr);
  gst_caps_unref(caps);
}

void linkMany(std::initializer_list<GstElement*> chain) {
  GstElement* prev = nullptr;
  for (GstElement* e : chain) {
    if (prev && !gst_element_link(prev, e))
      die(std::string("cannot link ") + GST_OBJECT_NAME(prev) + " to " + GST_OBJECT_NAME(e));
    prev = e;
  }
}

void linkPads(GstPad* src, GstPad* sink) {
  if (!src || !sink) die("missing pad");
  if (GstPadLinkReturn r = gst_pad_link(src, sink); r != GST_PAD_LINK_OK)
    die(std::string("cannot link ") + GST_OBJECT_NAME(src) + " to " + GST_OBJECT_NAME(sink) + ": " +
        gst_pad_link_get_name(r));
}

// roomcast's configureVoiceOpusEncoder(), same values unless --complexity/--encoder-fec say otherwise.
void configureVoiceOpusEncoder(GstElement* enc, const Options& o) {
  gst_util_set_object_arg(G_OBJECT(enc), "audio-type", "voice");
  gst_util_set_object_arg(G_OBJECT(enc), "frame-size", "20");
  g_object_set(enc, "bitrate", o.bitrate, "complexity", o.complexity, "inband-fec", o.encoderFec ? TRUE : FALSE,
               "packet-loss-percentage", o.encoderFec ? 5 : 0, "dtx", FALSE, nullptr);
}

// Per participant: what the probes count and what the return switch needs.
struct Participant {
  int index = 0;
  GstElement* jitter = nullptr;
  GstElement* udpsink = nullptr;
  GstPad* mixerSink = nullptr;  // owned ref
  std::atomic<guint64> sent{0};
  std::atomic<guint64> sentShared{0};  // packets that came from the shared program encoding
  std::atomic<guint64> switches{0};
  // --return shared only (strong refs, released at exit)
  GstElement* selector = nullptr;
  GstPad* own = nullptr;
  GstPad* shared = nullptr;
  std::atomic<GstPad*> active{nullptr};
};

// On minus_N (mixer thread): a buffer means "speaking, own mix-minus", a GAP "silent, program".
GstPadProbeReturn onMinusData(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* p = static_cast<Participant*>(data);
  GstPad* want = nullptr;
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) want = p->own;
  else if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_GAP) want = p->shared;
  if (want && want != p->active.load(std::memory_order_relaxed)) {
    p->active.store(want, std::memory_order_relaxed);
    p->switches.fetch_add(1, std::memory_order_relaxed);
    g_object_set(p->selector, "active-pad", want, nullptr);
  }
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn countSent(GstPad*, GstPadProbeInfo*, gpointer data) {
  auto* p = static_cast<Participant*>(data);
  p->sent.fetch_add(1, std::memory_order_relaxed);
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn countShared(GstPad*, GstPadProbeInfo*, gpointer data) {
  auto* p = static_cast<Participant*>(data);
  if (p->active.load(std::memory_order_relaxed) == p->shared) p->sentShared.fetch_add(1, std::memory_order_relaxed);
  return GST_PAD_PROBE_OK;
}

struct Engine {
  Options opt;
  GstElement* pipeline = nullptr;
  GstElement* mixer = nullptr;
  GstElement* programOpus = nullptr;
  std::vector<std::unique_ptr<Participant>> participants;
  GMainLoop* loop = nullptr;
  guint64 levelMessages = 0;
  guint64 latencyMessages = 0;
  double levelSum = 0;
  std::string error;
  std::chrono::steady_clock::time_point playingSince;
};

void buildRoom(Engine& e) {
  const Options& o = e.opt;
  e.pipeline = gst_pipeline_new("room-bench");
  GstBin* bin = GST_BIN(e.pipeline);

  GstElement* bed = add(bin, "audiotestsrc", "bed");
  gst_util_set_object_arg(G_OBJECT(bed), "wave", "silence");
  g_object_set(bed, "is-live", TRUE, "samplesperbuffer", 960, nullptr);
  GstElement* bedCaps = add(bin, "capsfilter", "bedcaps");
  setCaps(bedCaps, kMixCaps);
  e.mixer = gst_element_factory_make("mixminus", "mixer");
  if (!e.mixer) {
    // Running by hand without GST_PLUGIN_PATH: look in the build tree.
    gst_registry_scan_path(gst_registry_get(), ROOMCAST_PLUGIN_DIR);
    e.mixer = gst_element_factory_make("mixminus", "mixer");
  }
  if (!e.mixer) die("the mixminus element is missing (set GST_PLUGIN_PATH=build/plugins/roomcast)");
  gst_bin_add(bin, e.mixer);
  g_object_set(e.mixer, "latency", static_cast<guint64>(o.mixerMs) * GST_MSECOND, nullptr);
  GstElement* tee = add(bin, "tee", "program");
  g_object_set(tee, "allow-not-linked", TRUE, nullptr);
  linkMany({bed, bedCaps, e.mixer, tee});

  // The program output: roomcastd's program-hls fragment with hlssink2 replaced by fakesink.
  GstElement* pq = add(bin, "queue", "program-queue");
  g_object_set(pq, "max-size-time", G_GUINT64_CONSTANT(2000000000), "max-size-buffers", 0u, "max-size-bytes", 0u,
               nullptr);
  GstElement* psink = add(bin, "fakesink", "program-sink");
  g_object_set(psink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, nullptr);
  if (o.aacProgram) {
    GstElement* conv = add(bin, "audioconvert");
    GstElement* res = add(bin, "audioresample");
    GstElement* caps = add(bin, "capsfilter");
    setCaps(caps, "audio/x-raw,rate=48000,channels=1");
    GstElement* aac = add(bin, "voaacenc");
    g_object_set(aac, "bitrate", 64000, nullptr);
    GstElement* parse = add(bin, "aacparse");
    linkMany({tee, pq, conv, res, caps, aac, parse, psink});
  } else {
    linkMany({tee, pq, psink});
  }

  if (o.shared) {
    // Encode once what every silent participant hears: the program.
    GstElement* q = add(bin, "queue", "program-opus-queue");
    g_object_set(q, "max-size-time", G_GUINT64_CONSTANT(100000000), "max-size-buffers", 0u, "max-size-bytes", 0u,
                 nullptr);
    gst_util_set_object_arg(G_OBJECT(q), "leaky", "downstream");
    GstElement* conv = add(bin, "audioconvert", "program-opus-convert");
    GstElement* enc = add(bin, "opusenc", "program-opus-enc");
    configureVoiceOpusEncoder(enc, o);
    e.programOpus = add(bin, "tee", "program-opus");
    g_object_set(e.programOpus, "allow-not-linked", TRUE, nullptr);
    linkMany({tee, q, conv, enc, e.programOpus});
  }

}

// One participant, added to the running room the way SpeakerPeer::buildBranches() adds a
// peer: elements added and linked, the mixer pad requested, then every element brought to
// the pipeline's state (downstream first, the network source last).
void addParticipant(Engine& e, int i) {
  const Options& o = e.opt;
  GstBin* bin = GST_BIN(e.pipeline);
  char rtpCaps[160];
  std::snprintf(rtpCaps, sizeof rtpCaps,
                "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=%d", kPayloadType);
  {
    auto p = std::make_unique<Participant>();
    p->index = i;
    const std::string base = "p" + std::to_string(i) + "-";
    const size_t firstChild = GST_BIN_NUMCHILDREN(bin);

    // Receive.
    GstElement* src = add(bin, "udpsrc", base + "src");
    g_object_set(src, "address", o.host.c_str(), "port", o.listenPort + i, nullptr);
    setCaps(src, rtpCaps);
    p->jitter = add(bin, "rtpjitterbuffer", base + "jitter");
    g_object_set(p->jitter, "latency", static_cast<guint>(o.jitterMs), "do-lost", TRUE, nullptr);
    GstElement* depay = add(bin, "rtpopusdepay", base + "depay");
    GstElement* dec = add(bin, "opusdec", base + "dec");
    g_object_set(dec, "plc", TRUE, "use-inband-fec", o.decoderFec ? TRUE : FALSE, nullptr);
    GstElement* inConv = add(bin, "audioconvert", base + "inconv");
    GstElement* inRes = add(bin, "audioresample", base + "inres");
    GstElement* inCaps = add(bin, "capsfilter", base + "incaps");
    setCaps(inCaps, kMixCaps);
    GstElement* level = add(bin, "level", base + "level");
    g_object_set(level, "interval", G_GUINT64_CONSTANT(100000000), "post-messages", TRUE, nullptr);
    linkMany({src, p->jitter, depay, dec, inConv, inRes, inCaps, level});

    p->mixerSink = gst_element_request_pad_simple(e.mixer, "sink_%u");
    if (!p->mixerSink) die("the mixer refused a new input");
    g_object_set(p->mixerSink, "mute", i < o.talking ? FALSE : TRUE, nullptr);
    if (o.shared) g_object_set(p->mixerSink, "skip-silent", TRUE, nullptr);
    GstPad* levelSrc = gst_element_get_static_pad(level, "src");
    linkPads(levelSrc, p->mixerSink);
    gst_object_unref(levelSrc);

    // Send.
    GstElement* q = add(bin, "queue", base + "sendq");
    g_object_set(q, "max-size-time", G_GUINT64_CONSTANT(100000000), "max-size-buffers", 0u, "max-size-bytes", 0u,
                 nullptr);
    gst_util_set_object_arg(G_OBJECT(q), "leaky", "downstream");
    GstElement* outConv = add(bin, "audioconvert", base + "outconv");
    GstElement* enc = add(bin, "opusenc", base + "enc");
    configureVoiceOpusEncoder(enc, o);
    GstElement* pay = add(bin, "rtpopuspay", base + "pay");
    g_object_set(pay, "pt", kPayloadType, nullptr);
    GstElement* payCaps = add(bin, "capsfilter", base + "rtpcaps");
    setCaps(payCaps, rtpCaps);
    GstElement* sink = add(bin, "udpsink", base + "sink");
    p->udpsink = sink;
    g_object_set(sink, "host", o.host.c_str(), "port", o.basePort + i, "sync", o.sinkSync ? TRUE : FALSE, "async",
                 FALSE, "enable-last-sample", FALSE, nullptr);
    if (o.shared) {
      p->selector = add(bin, "input-selector", base + "return");
      g_object_set(p->selector, "sync-streams", FALSE, nullptr);
      linkMany({q, outConv, enc, p->selector, pay, payCaps, sink});
    } else {
      // roomcastd puts an identity where the selector would be (encode_silent_once = false).
      GstElement* ident = add(bin, "identity", base + "return");
      linkMany({q, outConv, enc, ident, pay, payCaps, sink});
    }

    gchar* sinkName = gst_pad_get_name(p->mixerSink);
    std::string minusName = std::string("minus_") + (sinkName + 5);
    g_free(sinkName);
    GstPad* minus = gst_element_get_static_pad(e.mixer, minusName.c_str());
    GstPad* qSink = gst_element_get_static_pad(q, "sink");
    linkPads(minus, qSink);
    gst_object_unref(qSink);

    if (o.shared) {
      GstPad* teeSrc = gst_element_request_pad_simple(e.programOpus, "src_%u");
      p->shared = gst_element_request_pad_simple(p->selector, "sink_%u");
      linkPads(teeSrc, p->shared);
      gst_object_unref(teeSrc);
      GstPad* encSrc = gst_element_get_static_pad(enc, "src");
      p->own = gst_pad_get_peer(encSrc);
      gst_object_unref(encSrc);
      p->active.store(p->own);
      g_object_set(p->selector, "active-pad", p->own, nullptr);
      gst_pad_add_probe(minus,
                        static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
                        onMinusData, p.get(), nullptr);
      GstPad* paySink = gst_element_get_static_pad(pay, "sink");
      gst_pad_add_probe(paySink, GST_PAD_PROBE_TYPE_BUFFER, countShared, p.get(), nullptr);
      gst_object_unref(paySink);
    }
    gst_object_unref(minus);

    GstPad* udpSink = gst_element_get_static_pad(sink, "sink");
    gst_pad_add_probe(udpSink, GST_PAD_PROBE_TYPE_BUFFER, countSent, p.get(), nullptr);
    gst_object_unref(udpSink);
    e.participants.push_back(std::move(p));

    // gst_bin_add() prepends: children[0 .. added-1] are ours, the udpsink first, udpsrc last.
    const size_t added = GST_BIN_NUMCHILDREN(bin) - firstChild;
    std::vector<GstElement*> mine;
    GList* l = GST_BIN_CHILDREN(bin);
    for (size_t k = 0; k < added && l; k++, l = l->next) mine.push_back(GST_ELEMENT(l->data));
    for (GstElement* el : mine)
      if (!gst_element_sync_state_with_parent(el)) die(std::string("cannot start ") + GST_OBJECT_NAME(el));
  }
}

gboolean onBusMessage(GstBus*, GstMessage* message, gpointer data) {
  auto* e = static_cast<Engine*>(data);
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ERROR: {
      GError* err = nullptr;
      gchar* debug = nullptr;
      gst_message_parse_error(message, &err, &debug);
      e->error = std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(message))) + ": " + err->message;
      std::fprintf(stderr, "bench-roomcast-rtp-engine: error from %s (%s)\n", e->error.c_str(), debug ? debug : "");
      g_error_free(err);
      g_free(debug);
      g_main_loop_quit(e->loop);
      break;
    }
    case GST_MESSAGE_ELEMENT: {
      // roomcastd reads every level message on its bus watch (active speakers); so do we.
      const GstStructure* s = gst_message_get_structure(message);
      if (s && gst_structure_has_name(s, "level")) {
        G_GNUC_BEGIN_IGNORE_DEPRECATIONS
        const GValue* rms = gst_structure_get_value(s, "rms");
        auto* values = rms ? static_cast<GValueArray*>(g_value_get_boxed(rms)) : nullptr;
        if (values && values->n_values > 0) {
          e->levelMessages++;
          e->levelSum += g_value_get_double(&values->values[0]);
        }
        G_GNUC_END_IGNORE_DEPRECATIONS
      }
      break;
    }
    case GST_MESSAGE_LATENCY:
      e->latencyMessages++;
      if (e->opt.recalculateLatency) gst_bin_recalculate_latency(GST_BIN(e->pipeline));
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

guint64 structUint(const GstStructure* s, const char* field) {
  guint64 v = 0;
  if (!gst_structure_get_uint64(s, field, &v)) return 0;
  return v;
}

// What a latency recalculation would configure now (the pipeline's min latency), in ms.
std::string queriedLatencyMs(Engine& e) {
  GstQuery* q = gst_query_new_latency();
  std::string out = "null";
  if (gst_element_query(e.pipeline, q)) {
    gboolean live = FALSE;
    GstClockTime min = 0, max = 0;
    gst_query_parse_latency(q, &live, &min, &max);
    out = std::to_string(min / 1e6);
  }
  gst_query_unref(q);
  return out;
}

void writeStats(Engine& e, double playingSeconds) {
  std::string out = "{\"engine\": \"roomcast-rtp\", \"return\": \"";
  out += e.opt.shared ? "shared" : "own";
  out += "\", \"participants\": " + std::to_string(e.opt.participants) +
         ", \"talking\": " + std::to_string(e.opt.talking) +
         ", \"playing_seconds\": " + std::to_string(playingSeconds) +
         ", \"level_messages\": " + std::to_string(e.levelMessages) +
         ", \"latency_messages\": " + std::to_string(e.latencyMessages) +
         ", \"pipeline_latency_query_ms\": " + queriedLatencyMs(e) +
         ", \"udpsink_configured_latency_ms\": " +
         (e.participants.empty() ? std::string("null")
                                 : std::to_string(gst_base_sink_get_latency(GST_BASE_SINK(e.participants[0]->udpsink)) /
                                                  1e6)) +
         ", \"error\": " + (e.error.empty() ? std::string("null") : "\"" + e.error + "\"") + ", \"per_participant\": [";
  guint64 totPushed = 0, totLost = 0, totLate = 0, totSent = 0, totShared = 0;
  for (size_t i = 0; i < e.participants.size(); i++) {
    Participant& p = *e.participants[i];
    GstStructure* s = nullptr;
    g_object_get(p.jitter, "stats", &s, nullptr);
    guint64 pushed = s ? structUint(s, "num-pushed") : 0, lost = s ? structUint(s, "num-lost") : 0,
            late = s ? structUint(s, "num-late") : 0;
    if (s) gst_structure_free(s);
    gboolean silent = FALSE;
    g_object_get(p.mixerSink, "silent", &silent, nullptr);
    totPushed += pushed;
    totLost += lost;
    totLate += late;
    totSent += p.sent.load();
    totShared += p.sentShared.load();
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "%s{\"i\": %zu, \"jitter_pushed\": %llu, \"jitter_lost\": %llu, \"jitter_late\": %llu, "
                  "\"sent\": %llu, \"sent_shared\": %llu, \"switches\": %llu, \"silent_at_exit\": %s}",
                  i ? ", " : "", i, static_cast<unsigned long long>(pushed), static_cast<unsigned long long>(lost),
                  static_cast<unsigned long long>(late), static_cast<unsigned long long>(p.sent.load()),
                  static_cast<unsigned long long>(p.sentShared.load()),
                  static_cast<unsigned long long>(p.switches.load()), silent ? "true" : "false");
    out += buf;
  }
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "], \"totals\": {\"jitter_pushed\": %llu, \"jitter_lost\": %llu, \"jitter_late\": %llu, "
                "\"sent\": %llu, \"sent_shared\": %llu}}\n",
                static_cast<unsigned long long>(totPushed), static_cast<unsigned long long>(totLost),
                static_cast<unsigned long long>(totLate), static_cast<unsigned long long>(totSent),
                static_cast<unsigned long long>(totShared));
  out += buf;
  if (e.opt.stats.empty()) {
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
  } else {
    FILE* f = std::fopen(e.opt.stats.c_str(), "w");
    if (!f) die("cannot write " + e.opt.stats);
    std::fputs(out.c_str(), f);
    std::fclose(f);
  }
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  Engine e;
  e.opt = parseOptions(argc, argv);
  buildRoom(e);

  e.loop = g_main_loop_new(nullptr, FALSE);
  GstBus* bus = gst_pipeline_get_bus(GST_PIPELINE(e.pipeline));
  guint busWatch = gst_bus_add_watch(bus, onBusMessage, &e);
  gst_object_unref(bus);
  auto quit = [](gpointer loop) -> gboolean {
    g_main_loop_quit(static_cast<GMainLoop*>(loop));
    return G_SOURCE_REMOVE;
  };
  g_unix_signal_add(SIGTERM, quit, e.loop);
  g_unix_signal_add(SIGINT, quit, e.loop);

  // The room plays first; participants join it afterwards, as peers join a room in roomcastd.
  if (gst_element_set_state(e.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    die("the room pipeline did not start");
  GstState state = GST_STATE_NULL;
  gst_element_get_state(e.pipeline, &state, nullptr, 10 * GST_SECOND);
  if (state != GST_STATE_PLAYING) die("the room pipeline did not reach PLAYING within 10 s");
  for (int i = 0; i < e.opt.participants; i++) addParticipant(e, i);
  gst_element_get_state(e.pipeline, &state, nullptr, 10 * GST_SECOND);
  if (state != GST_STATE_PLAYING) die("the pipeline did not reach PLAYING within 10 s (ports in use?)");
  if (e.opt.recalculateLatency) gst_bin_recalculate_latency(GST_BIN(e.pipeline));
  e.playingSince = std::chrono::steady_clock::now();
  std::printf("ready %d\n", static_cast<int>(getpid()));
  std::fflush(stdout);

  g_main_loop_run(e.loop);
  double playing = std::chrono::duration<double>(std::chrono::steady_clock::now() - e.playingSince).count();

  // Progress on stderr (the log the benchmark keeps): tells where a stop hangs, if it does.
  std::fprintf(stderr, "bench-roomcast-rtp-engine: stopping after %.1f s: statistics\n", playing);
  writeStats(e, playing);
  std::fprintf(stderr, "bench-roomcast-rtp-engine: stopping: pipeline to NULL\n");
  gst_element_set_state(e.pipeline, GST_STATE_NULL);
  std::fprintf(stderr, "bench-roomcast-rtp-engine: stopped\n");
  g_source_remove(busWatch);
  for (auto& p : e.participants) {
    gst_object_unref(p->mixerSink);
    if (p->own) gst_object_unref(p->own);
    if (p->shared) gst_object_unref(p->shared);
  }
  gst_object_unref(e.pipeline);
  g_main_loop_unref(e.loop);
  return e.error.empty() ? 0 : 1;
}
