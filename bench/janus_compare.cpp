// bench-janus-compare: roomcast's media engine vs. Janus AudioBridge under the same plain-RTP load.
//
// Both servers run as child processes pinned to one core (CPU 0); the load generator runs in
// this process, pinned to another core (CPU 1). The servers take turns, one at a time, and
// their order alternates from one measurement to the next:
//
//   janus            Janus AudioBridge (Debian package `janus`), room 1234 at 48 kHz, plain-RTP
//                    participants joined over its HTTP API (default prebuffer, default encoder).
//   roomcast         bench-roomcast-rtp-engine --return own: roomcast's room pipeline with
//                    plain-RTP speakers, one Opus encoder per participant (roomcastd's default,
//                    encode_silent_once = false).
//   roomcast-shared  the same with --return shared: the encode-once path for silent speakers
//                    (encode_silent_once = true: mixminus skip-silent + one shared program Opus
//                    encoding + an input-selector per participant).
//
// Load: one `audiotestsrc is-live=true ! opusenc ! tee` per kind of signal (a 440 Hz tone for
// talkers, digital silence for silent participants), then per participant
// `queue ! rtpopuspay pt=111 ssrc=i ! udpsink` from the participant's own bound UDP port, on
// which this process also receives and counts the mix the server sends back. Silent
// participants are server-muted (Janus "muted":true, roomcast pad mute=true) and keep sending
// encoded silence at 50 packets/s, as a muted browser does; all of them still get a mix.
//
// CPU: utime+stime of the server process from /proc/PID/stat over --seconds after --warmup,
// as % of one core. Transit latency: participant 0 sends ticks (audiotestsrc wave=ticks, every
// 4th a louder marker), the mix that comes back to participant 1 is decoded, onsets are
// matched (markers first, so a transit longer than the tick interval is not mistaken for a
// short one), per tick: (kernel arrival time of the returned packet + onset offset in it) -
// (send time of the sent packet + onset offset in it).
//
// Usage: bench-janus-compare [--sizes 4,16,64] [--seconds 20] [--warmup 8] [--quick]
//          [--json FILE] [--variants janus,roomcast,roomcast-shared] [--repeats R]
//          [--latency-seconds S] [--no-latency] [--silent-input silence|none] [...]
// See --help and bench/README.md.

#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <glob.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "roomcast-config.h"

namespace {

constexpr int kRate = 48000;
constexpr int kFrame = 960;                  // 20 ms at 48 kHz
constexpr double kPacketsPerSecond = 50.0;   // what every participant should get back
constexpr int kPayloadType = 111;
constexpr int kJanusRoom = 1234;
constexpr const char* kJanusUrl = "http://127.0.0.1:8088/janus";

// Every kMarkerPeriod-th tick is a marker tick, kMarkerVolume / kTickVolume times louder:
// markers repeat only every kMarkerPeriod tick intervals, so a transit longer than one tick
// interval cannot be mistaken for a short one.
constexpr unsigned kMarkerPeriod = 4;
constexpr double kTickVolume = 0.1;
constexpr double kMarkerVolume = 0.6;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench-janus-compare: %s\n", what.c_str());
  std::exit(1);
}

void note(const char* format, ...) G_GNUC_PRINTF(1, 2);
void note(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

double monotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double realtimeSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

// ---------------------------------------------------------------------------------------
// Options

enum class Variant { Janus, Roomcast, RoomcastShared };

const char* variantName(Variant v) {
  switch (v) {
    case Variant::Janus: return "janus";
    case Variant::Roomcast: return "roomcast";
    case Variant::RoomcastShared: return "roomcast-shared";
  }
  return "?";
}

struct Options {
  std::vector<int> sizes{4, 16, 64};
  double seconds = 20;
  double warmup = 8;
  int repeats = 1;
  bool quick = false;
  std::string json = "bench-janus-compare.json";
  std::vector<Variant> variants{Variant::Janus, Variant::Roomcast, Variant::RoomcastShared};
  bool latency = true;
  double latencySeconds = 16;
  double latencyWarmup = 4;
  int tickIntervalMs = 250;
  int latencyParticipants = 2;
  bool silentSends = true;
  std::string program = "aac";
  std::string janus = "janus";
  std::string janusLib;  // folder holding plugins/ and transports/; found if empty
  std::string engine;    // bench-roomcast-rtp-engine; next to this executable if empty
  int basePort = 41000;
  int serverCpu = 0;
  int generatorCpu = 1;
  std::string workdir;
  bool keepWorkdir = false;
  std::string dumpLatency;  // folder for the decoded transit streams (debugging)
  std::vector<std::string> engineArgs;  // passed on to bench-roomcast-rtp-engine
  bool load = true;
  int latencyRepeats = 2;
};

void usage(FILE* out) {
  std::fprintf(out,
      "Usage: bench-janus-compare [options]\n"
      "  --sizes LIST            participant counts, comma separated (default 4,16,64)\n"
      "  --seconds S             CPU measurement window per run (default 20)\n"
      "  --warmup S              warm-up before each window (default 8)\n"
      "  --repeats R             runs per cell, alternating servers (default 1)\n"
      "  --quick                 smoke test: --sizes 4 --seconds 3 --warmup 2, one 6 s transit run\n"
      "  --json FILE             machine-readable results (default bench-janus-compare.json)\n"
      "  --variants LIST         any of janus,roomcast,roomcast-shared (default: all three)\n"
      "  --latency-seconds S     transit capture window (default 16: 64 ticks at 250 ms)\n"
      "  --tick-interval-ms MS   distance between ticks (default 250; must exceed the transit)\n"
      "  --latency-participants N  participants in the transit runs (default 2)\n"
      "  --latency-repeats R     transit runs per server, alternating, ticks pooled (default 2)\n"
      "  --no-latency            skip the transit runs\n"
      "  --no-load               skip the CPU runs (transit only)\n"
      "  --silent-input MODE     what silent participants send: silence (encoded digital\n"
      "                          silence, 50 packets/s; default) or none\n"
      "  --program aac|none      roomcast program output: AAC encode to fakesink (default)\n"
      "  --janus PATH            janus binary (default: janus in PATH)\n"
      "  --janus-lib DIR         Janus' lib folder with plugins/ and transports/ (default: found)\n"
      "  --engine PATH           bench-roomcast-rtp-engine (default: next to this program)\n"
      "  --engine-arg ARG        extra argument for the engine, repeatable\n"
      "                          (e.g. --engine-arg=--decoder-fec=false)\n"
      "  --base-port P           participant ports P.. (default 41000); roomcast listens on P+2000..\n"
      "  --server-cpu C          CPU for the servers (default 0)\n"
      "  --generator-cpu C       CPU for this process, the load generator (default 1)\n"
      "  --workdir DIR           where Janus' config and logs go (default: a new /tmp folder)\n"
      "  --keep-workdir          do not delete the work folder at the end\n"
      "  --dump-latency DIR      write the decoded transit streams there (<server>-sent|back.f32\n"
      "                          mono 48 kHz float, and .times: one packet time per 960 samples)\n");
}

double parseNumber(const std::string& flag, const std::string& value, double lo, double hi) {
  char* end = nullptr;
  double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !std::isfinite(v) || v < lo || v > hi)
    die("bad value for " + flag + ": " + value);
  return v;
}

int parseInt(const std::string& flag, const std::string& value, int lo, int hi) {
  double v = parseNumber(flag, value, lo, hi);
  if (v != std::floor(v)) die(flag + " must be a whole number");
  return static_cast<int>(v);
}

Options parseOptions(int argc, char** argv) {
  Options o;
  bool sizesSet = false, secondsSet = false, warmupSet = false, latencySet = false;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i], value;
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      std::exit(0);
    }
    if (arg == "--quick") { o.quick = true; continue; }
    if (arg == "--no-latency") { o.latency = false; continue; }
    if (arg == "--no-load") { o.load = false; continue; }
    if (arg == "--keep-workdir") { o.keepWorkdir = true; continue; }
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      usage(stderr);
      die("missing value for " + arg);
    }
    if (arg == "--sizes") {
      o.sizes.clear();
      std::stringstream ss(value);
      for (std::string item; std::getline(ss, item, ',');) o.sizes.push_back(parseInt(arg, item, 2, 500));
      if (o.sizes.empty()) die("--sizes is empty");
      std::sort(o.sizes.begin(), o.sizes.end());
      o.sizes.erase(std::unique(o.sizes.begin(), o.sizes.end()), o.sizes.end());
      sizesSet = true;
    } else if (arg == "--seconds") {
      o.seconds = parseNumber(arg, value, 1, 3600);
      secondsSet = true;
    } else if (arg == "--warmup") {
      o.warmup = parseNumber(arg, value, 1, 600);
      warmupSet = true;
    } else if (arg == "--repeats") {
      o.repeats = parseInt(arg, value, 1, 100);
    } else if (arg == "--json") {
      o.json = value;
    } else if (arg == "--variants") {
      o.variants.clear();
      std::stringstream ss(value);
      for (std::string item; std::getline(ss, item, ',');) {
        if (item == "janus") o.variants.push_back(Variant::Janus);
        else if (item == "roomcast") o.variants.push_back(Variant::Roomcast);
        else if (item == "roomcast-shared") o.variants.push_back(Variant::RoomcastShared);
        else die("unknown variant " + item);
      }
      if (o.variants.empty()) die("--variants is empty");
    } else if (arg == "--latency-seconds") {
      o.latencySeconds = parseNumber(arg, value, 2, 600);
      latencySet = true;
    } else if (arg == "--tick-interval-ms") {
      o.tickIntervalMs = parseInt(arg, value, 50, 5000);
    } else if (arg == "--latency-participants") {
      o.latencyParticipants = parseInt(arg, value, 2, 500);
    } else if (arg == "--silent-input") {
      if (value != "silence" && value != "none") die("--silent-input must be silence or none");
      o.silentSends = value == "silence";
    } else if (arg == "--program") {
      if (value != "aac" && value != "none") die("--program must be aac or none");
      o.program = value;
    } else if (arg == "--janus") {
      o.janus = value;
    } else if (arg == "--janus-lib") {
      o.janusLib = value;
    } else if (arg == "--engine") {
      o.engine = value;
    } else if (arg == "--base-port") {
      o.basePort = parseInt(arg, value, 1024, 60000);
    } else if (arg == "--server-cpu") {
      o.serverCpu = parseInt(arg, value, -1, 1023);
    } else if (arg == "--generator-cpu") {
      o.generatorCpu = parseInt(arg, value, -1, 1023);
    } else if (arg == "--engine-arg") {
      o.engineArgs.push_back(value);
    } else if (arg == "--latency-repeats") {
      o.latencyRepeats = parseInt(arg, value, 1, 100);
    } else if (arg == "--dump-latency") {
      o.dumpLatency = value;
    } else if (arg == "--workdir") {
      o.workdir = value;
    } else {
      usage(stderr);
      die("unknown option " + arg);
    }
  }
  if (o.quick) {
    if (!sizesSet) o.sizes = {4};
    if (!secondsSet) o.seconds = 3;
    if (!warmupSet) o.warmup = 2;
    if (!latencySet) o.latencySeconds = 6;
    o.latencyWarmup = 2;
    o.latencyRepeats = 1;
  }
  return o;
}

