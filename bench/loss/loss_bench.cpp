// bench-loss: how a speaker on a lossy link is heard, and how they hear the room.
//
// The program builds the network-namespace lab of tests/integration/network_lab.h (root):
// roomcastd in "server" (plain HTTP), a host CLI speaker in "host" on a clean link, and the
// lossy CLI speaker in the lab's third network ("listener" there). nftables on the lab
// router's bridge port to the lossy speaker drops a share of its UDP (loss_rules.h): uplink
// (towards the server) or downlink (towards it), random or in bursts of three; the counters
// say what loss was made.
//
// Per run: a fresh recorded room; the host sends 880 Hz and keeps out of the recording
// (--recording-opt-out), the lossy speaker sends 440 Hz, so the recording holds the lossy
// speaker alone and each speaker's return (mix-minus) holds the other alone. Both send a WAV
// (markers.h): a steady tone, silence, then tone bursts.
//  - uplink continuity: audio::measureContinuity over the recording's steady part;
//  - downlink continuity: the same over the lossy speaker's own return (the host's 880 Hz);
//  - ICE time: the lossy CLI's own "connected after N ms" (start to its first decoded audio:
//    signalling, ICE, DTLS);
//  - transit (mouth to ear): a burst's onset heard in the other speaker's return, placed on
//    the bench clock by that client's stamped "heard N s" lines, minus when it was sent:
//    the sender's "welcome" line (its file starts playing right after) plus the burst's
//    offset in the file (the approach of bench/hls/hls_latency.cpp). The welcome anchor is a
//    few ms early or late in the same way in every cell: compare cells, not absolute values.
// See bench/README.md (loss).

#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "audio/continuity.h"
#include "audio/tone.h"
#include "audio/wav.h"
#include "bench_util.h"
#include "children.h"  // Child: the speakers, their stdout lines stamped
#include "loss_rules.h"
#include "markers.h"
#include "network_lab.h"
#include "roomcast-config.h"
#include "processes.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

namespace t = roomcast::testing;
namespace audio = roomcast::audio;
using namespace roomcast::bench;
using namespace roomcast::bench::loss;

