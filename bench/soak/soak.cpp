// bench-soak: cheap, ordinary traffic (REST requests, silent WebSockets, speaker join/leave
// cycles) against a room with a live speaker: does roomcastd give back the fds, threads and
// RSS it took (each phase against a baseline, after a settle), and does the speaker's audio
// ever stop (tone_watch.h)? The phases and the pass rules are "What it measures" in this
// benchmark's newest bench/results/ file. Exit 1 if the audio stopped or a resource did not
// return.

#include <glib.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "audio/tone.h"
#include "audio/wav.h"
#include "children.h"
#include "processes.h"
#include "socket_load.h"
#include "speaker_cycles.h"
#include "tone_watch.h"

using namespace roomcast::bench;
using namespace roomcast::bench::soak;

namespace {

// ---- options

struct Options {
  double scale = 1;
  long requests = -1, websockets = -1, cycles = -1;  // -1: the issue's count x scale
  int restConcurrency = 32;
  int sourceAddresses = 8;
  int wsBatch = 2000;
  double wsHold = 15;
  int parallel = 4;
  double speakSeconds = 0.5;
  double settleMax = 30, settleQuiet = 5;
  // The room keeps its last 3 minutes of HLS in memory (report evidence): the baseline waits
  // until that is full, so that a bounded buffer filling up is not taken for a leak.
  double roomAge = 190;
  // Speaker cycles in the warm-up: glibc's per-thread arenas grow over the first few dozen
  // peers (each brings its own threads) and then stay; later growth is what counts.
  long warmCycles = 50;
  double tolerancePct = 5;
  int fdSlack = 8, threadSlack = 4;
  // A single quiet window is the mixer's 20 ms underrun, which a loaded machine shows without any
  // soak load (bench/README.md); a stop is a quiet run longer than allowedGapMs.
  double windowMs = 20, dropDb = 10, allowedGapMs = 100, maxStall = 1.0;
  std::string config;
  std::vector<std::string> daemonArgs;
  std::string json = "bench-soak.json";
  bool keepWorkdir = false;
};

FlagSetter setCount(long& out) {
  return [&out](const std::string& v) { out = intList(v, 0, 1 << 30).at(0); };
}

Options parseOptions(int argc, char** argv) {
  Options o;
  parseFlags(argc, argv,
             "bench-soak: REST, silent WebSockets and speaker cycles against a room with a live speaker;\n"
             "do fds, threads and RSS return to their baseline, and does the speaker's audio ever stop?",
             {{"--scale", "F", "every count x F (default 1: 100000 requests, 20000 WebSockets, 500 cycles)",
               setNumber(o.scale, 0, 1e6)},
              {"--requests", "N", "REST requests (not scaled)", setCount(o.requests)},
              {"--websockets", "N", "silent WebSockets (not scaled)", setCount(o.websockets)},
              {"--cycles", "N", "speaker join/leave cycles (not scaled)", setCount(o.cycles)},
              {"--rest-concurrency", "C", "REST connections open at once (default 32)", setInt(o.restConcurrency, 1, 1 << 20)},
              {"--source-addresses", "K", "clients bind to 127.0.0.2 .. 127.0.0.(1+K) (default 8)",
               setInt(o.sourceAddresses, 1, 250)},
              {"--ws-batch", "N", "silent WebSockets held at once (default 2000)", setInt(o.wsBatch, 1, 1 << 20)},
              {"--ws-hold", "S", "hold a batch until the server closes it, at most S s (default 15)", setNumber(o.wsHold, 0, 1e6)},
              {"--parallel", "N", "speaker cycles at once (default 4)", setInt(o.parallel, 1, 12)},
              {"--speak-seconds", "S", "on stage per cycle after connecting (default 0.5)", setNumber(o.speakSeconds, 0.05, 1e6)},
              {"--settle-max", "S", "settle after each phase at most S s (default 30)", setNumber(o.settleMax, 0, 1e6)},
              {"--settle-quiet", "S", "settled: S s without change (default 5)", setNumber(o.settleQuiet, 0, 1e6)},
              {"--warm-cycles", "N", "speaker cycles in the warm-up (default 50)", setCount(o.warmCycles)},
              {"--room-age", "S",
               "take the baseline once the room is S s old (default 190: its\n3 minutes of HLS kept for report evidence are full by then)",
               setNumber(o.roomAge, 0, 1e6)},
              {"--tolerance", "PCT", "allowed growth over the baseline (default 5)", setNumber(o.tolerancePct, 0, 1e6)},
              {"--fd-slack", "N", "fds allowed when PCT of the baseline is fewer (default 8)", setInt(o.fdSlack, 0, 1 << 20)},
              {"--thread-slack", "N", "threads allowed when PCT of the baseline is fewer (default 4)",
               setInt(o.threadSlack, 0, 1 << 20)},
              {"--window-ms", "MS", "tone windows (default 20)", setNumber(o.windowMs, 5, 1e6)},
              {"--drop-db", "DB", "a window this far below the tone is quiet (default 10)", setNumber(o.dropDb, 0, 1e6)},
              {"--allowed-gap-ms", "MS", "longest quiet run that still counts as never stopped (default 100)",
               setNumber(o.allowedGapMs, 0, 1e6)},
              {"--max-stall", "S", "longest pause in delivery beyond 1 s between \"heard\" lines (default 1)",
               setNumber(o.maxStall, 0, 1e6)},
              {"--config", "FILE", "roomcastd --config (e.g. shorter deadlines)", setText(o.config)},
              {"--daemon-arg", "ARG", "one more roomcastd argument (repeatable)",
               [&o](const std::string& v) { o.daemonArgs.push_back(v); }},
              {"--json", "FILE", "results (default bench-soak.json)", setText(o.json)},
              {"--keep-workdir", "", "keep the daemon's data dir, logs and the observer's recording", setSwitch(o.keepWorkdir)}});
  auto scaled = [&](long given, long full) { return given >= 0 ? given : std::lround(full * o.scale); };
  o.requests = scaled(o.requests, 100000);
  o.websockets = scaled(o.websockets, 20000);
  o.cycles = scaled(o.cycles, 500);
  return o;
}

// A progress line stamped with the monotonic clock, so phases can be matched with the daemon's log.
void timedNote(const char* format, ...) G_GNUC_PRINTF(1, 2);
void timedNote(const char* format, ...) {
  va_list args;
  va_start(args, format);
  fprintf(stderr, "[%7.1f] ", monotonicSeconds());
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
}

// ---- the daemon's resources

struct Sample {
  double at = 0;  // monotonicSeconds()
  int fds = -1, threads = -1;
  long rssKb = -1;
  double cpuSeconds = -1;
};

Sample sample(pid_t pid) {
  return {monotonicSeconds(), processOpenFds(pid), processThreads(pid), processRssKb(pid), processCpuSeconds(pid)};
}

struct Limits {
  Sample base;
  double pct = 5;
  int fdSlack = 8, threadSlack = 4;
  int fdAllowance() const { return std::max(fdSlack, static_cast<int>(std::ceil(base.fds * pct / 100))); }
  int threadAllowance() const { return std::max(threadSlack, static_cast<int>(std::ceil(base.threads * pct / 100))); }
  long rssAllowanceKb() const { return static_cast<long>(std::ceil(base.rssKb * pct / 100)); }
  // Only growth counts: fewer fds or threads than at the baseline leak nothing.
  bool fdsOk(const Sample& s) const { return s.fds >= 0 && s.fds - base.fds <= fdAllowance(); }
  bool threadsOk(const Sample& s) const { return s.threads >= 0 && s.threads - base.threads <= threadAllowance(); }
  bool rssOk(const Sample& s) const { return s.rssKb >= 0 && s.rssKb - base.rssKb <= rssAllowanceKb(); }
  bool allOk(const Sample& s) const { return fdsOk(s) && threadsOk(s) && rssOk(s); }
};

// Samples every 0.5 s until the counts are within the limits (when given), or neither fds
// nor threads nor RSS has reached a new low for `quiet` s, or `max` s have passed.
Sample settle(pid_t pid, const Limits* limits, double quiet, double max) {
  const double start = monotonicSeconds();
  Sample s = sample(pid), low = s;
  double lastFall = start;
  for (;;) {
    if (s.fds < 0) return s;  // the daemon is gone
    if (limits && limits->allOk(s)) return s;
    const double now = monotonicSeconds();
    if (now - lastFall >= quiet || now - start >= max) return s;
    sleepFor(0.5);  // /proc announces nothing: a bounded poll
    s = sample(pid);
    if (s.fds < low.fds || s.threads < low.threads || s.rssKb < low.rssKb) lastFall = monotonicSeconds();
    low.fds = std::min(low.fds, s.fds);
    low.threads = std::min(low.threads, s.threads);
    low.rssKb = std::min(low.rssKb, s.rssKb);
  }
}

// The mixer's own account of drop-outs (/metrics): a tick without an awaited speaker's frame is
// a 20 ms hole in that speaker's audio made on the server, not by the observer's client.
struct Mixer {
  double ticks = NAN, lateTicks = NAN, underruns = NAN, concealed = NAN;
};

Mixer mixer(const std::string& url) {
  const Reply r = httpRequest("GET", url + "/metrics");
  if (r.status != 200) return {};
  const auto m = parseMetrics(r.body);
  auto get = [&](const char* name) {
    const auto it = m.find(name);
    return it == m.end() ? NAN : it->second;
  };
  return {get("roomcast_mixer_ticks"), get("roomcast_mixer_late_ticks"), get("roomcast_mixer_underruns"),
          get("roomcast_uplink_losses_concealed")};
}

std::string mixerJson(const Mixer& m, const Mixer& base) {
  return "{\"ticks\": " + jsonNumber(m.ticks - base.ticks) + ", \"late_ticks\": " + jsonNumber(m.lateTicks - base.lateTicks) +
         ", \"underruns\": " + jsonNumber(m.underruns - base.underruns) + ", \"uplink_concealed\": " +
         jsonNumber(m.concealed - base.concealed) + "}";
}

// ---- phases

struct Phase {
  std::string name;
  long operations = 0;  // requests sent, upgrades attempted, cycles started
  long errors = 0;
  double seconds = 0;
  Sample peak, settled;
  double settleSeconds = 0;
  bool roomAlive = true;
  Mixer mixerBefore, mixerAfter;  // from the phase's start to the end of its settle
  std::string detailText;  // one line for the table's notes
  std::string detailJson;  // an object
};

std::string statusCounts(const std::map<int, long>& m) {
  std::string s;
  for (const auto& [k, v] : m) s += (s.empty() ? "" : " ") + std::to_string(k) + "x" + std::to_string(v);
  return s.empty() ? "-" : s;
}

std::string countsJson(const std::map<std::string, long>& m) {
  std::string s = "{";
  for (const auto& [k, v] : m) s += (s.size() > 1 ? ", " : "") + jsonString(k) + ": " + std::to_string(v);
  return s + "}";
}

std::string statusJson(const std::map<int, long>& m) {
  std::string s = "{";
  for (const auto& [k, v] : m) s += (s.size() > 1 ? ", \"" : "\"") + std::to_string(k) + "\": " + std::to_string(v);
  return s + "}";
}

std::string firstFailures(const std::map<std::string, long>& m) {
  std::string s;
  int n = 0;
  for (const auto& [k, v] : m) {
    if (n++ == 3) break;
    s += "; " + k + " x" + std::to_string(v);
  }
  return s;
}

std::string sampleJson(const Sample& s) {
  return "{\"fds\": " + std::to_string(s.fds) + ", \"threads\": " + std::to_string(s.threads) +
         ", \"rss_kb\": " + std::to_string(s.rssKb) + ", \"cpu_seconds\": " + jsonNumber(s.cpuSeconds) + "}";
}

// The three loads' settings (their counts are set per phase).
struct Loads {
  RestLoadOptions rest;
  SilentWsOptions ws;
  CycleOptions cycles;
};

Loads loadsFor(const Options& opt, const std::string& url, const std::string& room,
               const std::vector<std::string>& slotTokens, const std::string& workdir) {
  Loads l;
  l.rest.concurrency = opt.restConcurrency;
  l.rest.paths = {"/api/v1/health", "/api/v1/rooms/" + room, "/api/v1/health", "/api/v1/rooms", "/api/v1/recordings"};
  l.ws.path = "/ws/" + room;
  l.ws.batch = opt.wsBatch;
  l.ws.holdMax = opt.wsHold;
  l.cycles.server = url;
  l.cycles.room = room;
  l.cycles.slotTokens = slotTokens;
  l.cycles.speakSeconds = opt.speakSeconds;
  l.cycles.logDir = workdir;
  return l;
}

// Warm-up: a little of each, so that what is allocated once or grows to a plateau
// (GStreamer's first peer, libsoup's first WebSocket, malloc arenas, the room's evidence
// buffer) is in the baseline.
void warmUp(const Options& opt, const Target& target, RestLoadOptions rest, SilentWsOptions ws, CycleOptions cycles,
            double roomCreatedAt) {
  timedNote("warm-up");
  rest.requests = 300;
  runRestLoad(target, rest);
  ws.connections = 50;
  ws.holdMax = 0;
  runSilentWebSockets(target, ws);
  cycles.cycles = opt.warmCycles;
  const CycleResult warmCycles = runSpeakerCycles(cycles);
  if (warmCycles.completed == 0) die("no speaker cycle completed in the warm-up" + firstFailures(warmCycles.failures));
  if (const double wait = roomCreatedAt + opt.roomAge - monotonicSeconds(); wait > 0) {
    timedNote("waiting %.0f s for the room's bounded buffers to fill (--room-age)", wait);
    sleepFor(wait);
  }
}

// The three loads, each a Phase for the table and the JSON.
Phase restPhase(const Options& opt, const Target& target, RestLoadOptions rest) {
  timedNote("rest: %ld requests", opt.requests);
  rest.requests = opt.requests;
  const RestLoadResult r = runRestLoad(target, rest);
  Phase p;
  p.name = "rest";
  p.operations = r.sent;
  p.errors = r.errors();
  p.seconds = r.seconds;
  p.detailText = std::to_string(r.answered) + " answered (" + statusCounts(r.statuses) + ") on " +
                 std::to_string(r.connections) + " connections, " + std::to_string(r.serverClosedAfterResponse) +
                 " closed by the server" + (r.phaseTimedOut ? ", PHASE TIMED OUT" : "") +
                 (r.stalled ? ", ENDED EARLY: no answer for 30 s" : "") + firstFailures(r.failures);
  p.detailJson = "{\"sent\": " + std::to_string(r.sent) + ", \"answered\": " + std::to_string(r.answered) +
                 ", \"connections\": " + std::to_string(r.connections) + ", \"connect_failures\": " +
                 std::to_string(r.connectFailures) + ", \"closed_early\": " + std::to_string(r.closedEarly) +
                 ", \"timed_out\": " + std::to_string(r.timedOut) + ", \"server_closed_after_response\": " +
                 std::to_string(r.serverClosedAfterResponse) + ", \"phase_timed_out\": " +
                 (r.phaseTimedOut ? "true" : "false") + ", \"stalled\": " + (r.stalled ? "true" : "false") + ", \"requests_per_second\": " +
                 jsonNumber(r.seconds > 0 ? r.answered / r.seconds : NAN) + ", \"statuses\": " +
                 statusJson(r.statuses) + ", \"failures\": " + countsJson(r.failures) + "}";
  return p;
}

Phase wsPhase(const Options& opt, const Target& target, SilentWsOptions ws) {
  timedNote("ws: %ld silent WebSockets, batches of %d", opt.websockets, opt.wsBatch);
  ws.connections = opt.websockets;
  const SilentWsResult r = runSilentWebSockets(target, ws);
  Phase p;
  p.name = "ws";
  p.operations = r.attempted;
  p.errors = r.errors();
  p.seconds = r.seconds;
  const double closeP50 = nearestRankPercentile(r.serverCloseAfter, 0.5), closeMax = nearestRankPercentile(r.serverCloseAfter, 1.0);
  p.detailText = std::to_string(r.upgraded) + " upgraded, " + std::to_string(r.closedByServer) +
                 " closed by the server (after p50 " + (std::isnan(closeP50) ? "-" : jsonNumber(closeP50)) +
                 " s), " + std::to_string(r.closedByUs) + " closed by us after the hold" +
                 (r.phaseTimedOut ? ", PHASE TIMED OUT" : "") +
                 (r.stalled ? ", ENDED EARLY: no upgrade answered for 30 s" : "") + firstFailures(r.failures);
  p.detailJson = "{\"attempted\": " + std::to_string(r.attempted) + ", \"upgraded\": " + std::to_string(r.upgraded) +
                 ", \"refused\": " + std::to_string(r.refused) + ", \"connect_failures\": " +
                 std::to_string(r.connectFailures) + ", \"timed_out\": " + std::to_string(r.timedOut) +
                 ", \"closed_by_server\": " + std::to_string(r.closedByServer) + ", \"closed_by_us\": " +
                 std::to_string(r.closedByUs) + ", \"server_close_after_s_p50\": " + jsonNumber(closeP50) +
                 ", \"server_close_after_s_max\": " + jsonNumber(closeMax) + ", \"phase_timed_out\": " +
                 (r.phaseTimedOut ? "true" : "false") + ", \"stalled\": " + (r.stalled ? "true" : "false") + ", \"statuses\": " + statusJson(r.statuses) +
                 ", \"failures\": " + countsJson(r.failures) + "}";
  return p;
}

Phase speakerPhase(const Options& opt, CycleOptions cycles) {
  timedNote("speakers: %ld join/leave cycles, %d at a time", opt.cycles, opt.parallel);
  cycles.cycles = opt.cycles;
  const CycleResult r = runSpeakerCycles(cycles);
  Phase p;
  p.name = "speakers";
  p.operations = r.started;
  p.errors = r.errors();
  p.seconds = r.seconds;
  const double p50 = nearestRankPercentile(r.cycleSeconds, 0.5), p95 = nearestRankPercentile(r.cycleSeconds, 0.95);
  p.detailText = std::to_string(r.completed) + " completed (connected, heard, left), cycle p50 " +
                 (std::isnan(p50) ? "-" : jsonNumber(p50)) + " s p95 " + (std::isnan(p95) ? "-" : jsonNumber(p95)) +
                 " s" + (r.phaseTimedOut ? ", PHASE TIMED OUT" : "") + firstFailures(r.failures);
  p.detailJson = "{\"started\": " + std::to_string(r.started) + ", \"completed\": " + std::to_string(r.completed) +
                 ", \"failed\": " + std::to_string(r.failed) + ", \"timed_out\": " + std::to_string(r.timedOut) +
                 ", \"cycle_s_p50\": " + jsonNumber(p50) + ", \"cycle_s_p95\": " + jsonNumber(p95) +
                 ", \"phase_timed_out\": " + (r.phaseTimedOut ? "true" : "false") +
                 ", \"failures\": " + countsJson(r.failures) + "}";
  return p;
}

// What the soak found, for the table and the JSON.
struct Report {
  const Options& opt;
  int nofile = 0;
  Sample base;
  Limits limits;
  std::vector<Phase> phases;
  Mixer mixerBase;
  ToneReport tone;
  bool audioOk = false, speakerLasted = false, observerLasted = false, resourcesOk = true;
  int observerExit = -1, daemonExit = -1;
  long emfile = 0, criticals = 0, warnings = 0;
  double runStarted = 0;
  std::string loadBefore;
};

// The observer's recording: delete the room (everyone is told), the observer writes it; was
// the speaker's tone there all along? Then the daemon's log, and its exit.
void listenBack(Report& r, Roomcastd& daemon, Child& speaker, Child& observer, const std::string& room,
                const std::string& host, const std::string& wav, double wallFrom, double wallTo) {
  const Options& opt = r.opt;
  r.speakerLasted = speaker.running();
  r.observerLasted = observer.running();
  httpRequest("DELETE", daemon.url() + "/api/v1/rooms/" + room, {}, host);
  r.observerExit = observer.wait(120);
  speaker.wait(30);
  std::vector<HeardMark> marks;
  for (const auto& line : observer.lines()) {
    unsigned long long n = 0;
    if (sscanf(line.text.c_str(), "heard %llu s", &n) == 1) marks.push_back({line.wall, static_cast<double>(n)});
  }
  roomcast::audio::PcmAudio heard;
  const bool haveWav = roomcast::audio::readWav(wav, heard);
  const std::vector<float> mono = haveWav ? roomcast::audio::toMonoFloat(heard) : std::vector<float>{};
  r.tone = analyseTone(mono, heard.sampleRate, 440, marks, wallFrom, wallTo, opt.windowMs / 1000, opt.dropDb);
  const ToneReport& tone = r.tone;
  r.audioOk = haveWav && r.speakerLasted && r.observerLasted && tone.complete && tone.windows > 0 &&
                       tone.longestGapMs <= opt.allowedGapMs && tone.longestHeardIntervalSeconds <= 1 + opt.maxStall;

  const std::string log = daemon.log();
  auto countLines = [&](const char* needle) {
    long n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) n++;
    return n;
  };
  r.emfile = countLines("Too many open files");
  r.criticals = countLines("CRITICAL");
  r.warnings = countLines("WARNING");
  r.daemonExit = daemon.stop();

}