// ---------------------------------------------------------------------------------------
// /proc readings

long clockTicks() {
  static long ticks = sysconf(_SC_CLK_TCK);
  return ticks > 0 ? ticks : 100;
}

// utime + stime of a process (all threads), in clock ticks; -1 if it is gone.
long long processCpuTicks(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return -1;
  auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream ss(line.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 0; i < 13 && ss >> field; i++) {  // field 3 (state) is index 0; 14 and 15 are 11, 12
    if (i == 11) utime = std::atoll(field.c_str());
    if (i == 12) stime = std::atoll(field.c_str());
  }
  return utime + stime;
}

// "Threads:" and "VmRSS:" (kB) from /proc/PID/status.
void processStatus(pid_t pid, int& threads, long& rssKb) {
  threads = 0;
  rssKb = 0;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("Threads:", 0) == 0) threads = std::atoi(line.c_str() + 8);
    if (line.rfind("VmRSS:", 0) == 0) rssKb = std::atol(line.c_str() + 6);
  }
}

// Busy and total ticks of the whole machine and of each CPU, from /proc/stat.
struct MachineTicks {
  long long busy = 0, total = 0;
  std::vector<long long> cpuBusy, cpuTotal;
};

MachineTicks machineTicks() {
  MachineTicks m;
  std::ifstream f("/proc/stat");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("cpu", 0) != 0) break;
    std::istringstream ss(line);
    std::string name;
    long long v[10] = {0};
    ss >> name;
    for (long long& x : v) ss >> x;
    long long idle = v[3] + v[4];
    long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    if (name == "cpu") {
      m.busy = busy;
      m.total = busy + idle;
    } else {
      m.cpuBusy.push_back(busy);
      m.cpuTotal.push_back(busy + idle);
    }
  }
  return m;
}

std::string loadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string one, five, fifteen;
  f >> one >> five >> fifteen;
  return one.empty() ? "?" : one + " " + five + " " + fifteen;
}

std::string cpuModel() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "?";
}

std::string utcNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// ---------------------------------------------------------------------------------------
// Child processes (pinned to a CPU as taskset would: sched_setaffinity before exec)

pid_t spawn(const std::vector<std::string>& args, int cpu, int stdoutFd, const std::string& logPath) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int logFd = open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logFd < 0) die("cannot open " + logPath);
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= 0) CPU_SET(cpu, &set);
  pid_t pid = fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    if (cpu >= 0) sched_setaffinity(0, sizeof set, &set);
    dup2(stdoutFd >= 0 ? stdoutFd : logFd, 1);
    dup2(logFd, 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(logFd);
  return pid;
}

bool alive(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == 0;
}

// SIGTERM, then SIGKILL after `grace` seconds. Returns the wait status (or -1). Before the
// SIGKILL, the threads' backtraces go to `hangLog` when gdb is installed.
int stopProcess(pid_t pid, double grace, const std::string& hangLog, bool* timedOut) {
  if (pid <= 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == pid) return status;
  kill(pid, SIGTERM);
  double until = monotonicSeconds() + grace;
  while (monotonicSeconds() < until) {
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    g_usleep(20000);
  }
  if (timedOut) *timedOut = true;
  gchar* gdb = g_find_program_in_path("gdb");
  if (gdb && !hangLog.empty()) {
    std::string cmd = std::string("timeout 60 ") + gdb + " -p " + std::to_string(pid) +
                      " -batch -ex 'thread apply all bt' > '" + hangLog + "' 2>&1";
    if (std::system(cmd.c_str()) != 0) note("  gdb could not attach to %d", static_cast<int>(pid));
  }
  g_free(gdb);
  note("  process %d did not stop in %.0f s: SIGKILL%s%s", static_cast<int>(pid), grace,
       hangLog.empty() ? "" : "; backtraces in ", hangLog.c_str());
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return status;
}

// Deletes the work folder we created (config files and logs, one level of subfolders).
void removeTree(const std::string& path) {
  if (GDir* dir = g_dir_open(path.c_str(), 0, nullptr)) {
    while (const gchar* name = g_dir_read_name(dir)) {
      std::string child = path + "/" + name;
      if (g_file_test(child.c_str(), G_FILE_TEST_IS_DIR) && !g_file_test(child.c_str(), G_FILE_TEST_IS_SYMLINK))
        removeTree(child);
      else
        g_remove(child.c_str());
    }
    g_dir_close(dir);
  }
  g_rmdir(path.c_str());
}

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string tail(const std::string& path, size_t bytes) {
  std::string s = readFile(path);
  return s.size() > bytes ? "..." + s.substr(s.size() - bytes) : s;
}

// ---------------------------------------------------------------------------------------
// Janus over its HTTP API

class JanusClient {
 public:
  JanusClient() : session_(soup_session_new()) { soup_session_set_timeout(session_, 15); }
  ~JanusClient() { g_object_unref(session_); }
  JanusClient(const JanusClient&) = delete;
  JanusClient& operator=(const JanusClient&) = delete;

  // Sends a request; returns the parsed JSON root (caller frees) or null with *error set.
  JsonNode* request(const char* method, const std::string& url, const std::string& body, std::string* error) {
    SoupMessage* msg = soup_message_new(method, url.c_str());
    if (!msg) {
      *error = "bad URL " + url;
      return nullptr;
    }
    if (!body.empty()) {
      GBytes* bytes = g_bytes_new(body.data(), body.size());
      soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
      g_bytes_unref(bytes);
    }
    GError* err = nullptr;
    GBytes* reply = soup_session_send_and_read(session_, msg, nullptr, &err);
    guint status = soup_message_get_status(msg);
    g_object_unref(msg);
    if (!reply) {
      *error = err ? err->message : "no reply";
      g_clear_error(&err);
      return nullptr;
    }
    if (status != 200) {
      *error = "HTTP " + std::to_string(status);
      g_bytes_unref(reply);
      return nullptr;
    }
    gsize size = 0;
    const char* data = static_cast<const char*>(g_bytes_get_data(reply, &size));
    JsonParser* parser = json_parser_new();
    JsonNode* root = nullptr;
    if (json_parser_load_from_data(parser, data, static_cast<gssize>(size), &err)) {
      root = json_node_copy(json_parser_get_root(parser));
    } else {
      *error = std::string("bad JSON: ") + (err ? err->message : "?");
      g_clear_error(&err);
    }
    g_object_unref(parser);
    g_bytes_unref(reply);
    return root;
  }

  std::string transaction() { return "t" + std::to_string(++transactions_); }

  // POST, expecting {"janus":"success","data":{"id":...}}; returns the id or 0.
  gint64 createId(const std::string& url, const std::string& body, std::string* error) {
    JsonNode* root = request("POST", url, body, error);
    if (!root) return 0;
    gint64 id = 0;
    JsonObject* o = JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : nullptr;
    if (o && json_object_has_member(o, "data")) {
      JsonObject* data = json_object_get_object_member(o, "data");
      if (data && json_object_has_member(data, "id")) id = json_object_get_int_member(data, "id");
    }
    if (!id) {
      JsonGenerator* gen = json_generator_new();
      json_generator_set_root(gen, root);
      gchar* text = json_generator_to_data(gen, nullptr);
      *error = std::string("unexpected reply ") + text;
      g_free(text);
      g_object_unref(gen);
    }
    json_node_unref(root);
    return id;
  }

  // Joins one plain-RTP participant in its own session; returns Janus' RTP port or 0.
  int joinParticipant(int index, int participantPort, bool muted, gint64* sessionOut, std::string* error) {
    std::string base = kJanusUrl;
    gint64 session = createId(base, "{\"janus\":\"create\",\"transaction\":\"" + transaction() + "\"}", error);
    if (!session) return 0;
    *sessionOut = session;
    std::string sessionUrl = base + "/" + std::to_string(session);
    gint64 handle = createId(sessionUrl,
                             "{\"janus\":\"attach\",\"plugin\":\"janus.plugin.audiobridge\",\"transaction\":\"" +
                                 transaction() + "\"}",
                             error);
    if (!handle) return 0;
    char body[512];
    std::snprintf(body, sizeof body,
                  "{\"janus\":\"message\",\"transaction\":\"%s\",\"body\":{\"request\":\"join\",\"room\":%d,"
                  "\"display\":\"p%d\",\"codec\":\"opus\",\"muted\":%s,"
                  "\"rtp\":{\"ip\":\"127.0.0.1\",\"port\":%d,\"payload_type\":%d}}}",
                  transaction().c_str(), kJanusRoom, index, muted ? "true" : "false", participantPort, kPayloadType);
    JsonNode* ack = request("POST", sessionUrl + "/" + std::to_string(handle), body, error);
    if (!ack) return 0;
    json_node_unref(ack);
    // Long-poll the session until the "joined" event, which carries Janus' RTP port.
    double until = monotonicSeconds() + 10;
    while (monotonicSeconds() < until) {
      JsonNode* events = request("GET", sessionUrl + "?maxev=50", "", error);
      if (!events) return 0;
      int port = 0;
      auto inspect = [&](JsonNode* node) {
        if (!JSON_NODE_HOLDS_OBJECT(node)) return;
        JsonObject* ev = json_node_get_object(node);
        if (!json_object_has_member(ev, "plugindata")) return;
        JsonObject* pd = json_object_get_object_member(ev, "plugindata");
        if (!pd || !json_object_has_member(pd, "data")) return;
        JsonObject* data = json_object_get_object_member(pd, "data");
        if (json_object_has_member(data, "error")) *error = json_object_get_string_member(data, "error");
        const char* what =
            json_object_has_member(data, "audiobridge") ? json_object_get_string_member(data, "audiobridge") : "";
        if (g_strcmp0(what, "joined") == 0 && json_object_has_member(data, "rtp")) {
          JsonObject* rtp = json_object_get_object_member(data, "rtp");
          if (rtp && json_object_has_member(rtp, "port")) port = static_cast<int>(json_object_get_int_member(rtp, "port"));
        }
      };
      if (JSON_NODE_HOLDS_ARRAY(events)) {
        JsonArray* arr = json_node_get_array(events);
        for (guint i = 0; i < json_array_get_length(arr); i++) inspect(json_array_get_element(arr, i));
      } else {
        inspect(events);
      }
      json_node_unref(events);
      if (port) return port;
      if (!error->empty()) return 0;
    }
    *error = "no joined event within 10 s";
    return 0;
  }

  void keepalive(gint64 session) {
    std::string error;
    JsonNode* r = request("POST", std::string(kJanusUrl) + "/" + std::to_string(session),
                          "{\"janus\":\"keepalive\",\"transaction\":\"" + transaction() + "\"}", &error);
    if (r) json_node_unref(r);
  }

