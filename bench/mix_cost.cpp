// bench-mix-cost: CPU cost of producing every speaker's mix-minus: the mixminus element against
// one audiomixer per speaker (naive, O(N^2)), and the sources alone as the floor both share.
// Sources are not live, sinks do not sync and mixminus runs with live=false, so every run
// measures processing throughput (process CPU per second of audio, READY -> EOS). The pipelines
// are "What it measures" in this benchmark's newest bench/results/ file.

#include <gst/gst.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "roomcast-config.h"

namespace {

using namespace roomcast::bench;

constexpr int kRate = 48000;
constexpr int kSamplesPerBuffer = 960;                          // 20 ms per buffer
constexpr int kBuffersPerSecond = kRate / kSamplesPerBuffer;    // 50
constexpr const char* kCaps = "audio/x-raw,format=F32LE,rate=48000,channels=1,layout=interleaved";
// Per-source sine amplitude: 0.5 / 64, so even 64 tones in phase stay below mixminus'
// limiter knee (0.5) and both variants do the same arithmetic work per sample.
constexpr double kSourceVolume = 0.5 / 64;
constexpr double kRunTimeoutSeconds = 180;

enum class Variant { MixMinus, Naive, Sources };

const char* variantName(Variant v) {
  switch (v) {
    case Variant::MixMinus: return "mixminus";
    case Variant::Naive: return "naive";
    case Variant::Sources: return "sources";
  }
  return "?";
}

struct Options {
  std::vector<int> sizes{4, 16, 64};
  double seconds = 20;
  double naiveSeconds = 0;  // 0: automatic, see naiveAudioSeconds()
  int repeats = 5;
  bool baseline = true;
  std::string json = "bench-mix-cost.json";
};

Options parseOptions(int argc, char** argv) {
  Options o;
  parseFlags(argc, argv,
             "Usage: bench-mix-cost [options]\nNeeds GST_PLUGIN_PATH=<builddir>/plugins/roomcast for the mixminus element.",
             {{"--sizes", "LIST", "speaker counts, comma separated (default 4,16,64; each >= 2)", setSortedInts(o.sizes, 2, 1000)},
              {"--seconds", "S", "audio seconds per run (default 20)", setNumber(o.seconds, 1e-3, 1e6)},
              {"--naive-seconds", "S",
               "audio seconds per naive run (default: S up to N=64, above that\nS*(64/N)^2 but at least 1 s, to bound the O(N^2) runs)",
               setNumber(o.naiveSeconds, 1e-3, 1e6)},
              {"--repeats", "R", "runs per variant and size, alternating variants (default 5)", setInt(o.repeats, 1, 1000)},
              {"--no-baseline", "", "skip the sources-only floor runs", setSwitch(o.baseline, false)},
              {"--json", "FILE", "where to write the results (default bench-mix-cost.json)", setText(o.json)}});
  return o;
}

// Whole 20 ms buffers, at least one.
int buffersFor(double seconds) { return std::max(1, static_cast<int>(std::lround(seconds * kBuffersPerSecond))); }

double naiveAudioSeconds(const Options& o, int n) {
  if (o.naiveSeconds > 0) return o.naiveSeconds;
  if (n <= 64) return o.seconds;
  double scale = 64.0 / n;
  return std::min(o.seconds, std::max(1.0, o.seconds * scale * scale));
}

// ---- Pipelines

GstElement* add(GstBin* bin, const char* factory) {
  GstElement* e = gst_element_factory_make(factory, nullptr);
  if (!e) die(std::string("element ") + factory + " is missing" +
              (std::string(factory) == "mixminus" ? " (set GST_PLUGIN_PATH=build/plugins/roomcast)" : ""));
  gst_bin_add(bin, e);
  return e;
}

void link(GstElement* a, GstElement* b) {
  if (!gst_element_link(a, b)) die(std::string("cannot link ") + GST_OBJECT_NAME(a) + " to " + GST_OBJECT_NAME(b));
}

void linkPads(GstPad* src, GstPad* sink) {
  if (!src || !sink) die("missing pad");
  if (GstPadLinkReturn r = gst_pad_link(src, sink); r != GST_PAD_LINK_OK)
    die(std::string("cannot link ") + GST_OBJECT_NAME(src) + " to " + GST_OBJECT_NAME(sink) + ": " +
        gst_pad_link_get_name(r));
}

// A speaker: a non-live sine at its own frequency, forced to the mixer's format.
// Returns the capsfilter, whose src pad carries the speaker's audio.
GstElement* addSpeaker(GstBin* bin, int index, int buffers) {
  GstElement* src = add(bin, "audiotestsrc");
  gst_util_set_object_arg(G_OBJECT(src), "wave", "sine");
  g_object_set(src, "is-live", FALSE, "samplesperbuffer", kSamplesPerBuffer, "num-buffers", buffers,
               "freq", 110.0 + 37.0 * index, "volume", kSourceVolume, nullptr);
  GstElement* filter = add(bin, "capsfilter");
  GstCaps* caps = gst_caps_from_string(kCaps);
  g_object_set(filter, "caps", caps, nullptr);
  gst_caps_unref(caps);
  link(src, filter);
  return filter;
}

GstElement* addFakesink(GstBin* bin) {
  GstElement* sink = add(bin, "fakesink");
  g_object_set(sink, "sync", FALSE, "enable-last-sample", FALSE, nullptr);
  return sink;
}

// queue ! fakesink; returns the queue's sink pad (caller unrefs).
GstPad* addQueuedSink(GstBin* bin) {
  GstElement* queue = add(bin, "queue");
  link(queue, addFakesink(bin));
  return gst_element_get_static_pad(queue, "sink");
}

void buildMixMinus(GstBin* bin, int n, int buffers) {
  GstElement* mixer = add(bin, "mixminus");
  // mixminus keeps its own clock by default (live=true: a frame every 20 ms of running
  // time). These pipelines run as fast as they can, so it must tick when every input has a
  // frame instead.
  g_object_set(mixer, "live", FALSE, nullptr);
  for (int i = 0; i < n; i++) {
    GstElement* speaker = addSpeaker(bin, i, buffers);
    GstPad* sink = gst_element_request_pad_simple(mixer, "sink_%u");
    if (!sink) die("mixminus refused a sink pad");
    GstPad* out = gst_element_get_static_pad(speaker, "src");
    linkPads(out, sink);
    gst_object_unref(out);

    // minus_N exists as soon as sink_N does.
    gchar* minusName = g_strdup_printf("minus_%s", GST_OBJECT_NAME(sink) + std::strlen("sink_"));
    GstPad* minus = gst_element_get_static_pad(mixer, minusName);
    if (!minus) die(std::string("mixminus has no ") + minusName);
    g_free(minusName);
    GstPad* queued = addQueuedSink(bin);
    linkPads(minus, queued);
    gst_object_unref(queued);
    gst_object_unref(minus);
    gst_object_unref(sink);
  }
  GstPad* program = gst_element_get_static_pad(mixer, "src");
  GstPad* queued = addQueuedSink(bin);
  linkPads(program, queued);
  gst_object_unref(queued);
  gst_object_unref(program);
}

void buildNaive(GstBin* bin, int n, int buffers) {
  std::vector<GstElement*> tees, mixers;
  for (int i = 0; i < n; i++) {
    GstElement* tee = add(bin, "tee");
    link(addSpeaker(bin, i, buffers), tee);
    tees.push_back(tee);
  }
  for (int j = 0; j < n; j++) {
    GstElement* mixer = add(bin, "audiomixer");
    link(mixer, addFakesink(bin));
    mixers.push_back(mixer);
  }
  // No queues between tee and audiomixer: a non-live aggregator pad holds one buffer and
  // every tee branch can deliver it, so this cannot deadlock, and it is the cheapest naive
  // layout (a queue per branch would add N*(N-1) threads).
  for (int j = 0; j < n; j++) {
    for (int i = 0; i < n; i++) {
      if (i == j) continue;
      GstPad* teeSrc = gst_element_request_pad_simple(tees[i], "src_%u");
      GstPad* mixSink = gst_element_request_pad_simple(mixers[j], "sink_%u");
      linkPads(teeSrc, mixSink);
      gst_object_unref(teeSrc);
      gst_object_unref(mixSink);
    }
  }
}

void buildSources(GstBin* bin, int n, int buffers) {
  for (int i = 0; i < n; i++) link(addSpeaker(bin, i, buffers), addFakesink(bin));
}

// ---- Measurement

struct Run {
  Variant variant;
  int n = 0;
  int repeat = 0;
  double audioSeconds = 0;
  double userSeconds = 0;
  double sysSeconds = 0;
  double wallSeconds = 0;
  long voluntarySwitches = 0;
  long involuntarySwitches = 0;
  double otherCpuSeconds = 0;  // CPU other processes used meanwhile (10 ms resolution)

