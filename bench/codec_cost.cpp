// bench-codec-cost: what one talker's Opus work costs, per encoder setting, measured side by side.
//
// A talker in a room costs the server one decoder (their uplink) and one encoder (their own
// mix-minus return). The issue fixes roomcast's return encoder (voice, 20 ms, complexity 5,
// 32-64 kb/s, in-band FEC); Janus AudioBridge encodes at complexity 4, automatic bitrate, no
// FEC. This program times libopus itself for each setting, and GStreamer's opusenc around the
// mandated one, so that janus-compare's per-talker ratio can be split into what the codec
// settings decide and what the server's plumbing adds. See bench/README.md, "codec-cost".

#include <gst/gst.h>
#include <opus.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "media/webrtc_util.h"  // configureVoiceOpusEncoder

namespace rb = roomcast::bench;

namespace {

constexpr int kRate = 48000;
constexpr int kFrame = 960;  // 20 ms
// Expected loss given to the encoder when FEC is on: roomcast's return encoder starts at 6 %
// (issue 20, src/media/loss_feedback.h: libopus adds no FEC to 32 kb/s voice below 6 %).
constexpr int kFecLossPercent = 6;

struct EncoderSetting {
  const char* name;
  const char* what;
  int complexity;
  int bitrate;  // OPUS_AUTO for libopus' own choice
  bool fec;
  int maxBandwidth;  // OPUS_BANDWIDTH_*
};

// The first is roomcast's return encoder (configureVoiceOpusEncoder in src/media/webrtc_util.cpp;
// matchesRoomcastEncoder checks that this row still says what that function sets), the second
// Janus AudioBridge 1.1.2's default for a 48 kHz room; the others move one knob at a time.
constexpr size_t kRoomcastSetting = 0, kJanusSetting = 1;
const EncoderSetting kSettings[] = {
    {"roomcast", "voice, c5, 32 kb/s, FEC 6 %", 5, 32000, true, OPUS_BANDWIDTH_FULLBAND},
    {"janus", "voice, c4, auto bitrate, no FEC", 4, OPUS_AUTO, false, OPUS_BANDWIDTH_FULLBAND},
    {"c5-nofec", "voice, c5, 32 kb/s, no FEC", 5, 32000, false, OPUS_BANDWIDTH_FULLBAND},
    {"c4-fec", "voice, c4, 32 kb/s, FEC 6 %", 4, 32000, true, OPUS_BANDWIDTH_FULLBAND},
    {"c5-fec-wb", "as roomcast, wideband only", 5, 32000, true, OPUS_BANDWIDTH_WIDEBAND},
};

struct Signal {
  const char* name;
  std::vector<opus_int16> samples;
};

// A 440 Hz tone (what janus-compare's talkers send), and noise bursts at a syllable rate
// (4 Hz on/off), closer to speech for the encoder's mode decisions.
std::vector<Signal> makeSignals(double seconds) {
  const size_t n = static_cast<size_t>(seconds * kRate) / kFrame * kFrame;
  Signal tone{"tone-440", std::vector<opus_int16>(n)};
  Signal bursts{"noise-bursts", std::vector<opus_int16>(n)};
  std::mt19937 random(7);
  std::normal_distribution<double> gauss(0.0, 0.12);
  for (size_t i = 0; i < n; i++) {
    double t = static_cast<double>(i) / kRate;
    tone.samples[i] = static_cast<opus_int16>(16384.0 * std::sin(2 * M_PI * 440.0 * t));
    bool on = std::fmod(t, 0.25) < 0.125;
    double v = on ? gauss(random) : 0.0;
    bursts.samples[i] = static_cast<opus_int16>(std::fmax(-1.0, std::fmin(1.0, v)) * 32767.0);
  }
  return {std::move(tone), std::move(bursts)};
}

double threadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct CodecRun {
  double encodeSeconds = 0, decodeSeconds = 0;
  double kbps = 0;
  bool ok = true;
};

// Encodes the whole signal frame by frame and then decodes the packets, timing each on this
// thread's CPU clock.
CodecRun runLibopus(const EncoderSetting& s, const Signal& signal) {
  CodecRun run;
  int error = 0;
  OpusEncoder* enc = opus_encoder_create(kRate, 1, OPUS_APPLICATION_VOIP, &error);
  OpusDecoder* dec = opus_decoder_create(kRate, 1, &error);
  if (!enc || !dec) {
    if (enc) opus_encoder_destroy(enc);
    if (dec) opus_decoder_destroy(dec);
    run.ok = false;
    return run;
  }
  opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(s.complexity));
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(s.bitrate));
  opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(s.fec ? 1 : 0));
  opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(s.fec ? kFecLossPercent : 0));
  opus_encoder_ctl(enc, OPUS_SET_MAX_BANDWIDTH(s.maxBandwidth));
  opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));

  const size_t frames = signal.samples.size() / kFrame;
  std::vector<std::vector<unsigned char>> packets(frames);
  unsigned char packet[1500];
  size_t bytes = 0;
  double start = threadCpuSeconds();
  for (size_t f = 0; f < frames; f++) {
    opus_int32 len = opus_encode(enc, signal.samples.data() + f * kFrame, kFrame, packet, sizeof packet);
    if (len < 0) {
      run.ok = false;
      break;
    }
    packets[f].assign(packet, packet + len);
    bytes += static_cast<size_t>(len);
  }
  run.encodeSeconds = threadCpuSeconds() - start;

  std::vector<opus_int16> pcm(kFrame);
  start = threadCpuSeconds();
  for (const auto& p : packets)
    if (opus_decode(dec, p.data(), static_cast<opus_int32>(p.size()), pcm.data(), kFrame, 0) < 0) run.ok = false;
  run.decodeSeconds = threadCpuSeconds() - start;

  run.kbps = static_cast<double>(bytes) * 8.0 / (static_cast<double>(frames) * 0.02) / 1000.0;
  opus_encoder_destroy(enc);
  opus_decoder_destroy(dec);
  return run;
}