  // Polls /janus/info until Janus answers; returns its version string or "".
  std::string waitReady(pid_t pid, double timeout) {
    double until = monotonicSeconds() + timeout;
    while (monotonicSeconds() < until) {
      if (!alive(pid)) return "";
      std::string error;
      JsonNode* info = request("GET", std::string(kJanusUrl) + "/info", "", &error);
      if (info) {
        std::string version = "?";
        if (JSON_NODE_HOLDS_OBJECT(info)) {
          JsonObject* o = json_node_get_object(info);
          if (json_object_has_member(o, "version_string")) version = json_object_get_string_member(o, "version_string");
        }
        json_node_unref(info);
        return version;
      }
      g_usleep(100000);
    }
    return "";
  }

 private:
  SoupSession* session_;
  unsigned transactions_ = 0;
};

// Writes Janus' configuration (the anchor's janus-conf: only AudioBridge and the HTTP
// transport on 127.0.0.1:8088, room 1234 at 48 kHz with plain-RTP participants).
void writeJanusConfig(const std::string& dir, const std::string& lib) {
  g_mkdir_with_parents(dir.c_str(), 0755);
  std::ofstream(dir + "/janus.jcfg")
      << "general: {\n"
      << "\tconfigs_folder = \"" << dir << "\"\n"
      << "\tplugins_folder = \"" << lib << "/plugins\"\n"
      << "\ttransports_folder = \"" << lib << "/transports\"\n"
      << "\tevents_folder = \"" << lib << "/events\"\n"
      << "\tloggers_folder = \"" << lib << "/loggers\"\n"
      << "\tdebug_level = 3\n}\n"
      << "nat: {\n\tice_enforce_list = \"lo\"\n}\n"
      << "plugins: {\n\tdisable = \"libjanus_duktape.so,libjanus_echotest.so,libjanus_lua.so,libjanus_nosip.so,"
         "libjanus_recordplay.so,libjanus_sip.so,libjanus_streaming.so,libjanus_textroom.so,libjanus_videocall.so,"
         "libjanus_videoroom.so,libjanus_voicemail.so\"\n}\n"
      << "transports: {\n\tdisable = \"libjanus_websockets.so,libjanus_mqtt.so,libjanus_nanomsg.so,"
         "libjanus_pfunix.so,libjanus_rabbitmq.so\"\n}\n"
      << "events: {\n\tbroadcast = false\n}\n";
  std::ofstream(dir + "/janus.plugin.audiobridge.jcfg")
      << "general: {\n\tlocal_ip = \"127.0.0.1\"\n\trtp_port_range = \"50000-50999\"\n}\n"
      << "room-" << kJanusRoom << ": {\n\tdescription = \"bench room\"\n\tsampling_rate = 48000\n"
      << "\tallow_rtp_participants = true\n\trecord = false\n}\n";
  std::ofstream(dir + "/janus.transport.http.jcfg")
      << "general: {\n\tjson = \"indented\"\n\tbase_path = \"/janus\"\n\thttp = true\n\tport = 8088\n"
      << "\tip = \"127.0.0.1\"\n\thttps = false\n}\n"
      << "admin: {\n\tadmin_base_path = \"/admin\"\n\tadmin_http = false\n\tadmin_port = 7088\n"
      << "\tadmin_https = false\n}\n"
      << "cors: {\n}\n";
}

std::string findJanusLib() {
  const char* patterns[] = {"/usr/lib/*/janus/plugins/libjanus_audiobridge.so", "/usr/lib/janus/plugins/libjanus_audiobridge.so",
                            "/usr/local/lib/janus/plugins/libjanus_audiobridge.so",
                            "/opt/janus/lib/janus/plugins/libjanus_audiobridge.so"};
  for (const char* pattern : patterns) {
    glob_t g{};
    if (glob(pattern, 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
      std::string path = g.gl_pathv[0];
      globfree(&g);
      return path.substr(0, path.rfind("/plugins/"));
    }
    globfree(&g);
  }
  return "";
}

// ---------------------------------------------------------------------------------------
// Participants' sockets and the receiver thread

struct Captured {
  double time;  // CLOCK_REALTIME seconds: kernel receive timestamp, or send time
  std::vector<guint8> data;
};

class Receiver {
 public:
  explicit Receiver(const std::vector<GSocket*>& sockets) : counts_(sockets.size()) {
    for (GSocket* s : sockets) fds_.push_back(g_socket_get_fd(s));
    for (auto& c : counts_) c.store(0);
    thread_ = std::thread([this] { loop(); });
  }
  ~Receiver() { stop(); }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<guint64> counts() const {
    std::vector<guint64> out;
    for (const auto& c : counts_) out.push_back(c.load());
    return out;
  }
  void capture(int index) { captureIndex_ = index; }
  std::vector<Captured> takeCaptured() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::move(captured_);
  }

 private:
  void loop() {
    std::vector<pollfd> pfds;
    for (int fd : fds_) pfds.push_back(pollfd{fd, POLLIN, 0});
    guint8 buf[2048];
    alignas(cmsghdr) char control[256];
    while (!stop_) {
      int r = poll(pfds.data(), pfds.size(), 100);
      if (r <= 0) continue;
      for (size_t i = 0; i < pfds.size(); i++) {
        if (!(pfds[i].revents & POLLIN)) continue;
        for (;;) {
          iovec iov{buf, sizeof buf};
          msghdr msg{};
          msg.msg_iov = &iov;
          msg.msg_iovlen = 1;
          msg.msg_control = control;
          msg.msg_controllen = sizeof control;
          ssize_t n = recvmsg(pfds[i].fd, &msg, MSG_DONTWAIT);
          if (n < 0) break;
          counts_[i].fetch_add(1, std::memory_order_relaxed);
          if (static_cast<int>(i) != captureIndex_.load(std::memory_order_relaxed) || n < 12) continue;
          double t = 0;
          for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
              timespec ts;
              std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
              t = static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
            }
          }
          if (t == 0) t = realtimeSeconds();
          std::lock_guard<std::mutex> lock(mutex_);
          captured_.push_back(Captured{t, std::vector<guint8>(buf, buf + n)});
        }
      }
    }
  }

  std::vector<int> fds_;
  std::vector<std::atomic<guint64>> counts_;
  std::atomic<bool> stop_{false};
  std::atomic<int> captureIndex_{-1};
  std::mutex mutex_;
  std::vector<Captured> captured_;
  std::thread thread_;
};

std::vector<GSocket*> bindSockets(int basePort, int n, std::string* error) {
  std::vector<GSocket*> sockets;
  GInetAddress* lo = g_inet_address_new_from_string("127.0.0.1");
  for (int i = 0; i < n; i++) {
    GError* err = nullptr;
    GSocket* s = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &err);
    GSocketAddress* addr = g_inet_socket_address_new(lo, static_cast<guint16>(basePort + i));
    if (!s || !g_socket_bind(s, addr, FALSE, &err)) {
      *error = "cannot bind 127.0.0.1:" + std::to_string(basePort + i) + ": " + (err ? err->message : "?");
      g_clear_error(&err);
      g_object_unref(addr);
      if (s) g_object_unref(s);
      for (GSocket* o : sockets) g_object_unref(o);
      g_object_unref(lo);
      return {};
    }
    g_object_unref(addr);
    int one = 1;
    setsockopt(g_socket_get_fd(s), SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    int rcvbuf = 1 << 20;
    setsockopt(g_socket_get_fd(s), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockets.push_back(s);
  }
  g_object_unref(lo);
  return sockets;
}

void closeSockets(std::vector<GSocket*>& sockets) {
  for (GSocket* s : sockets) {
    g_socket_close(s, nullptr);
    g_object_unref(s);
  }
  sockets.clear();
}

// Participant ports P..P+n-1 for us, and (roomcast) P+2000.. for the engine: all free.
std::vector<GSocket*> bindParticipants(int& basePort, int n) {
  std::string error;
  for (int attempt = 0; attempt < 20; attempt++, basePort += 100) {
    std::vector<GSocket*> probe = bindSockets(basePort + 2000, n, &error);
    if (probe.empty()) continue;
    closeSockets(probe);
    std::vector<GSocket*> sockets = bindSockets(basePort, n, &error);
    if (!sockets.empty()) return sockets;
  }
  die("no free UDP port range near --base-port: " + error);
}

// ---------------------------------------------------------------------------------------
// Load generator (this process)

enum class Signal { Tone, Silence, Ticks };

struct SendCapture {
  std::atomic<bool> on{false};
  std::mutex mutex;
  std::vector<Captured> packets;
};

GstPadProbeReturn onSent(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* cap = static_cast<SendCapture*>(data);
  if (!cap->on.load(std::memory_order_relaxed)) return GST_PAD_PROBE_OK;
  double t = realtimeSeconds();
  GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
  GstMapInfo map;
  if (gst_buffer_map(buf, &map, GST_MAP_READ)) {
    std::lock_guard<std::mutex> lock(cap->mutex);
    cap->packets.push_back(Captured{t, std::vector<guint8>(map.data, map.data + map.size)});
    gst_buffer_unmap(buf, &map);
  }
  return GST_PAD_PROBE_OK;
}

GstElement* addElement(GstBin* bin, const char* factory) {
  GstElement* e = gst_element_factory_make(factory, nullptr);
  if (!e) die(std::string("element ") + factory + " is missing");
  gst_bin_add(bin, e);
  return e;
}

void linkOrDie(GstElement* a, GstElement* b) {
  if (!gst_element_link(a, b)) die(std::string("cannot link ") + GST_OBJECT_NAME(a) + " to " + GST_OBJECT_NAME(b));
}

// audiotestsrc ! caps ! opusenc ! tee, one per kind of signal.
GstElement* addSignal(GstBin* bin, Signal kind, int tickIntervalMs) {
  GstElement* src = addElement(bin, "audiotestsrc");
  g_object_set(src, "is-live", TRUE, "samplesperbuffer", kFrame, nullptr);
  switch (kind) {
    case Signal::Tone:
      gst_util_set_object_arg(G_OBJECT(src), "wave", "sine");
      g_object_set(src, "freq", 440.0, "volume", 0.3, nullptr);
      break;
    case Signal::Silence:
      gst_util_set_object_arg(G_OBJECT(src), "wave", "silence");
      break;
    case Signal::Ticks:
      gst_util_set_object_arg(G_OBJECT(src), "wave", "ticks");
      g_object_set(src, "freq", 1000.0, "volume", kTickVolume, "marker-tick-period", kMarkerPeriod,
                   "marker-tick-volume", kMarkerVolume, "sine-periods-per-tick", 10u, "tick-interval",
                   static_cast<guint64>(tickIntervalMs) * GST_MSECOND, nullptr);
      break;
  }
  GstElement* caps = addElement(bin, "capsfilter");
  GstCaps* c = gst_caps_from_string("audio/x-raw,rate=48000,channels=1");
  g_object_set(caps, "caps", c, nullptr);
  gst_caps_unref(c);
  GstElement* enc = addElement(bin, "opusenc");
  g_object_set(enc, "bitrate", 32000, nullptr);
  gst_util_set_object_arg(G_OBJECT(enc), "frame-size", "20");
  GstElement* tee = addElement(bin, "tee");
  g_object_set(tee, "allow-not-linked", TRUE, nullptr);
  linkOrDie(src, caps);
  linkOrDie(caps, enc);
  linkOrDie(enc, tee);
  return tee;
}

// signals[i]: what participant i sends (nullopt-like: -1 sends nothing).
GstElement* buildGenerator(const std::vector<int>& signals, const std::vector<GSocket*>& sockets,
                           const std::vector<int>& serverPorts, int tickIntervalMs, SendCapture* capture,
                           int captureIndex) {
  GstElement* pipeline = gst_pipeline_new("generator");
  GstBin* bin = GST_BIN(pipeline);
  std::map<int, GstElement*> tees;
  for (size_t i = 0; i < signals.size(); i++) {
    if (signals[i] < 0) continue;
    auto kind = static_cast<Signal>(signals[i]);
    if (!tees.count(signals[i])) tees[signals[i]] = addSignal(bin, kind, tickIntervalMs);
    GstElement* q = addElement(bin, "queue");
    GstElement* pay = addElement(bin, "rtpopuspay");
    g_object_set(pay, "pt", kPayloadType, "ssrc", static_cast<guint>(0x10000 + i), nullptr);
    GstElement* sink = addElement(bin, "udpsink");
    g_object_set(sink, "socket", sockets[i], "close-socket", FALSE, "host", "127.0.0.1", "port", serverPorts[i],
                 "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, nullptr);
    linkOrDie(tees[signals[i]], q);
    linkOrDie(q, pay);
    linkOrDie(pay, sink);
    if (capture && static_cast<int>(i) == captureIndex) {
      GstPad* pad = gst_element_get_static_pad(sink, "sink");
      gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, onSent, capture, nullptr);
      gst_object_unref(pad);
    }
  }
  return pipeline;
}

std::string busError(GstElement* pipeline) {
  GstBus* bus = gst_element_get_bus(pipeline);
  std::string out;
  while (GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) {
    GError* err = nullptr;
    gst_message_parse_error(m, &err, nullptr);
    if (out.empty()) out = std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(m))) + ": " + (err ? err->message : "?");
    g_clear_error(&err);
    gst_message_unref(m);
  }
  gst_object_unref(bus);
  return out;
}

