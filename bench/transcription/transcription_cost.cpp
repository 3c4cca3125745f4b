// bench-transcription-cost: CPU that speech recognition (pocketsphinx) costs per talking
// speaker, and how far behind live the final transcripts arrive. N speakers play a flite
// phrase in real time into SpeakerPeer::branchRecognizer's branch (src/media/speaker_peer.cpp);
// a "baseline" variant without pocketsphinx is subtracted within each alternating pair of runs.
// The pipeline and the lag definition are "What it measures" in this benchmark's newest
// bench/results/ file.

#include <fcntl.h>
#include <gst/gst.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "audio/wav.h"
#include "bench_util.h"
#include "roomcast-config.h"

namespace {

using namespace roomcast::bench;

constexpr double kLeadSilence = 1.0;   // seconds before the first utterance
constexpr double kGapSilence = 1.5;    // seconds after every utterance
constexpr double kSpeechThreshold = 0.01;  // |sample| above 1 % of full scale counts as speech
constexpr guint64 kQueueMaxTime = 2000000000;  // the recognizer queue of speaker_peer.cpp: 2 s

// pocketsphinx prints its whole configuration to stderr when an element starts; stderr goes to
// /dev/null while pipelines are built and started (quietStderr), and comes back for our output.
int savedStderr = -1;

void quietStderr(bool quiet) {
  std::fflush(stderr);
  if (quiet && savedStderr < 0) {
    savedStderr = dup(2);
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull >= 0) {
      dup2(devnull, 2);
      close(devnull);
    }
  } else if (!quiet && savedStderr >= 0) {
    dup2(savedStderr, 2);
    close(savedStderr);
    savedStderr = -1;
  }
}

// Fatal: stderr back first, so that the reason shows.
[[noreturn]] void fatal(const std::string& what) {
  quietStderr(false);
  die(what);
}

enum class Variant { Recognizer, Baseline };

const char* variantName(Variant v) { return v == Variant::Recognizer ? "pocketsphinx" : "baseline"; }

struct Options {
  std::vector<int> speakers{1, 2, 4};
  double seconds = 30;
  int repeats = 3;
  std::string phrase = "good morning everybody";
  std::string keyword = "morning";
  std::string json = "bench-transcription-cost.json";
};

Options parseOptions(int argc, char** argv) {
  Options o;
  parseFlags(argc, argv,
             "Usage: bench-transcription-cost [options]\n"
             "Needs flite and the pocketsphinx GStreamer element (gstreamer1.0-pocketsphinx).",
             {{"--speakers", "LIST", "simultaneous talking speakers per run, comma separated (default 1,2,4)",
               setSortedInts(o.speakers, 1, 64)},
              {"--seconds", "S", "length of each speaker's speech file (default 30; at least one utterance)",
               setNumber(o.seconds, 1e-3, 1e6)},
              {"--repeats", "R", "runs per variant and N, alternating variants (default 3)", setInt(o.repeats, 1, 100)},
              {"--phrase", "TEXT", "what flite says (default \"good morning everybody\")", setText(o.phrase)},
              {"--keyword", "WORD", "a final counts as recognized when it contains WORD (default morning)",
               setText(o.keyword)},
              {"--json", "FILE", "where to write the results (default bench-transcription-cost.json)", setText(o.json)}});
  return o;
}

// ---- Speech file

using roomcast::audio::PcmAudio;

// flite writes 16-bit mono PCM; the bench builds its speech file in the same format.
PcmAudio readMonoWav(const std::string& path) {
  PcmAudio pcm;
  if (!roomcast::audio::readWav(path, pcm) || pcm.channels != 1 || pcm.samples.empty())
    fatal(path + ": expected a 16-bit mono PCM WAV file");
  return pcm;
}

struct Speech {
  std::string path;
  double duration = 0;             // seconds of the whole file
  double phraseSeconds = 0;        // flite's output, including its own quiet edges
  double speechEndInPhrase = 0;    // last sample above the threshold, within the phrase
  std::vector<double> utteranceEnds;  // end of the speech of every utterance, file time
};

Speech buildSpeech(const PcmAudio& phrase, double seconds, const std::string& path) {
  Speech sp;
  sp.path = path;
  sp.phraseSeconds = static_cast<double>(phrase.samples.size()) / phrase.sampleRate;
  size_t last = 0;
  for (size_t i = 0; i < phrase.samples.size(); i++)
    if (std::abs(static_cast<int>(phrase.samples[i])) > kSpeechThreshold * 32768) last = i + 1;
  sp.speechEndInPhrase = static_cast<double>(last) / phrase.sampleRate;
  int repeats = std::max(1, static_cast<int>(std::lround((seconds - kLeadSilence) / (sp.phraseSeconds + kGapSilence))));
  PcmAudio out;
  out.sampleRate = phrase.sampleRate;
  auto silence = [&](double s) { out.samples.insert(out.samples.end(), static_cast<size_t>(std::lround(s * out.sampleRate)), 0); };
  silence(kLeadSilence);
  for (int r = 0; r < repeats; r++) {
    double start = static_cast<double>(out.samples.size()) / out.sampleRate;
    out.samples.insert(out.samples.end(), phrase.samples.begin(), phrase.samples.end());
    sp.utteranceEnds.push_back(start + sp.speechEndInPhrase);
    silence(kGapSilence);
  }
  sp.duration = static_cast<double>(out.samples.size()) / out.sampleRate;
  if (!roomcast::audio::writeWav(path, out)) fatal("cannot write " + path);
  return sp;
}