  double cpuSeconds() const { return userSeconds + sysSeconds; }
  double cpuMsPerAudioSecond() const { return cpuSeconds() * 1000.0 / audioSeconds; }
  double corePercent() const { return cpuSeconds() / audioSeconds * 100.0; }
  double realtimeFactor() const { return audioSeconds / wallSeconds; }
};

Run runOnce(Variant variant, int n, double audioSeconds) {
  int buffers = buffersFor(audioSeconds);
  GstElement* pipeline = gst_pipeline_new(nullptr);
  GstBin* bin = GST_BIN(pipeline);
  switch (variant) {
    case Variant::MixMinus: buildMixMinus(bin, n, buffers); break;
    case Variant::Naive: buildNaive(bin, n, buffers); break;
    case Variant::Sources: buildSources(bin, n, buffers); break;
  }

  // READY allocates nothing that streams; all data flow happens inside the timed window.
  if (gst_element_set_state(pipeline, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE) die("cannot set READY");
  GstBus* bus = gst_element_get_bus(pipeline);

  double busyBefore = machineBusySeconds();
  SelfUsage before = selfUsage();
  auto wallStart = std::chrono::steady_clock::now();
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) die("cannot set PLAYING");
  GstMessage* msg = gst_bus_timed_pop_filtered(
      bus, static_cast<GstClockTime>(kRunTimeoutSeconds * GST_SECOND),
      static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  auto wallEnd = std::chrono::steady_clock::now();
  SelfUsage after = selfUsage();
  double busyAfter = machineBusySeconds();

  std::string label = std::string(variantName(variant)) + " N=" + std::to_string(n);
  if (!msg) die(label + ": no EOS within " + std::to_string(static_cast<int>(kRunTimeoutSeconds)) + " s");
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError* err = nullptr;
    gchar* debug = nullptr;
    gst_message_parse_error(msg, &err, &debug);
    die(label + ": " + err->message + (debug ? std::string(" (") + debug + ")" : ""));
  }
  gst_message_unref(msg);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);