// ---------------------------------------------------------------------------------------
// Servers

struct Server {
  Variant variant = Variant::Janus;
  pid_t pid = -1;
  std::vector<int> ports;          // where participant i sends its RTP
  std::vector<gint64> sessions;    // Janus sessions (keepalive)
  std::string log;
  std::string stats;               // engine statistics file
  std::string version;
  std::string error;
  double startSeconds = 0;         // spawn to ready (and joined)
  bool stopTimedOut = false;       // it ignored SIGTERM for too long and was killed
};

struct Context {
  Options opt;
  std::string workdir;
  std::string janusLib;
  std::string janusVersion;
  JanusClient janus;
  int runCounter = 0;
  bool keepWorkdir = false;  // set when something needs its logs looked at
};

Server startServer(Context& ctx, Variant variant, int n, int talking, int basePort) {
  Server s;
  s.variant = variant;
  double t0 = monotonicSeconds();
  int id = ++ctx.runCounter;
  if (variant == Variant::Janus) {
    s.log = ctx.workdir + "/janus-" + std::to_string(id) + ".log";
    std::string stdoutLog = ctx.workdir + "/janus-" + std::to_string(id) + ".out";
    s.pid = spawn({ctx.opt.janus, "-C", ctx.workdir + "/janus-conf/janus.jcfg", "-F", ctx.workdir + "/janus-conf",
                   "-L", s.log, "-N", "-o"},
                  ctx.opt.serverCpu, -1, stdoutLog);
    s.version = ctx.janus.waitReady(s.pid, 20);
    if (s.version.empty()) {
      s.error = "Janus did not answer on " + std::string(kJanusUrl) + " (log: " + tail(stdoutLog, 600) + ")";
      return s;
    }
    for (int i = 0; i < n; i++) {
      gint64 session = 0;
      std::string error;
      int port = ctx.janus.joinParticipant(i, basePort + i, i >= talking, &session, &error);
      if (!port) {
        s.error = "Janus join of participant " + std::to_string(i) + " failed: " + error;
        return s;
      }
      s.sessions.push_back(session);
      s.ports.push_back(port);
    }
  } else {
    s.log = ctx.workdir + "/engine-" + std::to_string(id) + ".log";
    s.stats = ctx.workdir + "/engine-" + std::to_string(id) + ".json";
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) die("pipe failed");
    std::vector<std::string> args{ctx.opt.engine, "--participants", std::to_string(n), "--base-port",
                                  std::to_string(basePort), "--listen-port", std::to_string(basePort + 2000),
                                  "--talking", std::to_string(talking), "--return",
                                  variant == Variant::RoomcastShared ? "shared" : "own", "--program", ctx.opt.program,
                                  "--stats", s.stats};
    args.insert(args.end(), ctx.opt.engineArgs.begin(), ctx.opt.engineArgs.end());
    s.pid = spawn(args, ctx.opt.serverCpu, pipefd[1], s.log);
    close(pipefd[1]);
    std::string line;
    double until = monotonicSeconds() + 20;
    while (line.find('\n') == std::string::npos && monotonicSeconds() < until) {
      pollfd p{pipefd[0], POLLIN, 0};
      if (poll(&p, 1, 100) > 0) {
        char buf[128];
        ssize_t r = read(pipefd[0], buf, sizeof buf);
        if (r <= 0) break;
        line.append(buf, static_cast<size_t>(r));
      }
    }
    close(pipefd[0]);
    if (line.rfind("ready", 0) != 0) {
      s.error = "the roomcast engine did not start (log: " + tail(s.log, 600) + ")";
      return s;
    }
    s.version = ROOMCAST_VERSION;
    for (int i = 0; i < n; i++) s.ports.push_back(basePort + 2000 + i);
  }
  s.startSeconds = monotonicSeconds() - t0;
  return s;
}

// Stops the server; returns the engine's statistics JSON (roomcast) or "".
std::string stopServer(Server& s) {
  if (s.pid > 0) {
    int status = stopProcess(s.pid, s.variant == Variant::Janus ? 15 : 10, s.log + ".hang.txt", &s.stopTimedOut);
    if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM && WTERMSIG(status) != SIGKILL && s.error.empty())
      s.error = "server died from signal " + std::to_string(WTERMSIG(status));
    s.pid = -1;
  }
  return s.stats.empty() ? "" : readFile(s.stats);
}

// ---------------------------------------------------------------------------------------
// One CPU measurement

struct LoadRun {
  Variant variant;
  int n = 0;
  int talking = 0;
  int repeat = 0;
  bool ok = false;
  std::string error;
  double serverCpuPercent = NAN;   // % of one core
  double generatorCpuPercent = NAN;
  double otherCpuPercent = NAN;    // the rest of the machine, % of one core
  double serverCoreBusyPercent = NAN;  // the server's CPU as a whole (incl. other processes on it)
  double rxPercentMin = NAN, rxPercentMean = NAN;  // received / expected packets, per participant
  int threads = 0;
  long rssKb = 0;
  double startSeconds = 0;
  std::string engineStats;  // JSON from the engine
  guint64 jitterLost = 0, jitterPushed = 0;
  guint64 sent = 0, sentShared = 0;  // engine: RTP packets sent, of them from the shared encoding
  double sinkLatencyMs = NAN, queriedLatencyMs = NAN;
  bool stopTimedOut = false;
  std::string log;
};

bool waitWhileAlive(double seconds, const Server& server, GstElement* generator, std::string* error) {
  double until = monotonicSeconds() + seconds;
  while (monotonicSeconds() < until) {
    if (!alive(server.pid)) {
      *error = std::string(variantName(server.variant)) + " exited during the run (log " + server.log + ")";
      return false;
    }
    if (std::string e = busError(generator); !e.empty()) {
      *error = "load generator: " + e;
      return false;
    }
    g_usleep(50000);
  }
  return true;
}

// A number after the first "key": in the engine's statistics, or NAN.
double jsonField(const std::string& json, const char* key) {
  auto k = json.find(std::string("\"") + key + "\": ");
  if (k == std::string::npos) return NAN;
  const char* start = json.c_str() + k + std::strlen(key) + 4;
  char* end = nullptr;
  double v = std::strtod(start, &end);
  return end == start ? NAN : v;
}

guint64 jsonTotal(const std::string& json, const char* key) {
  // The engine writes "totals": {... "key": N ...} last; a plain search is enough.
  auto at = json.find("\"totals\"");
  if (at == std::string::npos) return 0;
  auto k = json.find(std::string("\"") + key + "\": ", at);
  if (k == std::string::npos) return 0;
  return std::strtoull(json.c_str() + k + std::strlen(key) + 4, nullptr, 10);
}