// Prints the table; returns whether it passed (resources returned, audio never stopped).
bool printReport(Report& r) {
  const Options& opt = r.opt;
  const Sample& base = r.base;
  const Limits& limits = r.limits;
  const auto& phases = r.phases;
  const ToneReport& tone = r.tone;
  bool& resourcesOk = r.resourcesOk;
  const int nofile = r.nofile;
  const bool audioOk = r.audioOk, speakerLasted = r.speakerLasted, observerLasted = r.observerLasted;
  const long emfile = r.emfile, criticals = r.criticals, warnings = r.warnings;
  const int daemonExit = r.daemonExit;
  const double runStarted = r.runStarted;
  const std::string& loadBefore = r.loadBefore;
  resourcesOk = true;
  printf("\nsoak: %s, GStreamer %s, %s\n", machineSummary().c_str(), gstVersion().c_str(), utcNow().c_str());
  printf("roomcastd fd limit %d; tolerance %.0f %% of the baseline, at least %d fds / %d threads; only growth counts\n",
         nofile, opt.tolerancePct, opt.fdSlack, opt.threadSlack);
  printf("baseline after warm-up: %d fds, %d threads, %.1f MB RSS\n\n", base.fds, base.threads, base.rssKb / 1024.0);
  printf("%-9s %8s %7s %7s  %14s %14s %16s  %6s %6s %8s  %s\n", "phase", "ops", "errors", "s", "fds peak>end",
         "threads", "RSS MB", "d fds", "d thr", "d RSS", "within?");
  for (const Phase& p : phases) {
    const bool ok = limits.allOk(p.settled);
    resourcesOk = resourcesOk && ok;
    std::string which;
    if (!limits.fdsOk(p.settled)) which += " fds";
    if (!limits.threadsOk(p.settled)) which += " threads";
    if (!limits.rssOk(p.settled)) which += " RSS";
    printf("%-9s %8ld %7ld %7.1f  %6d > %-6d %6d > %-6d %7.1f > %-7.1f %+6d %+6d %+7.1f%%  %s\n", p.name.c_str(),
           p.operations, p.errors, p.seconds, p.peak.fds, p.settled.fds, p.peak.threads, p.settled.threads,
           p.peak.rssKb / 1024.0, p.settled.rssKb / 1024.0, p.settled.fds - base.fds, p.settled.threads - base.threads,
           100.0 * (p.settled.rssKb - base.rssKb) / base.rssKb, ok ? "yes" : ("NO:" + which).c_str());
  }
  printf("\n");
  for (const Phase& p : phases)
    printf("  %-9s %s; settled in %.1f s; room %s; mixer: %.0f ticks, %.0f late, %.0f underruns; uplink losses concealed %.0f\n",
           p.name.c_str(), p.detailText.c_str(), p.settleSeconds, p.roomAlive ? "alive" : "GONE (speaker, observer or room ended)",
           p.mixerAfter.ticks - p.mixerBefore.ticks, p.mixerAfter.lateTicks - p.mixerBefore.lateTicks,
           p.mixerAfter.underruns - p.mixerBefore.underruns, p.mixerAfter.concealed - p.mixerBefore.concealed);
  if (phases.size() < 3) {
    printf("  phases after '%s' were skipped: the room was gone\n", phases.back().name.c_str());
    resourcesOk = false;
  }
  printf("\naudio (440 Hz in the observer's return, %.0f ms windows, %.1f s of soak): median %.1f dB, min %.1f dB;\n"
         "  %zu of %zu windows more than %.0f dB below the median, in %zu gaps, longest %.0f ms;\n"
         "  longest wait between \"heard\" lines %.2f s, recording fell %.2f s behind the wall clock%s\n",
         opt.windowMs, tone.spanWallSeconds, tone.medianDb, tone.minDb, tone.quietWindows, tone.windows, opt.dropDb,
         tone.gaps, tone.longestGapMs, tone.longestHeardIntervalSeconds, tone.lagGrowthSeconds,
         tone.complete ? "" : "; THE RECORDING ENDS BEFORE THE SOAK DID");
  for (const auto& [a, b] : tone.firstGaps) printf("    quiet %.2f .. %.2f s of the recording\n", a, b);
  if (!speakerLasted || !observerLasted)
    printf("  the %s ended during the soak\n", !speakerLasted ? "speaker" : "observer");
  printf("  audio never stopped: %s\n", audioOk ? "yes" : "NO");
  printf("roomcastd log: %ld \"Too many open files\", %ld CRITICAL, %ld WARNING lines; exit %d after SIGTERM\n", emfile,
         criticals, warnings, daemonExit);
  const bool passed = audioOk && resourcesOk;
  printf("total %.0f s; load average before %s, after %s\nresult: %s\n", monotonicSeconds() - runStarted, loadBefore.c_str(),
         loadAverage().c_str(), passed ? "PASS" : "FAIL");

  return passed;
}