  Run r;
  r.variant = variant;
  r.n = n;
  r.audioSeconds = static_cast<double>(buffers) / kBuffersPerSecond;
  r.userSeconds = after.userSeconds - before.userSeconds;
  r.sysSeconds = after.sysSeconds - before.sysSeconds;
  r.wallSeconds = std::chrono::duration<double>(wallEnd - wallStart).count();
  r.voluntarySwitches = after.voluntarySwitches - before.voluntarySwitches;
  r.involuntarySwitches = after.involuntarySwitches - before.involuntarySwitches;
  if (busyBefore >= 0 && busyAfter >= 0) r.otherCpuSeconds = std::max(0.0, busyAfter - busyBefore - r.cpuSeconds());
  return r;
}

// ---- Statistics and output

struct Summary {
  Stat cpuMs, corePercent, realtime, sysShare, switchesPerAudioSecond;
  double audioSeconds = 0;
};

Summary summarise(const std::vector<Run>& runs, Variant v, int n) {
  std::vector<double> cpu, core, rt, sys, sw;
  Summary s;
  for (const Run& r : runs) {
    if (r.variant != v || r.n != n) continue;
    cpu.push_back(r.cpuMsPerAudioSecond());
    core.push_back(r.corePercent());
    rt.push_back(r.realtimeFactor());
    sys.push_back(r.cpuSeconds() > 0 ? r.sysSeconds / r.cpuSeconds() * 100 : 0);
    sw.push_back((r.voluntarySwitches + r.involuntarySwitches) / r.audioSeconds);
    s.audioSeconds = r.audioSeconds;
  }
  s.cpuMs = stat(cpu);
  s.corePercent = stat(core);
  s.realtime = stat(rt);
  s.sysShare = stat(sys);
  s.switchesPerAudioSecond = stat(sw);
  return s;
}