PcmAudio synthesize(const std::string& phrase, const std::string& path) {
  gchar* flite = g_find_program_in_path("flite");
  if (!flite) fatal("flite is not installed (apt-get install flite)");
  const gchar* argv[] = {flite, "-t", phrase.c_str(), "-o", path.c_str(), nullptr};
  gint status = 0;
  GError* error = nullptr;
  gchar* err = nullptr;
  if (!g_spawn_sync(nullptr, const_cast<gchar**>(argv), nullptr, G_SPAWN_STDOUT_TO_DEV_NULL, nullptr, nullptr, nullptr,
                    &err, &status, &error) ||
      !g_spawn_check_wait_status(status, nullptr))
    fatal(std::string("flite failed: ") + (error ? error->message : (err ? err : "")));
  g_free(err);
  g_free(flite);
  return readMonoWav(path);
}

// ---- Pipeline

GstElement* add(GstBin* bin, const char* factory, const std::string& name) {
  GstElement* e = gst_element_factory_make(factory, name.c_str());
  if (!e)
    fatal(std::string("element ") + factory + " is missing" +
        (std::string(factory) == "pocketsphinx" ? " (apt-get install gstreamer1.0-pocketsphinx)" : ""));
  gst_bin_add(bin, e);
  return e;
}

GstElement* addCaps(GstBin* bin, const std::string& name, const char* text) {
  GstElement* e = add(bin, "capsfilter", name);
  GstCaps* caps = gst_caps_from_string(text);
  g_object_set(e, "caps", caps, nullptr);
  gst_caps_unref(caps);
  return e;
}

void linkChain(const std::vector<GstElement*>& chain) {
  for (size_t i = 0; i + 1 < chain.size(); i++)
    if (!gst_element_link(chain[i], chain[i + 1]))
      fatal(std::string("cannot link ") + GST_OBJECT_NAME(chain[i]) + " to " + GST_OBJECT_NAME(chain[i + 1]));
}

// Audio that went into and out of one speaker's recognizer queue, its overruns, and how far
// into the speech file the recognizer is (end of the buffer it is being handed).
struct QueueCounters {
  std::atomic<guint64> inNs{0}, outNs{0};
  std::atomic<int> overruns{0};
  std::atomic<guint64> recognizerPosNs{GST_CLOCK_TIME_NONE};
};

GstPadProbeReturn countDuration(GstPad*, GstPadProbeInfo* info, gpointer data) {
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  if (buffer && GST_BUFFER_DURATION_IS_VALID(buffer)) static_cast<std::atomic<guint64>*>(data)->fetch_add(GST_BUFFER_DURATION(buffer));
  return GST_PAD_PROBE_OK;
}

// Before pocketsphinx' chain function, in the same thread: a message it posts while handling
// the buffer finds the buffer's end here. The segment starts at 0, so PTS = running time.
GstPadProbeReturn notePosition(GstPad*, GstPadProbeInfo* info, gpointer data) {
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  if (buffer && GST_BUFFER_PTS_IS_VALID(buffer))
    static_cast<std::atomic<guint64>*>(data)->store(GST_BUFFER_PTS(buffer) +
                                                    (GST_BUFFER_DURATION_IS_VALID(buffer) ? GST_BUFFER_DURATION(buffer) : 0));
  return GST_PAD_PROBE_OK;
}

void onOverrun(GstElement*, gpointer data) { static_cast<QueueCounters*>(data)->overruns.fetch_add(1); }

void addProbe(GstElement* e, const char* pad, std::atomic<guint64>* counter) {
  GstPad* p = gst_element_get_static_pad(e, pad);
  gst_pad_add_probe(p, GST_PAD_PROBE_TYPE_BUFFER, countDuration, counter, nullptr);
  gst_object_unref(p);
}

// One simulated speaker: the live-paced source and the recognizer branch of speaker_peer.cpp.
void addSpeaker(GstBin* bin, int i, Variant variant, const std::string& wav, QueueCounters* counters) {
  const std::string p = "spk" + std::to_string(i) + "-";
  GstElement* src = add(bin, "filesrc", p + "src");
  g_object_set(src, "location", wav.c_str(), nullptr);
  GstElement* parse = add(bin, "wavparse", p + "parse");
  GstElement* convert = add(bin, "audioconvert", p + "conv");
  GstElement* resample = add(bin, "audioresample", p + "res");
  GstElement* caps = addCaps(bin, p + "caps", "audio/x-raw,rate=48000,channels=1,format=F32LE");
  // wavparse reads large blocks; a decoder hands over 20 ms Opus frames.
  GstElement* split = add(bin, "audiobuffersplit", p + "split");
  gst_util_set_object_arg(G_OBJECT(split), "output-buffer-duration", "1/50");
  GstElement* pace = add(bin, "identity", p + "pace");
  g_object_set(pace, "sync", TRUE, nullptr);
  GstElement* tee = add(bin, "tee", p + "uplink");
  linkChain({src, parse, convert, resample, caps, split, pace, tee});

  // From here on exactly SpeakerPeer::branchRecognizer.
  GstElement* queue = add(bin, "queue", p + "asrq");
  g_object_set(queue, "max-size-time", kQueueMaxTime, "max-size-buffers", 0u, "max-size-bytes", 0u, nullptr);
  gst_util_set_object_arg(G_OBJECT(queue), "leaky", "downstream");
  GstElement* asrConvert = add(bin, "audioconvert", p + "asrconv");
  GstElement* asrResample = add(bin, "audioresample", p + "asrres");
  GstElement* asrCaps = addCaps(bin, p + "asrcaps", "audio/x-raw,format=S16LE,rate=16000,channels=1");
  GstElement* sink = add(bin, "fakesink", p + "asrsink");
  g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
  if (variant == Variant::Recognizer) {
    GstElement* recognizer = add(bin, "pocketsphinx", "asr-" + std::to_string(i));
    linkChain({queue, asrConvert, asrResample, asrCaps, recognizer, sink});
    GstPad* pad = gst_element_get_static_pad(recognizer, "sink");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, notePosition, &counters->recognizerPosNs, nullptr);
    gst_object_unref(pad);
  } else
    linkChain({queue, asrConvert, asrResample, asrCaps, sink});
  GstPad* teeSrc = gst_element_request_pad_simple(tee, "src_%u");
  GstPad* queueSink = gst_element_get_static_pad(queue, "sink");
  if (!teeSrc || gst_pad_link(teeSrc, queueSink) != GST_PAD_LINK_OK) fatal("cannot link the tee to the queue");
  gst_object_unref(teeSrc);
  gst_object_unref(queueSink);

  addProbe(queue, "sink", &counters->inNs);
  addProbe(queue, "src", &counters->outNs);
  g_signal_connect(queue, "overrun", G_CALLBACK(onOverrun), counters);
}