namespace {

constexpr const char* kLossyRole = "listener";  // the lab's third network: the lossy speaker's
constexpr const char* kLossyPort = "to-listener";  // the router's bridge port facing it

struct Options {
  int runs = 3;
  std::vector<LossSpec> cells;
  double steadySeconds = 11;  // of the lossy speaker's tone; ICE takes part of it
  std::string json = "bench-loss.json";
  bool keep = false;
};

std::vector<LossSpec> defaultCells() {
  std::vector<LossSpec> cells{LossSpec{}};
  for (Direction d : {Direction::Up, Direction::Down})
    for (Pattern p : {Pattern::Random, Pattern::Burst3})
      for (int percent : {2, 5, 10, 20}) cells.push_back(LossSpec{d, p, percent});
  return cells;
}

// ---- one run

struct RunResult {
  bool connected = false;
  std::string failure;
  double iceMs = NAN;
  LossCount count;
  audio::Continuity up, down;
  std::vector<double> upTransitMs, downTransitMs;
  double upTransitMedian = NAN, downTransitMedian = NAN;
  double madePercent(const LossSpec& s) const {
    return s.direction == Direction::Down ? count.downPercent() : s.direction == Direction::Up ? count.upPercent() : 0;
  }
};

struct Lab {
  t::NetworkLab net{false, t::LabPorts{}};
  std::string dir, server;
  SpawnedChild daemon;
  Signal lossySignal, hostSignal;
  std::string lossyWav, hostWav;
};

// A CLI command run in one of the lab's networks (REST: create, token, end).
t::ProcessResult cliIn(Lab& lab, const char* role, std::vector<std::string> args) {
  std::vector<std::string> argv = lab.net.in(role);
  argv.push_back(t::cli());
  argv.push_back("--server");
  argv.push_back(lab.server);
  argv.insert(argv.end(), args.begin(), args.end());
  return t::run(argv, 60);
}

t::ProcessResult cliInHost(Lab& lab, std::vector<std::string> args) { return cliIn(lab, "host", std::move(args)); }

bool shIn(Lab& lab, const std::string& role, const std::string& command, std::string* out = nullptr) {
  const auto r = t::run({"ip", "netns", "exec", lab.net.ns(role), "sh", "-ec", command}, 30);
  if (out) *out = r.stdoutText;
  if (!(r.finished && r.exitStatus == 0)) note("  failed: %s\n%s", command.c_str(), r.stderrText.c_str());
  return r.finished && r.exitStatus == 0;
}

bool applyLoss(Lab& lab, const LossSpec& spec) {
  const std::string rules = lab.dir + "/loss.nft";
  const std::string text = lossRuleset(spec, kLossyPort);
  if (!g_file_set_contents(rules.c_str(), text.c_str(), -1, nullptr)) return false;
  // A fresh table: counters and burst sets from zero.
  return shIn(lab, "router", "nft delete table bridge roomcast_loss 2>/dev/null || true; nft -f " + rules);
}

HeardClock clockOf(Child& client) {
  HeardClock c;
  for (const auto& [at, line] : client.lines()) {
    unsigned long long n = 0;
    if (line == "connected") c.marks.emplace_back(0, at);
    else if (std::sscanf(line.c_str(), "heard %llu s", &n) == 1) c.marks.emplace_back(static_cast<double>(n), at);
  }
  return c;
}

double welcomeStamp(Child& client) {
  for (const auto& [at, line] : client.lines())
    if (line.rfind("event: ", 0) == 0 && line.find("\"welcome\"") != std::string::npos) return at;
  return NAN;
}

std::vector<float> readMono(const std::string& wav) {
  audio::PcmAudio a;
  if (!audio::readWav(wav, a) || a.sampleRate != kRate) return {};
  return audio::toMonoFloat(a);
}

// Continuity of the steady part, from 0.5 s after its first loud window (the first frames of a
// new stream ramp up) to the silence before the markers.
audio::Continuity steadyContinuity(const std::vector<float>& mono) {
  const auto [from, to] = steadySpan(mono);
  if (from < 0 || to - from < 1.5) return {};
  return audio::measureContinuity(mono, kRate, from + 0.5, to);
}

// Transit of each burst the sender sent (at `sentAt`) that the receiver heard.
std::vector<double> transits(const std::vector<float>& heard, const HeardClock& clock, const std::vector<double>& sentAt) {
  std::vector<double> out;
  const auto [from, to] = steadySpan(heard);
  if (from < 0) return out;
  std::vector<double> onsets;
  for (double o : burstOnsets(heard, to)) onsets.push_back(clock.timeOf(o));
  for (double sent : sentAt)
    for (double at : onsets)
      if (at > sent - 0.2 && at < sent + 0.8) {
        out.push_back((at - sent) * 1000);
        break;
      }
  return out;
}

std::string logTail(const std::string& path) { return tailOf(path, 600); }

RunResult runOnce(Lab& lab, const LossSpec& spec, int index) {
  RunResult r;
  const std::string tag = lab.dir + "/" + spec.name() + "-" + std::to_string(index);
  if (!applyLoss(lab, spec)) {
    r.failure = "nft rules did not apply";
    return r;
  }
  // roomcastd lets one address create 5 rooms, then one every 30 s: a run takes about 22 s,
  // so the rooms come from three addresses in turn (home's through the router's NAT).
  static const char* const kCreators[] = {"host", "home", kLossyRole};
  static int created_runs = 0;
  const auto created = cliIn(lab, kCreators[created_runs++ % 3], {"create", "--title", "Loss bench", "--record"});
  const std::string room = t::jsonString(created.stdoutText, "id"), host = t::jsonString(created.stdoutText, "host_token");
  if (room.empty() || host.empty()) {
    r.failure = "create failed: " + created.stderrText;
    return r;
  }
  const auto issued = cliInHost(lab, {"token", room, "--role", "speaker", "--name", "Lossy", "--token", host});
  const std::string token = t::jsonString(issued.stdoutText, "token");
  if (token.empty()) {
    r.failure = "token failed: " + issued.stderrText;
    return r;
  }
  auto speak = [&](const char* role, const std::string& tok, const std::string& wav, const std::string& out,
                   bool optOut) {
    std::vector<std::string> argv = lab.net.in(role);
    for (const std::string& a : {t::cli(), std::string("--server"), lab.server, std::string("speak"), room,
                                 std::string("--token"), tok, std::string("--file"), wav, std::string("--seconds"),
                                 std::string("300"), std::string("--out"), out})
      argv.push_back(a);
    if (optOut) argv.push_back("--recording-opt-out");
    return argv;
  };
  const std::string hostLog = tag + "-host.log", lossyLog = tag + "-lossy.log";
  const std::string hostReturn = tag + "-host-return.wav", lossyReturn = tag + "-lossy-return.wav";
  Child hostClient(speak("host", host, lab.hostWav, hostReturn, true), -1, hostLog);
  if (hostClient.waitForLine("connected", 30) < 0) {
    r.failure = "the host did not connect: " + logTail(hostLog);
    cliInHost(lab, {"end", room, "--token", host});
    return r;
  }
  Child lossyClient(speak(kLossyRole, token, lab.lossyWav, lossyReturn, false), -1, lossyLog);
  if (!lossyClient.started()) {
    r.failure = "the lossy speaker did not start";
    cliInHost(lab, {"end", room, "--token", host});
    return r;
  }
  r.connected = lossyClient.waitForLine("connected", 45) >= 0;
  const double hostWelcome = welcomeStamp(hostClient), lossyWelcome = welcomeStamp(lossyClient);
  if (r.connected) {
    // Both files played out, and the last burst has crossed the room (the stamps are wall clock).
    const double until = std::max(hostWelcome + lab.hostSignal.seconds(), lossyWelcome + lab.lossySignal.seconds()) + 1.5;
    t::pollUntil([&] { return realtimeSeconds() >= until; }, until - realtimeSeconds() + 5, 0.1);
  } else {
    r.failure = "the lossy speaker did not connect: " + logTail(lossyLog);
  }
  const auto ended = cliInHost(lab, {"end", room, "--token", host});
  const std::string recording = t::jsonString(ended.stdoutText, "recording");
  const auto leaves = [](Child& c) { return t::pollUntil([&] { return !c.running(); }, 30, 0.05); };
  if (!leaves(hostClient) || !leaves(lossyClient)) note("  a speaker did not leave when the room ended");
  hostClient.stop();
  lossyClient.stop();
  std::string counters;
  if (shIn(lab, "router", "nft list table bridge roomcast_loss", &counters)) r.count = parseLossCounters(counters);
  if (!r.connected) return r;

  const std::string log = readFile(lossyLog);
  if (const auto at = log.rfind("connected after "); at != std::string::npos) r.iceMs = std::atof(log.c_str() + at + 16);

  // Uplink: the recording holds the lossy speaker alone.
  const std::string recordingWav = tag + "-recording.wav";
  const auto decoded = t::run({"ffmpeg", "-nostdin", "-v", "error", "-i", recording, "-ac", "1", "-ar", "48000", "-y",
                               recordingWav}, 60);
  if (recording.empty() || decoded.exitStatus != 0) r.failure = "no recording to decode: " + ended.stdoutText + decoded.stderrText;
  else r.up = steadyContinuity(readMono(recordingWav));
  // Downlink: the lossy speaker's return holds the host alone.
  const std::vector<float> lossyHeard = readMono(lossyReturn), hostHeard = readMono(hostReturn);
  r.down = steadyContinuity(lossyHeard);

  std::vector<double> lossySent, hostSent;
  for (int k = 0; k < lab.lossySignal.markers; k++) lossySent.push_back(lossyWelcome + lab.lossySignal.markerAt(k));
  for (int k = 0; k < lab.hostSignal.markers; k++) hostSent.push_back(hostWelcome + lab.hostSignal.markerAt(k));
  r.upTransitMs = transits(hostHeard, clockOf(hostClient), lossySent);
  r.downTransitMs = transits(lossyHeard, clockOf(lossyClient), hostSent);
  r.upTransitMedian = median(r.upTransitMs);
  r.downTransitMedian = median(r.downTransitMs);
  return r;
}

// ---- the lab and the daemon

bool startLab(Lab& lab, const Options& o) {
  if (!lab.net.ready()) {
    note("%s", lab.net.error().c_str());
    return false;
  }
  const t::LabPorts ports;
  lab.server = "http://" + std::string(t::NetworkLab::kServerAddress) + ":" + std::to_string(ports.web);
  const std::string config = lab.dir + "/roomcast.conf";
  // Rooms open to anyone: off loopback, creating one otherwise needs an admin token.
  const std::string text = "[server]\nlisten = " + std::string(t::NetworkLab::kServerAddress) + ":" +
                           std::to_string(ports.web) + "\n[auth]\nopen_rooms = true\n[media]\nice_port_range = " +
                           std::to_string(ports.iceMin) + "-" + std::to_string(ports.iceMax) + "\n";
  if (!g_file_set_contents(config.c_str(), text.c_str(), -1, nullptr)) return false;
  std::vector<std::string> argv = lab.net.in("server");
  for (const std::string& a : {t::buildPath("src/app/roomcastd"), std::string("--config"), config,
                               std::string("--data-dir"), lab.dir + "/data"})
    argv.push_back(a);
  std::string error;
  const pid_t pid = spawnPinned(argv, -1, -1, lab.dir + "/roomcastd.log", &error);
  if (pid < 0) {
    note("roomcastd: %s", error.c_str());
    return false;
  }
  lab.daemon = SpawnedChild(pid);
  if (!t::pollUntil([&] { return lab.net.listening("server", ports.web) || !lab.daemon.alive(); }, 60, 0.2) ||
      !lab.daemon.alive()) {
    note("roomcastd did not listen:\n%s", tailOf(lab.dir + "/roomcastd.log", 2000).c_str());
    return false;
  }
  // The host starts about a second before the lossy speaker: one more second of steady tone
  // covers the lossy speaker's steady part. Each return holds only the other speaker, so the
  // two speakers' bursts may overlap in time.
  lab.lossySignal = Signal{440, o.steadySeconds, 4};
  lab.hostSignal = Signal{880, o.steadySeconds + 1, 4};
  lab.lossyWav = lab.dir + "/lossy.wav";
  lab.hostWav = lab.dir + "/host.wav";
  for (const auto& [signal, path] : {std::pair{lab.lossySignal, lab.lossyWav}, std::pair{lab.hostSignal, lab.hostWav}}) {
    audio::PcmAudio a;
    for (float v : makeSignal(signal)) a.samples.push_back(static_cast<int16_t>(std::lround(v * 32767)));
    if (!audio::writeWav(path, a)) return false;
  }
  return true;
}

// ---- report

struct CellResult {
  LossSpec spec;
  std::vector<RunResult> runs;
};

Stat statOf(const CellResult& c, double (*get)(const RunResult&), bool connectedOnly = true) {
  std::vector<double> v;
  for (const auto& r : c.runs)
    if ((!connectedOnly || r.connected) && std::isfinite(get(r))) v.push_back(get(r));
  return stat(v);
}

std::string range(const Stat& s, const char* f, bool any) {
  if (!any) return "-";
  const std::string m = fmt(f, s.median);
  if (s.min == s.max) return m;
  return m + " [" + fmt(f, s.min) + ".." + fmt(f, s.max) + "]";
}

double upCont(const RunResult& r) { return r.up.windows ? 100 * r.up.continuous : NAN; }
double upIntact(const RunResult& r) { return r.up.windows ? 100 * r.up.intact : NAN; }
double upQuiet(const RunResult& r) { return r.up.windows ? r.up.quiet : NAN; }
double downCont(const RunResult& r) { return r.down.windows ? 100 * r.down.continuous : NAN; }
double downIntact(const RunResult& r) { return r.down.windows ? 100 * r.down.intact : NAN; }
double downQuiet(const RunResult& r) { return r.down.windows ? r.down.quiet : NAN; }
double iceMs(const RunResult& r) { return r.iceMs; }
double upTransit(const RunResult& r) { return r.upTransitMedian; }
double downTransit(const RunResult& r) { return r.downTransitMedian; }

void printTable(const std::vector<CellResult>& cells, const Options& o) {
  std::printf("\nbench-loss: a speaker on a lossy link (roomcast %s), %s\n", ROOMCAST_VERSION,
              utcNow().c_str());
  std::printf("median [min..max] of %d run(s) per cell; continuity = 20 ms windows within 6 dB of the median,\n"
              "1 dB = within 1 dB, quiet = windows below -30 dBFS; up: the lossy speaker in the room's recording,\n"
              "down: the host in the lossy speaker's return; transit = mouth to ear, ms.\n\n",
              o.runs);
  std::printf("%-15s %-17s %-4s %-19s %-19s %-19s %-11s %-19s %-19s %-11s %-17s %-17s\n", "cell", "made loss %", "ICE",
              "ICE ms", "up cont %", "up 1 dB %", "up quiet", "down cont %", "down 1 dB %", "down quiet",
              "transit up", "transit down");
  for (const auto& c : cells) {
    int connected = 0;
    for (const auto& r : c.runs) connected += r.connected;
    const bool any = connected > 0;
    std::vector<double> made;
    for (const auto& r : c.runs) made.push_back(r.madePercent(c.spec));
    const std::string ice = std::to_string(connected) + "/" + std::to_string(c.runs.size());
    std::printf("%-15s %-17s %-4s %-19s %-19s %-19s %-11s %-19s %-19s %-11s %-17s %-17s\n", c.spec.name().c_str(),
                range(stat(made), "%.1f", !made.empty()).c_str(), ice.c_str(),
                range(statOf(c, iceMs), "%.0f", any).c_str(), range(statOf(c, upCont), "%.1f", any).c_str(),
                range(statOf(c, upIntact), "%.1f", any).c_str(), range(statOf(c, upQuiet), "%.0f", any).c_str(),
                range(statOf(c, downCont), "%.1f", any).c_str(), range(statOf(c, downIntact), "%.1f", any).c_str(),
                range(statOf(c, downQuiet), "%.0f", any).c_str(), range(statOf(c, upTransit), "%.0f", any).c_str(),
                range(statOf(c, downTransit), "%.0f", any).c_str());
  }
  for (const auto& c : cells)
    for (size_t i = 0; i < c.runs.size(); i++)
      if (!c.runs[i].failure.empty()) std::printf("  %s run %zu: %s\n", c.spec.name().c_str(), i + 1, c.runs[i].failure.c_str());
}

std::string jsonStat(const Stat& s, bool any) {
  if (!any) return "null";
  return "{\"median\":" + jsonNumber(s.median) + ",\"min\":" + jsonNumber(s.min) + ",\"max\":" + jsonNumber(s.max) + "}";
}

std::string jsonList(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); i++) s += (i ? "," : "") + jsonNumber(v[i]);
  return s + "]";
}