LoadRun runLoad(Context& ctx, Variant variant, int n, int talking, int repeat) {
  LoadRun r;
  r.variant = variant;
  r.n = n;
  r.talking = talking;
  r.repeat = repeat;
  note("[%s] N=%d, %d talking: starting %s", utcNow().c_str() + 11, n, talking, variantName(variant));

  int basePort = ctx.opt.basePort;
  std::vector<GSocket*> sockets = bindParticipants(basePort, n);
  Server server = startServer(ctx, variant, n, talking, basePort);
  if (!server.error.empty()) {
    r.error = server.error;
    stopServer(server);
    closeSockets(sockets);
    note("  failed: %s", r.error.c_str());
    return r;
  }
  if (variant == Variant::Janus) ctx.janusVersion = server.version;
  r.startSeconds = server.startSeconds;

  std::vector<int> signals(n);
  for (int i = 0; i < n; i++)
    signals[i] = i < talking ? static_cast<int>(Signal::Tone) : (ctx.opt.silentSends ? static_cast<int>(Signal::Silence) : -1);
  Receiver receiver(sockets);
  GstElement* gen = buildGenerator(signals, sockets, server.ports, ctx.opt.tickIntervalMs, nullptr, -1);
  gst_element_set_state(gen, GST_STATE_PLAYING);

  std::string error;
  bool ok = waitWhileAlive(ctx.opt.warmup, server, gen, &error);
  if (ok) {
    // Janus ends sessions after 60 s without a request: one keepalive each covers the window.
    for (gint64 session : server.sessions) ctx.janus.keepalive(session);
    long long s0 = processCpuTicks(server.pid), g0 = processCpuTicks(getpid());
    MachineTicks m0 = machineTicks();
    std::vector<guint64> c0 = receiver.counts();
    double t0 = monotonicSeconds();
    ok = waitWhileAlive(ctx.opt.seconds, server, gen, &error);
    long long s1 = processCpuTicks(server.pid), g1 = processCpuTicks(getpid());
    MachineTicks m1 = machineTicks();
    std::vector<guint64> c1 = receiver.counts();
    double wall = monotonicSeconds() - t0;
    processStatus(server.pid, r.threads, r.rssKb);
    if (ok && s0 >= 0 && s1 >= 0) {
      double hz = static_cast<double>(clockTicks());
      r.serverCpuPercent = (s1 - s0) / hz / wall * 100.0;
      r.generatorCpuPercent = (g1 - g0) / hz / wall * 100.0;
      r.otherCpuPercent = ((m1.busy - m0.busy) - (s1 - s0) - (g1 - g0)) / hz / wall * 100.0;
      int cpu = ctx.opt.serverCpu;
      if (cpu >= 0 && static_cast<size_t>(cpu) < m1.cpuBusy.size() && m1.cpuTotal[cpu] > m0.cpuTotal[cpu])
        r.serverCoreBusyPercent =
            100.0 * (m1.cpuBusy[cpu] - m0.cpuBusy[cpu]) / static_cast<double>(m1.cpuTotal[cpu] - m0.cpuTotal[cpu]);
      double expected = kPacketsPerSecond * wall, sum = 0, mn = 1e9;
      for (int i = 0; i < n; i++) {
        double pct = 100.0 * (c1[i] - c0[i]) / expected;
        sum += pct;
        mn = std::min(mn, pct);
      }
      r.rxPercentMin = mn;
      r.rxPercentMean = sum / n;
      r.ok = true;
    }
  }
  gst_element_set_state(gen, GST_STATE_NULL);
  gst_object_unref(gen);
  receiver.stop();
  r.engineStats = stopServer(server);
  r.stopTimedOut = server.stopTimedOut;
  r.log = server.log;
  if (r.stopTimedOut) ctx.keepWorkdir = true;
  if (!r.engineStats.empty()) {
    r.jitterLost = jsonTotal(r.engineStats, "jitter_lost");
    r.jitterPushed = jsonTotal(r.engineStats, "jitter_pushed");
    r.sent = jsonTotal(r.engineStats, "sent");
    r.sentShared = jsonTotal(r.engineStats, "sent_shared");
    r.sinkLatencyMs = jsonField(r.engineStats, "udpsink_configured_latency_ms");
    r.queriedLatencyMs = jsonField(r.engineStats, "pipeline_latency_query_ms");
  }
  closeSockets(sockets);
  if (!ok) r.error = error;
  if (r.ok)
    note("  %s: server %.1f%% of a core (its core busy %.0f%%), generator %.1f%%, others ~%.0f%%, rx %.1f%% (min %.1f%%), "
         "%d threads%s",
         variantName(variant), r.serverCpuPercent, r.serverCoreBusyPercent, r.generatorCpuPercent,
         std::max(0.0, r.otherCpuPercent), r.rxPercentMean, r.rxPercentMin, r.threads,
         variant == Variant::RoomcastShared && r.sent
             ? fmt(", %.0f%% of the returns from the shared encoding", 100.0 * r.sentShared / r.sent).c_str()
             : "");
  else
    note("  %s failed: %s", variantName(variant), r.error.c_str());
  return r;
}

// ---------------------------------------------------------------------------------------
// Transit latency

struct Decoded {
  std::vector<float> samples;  // kFrame per packet slot
  std::vector<double> times;   // per slot: arrival (or send) time of its packet
  int packets = 0;
};

// RTP packets (any order, duplicates allowed) -> one 960-sample slot per packet, in
// sequence order, each slot stamped with its packet's time.
Decoded decodeOpus(std::vector<Captured> packets) {
  Decoded d;
  auto seqOf = [](const Captured& c) { return static_cast<guint16>((c.data[2] << 8) | c.data[3]); };
  if (packets.empty()) return d;
  // Unwrap sequence numbers relative to the first packet.
  std::vector<std::pair<long, Captured*>> order;
  long last = seqOf(packets[0]);
  for (auto& c : packets) {
    long s = seqOf(c);
    long diff = static_cast<gint16>(static_cast<guint16>(s - (last & 0xffff)));
    last += diff;
    order.emplace_back(last, &c);
  }
  std::stable_sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.first < b.first; });
  order.erase(std::unique(order.begin(), order.end(), [](auto& a, auto& b) { return a.first == b.first; }),
              order.end());

  GError* err = nullptr;
  GstElement* pipeline = gst_parse_launch(
      "appsrc name=src format=time ! rtpopusdepay ! opusdec plc=false ! audioconvert "
      "! audio/x-raw,format=F32LE,rate=48000,channels=1 ! appsink name=sink sync=false",
      &err);
  if (!pipeline) die(std::string("decoder: ") + (err ? err->message : "?"));
  GstElement* src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  GstCaps* caps = gst_caps_from_string("application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=111");
  g_object_set(src, "caps", caps, "max-bytes", G_GUINT64_CONSTANT(0), nullptr);
  gst_caps_unref(caps);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);

  const size_t slots = order.size();
  d.samples.assign(slots * kFrame, 0.0f);
  d.times.resize(slots);
  d.packets = static_cast<int>(slots);
  // Slot k gets PTS k*20 ms: a gap-free timeline, so decoded audio maps back by PTS.
  for (size_t k = 0; k < slots; k++) {
    const Captured& c = *order[k].second;
    d.times[k] = c.time;
    GstBuffer* buf = gst_buffer_new_memdup(c.data.data(), c.data.size());
    GST_BUFFER_PTS(buf) = k * 20 * GST_MSECOND;
    GST_BUFFER_DURATION(buf) = 20 * GST_MSECOND;
    gst_app_src_push_buffer(GST_APP_SRC(src), buf);
  }
  gst_app_src_end_of_stream(GST_APP_SRC(src));
  while (GstSample* sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 5 * GST_SECOND)) {
    GstBuffer* buf = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (GST_BUFFER_PTS_IS_VALID(buf) && gst_buffer_map(buf, &map, GST_MAP_READ)) {
      size_t pos = gst_util_uint64_scale_round(GST_BUFFER_PTS(buf), kRate, GST_SECOND);
      size_t count = map.size / sizeof(float);
      const float* in = reinterpret_cast<const float*>(map.data);
      for (size_t j = 0; j < count && pos + j < d.samples.size(); j++) d.samples[pos + j] = in[j];
      gst_buffer_unmap(buf, &map);
    }
    gst_sample_unref(sample);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(src);
  gst_object_unref(sink);
  gst_object_unref(pipeline);
  return d;
}

struct Onset {
  double time;  // slot time + offset in the slot
  bool marker;
};

// Tick onsets: the first sample above half a normal tick's amplitude (relative to the
// stream's peak, which is a marker's) after >= 100 ms below it. A marker is an onset whose
// next 10 ms reach at least 45 % of the peak (normal ticks stay near 17 %).
std::vector<Onset> onsets(const Decoded& d, double* peakOut) {
  std::vector<Onset> out;
  float peak = 0;
  for (float v : d.samples) peak = std::max(peak, std::fabs(v));
  *peakOut = peak;
  if (peak < 0.01f) return out;
  const float threshold = static_cast<float>(0.5 * kTickVolume / kMarkerVolume) * peak;
  const long quiet = kRate / 10, n = static_cast<long>(d.samples.size());
  long lastAbove = -quiet - 1;
  for (long s = 0; s < n; s++) {
    if (std::fabs(d.samples[s]) < threshold) continue;
    if (s - lastAbove > quiet) {
      float local = 0;
      for (long k = s; k < std::min(n, s + kRate / 100); k++) local = std::max(local, std::fabs(d.samples[k]));
      out.push_back(Onset{d.times[s / kFrame] + static_cast<double>(s % kFrame) / kRate, local >= 0.45f * peak});
    }
    lastAbove = s;
  }
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  double pos = p / 100.0 * (v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos)), hi = static_cast<size_t>(std::ceil(pos));
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

struct LatencyRun {
  Variant variant;
  bool ok = false;
  std::string error;
  int sentTicks = 0;      // onsets found in what participant 0 sent (and could come back)
  int markers = 0;        // marker ticks matched (they fix the transit beyond one tick interval)
  double sinkLatencyMs = NAN;  // roomcast engine: latency configured on its RTP sinks
  int matched = 0;        // of those, found in participant 1's mix within one tick interval
  int sentPackets = 0, returnedPackets = 0;
  double p50 = NAN, p90 = NAN, p99 = NAN, min = NAN, max = NAN, mean = NAN;
  std::vector<double> ms;
};