// ---- Measurement

struct Hypothesis {
  int speaker = -1;
  bool final = false;
  std::string text;
  double runningTime = 0;  // seconds since PLAYING when pocketsphinx posted it
  double audioPos = NAN;   // end of the audio it was handling then (file time, s)
};

struct Collector {
  std::mutex mutex;
  std::vector<Hypothesis> hypotheses;
  GstElement* pipeline = nullptr;
  GstClock* clock = nullptr;
  std::vector<QueueCounters*> counters;  // by speaker
};

// Runs in the thread that posts (pocketsphinx' streaming thread): stamps the message as it
// is posted. roomcast reads the same message from its main loop (room_pipeline.cpp), a
// dispatch later.
GstBusSyncReply onMessage(GstBus*, GstMessage* message, gpointer data) {
  if (GST_MESSAGE_TYPE(message) != GST_MESSAGE_ELEMENT) return GST_BUS_PASS;
  const GstStructure* s = gst_message_get_structure(message);
  if (!s || !gst_structure_has_name(s, "pocketsphinx")) return GST_BUS_PASS;
  auto* c = static_cast<Collector*>(data);
  GstClockTime now = gst_clock_get_time(c->clock);
  GstClockTime base = gst_element_get_base_time(c->pipeline);
  Hypothesis h;
  gboolean final = FALSE;
  gst_structure_get_boolean(s, "final", &final);
  const char* text = gst_structure_get_string(s, "hypothesis");
  h.final = final;
  h.text = text ? text : "";
  h.runningTime = now >= base ? static_cast<double>(now - base) / GST_SECOND : 0;
  const char* name = GST_OBJECT_NAME(GST_MESSAGE_SRC(message));
  if (name && std::strncmp(name, "asr-", 4) == 0) h.speaker = std::atoi(name + 4);
  if (h.speaker >= 0 && h.speaker < static_cast<int>(c->counters.size())) {
    guint64 pos = c->counters[static_cast<size_t>(h.speaker)]->recognizerPosNs.load();
    if (pos != GST_CLOCK_TIME_NONE) h.audioPos = static_cast<double>(pos) / GST_SECOND;
  }
  std::lock_guard<std::mutex> lock(c->mutex);
  c->hypotheses.push_back(std::move(h));
  return GST_BUS_PASS;
}

struct Run {
  Variant variant = Variant::Baseline;
  int n = 0;
  int repeat = 0;
  double audioSeconds = 0;
  double userSeconds = 0, sysSeconds = 0, wallSeconds = 0;
  double otherCpuSeconds = 0;
  double setupCpuSeconds = 0, setupWallSeconds = 0;  // NULL -> PAUSED, not in the timed window
  long rssSetupKb = 0;                                  // RSS growth from building to PAUSED
  int finals = 0, partials = 0, finalsWithKeyword = 0, emptyFinals = 0;
  int utterancesHeard = 0;   // (speaker, utterance) pairs with a final containing the keyword
  int earlyFinals = 0;       // finals before the first utterance ended (no lag)
  std::vector<double> lags;  // seconds, one per final after an utterance end
  std::vector<double> endpointLags;  // audio position - utterance end: the recognizer's wait for silence
  std::vector<double> backlogs;      // posted - audio position: how far the recognizer ran behind live
  double recognizedSeconds = 0;      // audio that reached the recognizers (out of the queues)
  int overruns = 0;
  double queuedSeconds = 0, droppedSeconds = 0;  // into the recognizer queues, lost in them

  double cpuSeconds() const { return userSeconds + sysSeconds; }
  double corePercent() const { return wallSeconds > 0 ? cpuSeconds() / wallSeconds * 100 : NAN; }
  double otherPercent() const { return wallSeconds > 0 ? otherCpuSeconds / wallSeconds * 100 : 0; }
};