// Ratio of naive to mixminus within each (alternating) pair of runs.
Stat pairedRatio(const std::vector<Run>& runs, int n) {
  std::map<int, double> mm, nv;
  for (const Run& r : runs) {
    if (r.n != n) continue;
    if (r.variant == Variant::MixMinus) mm[r.repeat] = r.cpuMsPerAudioSecond();
    if (r.variant == Variant::Naive) nv[r.repeat] = r.cpuMsPerAudioSecond();
  }
  std::vector<double> ratios;
  for (auto& [rep, cost] : mm)
    if (nv.count(rep) && cost > 0) ratios.push_back(nv[rep] / cost);
  return stat(ratios);
}

std::string jsonStat(const Stat& s) {
  return "{\"median\": " + jsonNumber(s.median) + ", \"min\": " + jsonNumber(s.min) + ", \"max\": " +
         jsonNumber(s.max) + "}";
}

// What a whole session knows beyond the runs: for the header, the footer and the JSON.
struct Session {
  Options opt;
  std::vector<Variant> variants;
  std::string gstVersion, started, loadBefore, loadAfter;
  long cpus = 0;
  double benchWall = 0, timedWall = 0, otherCpu = 0;
};

std::vector<Run> runAll(Session& s) {
  const Options& opt = s.opt;
  const auto& variants = s.variants;
  std::vector<Run> runs;
  auto benchStart = std::chrono::steady_clock::now();
  for (int n : opt.sizes) {
    for (int rep = 0; rep < opt.repeats; rep++) {
      for (Variant v : variants) {  // alternating: mixminus, naive, [sources], mixminus, ...
        Run r = runOnce(v, n, v == Variant::Naive ? naiveAudioSeconds(opt, n) : opt.seconds);
        r.repeat = rep;
        std::fprintf(stderr, "  N=%-3d %-8s run %d/%d: %5.1f s audio, %8.1f CPU ms/audio s, wall %6.2f s\n", n,
                     variantName(v), rep + 1, opt.repeats, r.audioSeconds, r.cpuMsPerAudioSecond(),
                     r.wallSeconds);
        runs.push_back(r);
      }
    }
  }
  s.benchWall = std::chrono::duration<double>(std::chrono::steady_clock::now() - benchStart).count();
  for (const Run& r : runs) {
    s.timedWall += r.wallSeconds;
    s.otherCpu += r.otherCpuSeconds;
  }
  s.loadAfter = loadAverage();
  return runs;
}

void printTable(const Session& s, const std::vector<Run>& runs) {
  std::printf("\nmix-cost: CPU to produce every speaker's mix-minus (%s, %ld CPUs, roomcast %s)\n", s.gstVersion.c_str(),
              s.cpus, ROOMCAST_VERSION);
  std::printf("Non-live sources, 20 ms buffers, sinks sync=false; process CPU (user+sys) from PLAYING to EOS,\n"
              "per second of audio; median [min..max] of %d runs, variants alternating.\n"
              "%% core = share of one CPU core needed to keep up in real time.\n\n",
              s.opt.repeats);
  std::printf("%4s  %-8s  %6s  %28s  %9s  %5s  %9s\n", "N", "variant", "audio", "CPU ms per audio second",
              "% core", "sys", "x realtime");
  std::printf("%4s  %-8s  %6s  %28s  %9s  %5s  %9s\n", "", "", "s/run", "median [min .. max]", "median",
              "share", "(wall)");
  for (int n : s.opt.sizes) {
    for (Variant v : s.variants) {
      Summary sum = summarise(runs, v, n);
      std::string range = fmt("%.1f", sum.cpuMs.median) + " [" + fmt("%.1f", sum.cpuMs.min) + " .. " +
                          fmt("%.1f", sum.cpuMs.max) + "]";
      std::printf("%4d  %-8s  %6.1f  %28s  %8.1f%%  %4.0f%%  %9.1f\n", n, variantName(v), sum.audioSeconds,
                  range.c_str(), sum.corePercent.median, sum.sysShare.median, sum.realtime.median);
    }
    Stat paired = pairedRatio(runs, n);
    double ratio = summarise(runs, Variant::Naive, n).cpuMs.median / summarise(runs, Variant::MixMinus, n).cpuMs.median;
    std::printf("%4s  naive/mixminus = %.1fx  (per pair %.1f .. %.1f)", "", ratio, paired.min, paired.max);
    if (s.opt.baseline) {
      double floor = summarise(runs, Variant::Sources, n).cpuMs.median;
      double mm = summarise(runs, Variant::MixMinus, n).cpuMs.median - floor;
      double nv = summarise(runs, Variant::Naive, n).cpuMs.median - floor;
      if (mm > 0) std::printf("; above the sources floor %.1fx", nv / mm);
    }
    std::printf("\n\n");
  }
}