std::string toJson(const std::vector<CellResult>& cells, const Options& o) {
  std::string j = "{\"benchmark\":\"loss\",\"date\":" + roomcast::bench::jsonString(utcNow()) +
                  ",\"version\":" + roomcast::bench::jsonString(ROOMCAST_VERSION) +
                  ",\"cpus\":" + std::to_string(onlineCpus()) + ",\"load\":" + roomcast::bench::jsonString(loadAverage()) +
                  ",\"runs_per_cell\":" + std::to_string(o.runs) + ",\"steady_seconds\":" + jsonNumber(o.steadySeconds) +
                  ",\"cells\":[";
  for (size_t ci = 0; ci < cells.size(); ci++) {
    const auto& c = cells[ci];
    int connected = 0;
    for (const auto& r : c.runs) connected += r.connected;
    const bool any = connected > 0;
    std::vector<double> made;
    for (const auto& r : c.runs) made.push_back(r.madePercent(c.spec));
    j += std::string(ci ? "," : "") + "{\"cell\":" + roomcast::bench::jsonString(c.spec.name()) +
         ",\"percent\":" + std::to_string(c.spec.percent) + ",\"connected\":" + std::to_string(connected) +
         ",\"made_loss_percent\":" + jsonStat(stat(made), true) + ",\"ice_ms\":" + jsonStat(statOf(c, iceMs), any) +
         ",\"up_continuity_percent\":" + jsonStat(statOf(c, upCont), any) +
         ",\"up_intact_percent\":" + jsonStat(statOf(c, upIntact), any) +
         ",\"up_quiet_windows\":" + jsonStat(statOf(c, upQuiet), any) +
         ",\"down_continuity_percent\":" + jsonStat(statOf(c, downCont), any) +
         ",\"down_intact_percent\":" + jsonStat(statOf(c, downIntact), any) +
         ",\"down_quiet_windows\":" + jsonStat(statOf(c, downQuiet), any) +
         ",\"transit_up_ms\":" + jsonStat(statOf(c, upTransit), any) +
         ",\"transit_down_ms\":" + jsonStat(statOf(c, downTransit), any) + ",\"runs\":[";
    for (size_t i = 0; i < c.runs.size(); i++) {
      const auto& r = c.runs[i];
      j += std::string(i ? "," : "") + "{\"connected\":" + (r.connected ? "true" : "false") +
           ",\"failure\":" + roomcast::bench::jsonString(r.failure) + ",\"ice_ms\":" + jsonNumber(r.iceMs) +
           ",\"udp_up_seen\":" + std::to_string(r.count.upSeen) + ",\"udp_up_dropped\":" + std::to_string(r.count.upDropped) +
           ",\"udp_down_seen\":" + std::to_string(r.count.downSeen) +
           ",\"udp_down_dropped\":" + std::to_string(r.count.downDropped) +
           ",\"up\":{\"windows\":" + std::to_string(r.up.windows) + ",\"continuous\":" + jsonNumber(r.up.continuous) +
           ",\"intact\":" + jsonNumber(r.up.intact) + ",\"quiet\":" + std::to_string(r.up.quiet) +
           ",\"median_dbfs\":" + jsonNumber(r.up.medianDbfs) + "}" + ",\"down\":{\"windows\":" +
           std::to_string(r.down.windows) + ",\"continuous\":" + jsonNumber(r.down.continuous) +
           ",\"intact\":" + jsonNumber(r.down.intact) + ",\"quiet\":" + std::to_string(r.down.quiet) +
           ",\"median_dbfs\":" + jsonNumber(r.down.medianDbfs) + "}" +
           ",\"transit_up_ms\":" + jsonList(r.upTransitMs) + ",\"transit_down_ms\":" + jsonList(r.downTransitMs) + "}";
    }
    j += "]}";
  }
  return j + "]}\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool quick = false, runsSet = false, cellsSet = false;
  parseFlags(argc, argv,
             "usage: bench-loss [options]\nNeeds root (network namespaces, nftables) and ffmpeg.",
             {{"--runs", "N", "runs per cell (default 3)", setInt(o.runs, 1, 1000, &runsSet)},
              {"--cells", "LIST",
               "comma separated: 0, up-rand-P, up-burst3-P, down-rand-P, down-burst3-P\n"
               "(P in percent; default: 0 and both directions and patterns at 2,5,10,20)",
               [&](const std::string& value) {
                 cellsSet = true;
                 for (const std::string& name : splitList(value)) {
                   LossSpec s;
                   require(parseLossSpec(name, s), "unknown cell: " + name);
                   o.cells.push_back(s);
                 }
               }},
              {"--quick", "", "one run of 0,up-rand-10,up-burst3-10,down-rand-10 (unless --runs/--cells)", setSwitch(quick)},
              {"--steady-seconds", "S", "the lossy speaker's steady tone, at least 3 (default 11; ICE time is cut from it)",
               setNumber(o.steadySeconds, 3, 1e6)},
              {"--json", "FILE", "machine-readable results (default bench-loss.json)", setText(o.json)},
              {"--keep", "", "keep the scratch folder (recordings, returns, logs)", setSwitch(o.keep)}});
  if (!cellsSet) {
    o.cells = defaultCells();
    if (quick) {
      o.cells.clear();
      for (const char* n : {"0", "up-rand-10", "up-burst3-10", "down-rand-10"}) {
        LossSpec s;
        parseLossSpec(n, s);
        o.cells.push_back(s);
      }
    }
  }
  if (quick && !runsSet) o.runs = 1;
  if (geteuid() != 0) {
    std::fprintf(stderr, "bench-loss needs root (network namespaces, nftables)\n");
    return 1;
  }
  for (const char* p : {"ip", "nft", "ffmpeg"})
    if (g_autofree char* path = g_find_program_in_path(p); !path) {
      std::fprintf(stderr, "%s is not installed (scripts/setup.sh installs it)\n", p);
      return 1;
    }
  // Run directly (not through meson), roomcastd and the CLI still find the build's plugin.
  setenv("GST_PLUGIN_PATH", t::buildPath("plugins/roomcast").c_str(), 0);

  auto lab = std::make_unique<Lab>();
  lab->dir = t::makeTempDir("roomcast-loss");
  std::vector<CellResult> cells;
  const double started = monotonicSeconds();
  if (startLab(*lab, o)) {
    for (const auto& spec : o.cells) {
      CellResult cell{spec, {}};
      for (int i = 0; i < o.runs; i++) {
        note("[%s] run %d/%d (%.0f s so far)", spec.name().c_str(), i + 1, o.runs, monotonicSeconds() - started);
        RunResult r = runOnce(*lab, spec, i + 1);
        note("  made %.1f %% up, %.1f %% down; ICE %.0f ms; up %.1f %% (%d windows), down %.1f %% (%d windows); "
             "transit up %.0f ms, down %.0f ms%s%s",
             r.count.upPercent(), r.count.downPercent(), r.iceMs, 100 * r.up.continuous, r.up.windows,
             100 * r.down.continuous, r.down.windows, r.upTransitMedian, r.downTransitMedian,
             r.failure.empty() ? "" : "; ", r.failure.c_str());
        cell.runs.push_back(std::move(r));
      }
      cells.push_back(std::move(cell));
    }
  }
  lab->daemon.stop(30, "", nullptr);
  const std::string dir = lab->dir;
  const bool keep = o.keep;
  lab.reset();  // the namespaces go
  if (keep) note("scratch kept in %s", dir.c_str());
  else removeTree(dir);
  if (cells.empty()) return 1;
  printTable(cells, o);
  std::printf("(%.0f s in all)\n", monotonicSeconds() - started);
  writeJsonFile(o.json, toJson(cells, o));
  for (const auto& c : cells)
    for (const auto& r : c.runs)
      if (!r.connected) return 1;
  return 0;
}