// Finals against the utterances: lag, endpoint and backlog of each, and which utterances were heard.
void scoreFinals(Run& r, const std::vector<Hypothesis>& hypotheses, const std::vector<double>& ends,
                 const std::string& keyword) {
  std::vector<std::vector<bool>> heard(static_cast<size_t>(r.n), std::vector<bool>(ends.size(), false));
  for (const Hypothesis& h : hypotheses) {
    if (!h.final) {
      r.partials++;
      continue;
    }
    r.finals++;
    bool hasKeyword = h.text.find(keyword) != std::string::npos;
    if (hasKeyword) r.finalsWithKeyword++;
    if (h.text.empty()) r.emptyFinals++;
    // The utterance it belongs to: the most recent one whose speech ended before the audio
    // the recognizer was handling when it posted (before the message itself, if unknown).
    // When the recognizer keeps up both are the same; when it runs behind, the message can
    // arrive after the next utterance has ended.
    const double pos = std::isfinite(h.audioPos) ? h.audioPos : h.runningTime;
    auto it = std::upper_bound(ends.begin(), ends.end(), pos);
    if (it == ends.begin()) {
      r.earlyFinals++;
      continue;
    }
    size_t u = static_cast<size_t>(it - ends.begin()) - 1;
    r.lags.push_back(h.runningTime - ends[u]);
    if (std::isfinite(h.audioPos)) {
      r.endpointLags.push_back(h.audioPos - ends[u]);
      r.backlogs.push_back(h.runningTime - h.audioPos);
    }
    if (hasKeyword && h.speaker >= 0 && h.speaker < r.n) heard[static_cast<size_t>(h.speaker)][u] = true;
  }
  for (const auto& row : heard) r.utterancesHeard += static_cast<int>(std::count(row.begin(), row.end(), true));
}

Run runOnce(Variant variant, int n, const Speech& speech, const std::string& keyword) {
  quietStderr(true);
  GstElement* pipeline = gst_pipeline_new("transcription");
  std::vector<std::unique_ptr<QueueCounters>> counters;
  long rssBefore = processStatus(getpid()).rssKb;
  for (int i = 0; i < n; i++) {
    counters.push_back(std::make_unique<QueueCounters>());
    addSpeaker(GST_BIN(pipeline), i, variant, speech.path, counters.back().get());
  }
  Collector collector;
  collector.pipeline = pipeline;
  for (auto& c : counters) collector.counters.push_back(c.get());
  collector.clock = gst_system_clock_obtain();  // the pipeline's clock: no element here provides one
  gst_pipeline_use_clock(GST_PIPELINE(pipeline), collector.clock);
  GstBus* bus = gst_element_get_bus(pipeline);
  gst_bus_set_sync_handler(bus, onMessage, &collector, nullptr);

  std::string label = std::string(variantName(variant)) + " N=" + std::to_string(n);
  auto fail = [&](GstMessage* msg) {
    GError* err = nullptr;
    gchar* debug = nullptr;
    gst_message_parse_error(msg, &err, &debug);
    fatal(label + ": " + err->message + (debug ? std::string(" (") + debug + ")" : ""));
  };

  // Setup: loading the acoustic model and dictionary happens here, outside the timed window.
  // identity sync=true holds the first buffer until PLAYING.
  SelfUsage setupBefore = selfUsage();
  double setupStart = monotonicSeconds();
  if (gst_element_set_state(pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
    if (GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) fail(msg);
    fatal(label + ": cannot set PAUSED");
  }
  gst_element_get_state(pipeline, nullptr, nullptr, 10 * GST_SECOND);
  double setupWall = monotonicSeconds() - setupStart;
  SelfUsage setupAfter = selfUsage();
  quietStderr(false);
  g_usleep(200000);  // let the streaming threads reach identity before timing starts
  long rssSetup = processStatus(getpid()).rssKb - rssBefore;

  double busyBefore = machineBusySeconds();
  SelfUsage before = selfUsage();
  double wallStart = monotonicSeconds();
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) fatal(label + ": cannot set PLAYING");
  const double timeout = speech.duration * 2 + 60;
  GstMessage* msg = gst_bus_timed_pop_filtered(bus, static_cast<GstClockTime>(timeout * GST_SECOND),
                                               static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  double wallEnd = monotonicSeconds();
  SelfUsage after = selfUsage();
  double busyAfter = machineBusySeconds();
  if (!msg) fatal(label + ": no EOS within " + std::to_string(static_cast<int>(timeout)) + " s");
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) fail(msg);
  gst_message_unref(msg);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_bus_set_sync_handler(bus, nullptr, nullptr, nullptr);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  gst_object_unref(collector.clock);

  Run r;
  r.variant = variant;
  r.n = n;
  r.audioSeconds = speech.duration;
  r.userSeconds = after.userSeconds - before.userSeconds;
  r.sysSeconds = after.sysSeconds - before.sysSeconds;
  r.wallSeconds = wallEnd - wallStart;
  if (busyBefore >= 0 && busyAfter >= 0) r.otherCpuSeconds = std::max(0.0, busyAfter - busyBefore - r.cpuSeconds());
  r.setupCpuSeconds = setupAfter.userSeconds + setupAfter.sysSeconds - setupBefore.userSeconds - setupBefore.sysSeconds;
  r.setupWallSeconds = setupWall;
  r.rssSetupKb = rssSetup;
  for (const auto& c : counters) {
    r.overruns += c->overruns.load();
    r.queuedSeconds += static_cast<double>(c->inNs.load()) / GST_SECOND;
    r.recognizedSeconds += static_cast<double>(c->outNs.load()) / GST_SECOND;
    r.droppedSeconds += static_cast<double>(c->inNs.load() - std::min(c->inNs.load(), c->outNs.load())) / GST_SECOND;
  }

  scoreFinals(r, collector.hypotheses, speech.utteranceEnds, keyword);
  return r;
}