// Marginal cost per extra speaker between the two largest sizes (16 -> 64 by default).
struct Marginal {
  Variant variant;
  double msPerSpeaker;
};

std::vector<Marginal> marginals(const Session& s, const std::vector<Run>& runs) {
  std::vector<Marginal> out;
  if (s.opt.sizes.size() < 2) return out;
  const int nLow = s.opt.sizes[s.opt.sizes.size() - 2], nHigh = s.opt.sizes.back();
  std::printf("Marginal cost of one more speaker, slope between N=%d and N=%d:\n", nLow, nHigh);
  for (Variant v : s.variants) {
    double slope = (summarise(runs, v, nHigh).cpuMs.median - summarise(runs, v, nLow).cpuMs.median) / (nHigh - nLow);
    out.push_back({v, slope});
    std::printf("  %-8s  %8.2f CPU ms per audio second per speaker (%.2f%% of a core)\n", variantName(v), slope,
                slope / 10);
  }
  std::printf("\n");
  return out;
}

void printFooter(const Session& s) {
  std::printf("Total %.0f s wall; load average before %s, after %s.\n", s.benchWall, s.loadBefore.c_str(),
              s.loadAfter.c_str());
  std::printf("Other processes used %.2f CPU s during the %.1f s of timed runs (%.0f%% of one core on average)%s\n",
              s.otherCpu, s.timedWall, s.timedWall > 0 ? s.otherCpu / s.timedWall * 100 : 0,
              s.timedWall > 0 && s.otherCpu / s.timedWall > 0.2 ? ": the machine was busy, rerun." : ".");
  std::printf("Absolute numbers drift between runs and machines; quote the ratios.\n");
}

std::string summaryJson(const Session& s, const std::vector<Run>& runs) {
  std::ostringstream j;
  j << "  \"summary\": [\n";
  bool first = true;
  for (int n : s.opt.sizes) {
    for (Variant v : s.variants) {
      Summary sum = summarise(runs, v, n);
      j << (first ? "" : ",\n") << "    {\"n\": " << n << ", \"variant\": \"" << variantName(v)
        << "\", \"audio_seconds_per_run\": " << jsonNumber(sum.audioSeconds)
        << ", \"cpu_ms_per_audio_second\": " << jsonStat(sum.cpuMs) << ", \"core_percent\": " << jsonStat(sum.corePercent)
        << ", \"realtime_factor\": " << jsonStat(sum.realtime) << ", \"sys_percent_of_cpu\": " << jsonStat(sum.sysShare)
        << ", \"context_switches_per_audio_second\": " << jsonStat(sum.switchesPerAudioSecond) << "}";
      first = false;
    }
  }
  return j.str();
}

std::string ratiosJson(const Session& s, const std::vector<Run>& runs) {
  std::ostringstream j;
  j << "\n  ],\n  \"ratios\": [\n";
  for (size_t i = 0; i < s.opt.sizes.size(); i++) {
    int n = s.opt.sizes[i];
    double mm = summarise(runs, Variant::MixMinus, n).cpuMs.median;
    double nv = summarise(runs, Variant::Naive, n).cpuMs.median;
    j << "    {\"n\": " << n << ", \"naive_over_mixminus\": " << jsonNumber(nv / mm)
      << ", \"paired\": " << jsonStat(pairedRatio(runs, n));
    if (s.opt.baseline) {
      double floor = summarise(runs, Variant::Sources, n).cpuMs.median;
      j << ", \"above_sources_floor\": " << jsonNumber(mm - floor > 0 ? (nv - floor) / (mm - floor) : NAN);
    }
    j << "}" << (i + 1 < s.opt.sizes.size() ? ",\n" : "\n");
  }
  return j.str();
}

std::string marginalJson(const Session& s, const std::vector<Marginal>& marginals) {
  if (marginals.empty()) return "null";
  std::ostringstream j;
  j << "{\"from_n\": " << s.opt.sizes[s.opt.sizes.size() - 2] << ", \"to_n\": " << s.opt.sizes.back();
  for (const Marginal& m : marginals) j << ", \"" << variantName(m.variant) << "\": " << jsonNumber(m.msPerSpeaker);
  return j.str() + "}";
}