LatencyRun runLatency(Context& ctx, Variant variant) {
  LatencyRun r;
  r.variant = variant;
  const int n = ctx.opt.latencyParticipants;
  note("[%s] transit: %s, %d participants, ticks every %d ms from participant 0, received by participant 1",
       utcNow().c_str() + 11, variantName(variant), n, ctx.opt.tickIntervalMs);
  int basePort = ctx.opt.basePort;
  std::vector<GSocket*> sockets = bindParticipants(basePort, n);
  Server server = startServer(ctx, variant, n, n, basePort);
  if (!server.error.empty()) {
    r.error = server.error;
    stopServer(server);
    closeSockets(sockets);
    note("  failed: %s", r.error.c_str());
    return r;
  }
  if (variant == Variant::Janus) ctx.janusVersion = server.version;
  // Participant 0 ticks; the others are unmuted and send encoded silence.
  std::vector<int> signals(n, static_cast<int>(Signal::Silence));
  signals[0] = static_cast<int>(Signal::Ticks);
  Receiver receiver(sockets);
  SendCapture sent;
  GstElement* gen = buildGenerator(signals, sockets, server.ports, ctx.opt.tickIntervalMs, &sent, 0);
  gst_element_set_state(gen, GST_STATE_PLAYING);
  std::string error;
  bool ok = waitWhileAlive(ctx.opt.latencyWarmup, server, gen, &error);
  if (ok) {
    for (gint64 session : server.sessions) ctx.janus.keepalive(session);
    receiver.capture(1);
    sent.on = true;
    ok = waitWhileAlive(ctx.opt.latencySeconds, server, gen, &error);
    sent.on = false;
    // Let the last ticks come back (at most one interval later).
    if (ok) ok = waitWhileAlive(ctx.opt.tickIntervalMs / 1000.0 + 0.2, server, gen, &error);
    receiver.capture(-1);
  }
  gst_element_set_state(gen, GST_STATE_NULL);
  gst_object_unref(gen);
  receiver.stop();
  std::string stats = stopServer(server);
  r.sinkLatencyMs = jsonField(stats, "udpsink_configured_latency_ms");
  closeSockets(sockets);
  if (!ok) {
    r.error = error;
    note("  failed: %s", error.c_str());
    return r;
  }

  std::vector<Captured> sentPackets;
  {
    std::lock_guard<std::mutex> lock(sent.mutex);
    sentPackets = std::move(sent.packets);
  }
  std::vector<Captured> back = receiver.takeCaptured();
  r.sentPackets = static_cast<int>(sentPackets.size());
  r.returnedPackets = static_cast<int>(back.size());
  double sentPeak = 0, backPeak = 0;
  Decoded sentAudio = decodeOpus(std::move(sentPackets)), backAudio = decodeOpus(std::move(back));
  if (!ctx.opt.dumpLatency.empty()) {
    g_mkdir_with_parents(ctx.opt.dumpLatency.c_str(), 0755);
    for (auto [name, d] : {std::pair<const char*, const Decoded*>{"sent", &sentAudio}, {"back", &backAudio}}) {
      std::string base = ctx.opt.dumpLatency + "/" + variantName(variant) + "-" + name;
      std::ofstream(base + ".f32", std::ios::binary)
          .write(reinterpret_cast<const char*>(d->samples.data()), static_cast<std::streamsize>(d->samples.size() * 4));
      std::ofstream times(base + ".times");
      for (double t : d->times) times << fmt("%.6f", t) << "\n";
    }
  }
  std::vector<Onset> s = onsets(sentAudio, &sentPeak);
  std::vector<Onset> b = onsets(backAudio, &backPeak);
  // 1. Markers: the first returned marker within one marker period gives the transit
  //    unambiguously. 2. Every tick: the returned onset nearest to (sent + that transit).
  const double interval = ctx.opt.tickIntervalMs / 1000.0, markerPeriod = interval * kMarkerPeriod;
  std::vector<double> markerLags;
  for (const Onset& o : s) {
    if (!o.marker) continue;
    for (const Onset& q : b)
      if (q.marker && q.time > o.time && q.time - o.time < markerPeriod) {
        markerLags.push_back(q.time - o.time);
        break;
      }
  }
  r.markers = static_cast<int>(markerLags.size());
  if (!markerLags.empty()) {
    std::sort(markerLags.begin(), markerLags.end());
    const double lag = markerLags[markerLags.size() / 2];
    for (const Onset& o : s) {
      r.sentTicks++;
      const Onset* best = nullptr;
      for (const Onset& q : b)
        if (std::fabs(q.time - o.time - lag) < interval / 2 &&
            (!best || std::fabs(q.time - o.time - lag) < std::fabs(best->time - o.time - lag)))
          best = &q;
      if (best) {
        r.matched++;
        r.ms.push_back((best->time - o.time) * 1000.0);
      }
    }
  } else {
    r.sentTicks = static_cast<int>(s.size());
  }
  if (!r.ms.empty()) {
    r.ok = true;
    r.p50 = percentile(r.ms, 50);
    r.p90 = percentile(r.ms, 90);
    r.p99 = percentile(r.ms, 99);
    r.min = *std::min_element(r.ms.begin(), r.ms.end());
    r.max = *std::max_element(r.ms.begin(), r.ms.end());
    double sum = 0;
    for (double v : r.ms) sum += v;
    r.mean = sum / r.ms.size();
  } else {
    r.error = "no tick came back (sent peak " + fmt("%.3f", sentPeak) + ", returned peak " + fmt("%.3f", backPeak) + ")";
  }
  note("  %s: %d/%d ticks matched, p50 %.1f ms, p99 %.1f ms%s", variantName(variant), r.matched, r.sentTicks, r.p50,
       r.p99, std::isfinite(r.sinkLatencyMs) ? fmt(" (RTP sinks' configured latency %.0f ms)", r.sinkLatencyMs).c_str() : "");
  return r;
}

// ---------------------------------------------------------------------------------------
// Summaries

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

struct Cell {
  double cpu = NAN, rxMin = NAN, rxMean = NAN, coreBusy = NAN, other = NAN;
  int threads = 0;
  int runs = 0, failed = 0;
  guint64 jitterLost = 0, jitterPushed = 0;
  guint64 sent = 0, sentShared = 0;
  int stopTimeouts = 0;
  std::string error;
};

Cell cellOf(const std::vector<LoadRun>& runs, Variant v, int n, int talking) {
  Cell c;
  std::vector<double> cpu, rxMin, rxMean, busy, other;
  for (const LoadRun& r : runs) {
    if (r.variant != v || r.n != n || r.talking != talking) continue;
    c.runs++;
    if (!r.ok) {
      c.failed++;
      c.error = r.error;
      continue;
    }
    cpu.push_back(r.serverCpuPercent);
    rxMin.push_back(r.rxPercentMin);
    rxMean.push_back(r.rxPercentMean);
    busy.push_back(r.serverCoreBusyPercent);
    other.push_back(r.otherCpuPercent);
    c.threads = r.threads;
    c.jitterLost += r.jitterLost;
    c.jitterPushed += r.jitterPushed;
    c.sent += r.sent;
    c.sentShared += r.sentShared;
    if (r.stopTimedOut) c.stopTimeouts++;
  }
  c.cpu = median(cpu);
  c.rxMin = median(rxMin);
  c.rxMean = median(rxMean);
  c.coreBusy = median(busy);
  c.other = median(other);
  return c;
}

// Health of one cell for the table: saturation and what came back.
std::string flags(const Cell& c) {
  std::string f;
  if (c.failed) f += " FAILED";
  if ((std::isfinite(c.coreBusy) && c.coreBusy >= 95) || (std::isfinite(c.cpu) && c.cpu >= 90))
    f += " core-saturated (server " + fmt("%.0f%%", c.cpu) + ", its core busy " + fmt("%.0f%%", c.coreBusy) + ")";
  if (std::isfinite(c.rxMin) && c.rxMin < 97) f += " rx-min " + fmt("%.0f%%", c.rxMin);
  if (c.jitterPushed && c.jitterLost > c.jitterPushed / 100) f += " lost-in " + std::to_string(c.jitterLost);
  if (c.stopTimeouts) f += " did-not-stop-on-SIGTERM (killed; backtraces in the work folder)";
  return f;
}

std::string jsonNumber(double v) { return std::isfinite(v) ? fmt("%.6g", v) : "null"; }

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt("\\u%04x", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string pct(double v, int width = 7) {
  char buf[32];
  if (std::isfinite(v)) std::snprintf(buf, sizeof buf, "%*.1f%%", width - 1, v);
  else std::snprintf(buf, sizeof buf, "%*s", width, "n/a");
  return buf;
}

std::string ratio(double a, double b, int width = 7) {
  char buf[32];
  if (std::isfinite(a) && std::isfinite(b) && b > 0) std::snprintf(buf, sizeof buf, "%*.2fx", width - 1, a / b);
  else std::snprintf(buf, sizeof buf, "%*s", width, "n/a");
  return buf;
}

double safeRatio(double a, double b) { return std::isfinite(a) && std::isfinite(b) && b > 0 ? a / b : NAN; }

}  // namespace