// ---- Statistics and output

std::vector<const Run*> select(const std::vector<Run>& runs, Variant v, int n) {
  std::vector<const Run*> out;
  for (const Run& r : runs)
    if (r.variant == v && r.n == n) out.push_back(&r);
  return out;
}

template <typename F>
Stat statOf(const std::vector<const Run*>& runs, F f) {
  std::vector<double> v;
  for (const Run* r : runs) v.push_back(f(*r));
  return roomcast::bench::stat(v);
}

// Recognition % of a core per speaker, within each pair of runs (same repeat):
// (% core pocketsphinx - % core baseline) / N, each over its own wall time.
std::vector<double> pairedCost(const std::vector<Run>& runs, int n) {
  std::vector<double> out;
  for (const Run* a : select(runs, Variant::Recognizer, n))
    for (const Run* b : select(runs, Variant::Baseline, n))
      if (a->repeat == b->repeat) out.push_back((a->corePercent() - b->corePercent()) / n);
  return out;
}

// The same extra CPU per second of audio that actually reached a recognizer (what one speaker
// needs to be transcribed in full): (CPU pocketsphinx - CPU baseline) / recognized seconds,
// summed over the speakers. Equals pairedCost when nothing is dropped and the run kept up;
// larger when the machine starved the recognizers.
std::vector<double> pairedNeed(const std::vector<Run>& runs, int n) {
  std::vector<double> out;
  for (const Run* a : select(runs, Variant::Recognizer, n))
    for (const Run* b : select(runs, Variant::Baseline, n))
      if (a->repeat == b->repeat && a->recognizedSeconds > 0)
        out.push_back((a->cpuSeconds() - b->cpuSeconds()) / a->recognizedSeconds * 100);
  return out;
}

struct LagSummary {
  int count = 0;
  double p50 = NAN, p95 = NAN, max = NAN;
};

LagSummary lagSummary(const std::vector<const Run*>& runs, std::vector<double> Run::*field = &Run::lags) {
  std::vector<double> all;
  for (const Run* r : runs) all.insert(all.end(), (r->*field).begin(), (r->*field).end());
  LagSummary s;
  s.count = static_cast<int>(all.size());
  if (all.empty()) return s;
  s.p50 = percentile(all, 50);
  s.p95 = percentile(all, 95);
  s.max = *std::max_element(all.begin(), all.end());
  return s;
}

std::string jsonStat(const Stat& s) {
  return "{\"median\": " + jsonNumber(s.median) + ", \"min\": " + jsonNumber(s.min) + ", \"max\": " + jsonNumber(s.max) + "}";
}

std::string range(const Stat& s, const char* f) {
  return fmt(f, s.median) + " [" + fmt(f, s.min) + " .. " + fmt(f, s.max) + "]";
}

// What a whole session knows beyond the runs: for the header, the footer and the JSON.
struct Session {
  Options opt;
  Speech speech;
  std::string gstVersion, started, loadBefore, loadAfter;
  long cpus = 0;
  double benchWall = 0, timedWall = 0, otherCpu = 0, worstOther = 0;
  int busyRuns = 0;
};

// Every N, --repeats pairs of runs; the order of the variants alternates.
std::vector<Run> runAll(Session& s) {
  const Options& opt = s.opt;
  std::vector<Run> runs;
  double benchStart = monotonicSeconds();
  for (int n : opt.speakers) {
    for (int rep = 0; rep < opt.repeats; rep++) {
      // Alternating order: pocketsphinx first in even repeats, baseline first in odd ones.
      std::vector<Variant> order{Variant::Recognizer, Variant::Baseline};
      if (rep % 2) std::swap(order[0], order[1]);
      for (Variant v : order) {
        Run r = runOnce(v, n, s.speech, opt.keyword);
        r.repeat = rep;
        std::fprintf(stderr,
                     "  N=%d %-12s run %d/%d: CPU %.2f s over %.2f s wall = %.1f%% core, others %.0f%%, finals %d "
                     "(%d with \"%s\"), overruns %d, dropped %.2f s%s\n",
                     n, variantName(v), rep + 1, opt.repeats, r.cpuSeconds(), r.wallSeconds, r.corePercent(),
                     r.otherPercent(), r.finals, r.finalsWithKeyword, opt.keyword.c_str(), r.overruns,
                     r.droppedSeconds, r.otherPercent() > 20 ? "  [machine busy]" : "");
        runs.push_back(std::move(r));
      }
    }
  }
  s.benchWall = monotonicSeconds() - benchStart;
  s.loadAfter = loadAverage();
  for (const Run& r : runs) {
    s.timedWall += r.wallSeconds;
    s.otherCpu += r.otherCpuSeconds;
    s.worstOther = std::max(s.worstOther, r.otherPercent());
    if (r.otherPercent() > 20) s.busyRuns++;
  }
  return runs;
}

// One N's recognizer runs pooled.
struct Row {
  int n;
  Stat cost, need;
  LagSummary lag, endpoint, backlog;
  double finalsPerUtterance, keywordShare, heardShare, overruns, dropped, recognized;
  int finals, early, empty;
};