std::string runsJson(const std::vector<Run>& runs) {
  std::ostringstream j;
  j << ",\n  \"runs\": [\n";
  for (size_t i = 0; i < runs.size(); i++) {
    const Run& r = runs[i];
    j << "    {\"n\": " << r.n << ", \"variant\": \"" << variantName(r.variant) << "\", \"repeat\": " << r.repeat
      << ", \"audio_seconds\": " << jsonNumber(r.audioSeconds) << ", \"user_seconds\": " << jsonNumber(r.userSeconds)
      << ", \"sys_seconds\": " << jsonNumber(r.sysSeconds) << ", \"wall_seconds\": " << jsonNumber(r.wallSeconds)
      << ", \"cpu_ms_per_audio_second\": " << jsonNumber(r.cpuMsPerAudioSecond())
      << ", \"voluntary_context_switches\": " << r.voluntarySwitches
      << ", \"involuntary_context_switches\": " << r.involuntarySwitches
      << ", \"other_processes_cpu_seconds\": " << jsonNumber(r.otherCpuSeconds) << "}"
      << (i + 1 < runs.size() ? ",\n" : "\n");
  }
  j << "  ]\n}\n";
  return j.str();
}

void writeJson(const Session& s, const std::vector<Run>& runs, const std::vector<Marginal>& marginals) {
  const Options& opt = s.opt;
  std::ostringstream j;
  j << "{\n  \"benchmark\": \"mix-cost\",\n  \"roomcast_version\": " << jsonString(ROOMCAST_VERSION)
    << ",\n  \"gstreamer\": " << jsonString(s.gstVersion) << ",\n  \"cpus\": " << s.cpus
    << ",\n  \"started_utc\": " << jsonString(s.started) << ",\n  \"load_average_before\": " << jsonString(s.loadBefore)
    << ",\n  \"load_average_after\": " << jsonString(s.loadAfter) << ",\n  \"total_wall_seconds\": "
    << jsonNumber(s.benchWall) << ",\n  \"other_processes_cpu_seconds\": " << jsonNumber(s.otherCpu) << ",\n  \"params\": {\"sizes\": [";
  for (size_t i = 0; i < opt.sizes.size(); i++) j << (i ? ", " : "") << opt.sizes[i];
  j << "], \"seconds\": " << jsonNumber(opt.seconds) << ", \"naive_seconds\": {";
  for (size_t i = 0; i < opt.sizes.size(); i++)
    j << (i ? ", " : "") << "\"" << opt.sizes[i] << "\": " << jsonNumber(naiveAudioSeconds(opt, opt.sizes[i]));
  j << "}, \"repeats\": " << opt.repeats << ", \"samples_per_buffer\": " << kSamplesPerBuffer
    << ", \"rate\": " << kRate << ", \"source_volume\": " << jsonNumber(kSourceVolume)
    << ", \"baseline\": " << (opt.baseline ? "true" : "false") << "},\n";
  j << "  \"units\": {\"cpu_ms_per_audio_second\": \"process CPU ms (user+sys) per second of audio\", "
       "\"core_percent\": \"CPU seconds per audio second x 100\", \"realtime_factor\": \"audio seconds per wall "
       "second\"},\n";
  j << summaryJson(s, runs) << ratiosJson(s, runs) << "  ],\n  \"marginal_cpu_ms_per_audio_second_per_speaker\": "
    << marginalJson(s, marginals) << runsJson(runs);
  if (!writeJsonFile(opt.json, j.str())) die("cannot write " + opt.json);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  Session s;
  s.opt = parseOptions(argc, argv);
  s.variants = {Variant::MixMinus, Variant::Naive};
  if (s.opt.baseline) s.variants.push_back(Variant::Sources);
  s.cpus = onlineCpus();
  g_autofree gchar* version = gst_version_string();
  s.gstVersion = version;
  s.loadBefore = loadAverage();
  s.started = utcNow();
  std::fprintf(stderr, "bench-mix-cost: %s, %ld CPUs, load average %s\n", version, s.cpus, s.loadBefore.c_str());

  // Untimed warm-up: loads the plugins and faults in their code before anything counts.
  for (Variant v : s.variants) runOnce(v, s.opt.sizes.front(), 1.0);
  const std::vector<Run> runs = runAll(s);
  printTable(s, runs);
  const std::vector<Marginal> slopes = marginals(s, runs);
  printFooter(s);
  writeJson(s, runs, slopes);
  return 0;
}