// The nick of an enum property's current value ("voice", "20"); "" if it is not an enum.
std::string enumNick(GObject* object, const char* property) {
  GValue value = G_VALUE_INIT;
  GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(object), property);
  if (!spec || !G_IS_PARAM_SPEC_ENUM(spec)) return "";
  g_value_init(&value, spec->value_type);
  g_object_get_property(object, property, &value);
  GEnumValue* e = g_enum_get_value(G_PARAM_SPEC_ENUM(spec)->enum_class, g_value_get_enum(&value));
  std::string nick = e ? e->value_nick : "";
  g_value_unset(&value);
  return nick;
}

// The libopus row "roomcast" restates what configureVoiceOpusEncoder sets on opusenc. This
// reads the element back after that function ran, so the two cannot drift apart unnoticed.
bool matchesRoomcastEncoder(std::string* why) {
  GstElement* enc = gst_element_factory_make("opusenc", nullptr);
  if (!enc) {
    *why = "no opusenc element";
    return false;
  }
  gst_object_ref_sink(enc);
  const EncoderSetting& s = kSettings[kRoomcastSetting];
  roomcast::media::configureVoiceOpusEncoder(enc, s.bitrate, false);
  gint bitrate = 0, complexity = 0, loss = 0;
  gboolean fec = FALSE, dtx = TRUE;
  g_object_get(enc, "bitrate", &bitrate, "complexity", &complexity, "inband-fec", &fec, "packet-loss-percentage", &loss,
               "dtx", &dtx, nullptr);
  const std::string audioType = enumNick(G_OBJECT(enc), "audio-type");
  const std::string frameSize = enumNick(G_OBJECT(enc), "frame-size");
  gst_object_unref(enc);
  char text[256];
  std::snprintf(text, sizeof text, "audio-type %s, frame-size %s, bitrate %d, complexity %d, inband-fec %d, loss %d %%, dtx %d",
                audioType.c_str(), frameSize.c_str(), bitrate, complexity, fec, loss, dtx);
  *why = text;
  return audioType == "voice" && frameSize == "20" && bitrate == s.bitrate && complexity == s.complexity &&
         (fec != FALSE) == s.fec && loss == (s.fec ? kFecLossPercent : 0) && !dtx &&
         s.maxBandwidth == OPUS_BANDWIDTH_FULLBAND;
}