Row summarise(const std::vector<Run>& runs, int n, size_t utterancesPerFile) {
  auto sel = select(runs, Variant::Recognizer, n);
  Row row{};
  row.n = n;
  row.cost = roomcast::bench::stat(pairedCost(runs, n));
  row.need = roomcast::bench::stat(pairedNeed(runs, n));
  row.lag = lagSummary(sel);
  row.endpoint = lagSummary(sel, &Run::endpointLags);
  row.backlog = lagSummary(sel, &Run::backlogs);
  int withKw = 0, heard = 0;
  for (const Run* r : sel) {
    row.finals += r->finals;
    withKw += r->finalsWithKeyword;
    heard += r->utterancesHeard;
    row.early += r->earlyFinals;
    row.empty += r->emptyFinals;
  }
  double utterances = static_cast<double>(sel.size()) * n * static_cast<double>(utterancesPerFile);
  row.finalsPerUtterance = utterances > 0 ? row.finals / utterances : NAN;
  row.keywordShare = row.finals > 0 ? 100.0 * withKw / row.finals : NAN;
  row.heardShare = utterances > 0 ? 100.0 * heard / utterances : NAN;
  row.overruns = statOf(sel, [](const Run& r) { return static_cast<double>(r.overruns); }).median;
  row.dropped = statOf(sel, [](const Run& r) { return r.droppedSeconds; }).median;
  row.recognized = statOf(sel, [](const Run& r) { return r.recognizedSeconds / r.n; }).median;
  return row;
}

void printRuns(const Session& s, const std::vector<Run>& runs) {
  std::printf("\ntranscription-cost: CPU and lag of pocketsphinx per talking speaker (%s, %ld CPUs, roomcast %s)\n",
              s.gstVersion.c_str(), s.cpus, ROOMCAST_VERSION);
  std::printf("Every speaker plays %.1f s of speech (%zu x \"%s\") paced to real time in 20 ms buffers into\n"
              "speaker_peer.cpp's recognizer branch, all N in one pipeline, all talking at once. Process CPU\n"
              "(user+sys) over the wall time from PLAYING to EOS; median [min .. max] of %d runs, variants alternating.\n\n",
              s.speech.duration, s.speech.utteranceEnds.size(), s.opt.phrase.c_str(), s.opt.repeats);
  std::printf("%3s  %-12s  %22s  %7s  %7s  %8s  %6s\n", "N", "variant", "% core (whole process)", "wall s", "others",
              "setup", "RSS");
  std::printf("%3s  %-12s  %22s  %7s  %7s  %8s  %6s\n", "", "", "median [min .. max]", "median", "max %",
              "CPU s", "MB");
  for (int n : s.opt.speakers) {
    for (Variant v : {Variant::Recognizer, Variant::Baseline}) {
      auto sel = select(runs, v, n);
      std::printf("%3d  %-12s  %22s  %7.2f  %6.0f%%  %8.2f  %6.0f\n", n, variantName(v),
                  range(statOf(sel, [](const Run& r) { return r.corePercent(); }), "%.1f").c_str(),
                  statOf(sel, [](const Run& r) { return r.wallSeconds; }).median,
                  statOf(sel, [](const Run& r) { return r.otherPercent(); }).max,
                  statOf(sel, [](const Run& r) { return r.setupCpuSeconds; }).median,
                  statOf(sel, [](const Run& r) { return r.rssSetupKb / 1024.0; }).median);
    }
  }
}

void printRows(const Session& s, const std::vector<Row>& rows) {
  std::printf("\nRecognition per talking speaker: (pocketsphinx - baseline) within each pair of runs.\n"
              "'per wall s' = %% core difference / N (the figure to plan with while it keeps up); 'per audio s'\n"
              "= extra CPU s / seconds of audio that reached the recognizers x 100 (the share of a core one\n"
              "speaker needs to be transcribed in full; larger than 'per wall s' when audio was dropped).\n\n");
  std::printf("%3s  %22s  %22s  %9s  %9s  %10s\n", "N", "% core per speaker", "% core per speaker", "overruns",
              "dropped", "recognized");
  std::printf("%3s  %22s  %22s  %9s  %9s  %10s\n", "", "per wall s", "per audio s", "/run", "s/run", "s/speaker");
  for (const Row& row : rows)
    std::printf("%3d  %22s  %22s  %9.0f  %9.2f  %10.1f\n", row.n, range(row.cost, "%.1f").c_str(),
                range(row.need, "%.1f").c_str(), row.overruns, row.dropped, row.recognized);

  std::printf("\nFinal hypotheses, all runs of that N pooled. lag = posted - end of the utterance's speech;\n"
              "it splits into endpoint (how much audio after the speech the recognizer had been given: its\n"
              "wait for silence) + backlog (posted - live time of that audio: time in the queue plus the final\n"
              "search pocketsphinx runs when the utterance ends).\n\n");
  std::printf("%3s  %6s  %7s  %7s  %7s  %9s  %9s  %6s  %8s  %6s\n", "N", "finals", "lag p50", "p95", "max",
              "endpoint", "backlog", "finals", "with kw", "heard");
  std::printf("%3s  %6s  %7s  %7s  %7s  %9s  %9s  %6s  %8s  %6s\n", "", "", "s", "s", "s", "p50 s", "p50 s", "/utt",
              "%", "% utt");
  for (const Row& row : rows)
    std::printf("%3d  %6d  %7.2f  %7.2f  %7.2f  %9.2f  %9.2f  %6.2f  %7.0f%%  %5.0f%%\n", row.n, row.finals,
                row.lag.p50, row.lag.p95, row.lag.max, row.endpoint.p50, row.backlog.p50, row.finalsPerUtterance,
                row.keywordShare, row.heardShare);
  std::printf("\n'with kw': finals containing \"%s\"; 'heard': utterances with such a final. 'dropped': audio the\n"
              "leaky 2 s queues threw away, all speakers of a run ('overruns': the queues' overrun signal, once per\n"
              "buffer that found its queue full). 'setup' (loading the models, NULL -> PAUSED) and 'RSS' growth are\n"
              "per run, for all N speakers together, and outside the timed window.\n",
              s.opt.keyword.c_str());
  std::printf("\nTotal %.0f s wall; load average before %s, after %s.\n", s.benchWall, s.loadBefore.c_str(), s.loadAfter.c_str());
  std::printf("Other processes used %.1f CPU s during the %.0f s of timed runs (%.0f%% of one core on average, worst run "
              "%.0f%%)%s\n",
              s.otherCpu, s.timedWall, s.timedWall > 0 ? s.otherCpu / s.timedWall * 100 : 0, s.worstOther,
              s.busyRuns ? (": " + std::to_string(s.busyRuns) + " run(s) above 20 % of a core, the machine was busy; rerun.").c_str()
                       : ".");
}