int main(int argc, char** argv) {
  // Let the engine (a child) find mixminus when run by hand.
  if (!g_getenv("GST_PLUGIN_PATH")) g_setenv("GST_PLUGIN_PATH", ROOMCAST_PLUGIN_DIR, TRUE);
  gst_init(&argc, &argv);
  Context ctx;
  ctx.opt = parseOptions(argc, argv);
  Options& opt = ctx.opt;
  const double benchStart = monotonicSeconds();
  const std::string started = utcNow(), loadBefore = loadAverage();

  int cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  if (cpus < 2) {
    note("only %d CPU: servers and generator share it (no pinning)", cpus);
    opt.serverCpu = opt.generatorCpu = -1;
  }
  if (opt.generatorCpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(opt.generatorCpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) note("could not pin the generator to CPU %d", opt.generatorCpu);
  }

  bool wantJanus = std::find(opt.variants.begin(), opt.variants.end(), Variant::Janus) != opt.variants.end();
  bool wantRoomcast = opt.variants.size() > (wantJanus ? 1u : 0u);
  if (wantJanus) {
    gchar* path = g_find_program_in_path(opt.janus.c_str());
    if (!path) die("janus not found (install it: apt-get install -y janus), or run with --variants roomcast,roomcast-shared");
    opt.janus = path;
    g_free(path);
    ctx.janusLib = opt.janusLib.empty() ? findJanusLib() : opt.janusLib;
    if (ctx.janusLib.empty()) die("cannot find Janus' plugins folder (libjanus_audiobridge.so); use --janus-lib");
  }
  if (wantRoomcast) {
    if (opt.engine.empty()) {
      gchar* self = g_file_read_link("/proc/self/exe", nullptr);
      gchar* dir = self ? g_path_get_dirname(self) : g_strdup(".");
      opt.engine = std::string(dir) + "/bench-roomcast-rtp-engine";
      g_free(self);
      g_free(dir);
    }
    if (!g_file_test(opt.engine.c_str(), G_FILE_TEST_IS_EXECUTABLE)) die("engine not found: " + opt.engine);
  }
  if (opt.workdir.empty()) {
    gchar* dir = g_dir_make_tmp("bench-janus-compare-XXXXXX", nullptr);
    if (!dir) die("cannot create a work folder in /tmp");
    ctx.workdir = dir;
    g_free(dir);
  } else {
    ctx.workdir = opt.workdir;
    g_mkdir_with_parents(ctx.workdir.c_str(), 0755);
  }
  if (wantJanus) writeJanusConfig(ctx.workdir + "/janus-conf", ctx.janusLib);
  signal(SIGPIPE, SIG_IGN);

  int runsPlanned = static_cast<int>(opt.sizes.size()) * 2 * opt.repeats * static_cast<int>(opt.variants.size());
  note("janus-compare: %zu sizes x 2 scenarios x %zu servers x %d repeats = %d runs of ~%.0f s, then %s; work folder %s",
       opt.sizes.size(), opt.variants.size(), opt.repeats, runsPlanned, opt.warmup + opt.seconds + 3,
       opt.latency ? "transit runs" : "no transit runs", ctx.workdir.c_str());

  // Load runs, servers alternating: forward order in one slot, reversed in the next.
  std::vector<LoadRun> runs;
  int slot = 0;
  for (int n : opt.load ? opt.sizes : std::vector<int>{}) {
    for (int talking : {n, 1}) {
      for (int rep = 0; rep < opt.repeats; rep++, slot++) {
        std::vector<Variant> order = opt.variants;
        if (slot % 2) std::reverse(order.begin(), order.end());
        for (Variant v : order) runs.push_back(runLoad(ctx, v, n, talking, rep));
      }
    }
  }
  std::vector<LatencyRun> latency;
  if (opt.latency) {
    for (int rep = 0; rep < opt.latencyRepeats; rep++, slot++) {
      std::vector<Variant> order = opt.variants;
      if (slot % 2) std::reverse(order.begin(), order.end());
      for (Variant v : order) latency.push_back(runLatency(ctx, v));
    }
  }
  const double benchWall = monotonicSeconds() - benchStart;
  const std::string loadAfter = loadAverage();

  // ---- table ----------------------------------------------------------------------------
  const bool haveJanus = wantJanus;
  std::vector<Variant> rc;
  for (Variant v : opt.variants)
    if (v != Variant::Janus) rc.push_back(v);
  gchar* gstVersion = gst_version_string();

  std::printf("janus-compare: roomcast media engine vs Janus AudioBridge %s, plain RTP on loopback\n",
              ctx.janusVersion.empty() ? "(not run)" : ctx.janusVersion.c_str());
  std::printf("%s, roomcast %s, %d CPUs (%s). Servers pinned to CPU %d, load generator to CPU %d.\n", gstVersion,
              ROOMCAST_VERSION, cpus, cpuModel().c_str(), opt.serverCpu, opt.generatorCpu);
  std::printf("Server CPU = utime+stime of its process over %.0f s after %.0f s warm-up, %% of one core; "
              "%d run(s) per cell (median).\n",
              opt.seconds, opt.warmup, opt.repeats);
  std::printf("Silent participants: server-muted, sending %s; every participant receives a mix.\n\n",
              opt.silentSends ? "encoded silence at 50 packets/s" : "nothing");
  std::printf("   N  scenario            ");
  for (Variant v : opt.variants) std::printf("%16s", variantName(v));
  if (haveJanus)
    for (Variant v : rc) std::printf("  %s/janus", v == Variant::Roomcast ? "rc" : "rc-shared");
  std::printf("\n");
  for (int n : opt.sizes) {
    for (int talking : {n, 1}) {
      char label[64];
      if (talking == n) std::snprintf(label, sizeof label, "all %d talking", n);
      else std::snprintf(label, sizeof label, "1 talking + %d muted", n - 1);
      std::printf("%4d  %-20s", n, label);
      std::map<Variant, Cell> cells;
      for (Variant v : opt.variants) {
        cells[v] = cellOf(runs, v, n, talking);
        std::printf("%16s", pct(cells[v].cpu, 16).c_str());
      }
      if (haveJanus)
        for (Variant v : rc)
          std::printf("  %*s", v == Variant::Roomcast ? 8 : 15,
                      ratio(cells[v].cpu, cells[Variant::Janus].cpu, v == Variant::Roomcast ? 8 : 15).c_str());
      std::printf("\n");
      for (Variant v : opt.variants) {
        std::string f = flags(cells[v]);
        if (!f.empty()) std::printf("        %s:%s%s\n", variantName(v), f.c_str(),
                                    cells[v].error.empty() ? "" : (" (" + cells[v].error + ")").c_str());
      }
    }
  }
  std::printf("\nWhat came back: packets received per participant, %% of 50/s (mean, min) | server threads\n");
  for (int n : opt.sizes) {
    for (int talking : {n, 1}) {
      std::printf("%4d  %-20s", n, talking == n ? "all talking" : "1 talking");
      for (Variant v : opt.variants) {
        Cell c = cellOf(runs, v, n, talking);
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s %5.1f/%5.1f | %3d", variantName(v), c.rxMean, c.rxMin, c.threads);
        std::printf("  %-32s", buf);
        if (v == Variant::RoomcastShared && c.sent)
          std::printf(" (%.0f%% of returns from the shared encoding)", 100.0 * c.sentShared / c.sent);
      }
      std::printf("\n");
    }
  }

  {
    double sinkLatency = NAN, queried = NAN;
    for (const LoadRun& r : runs)
      if (r.variant != Variant::Janus && std::isfinite(r.queriedLatencyMs)) {
        sinkLatency = std::isfinite(sinkLatency) ? std::max(sinkLatency, r.sinkLatencyMs) : r.sinkLatencyMs;
        queried = std::isfinite(queried) ? std::max(queried, r.queriedLatencyMs) : r.queriedLatencyMs;
      }
    if (std::isfinite(queried))
      std::printf("roomcast engine: latency configured on its RTP sinks %.0f ms (participants join a playing room and\n"
                  "nothing redistributes latency, as in roomcastd); the pipeline's latency query says %.0f ms.\n",
                  sinkLatency, queried);
  }

  // Marginal costs: slopes between consecutive sizes, headline = the two largest.
  struct Slope {
    int from, to;
    std::map<Variant, double> talker, silent;
  };
  std::vector<Slope> slopes;
  for (size_t i = 0; i + 1 < opt.sizes.size(); i++) {
    Slope s{opt.sizes[i], opt.sizes[i + 1], {}, {}};
    for (Variant v : opt.variants) {
      double dn = s.to - s.from;
      s.talker[v] = (cellOf(runs, v, s.to, s.to).cpu - cellOf(runs, v, s.from, s.from).cpu) / dn;
      s.silent[v] = (cellOf(runs, v, s.to, 1).cpu - cellOf(runs, v, s.from, 1).cpu) / dn;
    }
    slopes.push_back(s);
  }
  // Talker over silent at one size: (all talking - 1 talking) / (N - 1).
  std::map<int, std::map<Variant, double>> talkerOverSilent;
  for (int n : opt.sizes)
    for (Variant v : opt.variants)
      talkerOverSilent[n][v] = (cellOf(runs, v, n, n).cpu - cellOf(runs, v, n, 1).cpu) / (n - 1);

  if (!slopes.empty()) {
    std::printf("\nMarginal CPU per participant, %% of one core (slope of CPU over N):\n");
    std::printf("  %-26s", "");
    for (Variant v : opt.variants) std::printf("%16s", variantName(v));
    if (haveJanus)
      for (Variant v : rc) std::printf("  %s/janus", v == Variant::Roomcast ? "rc" : "rc-shared");
    std::printf("\n");
    for (const Slope& s : slopes) {
      for (int kind = 0; kind < 2; kind++) {
        const auto& m = kind == 0 ? s.talker : s.silent;
        char label[64];
        std::snprintf(label, sizeof label, "per %s, N %d->%d", kind == 0 ? "talker" : "silent", s.from, s.to);
        std::printf("  %-26s", label);
        for (Variant v : opt.variants) std::printf("%16s", fmt("%.3f%%", m.at(v)).c_str());
        if (haveJanus)
          for (Variant v : rc)
            std::printf("  %*s", v == Variant::Roomcast ? 8 : 15,
                        ratio(m.at(v), m.at(Variant::Janus), v == Variant::Roomcast ? 8 : 15).c_str());
        std::printf("\n");
      }
    }
    std::printf("  %-26s\n", "talker minus silent, (all - 1 talking)/(N-1):");
    for (int n : opt.sizes) {
      char label[64];
      std::snprintf(label, sizeof label, "  at N=%d", n);
      std::printf("  %-26s", label);
      for (Variant v : opt.variants) std::printf("%16s", fmt("%.3f%%", talkerOverSilent[n][v]).c_str());
      std::printf("\n");
    }
    const Slope& h = slopes.back();
    if (haveJanus) {
      std::printf("\nGoals (issue), headline = slope N %d->%d:\n", h.from, h.to);
      for (Variant v : rc) {
        double t = safeRatio(h.talker.at(v), h.talker.at(Variant::Janus));
        double s = safeRatio(h.silent.at(v), h.silent.at(Variant::Janus));
        std::printf("  %-16s per talker %s of Janus (goal <= 0.75x: %s), per silent speaker %s of Janus "
                    "(goal <= 0.10x: %s)\n",
                    variantName(v), fmt("%.2fx", t).c_str(), std::isfinite(t) ? (t <= 0.75 ? "met" : "NOT met") : "n/a",
                    fmt("%.2fx", s).c_str(), std::isfinite(s) ? (s <= 0.10 ? "met" : "NOT met") : "n/a");
      }
    }
  }

  // Transit: ticks pooled over the runs of each server.
  std::map<Variant, LatencyRun> pooled;
  for (Variant v : opt.variants) {
    LatencyRun p;
    p.variant = v;
    std::string p50s;
    for (const LatencyRun& l : latency) {
      if (l.variant != v) continue;
      p.sentTicks += l.sentTicks;
      p.matched += l.matched;
      p.markers += l.markers;
      p.ms.insert(p.ms.end(), l.ms.begin(), l.ms.end());
      if (!l.ok && p.error.empty()) p.error = l.error;
      p50s += (p50s.empty() ? "" : ", ") + (l.ok ? fmt("%.1f", l.p50) : std::string("failed"));
    }
    if (!p.ms.empty()) {
      p.ok = true;
      p.p50 = percentile(p.ms, 50);
      p.p90 = percentile(p.ms, 90);
      p.p99 = percentile(p.ms, 99);
      p.min = *std::min_element(p.ms.begin(), p.ms.end());
      p.max = *std::max_element(p.ms.begin(), p.ms.end());
      double sum = 0;
      for (double x : p.ms) sum += x;
      p.mean = sum / p.ms.size();
    }
    p.error = p.ok ? p50s : p.error;  // the per-run p50s, for the table
    pooled[v] = p;
  }
  if (!latency.empty()) {
    std::printf("\nTransit latency, participant 0's ticks heard in participant 1's mix (%d participants, loopback),\n"
                "ms, ticks of %d run(s) per server pooled:\n",
                opt.latencyParticipants, opt.latencyRepeats);
    std::printf("  %-16s %8s %7s %7s %7s %7s %7s  %-6s  %s\n", "", "ticks", "p50", "p90", "p99", "min", "max", "goal",
                "p50 of each run");
    for (Variant v : opt.variants) {
      const LatencyRun& l = pooled[v];
      char ticks[32];
      std::snprintf(ticks, sizeof ticks, "%d/%d", l.matched, l.sentTicks);
      if (!l.ok) {
        std::printf("  %-16s %8s   failed: %s\n", variantName(v), ticks, l.error.c_str());
        continue;
      }
      std::printf("  %-16s %8s %7.1f %7.1f %7.1f %7.1f %7.1f  %-6s  %s\n", variantName(v), ticks, l.p50, l.p90, l.p99,
                  l.min, l.max, (l.p50 <= 15 && l.p99 <= 30) ? "met" : "NOT", l.error.c_str());
    }
    std::printf("  (goal: p50 <= 15 ms and p99 <= 30 ms)\n");
    if (haveJanus && pooled[Variant::Janus].ok)
      for (Variant v : rc)
        if (pooled[v].ok)
          std::printf("  %s/janus: p50 %.2fx, p99 %.2fx\n", variantName(v), pooled[v].p50 / pooled[Variant::Janus].p50,
                      pooled[v].p99 / pooled[Variant::Janus].p99);
  }

  double otherSum = 0;
  int otherCount = 0;
  for (const LoadRun& r : runs)
    if (r.ok && std::isfinite(r.otherCpuPercent)) {
      otherSum += r.otherCpuPercent;
      otherCount++;
    }
  double otherMean = otherCount ? otherSum / otherCount : NAN;
  std::printf("\nTotal %.0f s wall; load average before %s, after %s.\n", benchWall, loadBefore.c_str(), loadAfter.c_str());
  std::printf("Other processes used ~%.0f%% of a core on average during the windows (from tick-sampled /proc/stat)%s.\n",
              std::max(0.0, otherMean),
              std::isfinite(otherMean) && otherMean > 20 ? " (more than 20%: consider a rerun)" : "");
  std::printf("Absolute numbers drift by +-30%% between runs; quote the ratios.\n");

  // ---- JSON -----------------------------------------------------------------------------
  std::ostringstream j;
  j << "{\n  \"benchmark\": \"janus-compare\",\n  \"roomcast_version\": " << jsonString(ROOMCAST_VERSION)
    << ",\n  \"janus_version\": " << jsonString(ctx.janusVersion) << ",\n  \"gstreamer\": " << jsonString(gstVersion)
    << ",\n  \"cpus\": " << cpus << ",\n  \"cpu_model\": " << jsonString(cpuModel())
    << ",\n  \"started_utc\": " << jsonString(started) << ",\n  \"total_wall_seconds\": " << jsonNumber(benchWall)
    << ",\n  \"load_average_before\": " << jsonString(loadBefore) << ",\n  \"load_average_after\": "
    << jsonString(loadAfter) << ",\n  \"other_processes_core_percent_mean\": " << jsonNumber(otherMean)
    << ",\n  \"params\": {\"sizes\": [";
  for (size_t i = 0; i < opt.sizes.size(); i++) j << (i ? ", " : "") << opt.sizes[i];
  j << "], \"seconds\": " << jsonNumber(opt.seconds) << ", \"warmup\": " << jsonNumber(opt.warmup)
    << ", \"repeats\": " << opt.repeats << ", \"quick\": " << (opt.quick ? "true" : "false") << ", \"variants\": [";
  for (size_t i = 0; i < opt.variants.size(); i++) j << (i ? ", " : "") << jsonString(variantName(opt.variants[i]));
  j << "], \"server_cpu\": " << opt.serverCpu << ", \"generator_cpu\": " << opt.generatorCpu
    << ", \"silent_input\": " << jsonString(opt.silentSends ? "silence" : "none")
    << ", \"engine_args\": " << jsonString([&] {
         std::string a;
         for (const auto& x : opt.engineArgs) a += (a.empty() ? "" : " ") + x;
         return a;
       }())
    << ", \"roomcast_program\": " << jsonString(opt.program == "aac" ? "aac-to-fakesink" : "fakesink")
    << ", \"latency_seconds\": " << jsonNumber(opt.latencySeconds) << ", \"latency_repeats\": " << opt.latencyRepeats
    << ", \"tick_interval_ms\": " << opt.tickIntervalMs << ", \"latency_participants\": " << opt.latencyParticipants
    << ", \"janus_room\": {\"sampling_rate\": 48000, \"prebuffer\": \"default (6 packets)\"}"
    << ", \"roomcast_engine\": {\"jitter_latency_ms\": 40, \"mixer_latency_ms\": 20, \"opus_bitrate\": 32000, "
       "\"opus_complexity\": 5, \"udpsink_sync\": true}}";
  j << ",\n  \"cells\": [";
  bool first = true;
  for (int n : opt.sizes)
    for (int talking : {n, 1})
      for (Variant v : opt.variants) {
        Cell c = cellOf(runs, v, n, talking);
        j << (first ? "\n    " : ",\n    ") << "{\"n\": " << n << ", \"talking\": " << talking
          << ", \"server\": " << jsonString(variantName(v)) << ", \"cpu_core_percent\": " << jsonNumber(c.cpu)
          << ", \"server_core_busy_percent\": " << jsonNumber(c.coreBusy)
          << ", \"rx_percent_mean\": " << jsonNumber(c.rxMean) << ", \"rx_percent_min\": " << jsonNumber(c.rxMin)
          << ", \"threads\": " << c.threads << ", \"jitter_lost\": " << c.jitterLost
          << ", \"jitter_pushed\": " << c.jitterPushed << ", \"runs\": " << c.runs << ", \"failed\": " << c.failed
          << ", \"ratio_to_janus\": "
          << jsonNumber(haveJanus && v != Variant::Janus ? safeRatio(c.cpu, cellOf(runs, Variant::Janus, n, talking).cpu)
                                                         : NAN)
          << "}";
        first = false;
      }
  j << "\n  ],\n  \"marginal\": [";
  for (size_t i = 0; i < slopes.size(); i++) {
    const Slope& s = slopes[i];
    j << (i ? ",\n    " : "\n    ") << "{\"from\": " << s.from << ", \"to\": " << s.to << ", \"per_talker\": {";
    for (size_t k = 0; k < opt.variants.size(); k++)
      j << (k ? ", " : "") << jsonString(variantName(opt.variants[k])) << ": " << jsonNumber(s.talker.at(opt.variants[k]));
    j << "}, \"per_silent\": {";
    for (size_t k = 0; k < opt.variants.size(); k++)
      j << (k ? ", " : "") << jsonString(variantName(opt.variants[k])) << ": " << jsonNumber(s.silent.at(opt.variants[k]));
    j << "}";
    if (haveJanus) {
      j << ", \"ratio_to_janus\": {";
      for (size_t k = 0; k < rc.size(); k++)
        j << (k ? ", " : "") << jsonString(variantName(rc[k])) << ": {\"per_talker\": "
          << jsonNumber(safeRatio(s.talker.at(rc[k]), s.talker.at(Variant::Janus)))
          << ", \"per_silent\": " << jsonNumber(safeRatio(s.silent.at(rc[k]), s.silent.at(Variant::Janus))) << "}";
      j << "}";
    }
    j << "}";
  }
  j << "\n  ],\n  \"talker_minus_silent\": [";
  for (size_t i = 0; i < opt.sizes.size(); i++) {
    int n = opt.sizes[i];
    j << (i ? ", " : "") << "{\"n\": " << n;
    for (Variant v : opt.variants) j << ", " << jsonString(variantName(v)) << ": " << jsonNumber(talkerOverSilent[n][v]);
    j << "}";
  }
  j << "],\n  \"goals\": {\"per_talker_ratio_max\": 0.75, \"per_silent_ratio_max\": 0.1, \"transit_p50_ms_max\": 15, "
       "\"transit_p99_ms_max\": 30},\n  \"latency\": [";
  for (size_t i = 0; i < latency.size(); i++) {
    const LatencyRun& l = latency[i];
    j << (i ? ",\n    " : "\n    ") << "{\"server\": " << jsonString(variantName(l.variant))
      << ", \"ok\": " << (l.ok ? "true" : "false") << ", \"error\": " << jsonString(l.error)
      << ", \"ticks_sent\": " << l.sentTicks << ", \"ticks_matched\": " << l.matched
      << ", \"markers_matched\": " << l.markers
      << ", \"packets_sent\": " << l.sentPackets << ", \"packets_returned\": " << l.returnedPackets
      << ", \"p50_ms\": " << jsonNumber(l.p50) << ", \"p90_ms\": " << jsonNumber(l.p90) << ", \"p99_ms\": "
      << jsonNumber(l.p99) << ", \"min_ms\": " << jsonNumber(l.min) << ", \"max_ms\": " << jsonNumber(l.max)
      << ", \"mean_ms\": " << jsonNumber(l.mean) << ", \"engine_udpsink_latency_ms\": " << jsonNumber(l.sinkLatencyMs)
      << ", \"samples_ms\": [";
    for (size_t k = 0; k < l.ms.size(); k++) j << (k ? ", " : "") << fmt("%.2f", l.ms[k]);
    j << "]}";
  }
  j << "\n  ],\n  \"latency_pooled\": [";
  first = true;
  for (Variant v : opt.variants) {
    if (!opt.latency) break;
    const LatencyRun& l = pooled[v];
    j << (first ? "\n    " : ",\n    ") << "{\"server\": " << jsonString(variantName(v)) << ", \"ticks_sent\": " << l.sentTicks
      << ", \"ticks_matched\": " << l.matched << ", \"p50_ms\": " << jsonNumber(l.p50) << ", \"p90_ms\": "
      << jsonNumber(l.p90) << ", \"p99_ms\": " << jsonNumber(l.p99) << ", \"min_ms\": " << jsonNumber(l.min)
      << ", \"max_ms\": " << jsonNumber(l.max) << ", \"mean_ms\": " << jsonNumber(l.mean) << ", \"ratio_to_janus_p50\": "
      << jsonNumber(haveJanus && v != Variant::Janus ? safeRatio(l.p50, pooled[Variant::Janus].p50) : NAN)
      << ", \"ratio_to_janus_p99\": "
      << jsonNumber(haveJanus && v != Variant::Janus ? safeRatio(l.p99, pooled[Variant::Janus].p99) : NAN) << "}";
    first = false;
  }
  j << "\n  ],\n  \"runs\": [";
  for (size_t i = 0; i < runs.size(); i++) {
    const LoadRun& r = runs[i];
    j << (i ? ",\n    " : "\n    ") << "{\"server\": " << jsonString(variantName(r.variant)) << ", \"n\": " << r.n
      << ", \"talking\": " << r.talking << ", \"repeat\": " << r.repeat << ", \"ok\": " << (r.ok ? "true" : "false")
      << ", \"error\": " << jsonString(r.error) << ", \"server_cpu_core_percent\": " << jsonNumber(r.serverCpuPercent)
      << ", \"server_core_busy_percent\": " << jsonNumber(r.serverCoreBusyPercent)
      << ", \"generator_cpu_core_percent\": " << jsonNumber(r.generatorCpuPercent)
      << ", \"other_cpu_core_percent\": " << jsonNumber(r.otherCpuPercent)
      << ", \"rx_percent_mean\": " << jsonNumber(r.rxPercentMean) << ", \"rx_percent_min\": " << jsonNumber(r.rxPercentMin)
      << ", \"threads\": " << r.threads << ", \"rss_kb\": " << r.rssKb << ", \"start_seconds\": "
      << jsonNumber(r.startSeconds) << ", \"jitter_lost\": " << r.jitterLost << ", \"jitter_pushed\": " << r.jitterPushed
      << ", \"engine_packets_sent\": " << r.sent << ", \"engine_packets_from_shared_encoding\": " << r.sentShared
      << ", \"engine_udpsink_latency_ms\": " << jsonNumber(r.sinkLatencyMs)
      << ", \"engine_pipeline_latency_query_ms\": " << jsonNumber(r.queriedLatencyMs)
      << ", \"stop_timed_out\": " << (r.stopTimedOut ? "true" : "false") << ", \"log\": " << jsonString(r.log) << "}";
  }
  j << "\n  ]\n}\n";
  g_free(gstVersion);
  {
    std::ofstream f(opt.json);
    if (!f) die("cannot write " + opt.json);
    f << j.str();
  }
  note("results written to %s", opt.json.c_str());

  if (ctx.keepWorkdir && !opt.keepWorkdir) note("kept %s: a server had to be killed (see its logs)", ctx.workdir.c_str());
  if (!opt.keepWorkdir && !ctx.keepWorkdir && opt.workdir.empty()) removeTree(ctx.workdir);
  bool anyFailed = false;
  for (const LoadRun& r : runs) anyFailed |= !r.ok;
  for (const LatencyRun& l : latency) anyFailed |= !l.ok;
  return anyFailed ? 2 : 0;
}