// Process CPU (all threads) of a non-live pipeline from PLAYING to EOS.
double runPipelineSeconds(const std::string& description, bool* ok) {
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(description.c_str(), &error);
  if (!pipeline) {
    rb::note("cannot build '%s': %s", description.c_str(), error ? error->message : "?");
    g_clear_error(&error);
    *ok = false;
    return NAN;
  }
  // The encoder is set up by roomcast's own function, as the room's return encoders are.
  if (GstElement* enc = gst_bin_get_by_name(GST_BIN(pipeline), "enc")) {
    roomcast::media::configureVoiceOpusEncoder(enc, kSettings[kRoomcastSetting].bitrate, false);
    gst_object_unref(enc);
  }
  rb::SelfUsage before = rb::selfUsage();
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* msg = gst_bus_timed_pop_filtered(bus, 300 * GST_SECOND,
                                               static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  rb::SelfUsage after = rb::selfUsage();
  *ok = msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS;
  if (msg) gst_message_unref(msg);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return (after.userSeconds + after.sysSeconds) - (before.userSeconds + before.sysSeconds);
}

struct Options {
  double seconds = 20;
  int repeats = 5;
  std::string json = "bench-codec-cost.json";
};

Options parseOptions(int argc, char** argv) {
  Options o;
  rb::parseFlags(argc, argv,
                 "usage: bench-codec-cost [--seconds S] [--repeats R] [--json FILE]\n"
                 "  Times libopus encode and decode per encoder setting (roomcast's return encoder,\n"
                 "  Janus AudioBridge's default, and one knob at a time), and GStreamer's opusenc\n"
                 "  around roomcast's setting, on one thread, settings alternating; medians.",
                 {{"--seconds", "S", "audio per run (default 20)", rb::setNumber(o.seconds, 1e-3, 1e6)},
                  {"--repeats", "R", "runs per setting and signal (default 5)", rb::setInt(o.repeats, 1, 1000000)},
                  {"--json", "FILE", "results (default bench-codec-cost.json)", rb::setText(o.json)}});
  return o;
}

// % of one core that one stream needs in real time.
double percentCore(double cpuSeconds, double audioSeconds) { return 100.0 * cpuSeconds / audioSeconds; }

constexpr size_t kSettingCount = sizeof kSettings / sizeof kSettings[0];

// Every cell's runs, and GStreamer's opusenc against the same pipeline without it.
struct Results {
  double audioSeconds = 0;
  std::vector<std::vector<std::vector<CodecRun>>> runs;  // [setting][signal]: every run of that cell
  double gstEncoder = 0, gstSource = 0;                  // % core, medians
  std::string loadBefore, loadAfter;
  bool allOk = true;

  std::vector<double> of(size_t s, size_t g, double (*value)(const CodecRun&, double)) const {
    std::vector<double> v;
    for (const auto& run : runs[s][g]) v.push_back(value(run, audioSeconds));
    return v;
  }
  rb::Stat encode(size_t s, size_t g) const {
    return rb::stat(of(s, g, [](const CodecRun& r, double a) { return percentCore(r.encodeSeconds, a); }));
  }
  double decode(size_t s, size_t g) const {
    return rb::median(of(s, g, [](const CodecRun& r, double a) { return percentCore(r.decodeSeconds, a); }));
  }
  double kbps(size_t s, size_t g) const {
    return rb::median(of(s, g, [](const CodecRun& r, double) { return r.kbps; }));
  }
};

// libopus per setting and signal; the settings alternate within each repeat.
void runLibopusCells(Results& res, const std::vector<Signal>& signals, int repeats) {
  res.runs.assign(kSettingCount, std::vector<std::vector<CodecRun>>(signals.size()));
  for (const auto& s : kSettings) runLibopus(s, signals[0]);  // warm-up, untimed
  for (int r = 0; r < repeats; r++)
    for (size_t g = 0; g < signals.size(); g++)
      for (size_t k = 0; k < kSettingCount; k++) {
        size_t s = (r % 2 == 0) ? k : kSettingCount - 1 - k;
        CodecRun run = runLibopus(kSettings[s], signals[g]);
        res.allOk = res.allOk && run.ok;
        res.runs[s][g].push_back(run);
      }
}

// GStreamer's opusenc with roomcast's setting, against the same pipeline without it.
void runGstEncoder(Results& res, int repeats) {
  const int buffers = static_cast<int>(res.audioSeconds * 50);
  const std::string source = "audiotestsrc num-buffers=" + std::to_string(buffers) +
                             " samplesperbuffer=960 freq=440 volume=0.5 ! audio/x-raw,format=S16LE,rate=48000,channels=1";
  const std::string withEncoder = source + " ! opusenc name=enc ! fakesink sync=false";
  const std::string withoutEncoder = source + " ! fakesink sync=false";
  std::vector<double> gstEncoder, gstSource;
  bool encoderOk = true, sourceOk = true;
  runPipelineSeconds(withEncoder, &encoderOk);  // warm-up: plugin loading
  for (int r = 0; r < repeats && encoderOk && sourceOk; r++) {
    gstEncoder.push_back(runPipelineSeconds(withEncoder, &encoderOk));
    gstSource.push_back(runPipelineSeconds(withoutEncoder, &sourceOk));
  }
  res.allOk = res.allOk && encoderOk && sourceOk;
  res.gstEncoder = percentCore(rb::median(gstEncoder), res.audioSeconds);
  res.gstSource = percentCore(rb::median(gstSource), res.audioSeconds);
}

void printTable(const Results& res, const std::vector<Signal>& signals, int repeats) {
  std::printf("codec-cost: libopus %s, one 48 kHz mono stream, 20 ms frames, %.0f s of audio per run,\n",
              opus_get_version_string(), res.audioSeconds);
  std::printf("%d runs per cell, settings alternating; %% core = share of one core one stream needs (median [min..max]).\n\n",
              repeats);
  std::printf("%-14s %-12s %-32s %20s %8s %8s %12s\n", "signal", "setting", "", "encode % core", "x janus", "kb/s",
              "decode % core");
  for (size_t g = 0; g < signals.size(); g++) {
    double janus = res.encode(kJanusSetting, g).median;
    for (size_t s = 0; s < kSettingCount; s++) {
      rb::Stat e = res.encode(s, g);
      std::printf("%-14s %-12s %-32s %6.3f [%5.3f..%5.3f] %7.2fx %8.1f %12.3f\n", signals[g].name, kSettings[s].name,
                  kSettings[s].what, e.median, e.min, e.max, e.median / janus, res.kbps(s, g), res.decode(s, g));
    }
    std::printf("\n");
  }
  double libEnc = res.encode(kRoomcastSetting, 0).median;  // signal 0: the tone, as the pipeline
  std::printf("GStreamer opusenc, roomcast's setting, tone: %.3f %% core with the source, source alone %.3f %%,\n",
              res.gstEncoder, res.gstSource);
  std::printf("  so the element costs %.3f %% core, %.2fx libopus' own encode (%.3f %%).\n", res.gstEncoder - res.gstSource,
              (res.gstEncoder - res.gstSource) / libEnc, libEnc);
  std::printf("\nload average before %s, after %s. %s\n", res.loadBefore.c_str(), res.loadAfter.c_str(),
              res.allOk ? "" : "SOME RUNS FAILED.");
}

void writeJson(const Results& res, const std::vector<Signal>& signals, const Options& opt) {
  std::string json = "{\n  \"benchmark\": \"codec-cost\",\n  \"utc\": " + rb::jsonString(rb::utcNow()) +
                     ",\n  \"libopus\": " + rb::jsonString(opus_get_version_string()) +
                     ",\n  \"cpu\": " + rb::jsonString(rb::cpuModel()) +
                     ",\n  \"audio_seconds\": " + rb::jsonNumber(res.audioSeconds) +
                     ",\n  \"repeats\": " + std::to_string(opt.repeats) + ",\n  \"load_before\": " +
                     rb::jsonString(res.loadBefore) + ",\n  \"load_after\": " + rb::jsonString(res.loadAfter) +
                     ",\n  \"all_ok\": " + (res.allOk ? "true" : "false") + ",\n  \"cells\": [";
  bool first = true;
  for (size_t g = 0; g < signals.size(); g++)
    for (size_t s = 0; s < kSettingCount; s++) {
      rb::Stat e = res.encode(s, g);
      json += std::string(first ? "\n" : ",\n") + "    {\"signal\": " + rb::jsonString(signals[g].name) +
              ", \"setting\": " + rb::jsonString(kSettings[s].name) + ", \"what\": " +
              rb::jsonString(kSettings[s].what) + ", \"encode_percent_core\": " + rb::jsonNumber(e.median) +
              ", \"encode_min\": " + rb::jsonNumber(e.min) + ", \"encode_max\": " + rb::jsonNumber(e.max) +
              ", \"ratio_to_janus\": " + rb::jsonNumber(e.median / res.encode(kJanusSetting, g).median) +
              ", \"kbps\": " + rb::jsonNumber(res.kbps(s, g)) +
              ", \"decode_percent_core\": " + rb::jsonNumber(res.decode(s, g)) + "}";
      first = false;
    }
  json += "\n  ],\n  \"gst_opusenc_percent_core\": " + rb::jsonNumber(res.gstEncoder - res.gstSource) +
          ",\n  \"gst_source_percent_core\": " + rb::jsonNumber(res.gstSource) + "\n}\n";
  rb::writeJsonFile(opt.json, json);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  const Options opt = parseOptions(argc, argv);
  std::string encoderSetting;
  if (!matchesRoomcastEncoder(&encoderSetting)) {
    std::fprintf(stderr,
                 "codec-cost: the \"roomcast\" setting no longer matches configureVoiceOpusEncoder, which sets: %s\n",
                 encoderSetting.c_str());
    return 1;
  }
  rb::note("codec-cost: roomcast's return encoder is %s", encoderSetting.c_str());

  const auto signals = makeSignals(opt.seconds);
  Results res;
  res.audioSeconds = static_cast<double>(signals[0].samples.size()) / kRate;
  res.loadBefore = rb::loadAverage();
  rb::note("codec-cost: %zu settings x %zu signals x %d repeats of %.1f s", kSettingCount, signals.size(), opt.repeats,
           res.audioSeconds);
  runLibopusCells(res, signals, opt.repeats);
  runGstEncoder(res, opt.repeats);
  res.loadAfter = rb::loadAverage();
  printTable(res, signals, opt.repeats);
  writeJson(res, signals, opt);
  return res.allOk ? 0 : 1;
}