std::string rowJson(const std::vector<Run>& runs, const Row& row) {
  std::ostringstream j;
  auto ps = select(runs, Variant::Recognizer, row.n), base = select(runs, Variant::Baseline, row.n);
  auto core = [](const Run& r) { return r.corePercent(); };
  j << "    {\"n\": " << row.n << ", \"recognition_core_percent_per_speaker\": " << jsonStat(row.cost)
    << ", \"recognition_core_percent_per_recognized_audio_second\": " << jsonStat(row.need)
    << ", \"pocketsphinx_core_percent\": " << jsonStat(statOf(ps, core))
    << ", \"baseline_core_percent\": " << jsonStat(statOf(base, core)) << ", \"lag_seconds\": {\"count\": "
    << row.lag.count << ", \"p50\": " << jsonNumber(row.lag.p50) << ", \"p95\": " << jsonNumber(row.lag.p95)
    << ", \"max\": " << jsonNumber(row.lag.max) << "}, \"endpoint_seconds\": {\"p50\": " << jsonNumber(row.endpoint.p50)
    << ", \"p95\": " << jsonNumber(row.endpoint.p95) << "}, \"backlog_seconds\": {\"p50\": "
    << jsonNumber(row.backlog.p50) << ", \"p95\": " << jsonNumber(row.backlog.p95) << ", \"max\": "
    << jsonNumber(row.backlog.max) << "}, \"finals\": " << row.finals
    << ", \"finals_per_utterance\": " << jsonNumber(row.finalsPerUtterance)
    << ", \"finals_with_keyword_percent\": " << jsonNumber(row.keywordShare)
    << ", \"utterances_heard_percent\": " << jsonNumber(row.heardShare) << ", \"early_finals\": " << row.early
    << ", \"empty_finals\": " << row.empty << ", \"overruns_per_run\": " << jsonNumber(row.overruns)
    << ", \"dropped_seconds_per_run\": " << jsonNumber(row.dropped)
    << ", \"recognized_seconds_per_speaker\": " << jsonNumber(row.recognized)
    << ", \"setup_cpu_seconds_per_speaker\": "
    << jsonNumber(statOf(ps, [](const Run& r) { return r.setupCpuSeconds / r.n; }).median)
    << ", \"baseline_setup_cpu_seconds_per_speaker\": "
    << jsonNumber(statOf(base, [](const Run& r) { return r.setupCpuSeconds / r.n; }).median)
    << ", \"rss_mb_per_speaker\": "
    << jsonNumber(statOf(ps, [](const Run& r) { return r.rssSetupKb / 1024.0 / r.n; }).median) << "}";
  return j.str();
}

std::string runJson(const Run& r) {
  std::ostringstream j;
  j << "    {\"n\": " << r.n << ", \"variant\": \"" << variantName(r.variant) << "\", \"repeat\": " << r.repeat
    << ", \"audio_seconds\": " << jsonNumber(r.audioSeconds) << ", \"user_seconds\": " << jsonNumber(r.userSeconds)
    << ", \"sys_seconds\": " << jsonNumber(r.sysSeconds) << ", \"wall_seconds\": " << jsonNumber(r.wallSeconds)
    << ", \"core_percent\": " << jsonNumber(r.corePercent())
    << ", \"other_processes_cpu_seconds\": " << jsonNumber(r.otherCpuSeconds)
    << ", \"setup_cpu_seconds\": " << jsonNumber(r.setupCpuSeconds)
    << ", \"setup_wall_seconds\": " << jsonNumber(r.setupWallSeconds) << ", \"rss_setup_kb\": " << r.rssSetupKb
    << ", \"finals\": " << r.finals << ", \"partials\": " << r.partials
    << ", \"finals_with_keyword\": " << r.finalsWithKeyword << ", \"utterances_heard\": " << r.utterancesHeard
    << ", \"early_finals\": " << r.earlyFinals << ", \"overruns\": " << r.overruns
    << ", \"queued_seconds\": " << jsonNumber(r.queuedSeconds) << ", \"dropped_seconds\": "
    << jsonNumber(r.droppedSeconds) << ", \"recognized_seconds\": " << jsonNumber(r.recognizedSeconds);
  auto list = [&](const char* key, const std::vector<double>& v) {
    j << ", \"" << key << "\": [";
    for (size_t k = 0; k < v.size(); k++) j << (k ? ", " : "") << jsonNumber(v[k]);
    j << "]";
  };
  list("lags_seconds", r.lags);
  list("endpoint_seconds", r.endpointLags);
  list("backlog_seconds", r.backlogs);
  j << "}";
  return j.str();
}