void writeJson(const Report& r, bool passed) {
  const Options& opt = r.opt;
  const Sample& base = r.base;
  const Limits& limits = r.limits;
  const auto& phases = r.phases;
  const ToneReport& tone = r.tone;
  const bool resourcesOk = r.resourcesOk, audioOk = r.audioOk, speakerLasted = r.speakerLasted,
             observerLasted = r.observerLasted;
  const int nofile = r.nofile, observerExit = r.observerExit, daemonExit = r.daemonExit;
  const long emfile = r.emfile, criticals = r.criticals, warnings = r.warnings;
  const Mixer& mixerBase = r.mixerBase;
  const double runStarted = r.runStarted;
  // ---- JSON
  std::ostringstream j;
  j << "{\n\"benchmark\": \"soak\",\n\"date\": \"" << utcNow() << "\",\n\"machine\": " << jsonString(machineSummary())
    << ",\n\"gstreamer\": \"" << gstVersion() << "\",\n\"parameters\": {\"scale\": " << jsonNumber(opt.scale)
    << ", \"requests\": " << opt.requests << ", \"websockets\": " << opt.websockets << ", \"cycles\": " << opt.cycles
    << ", \"rest_concurrency\": " << opt.restConcurrency << ", \"source_addresses\": " << opt.sourceAddresses
    << ", \"ws_batch\": " << opt.wsBatch << ", \"ws_hold_s\": " << jsonNumber(opt.wsHold)
    << ", \"parallel\": " << opt.parallel << ", \"speak_seconds\": " << jsonNumber(opt.speakSeconds)
    << ", \"settle_max_s\": " << jsonNumber(opt.settleMax) << ", \"settle_quiet_s\": " << jsonNumber(opt.settleQuiet)
    << ", \"tolerance_pct\": " << jsonNumber(opt.tolerancePct) << ", \"fd_slack\": " << opt.fdSlack
    << ", \"thread_slack\": " << opt.threadSlack << ", \"window_ms\": " << jsonNumber(opt.windowMs)
    << ", \"drop_db\": " << jsonNumber(opt.dropDb) << ", \"allowed_gap_ms\": " << jsonNumber(opt.allowedGapMs)
    << ", \"max_stall_s\": " << jsonNumber(opt.maxStall) << ", \"config\": " << jsonString(opt.config)
    << ", \"rlimit_nofile\": " << nofile << "},\n";
  j << "\"baseline\": " << sampleJson(base) << ",\n\"allowance\": {\"fds\": " << limits.fdAllowance()
    << ", \"threads\": " << limits.threadAllowance() << ", \"rss_kb\": " << limits.rssAllowanceKb() << "},\n\"phases\": [\n";
  for (size_t i = 0; i < phases.size(); i++) {
    const Phase& p = phases[i];
    j << "{\"name\": \"" << p.name << "\", \"operations\": " << p.operations << ", \"errors\": " << p.errors
      << ", \"seconds\": " << jsonNumber(p.seconds) << ", \"peak\": " << sampleJson(p.peak) << ", \"settled\": "
      << sampleJson(p.settled) << ", \"settle_seconds\": " << jsonNumber(p.settleSeconds)
      << ", \"delta\": {\"fds\": " << p.settled.fds - base.fds << ", \"threads\": " << p.settled.threads - base.threads
      << ", \"rss_kb\": " << p.settled.rssKb - base.rssKb << ", \"rss_pct\": "
      << jsonNumber(100.0 * (p.settled.rssKb - base.rssKb) / base.rssKb) << "}, \"within\": {\"fds\": "
      << (limits.fdsOk(p.settled) ? "true" : "false") << ", \"threads\": "
      << (limits.threadsOk(p.settled) ? "true" : "false") << ", \"rss\": " << (limits.rssOk(p.settled) ? "true" : "false")
      << "}, \"room_alive\": " << (p.roomAlive ? "true" : "false") << ", \"mixer\": " << mixerJson(p.mixerAfter, p.mixerBefore) << ", \"detail\": " << p.detailJson << "}"
      << (i + 1 < phases.size() ? ",\n" : "\n");
  }
  j << "],\n\"audio\": {\"tone_hz\": 440, \"span_s\": " << jsonNumber(tone.spanWallSeconds) << ", \"windows\": "
    << tone.windows << ", \"median_db\": " << jsonNumber(tone.medianDb) << ", \"min_db\": " << jsonNumber(tone.minDb)
    << ", \"quiet_windows\": " << tone.quietWindows << ", \"gaps\": " << tone.gaps << ", \"longest_gap_ms\": "
    << jsonNumber(tone.longestGapMs) << ", \"longest_heard_interval_s\": " << jsonNumber(tone.longestHeardIntervalSeconds)
    << ", \"lag_growth_s\": " << jsonNumber(tone.lagGrowthSeconds) << ", \"recording_complete\": "
    << (tone.complete ? "true" : "false") << ", \"speaker_lasted\": " << (speakerLasted ? "true" : "false")
    << ", \"observer_lasted\": " << (observerLasted ? "true" : "false") << ", \"observer_exit\": " << observerExit
    << ", \"never_stopped\": " << (audioOk ? "true" : "false") << ", \"mixer_whole_soak\": "
    << mixerJson(phases.empty() ? mixerBase : phases.back().mixerAfter, mixerBase) << "},\n";
  j << "\"daemon_log\": {\"emfile_lines\": " << emfile << ", \"critical_lines\": " << criticals
    << ", \"warning_lines\": " << warnings << ", \"exit\": " << daemonExit << "},\n";
  j << "\"resources_returned\": " << (resourcesOk ? "true" : "false") << ",\n\"passed\": " << (passed ? "true" : "false")
    << ",\n\"total_seconds\": " << jsonNumber(monotonicSeconds() - runStarted) << "\n}\n";
  if (writeFile(opt.json, j.str())) printf("JSON: %s\n", opt.json.c_str());
  else fprintf(stderr, "bench-soak: cannot write %s\n", opt.json.c_str());

}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parseOptions(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  // Our client sockets: a WebSocket batch and the REST connections at once. The daemon
  // inherits the same limit (the issue's 20 000 on this machine).
  const int nofile = static_cast<int>(raiseFileLimit(65536));
  if (nofile < opt.wsBatch + opt.restConcurrency + 256)
    die("RLIMIT_NOFILE " + std::to_string(nofile) + " is too low for --ws-batch " + std::to_string(opt.wsBatch));

  g_autofree char* workdirRaw = g_dir_make_tmp("bench-soak-XXXXXX", nullptr);
  if (!workdirRaw) die("cannot create a temporary directory");
  const std::string workdir = workdirRaw;
  const double runStarted = monotonicSeconds();
  const std::string loadBefore = loadAverage();

  std::vector<std::string> daemonArgs = opt.daemonArgs;
  if (!opt.config.empty()) daemonArgs.insert(daemonArgs.begin(), {"--config", opt.config});
  Roomcastd daemon(workdir + "/data", daemonArgs);
  if (!daemon.ready()) die("roomcastd did not start:\n" + daemon.log());
  const pid_t pid = daemon.pid();
  timedNote("roomcastd %d at %s; nofile %d; %ld requests, %ld WebSockets, %ld cycles", static_cast<int>(pid),
       daemon.url().c_str(), processOpenFdLimit(pid), opt.requests, opt.websockets, opt.cycles);

  // The room, its live speaker and the observer.
  const Reply created = httpRequest("POST", daemon.url() + "/api/v1/rooms", R"({"title":"Soak"})");
  const double roomCreatedAt = monotonicSeconds();
  const std::string room = jsonMember(created.body, "id"), host = jsonMember(created.body, "host_token");
  if (created.status != 201 || room.empty()) die("cannot create a room: " + created.body);
  auto token = [&](const std::string& name) {
    const Reply r = httpRequest("POST", daemon.url() + "/api/v1/rooms/" + room + "/tokens",
                                R"({"role":"speaker","name":")" + name + "\"}", host);
    if (r.status != 201) die("cannot issue a speaker token: " + r.body);
    return jsonMember(r.body, "token");
  };
  const std::string cli = roomcast::testing::buildPath("src/client/roomcast");
  const std::string wav = workdir + "/observer.wav";
  Child speaker({cli, "--server", daemon.url(), "speak", room, "--token", host, "--tone", "440", "--seconds", "86400"},
                -1, workdir + "/speaker.log");
  Child observer({cli, "--server", daemon.url(), "speak", room, "--token", token("observer"), "--tone", "1000",
                  "--volume", "0.02", "--seconds", "86400", "--out", wav},
                 -1, workdir + "/observer.log");
  if (speaker.waitForLine("connected", 60) < 0) die("the speaker did not connect:\n" + readFile(workdir + "/speaker.log"));
  if (observer.waitForLine("heard 3 s", 60) < 0) die("the observer hears nothing:\n" + readFile(workdir + "/observer.log"));
  std::vector<std::string> slotTokens;
  for (int i = 0; i < opt.parallel; i++) slotTokens.push_back(token("cycler-" + std::to_string(i)));

  const Target target{std::atoi(daemon.hostPort().c_str() + daemon.hostPort().rfind(':') + 1), opt.sourceAddresses};
  auto [rest, ws, cycles] = loadsFor(opt, daemon.url(), room, slotTokens, workdir);

  warmUp(opt, target, rest, ws, cycles, roomCreatedAt);
  const Sample base = settle(pid, nullptr, opt.settleQuiet, opt.settleMax);
  const Limits limits{base, opt.tolerancePct, opt.fdSlack, opt.threadSlack};
  const double wallFrom = realtimeSeconds();
  timedNote("baseline: %d fds, %d threads, %.1f MB", base.fds, base.threads, base.rssKb / 1024.0);

  auto roomAlive = [&]() {
    return speaker.running() && observer.running() &&
           httpRequest("GET", daemon.url() + "/api/v1/rooms/" + room).status == 200;
  };
  std::vector<Phase> phases;
  const Mixer mixerBase = mixer(daemon.url());
  Mixer mixerStart = mixerBase;  // the next phase's mixerBefore
  auto finishPhase = [&](Phase p) {
    p.peak = sample(pid);
    const double t = monotonicSeconds();
    p.settled = settle(pid, &limits, opt.settleQuiet, opt.settleMax);
    p.settleSeconds = monotonicSeconds() - t;
    p.roomAlive = roomAlive();
    p.mixerAfter = mixer(daemon.url());
    timedNote("%s: %ld ops, %ld errors, %.1f s; fds %d -> %d, threads %d -> %d, RSS %.1f -> %.1f MB; room %s",
         p.name.c_str(), p.operations, p.errors, p.seconds, p.peak.fds, p.settled.fds, p.peak.threads,
         p.settled.threads, p.peak.rssKb / 1024.0, p.settled.rssKb / 1024.0, p.roomAlive ? "alive" : "GONE");
    p.mixerBefore = mixerStart;
    mixerStart = p.mixerAfter;
    phases.push_back(p);
    return p.roomAlive;
  };

  bool alive = finishPhase(restPhase(opt, target, rest));
  if (alive) alive = finishPhase(wsPhase(opt, target, ws));
  if (alive) finishPhase(speakerPhase(opt, cycles));

  Report report{opt, nofile, base, limits, phases, mixerBase, {}, false, false, false, true, -1, -1, 0, 0, 0,
                runStarted, loadBefore};
  listenBack(report, daemon, speaker, observer, room, host, wav, wallFrom, realtimeSeconds());
  const bool passed = printReport(report);
  writeJson(report, passed);

  if (opt.keepWorkdir) printf("work dir (daemon log and data, observer.wav): %s\n", workdir.c_str());
  else roomcast::testing::removeTempDir(workdir);
  return passed ? 0 : 1;
}