void writeJson(const Session& s, const std::vector<Run>& runs, const std::vector<Row>& rows) {
  const Options& opt = s.opt;
  const Speech& speech = s.speech;
  std::ostringstream j;
  j << "{\n  \"benchmark\": \"transcription-cost\",\n  \"roomcast_version\": " << jsonString(ROOMCAST_VERSION)
    << ",\n  \"gstreamer\": " << jsonString(s.gstVersion) << ",\n  \"cpus\": " << s.cpus
    << ",\n  \"cpu_model\": " << jsonString(cpuModel()) << ",\n  \"started_utc\": " << jsonString(s.started)
    << ",\n  \"load_average_before\": " << jsonString(s.loadBefore) << ",\n  \"load_average_after\": "
    << jsonString(s.loadAfter) << ",\n  \"total_wall_seconds\": " << jsonNumber(s.benchWall)
    << ",\n  \"other_processes_cpu_seconds\": " << jsonNumber(s.otherCpu)
    << ",\n  \"timed_wall_seconds\": " << jsonNumber(s.timedWall) << ",\n  \"busy_runs\": " << s.busyRuns
    << ",\n  \"params\": {\"speakers\": [";
  for (size_t i = 0; i < opt.speakers.size(); i++) j << (i ? ", " : "") << opt.speakers[i];
  j << "], \"seconds\": " << jsonNumber(opt.seconds) << ", \"repeats\": " << opt.repeats
    << ", \"phrase\": " << jsonString(opt.phrase) << ", \"keyword\": " << jsonString(opt.keyword)
    << ", \"file_seconds\": " << jsonNumber(speech.duration) << ", \"utterances\": " << speech.utteranceEnds.size()
    << ", \"phrase_seconds\": " << jsonNumber(speech.phraseSeconds)
    << ", \"speech_end_in_phrase_seconds\": " << jsonNumber(speech.speechEndInPhrase)
    << ", \"lead_silence_seconds\": " << jsonNumber(kLeadSilence) << ", \"gap_silence_seconds\": "
    << jsonNumber(kGapSilence) << ", \"buffer_ms\": 20},\n";
  j << "  \"units\": {\"core_percent\": \"process CPU seconds (user+sys) per wall second x 100\", "
       "\"recognition_core_percent_per_speaker\": \"(core_percent pocketsphinx - core_percent baseline) / N, per pair\", "
       "\"lag_seconds\": \"running time when a final hypothesis was posted - end of the speech of the most recent "
       "utterance\"},\n";
  j << "  \"summary\": [\n";
  for (size_t i = 0; i < rows.size(); i++) j << rowJson(runs, rows[i]) << (i + 1 < rows.size() ? ",\n" : "\n");
  j << "  ],\n  \"runs\": [\n";
  for (size_t i = 0; i < runs.size(); i++) j << runJson(runs[i]) << (i + 1 < runs.size() ? ",\n" : "\n");
  j << "  ]\n}\n";
  if (!writeJsonFile(opt.json, j.str())) fatal("cannot write " + opt.json);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  Session s;
  s.opt = parseOptions(argc, argv);
  if (GstElementFactory* f = gst_element_factory_find("pocketsphinx"))
    gst_object_unref(f);
  else
    fatal("no pocketsphinx GStreamer element (apt-get install gstreamer1.0-pocketsphinx)");

  g_autoptr(GError) error = nullptr;
  g_autofree gchar* dir = g_dir_make_tmp("bench-transcription-XXXXXX", &error);
  if (!dir) fatal(std::string("no temporary folder: ") + error->message);
  const std::string tmp = dir;
  PcmAudio phrase = synthesize(s.opt.phrase, tmp + "/phrase.wav");
  s.speech = buildSpeech(phrase, s.opt.seconds, tmp + "/speech.wav");
  Speech warmup = buildSpeech(phrase, 0, tmp + "/warmup.wav");  // one utterance

  s.cpus = onlineCpus();
  g_autofree gchar* version = gst_version_string();
  s.gstVersion = version;
  s.loadBefore = loadAverage();
  s.started = utcNow();
  std::fprintf(stderr,
               "bench-transcription-cost: %s, %ld CPUs (%s), load average %s\n"
               "  speech: %zu x \"%s\" (%.2f s, speech ends at %.2f s), %.1f s per file\n",
               version, s.cpus, cpuModel().c_str(), s.loadBefore.c_str(), s.speech.utteranceEnds.size(),
               s.opt.phrase.c_str(), s.speech.phraseSeconds, s.speech.speechEndInPhrase, s.speech.duration);

  // Untimed warm-up: loads the plugins and the model files before anything counts.
  for (Variant v : {Variant::Recognizer, Variant::Baseline}) runOnce(v, 1, warmup, s.opt.keyword);
  const std::vector<Run> runs = runAll(s);
  std::vector<Row> rows;
  for (int n : s.opt.speakers) rows.push_back(summarise(runs, n, s.speech.utteranceEnds.size()));

  printRuns(s, runs);
  printRows(s, rows);
  writeJson(s, runs, rows);
  removeTree(tmp);
  return 0;
}
