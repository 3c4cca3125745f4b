// bench-janus-compare: roomcastd vs. Janus AudioBridge under the same plain-RTP load, each
// server pinned to one core and run in turn (order alternating); the load generator, the
// receiver and the signaling clients are threads of this process on another core. Measures
// server CPU per talking and per silent participant, a large room, and the transit of ticks
// from one participant into another's mix. The full description (how participants join, what
// the load and the transit matching are) is "What it measures" in this benchmark's newest
// bench/results/ file; options: --help and bench/README.md.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <glob.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "children.h"  // processOpenFds
#include "metrics_text.h"
#include "rest_client.h"
#include "roomcast-config.h"

namespace {

using namespace roomcast::bench;

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

std::string clockNow() { return utcNow().substr(11, 8); }

// ---- Options

enum class Variant { Janus, Roomcast };

const char* variantName(Variant v) { return v == Variant::Janus ? "janus" : "roomcast"; }

struct Options {
  std::vector<int> sizes{4, 16, 64};
  double seconds = 15;
  double warmup = 6;
  int repeats = 2;
  bool quick = false;
  std::string json = "bench-janus-compare.json";
  std::vector<Variant> variants{Variant::Janus, Variant::Roomcast};
  bool latency = true;
  double latencySeconds = 16;
  double latencyWarmup = 4;
  int tickIntervalMs = 250;
  int latencyParticipants = 2;
  int latencyRepeats = 2;
  bool silentSends = true;
  bool spreadPhases = true;
  std::string janus = "janus";
  std::string janusLib;  // folder holding plugins/ and transports/; found if empty
  std::string roomcastd = ROOMCAST_BUILD_DIR "/src/app/roomcastd";
  std::vector<std::string> roomcastSettings;  // extra "section.key=value" for roomcastd's config
  int basePort = 41000;
  int serverCpu = 0;
  int generatorCpu = 1;
  std::string workdir;
  bool keepWorkdir = false;
  std::string dumpLatency;  // folder for the decoded transit streams (debugging)
  bool load = true;
  int big = 1000;           // the large room: participants (0: none)
  int bigTalking = 10;
  std::vector<Variant> bigVariants{Variant::Roomcast};
  double bigSeconds = 20;
  double bigWarmup = 10;
  int joinConcurrency = 32;  // roomcast WebSockets being set up at once
  double quietWait = 20;     // before each run, wait up to this long for other processes to calm down
  double quietBudget = 90;   // and at most this long over the whole benchmark
  double quietPercent = 25;  // "calm": the rest of the machine below this share of a core
};

const char* kSynopsis =
    "Usage: bench-janus-compare [options]: roomcastd against Janus AudioBridge under the same\n"
    "plain-RTP load (CPU per participant, a large room, mouth-to-ear transit). See bench/README.md.";

std::vector<Variant> parseVariants(const std::string& value) {
  std::vector<Variant> out;
  std::stringstream ss(value);
  for (std::string item; std::getline(ss, item, ',');) {
    require(item == "janus" || item == "roomcast", "unknown server " + item + " (janus, roomcast)");
    out.push_back(item == "janus" ? Variant::Janus : Variant::Roomcast);
  }
  require(!out.empty(), "no server");
  return out;
}

// Each flag once: its name, its value, its help and what it sets.
std::vector<Flag> flagTable(Options& o, std::set<std::string>& given) {
  auto mark = [&given](const char* name, FlagSetter set) {
    return [&given, name, set](const std::string& v) { set(v), given.insert(name); };
  };
  auto choice = [](bool& out, const char* yes, const char* no) {
    return [&out, yes, no](const std::string& v) {
      require(v == yes || v == no, std::string("one of ") + yes + ", " + no);
      out = v == yes;
    };
  };
  return {
      {"--sizes", "LIST", "participant counts, comma separated (default 4,16,64)",
       mark("sizes", [&o](const std::string& v) {
         o.sizes = intList(v, 2, 1000);
         std::sort(o.sizes.begin(), o.sizes.end());
         o.sizes.erase(std::unique(o.sizes.begin(), o.sizes.end()), o.sizes.end());
       })},
      {"--seconds", "S", "CPU measurement window per run (default 15)", mark("seconds", setNumber(o.seconds, 1, 3600))},
      {"--warmup", "S", "warm-up before each window (default 6)", mark("warmup", setNumber(o.warmup, 1, 600))},
      {"--repeats", "R", "runs per cell, servers alternating; the table shows medians (default 2)",
       mark("repeats", setInt(o.repeats, 1, 100))},
      {"--quick", "", "sanity run: --sizes 4 --seconds 3 --warmup 2 --repeats 1, one 6 s\ntransit run per server, no large room (unless --big is given)",
       setSwitch(o.quick)},
      {"--json", "FILE", "machine-readable results (default bench-janus-compare.json)", setText(o.json)},
      {"--variants", "LIST", "janus,roomcast (default: both)", [&o](const std::string& v) { o.variants = parseVariants(v); }},
      {"--big", "N", "the large room: N participants (default 1000; 0: skip it)", mark("big", setInt(o.big, 0, 1000))},
      {"--big-talking", "K", "talkers in the large room (default 10)", setInt(o.bigTalking, 0, 1000)},
      {"--big-variants", "LIST", "servers for the large room (default roomcast; janus,roomcast tries both)",
       [&o](const std::string& v) { o.bigVariants = parseVariants(v); }},
      {"--big-seconds", "S", "its CPU window (default 20)", setNumber(o.bigSeconds, 1, 3600)},
      {"--big-warmup", "S", "its warm-up (default 10)", setNumber(o.bigWarmup, 1, 600)},
      {"--latency-seconds", "S", "transit capture window (default 16: 64 ticks at 250 ms)",
       mark("latency", setNumber(o.latencySeconds, 2, 600))},
      {"--tick-interval-ms", "MS", "distance between ticks (default 250; must exceed the transit)",
       [&o](const std::string& v) {
         setInt(o.tickIntervalMs, 50, 5000)(v);
         require((4 * o.tickIntervalMs) % 20 == 0, "must be a multiple of 5");
       }},
      {"--latency-participants", "N", "participants in the transit runs (default 2)", setInt(o.latencyParticipants, 2, 1000)},
      {"--latency-repeats", "R", "transit runs per server, alternating, ticks pooled (default 2)",
       setInt(o.latencyRepeats, 1, 100)},
      {"--no-latency", "", "skip the transit runs", setSwitch(o.latency, false)},
      {"--no-load", "", "skip the CPU runs at --sizes (transit and large room only)", setSwitch(o.load, false)},
      {"--silent-input", "MODE", "what silent participants send: silence (encoded digital\nsilence, 50 packets/s; default) or none",
       choice(o.silentSends, "silence", "none")},
      {"--send-phase", "MODE", "spread (participants' packets evenly spread over each 20 ms;\ndefault) or aligned (all in the same millisecond)",
       choice(o.spreadPhases, "spread", "aligned")},
      {"--roomcast-set", "S.K=V", "extra roomcastd setting, repeatable (e.g. media.jitter_latency_ms=40)",
       [&o](const std::string& v) {
         const auto dot = v.find('.'), eq = v.find('=');
         require(dot != std::string::npos && eq != std::string::npos && dot < eq, "wants SECTION.KEY=VALUE");
         o.roomcastSettings.push_back(v);
       }},
      {"--roomcastd", "PATH", "the server (default: " ROOMCAST_BUILD_DIR "/src/app/roomcastd)", setText(o.roomcastd)},
      {"--janus", "PATH", "janus binary (default: janus in PATH)", setText(o.janus)},
      {"--janus-lib", "DIR", "Janus' lib folder with plugins/ and transports/ (default: found)", setText(o.janusLib)},
      {"--join-concurrency", "N", "roomcast WebSockets set up at once (default 32)", setInt(o.joinConcurrency, 1, 1000)},
      {"--quiet-wait", "S", "before each run wait up to S s until other processes use less than\n--quiet-percent of a core over 1 s (default 20, at most 90 s in all;\n0: do not wait)",
       setNumber(o.quietWait, 0, 3600)},
      {"--quiet-percent", "P", "(default 25)", setNumber(o.quietPercent, 1, 200)},
      {"--base-port", "P", "participant ports P.. (default 41000)", setInt(o.basePort, 1024, 60000)},
      {"--server-cpu", "C", "CPU for the servers (default 0)", setInt(o.serverCpu, -1, 1023)},
      {"--generator-cpu", "C", "CPU for this process, the load generator (default 1)", setInt(o.generatorCpu, -1, 1023)},
      {"--workdir", "DIR", "where configs, data dirs and logs go (default: a new /tmp folder)", setText(o.workdir)},
      {"--keep-workdir", "", "do not delete the work folder at the end", setSwitch(o.keepWorkdir)},
      {"--dump-latency", "DIR", "write the decoded transit streams there (<server>-sent|back.f32\nmono 48 kHz float, and .times: one packet time per 960 samples)",
       setText(o.dumpLatency)},
  };
}

Options parseOptions(int argc, char** argv) {
  Options o;
  std::set<std::string> given;
  parseFlags(argc, argv, kSynopsis, flagTable(o, given));
  if (o.quick) {
    if (!given.count("sizes")) o.sizes = {4};
    if (!given.count("seconds")) o.seconds = 3;
    if (!given.count("warmup")) o.warmup = 2;
    if (!given.count("repeats")) o.repeats = 1;
    if (!given.count("latency")) o.latencySeconds = 6;
    if (!given.count("big")) o.big = 0;
    o.latencyWarmup = 2;
    o.latencyRepeats = 1;
  }
  if (o.big > 0 && o.bigTalking > o.big) die("--big-talking is larger than --big");
  return o;
}

// ---- Janus over its HTTP API

class JanusClient {
 public:
  // Sends a request; returns the parsed JSON root (caller frees) or null with *error set.
  JsonNode* request(const char* method, const std::string& url, const std::string& body, std::string* error) {
    const RestClient::Reply reply = http_.request(method, url, body);
    if (reply.status != 200) {
      *error = reply.status ? "HTTP " + std::to_string(reply.status) : reply.error;
      return nullptr;
    }
    g_autoptr(GError) err = nullptr;
    JsonNode* root = json_from_string(reply.body.c_str(), &err);
    if (!root) *error = std::string("bad JSON: ") + (err ? err->message : "empty reply");
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
      g_autofree gchar* text = json_to_string(root, FALSE);
      *error = std::string("unexpected reply ") + text;
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
  // Janus ends a session after 60 s without a request.
  void keepaliveAll(const std::vector<gint64>& sessions) {
    for (gint64 s : sessions) keepalive(s);
  }

  // Polls /janus/info until Janus answers; returns its version string or "".
  std::string waitReady(SpawnedChild& child, double timeout) {
    double until = monotonicSeconds() + timeout;
    while (monotonicSeconds() < until) {
      if (!child.alive()) return "";
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
  RestClient http_{"", 15};  // full Janus URLs; Janus answers within 15 s
  unsigned transactions_ = 0;
};

// Writes Janus' configuration (the anchor's janus-conf: only AudioBridge and the HTTP
// transport on 127.0.0.1:8088, room 1234 at 48 kHz with plain-RTP participants), with an RTP
// port range wide enough for the large room (4000 ports instead of 1000).
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
      << "general: {\n\tlocal_ip = \"127.0.0.1\"\n\trtp_port_range = \"50000-53999\"\n}\n"
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

// ---- roomcastd: REST, then one WebSocket per participant, all on a signaling thread of ours

// The "type" of a server message without parsing it all: the server writes it first.
std::string messageType(const char* text, size_t size) {
  static const char key[] = "\"type\":\"";
  const char* end = text + size;
  const char* at = std::search(text, end, key, key + sizeof key - 1);
  if (at == end) return "?";
  at += sizeof key - 1;
  const char* close = std::find(at, end, '"');
  return std::string(at, close);
}

// Where each participant sends its RTP. The signaling thread may change a port while the
// sender runs (roomcast: a new rtp-answer after a re-offer).
struct PortTable {
  explicit PortTable(size_t n) : ports(n) {
    for (auto& p : ports) p.store(0);
  }
  std::vector<std::atomic<int>> ports;
};

// The room and its participants' sessions. Everything of libsoup runs on the thread this
// starts (its own GMainContext); the main thread only waits for results.
class RoomcastClients {
 public:
  struct Setup {
    std::string baseUrl;          // http://127.0.0.1:PORT
    std::vector<int> localPorts;  // participant i's own UDP port
    int talking = 0;              // participants [0, talking) talk; the others self-mute
    int concurrency = 32;         // WebSockets being set up at once
    double timeout = 60;          // for the whole setup
    std::shared_ptr<PortTable> ports;  // filled from the rtp-answers
  };

  RoomcastClients() = default;
  ~RoomcastClients() { stop(); }
  RoomcastClients(const RoomcastClients&) = delete;
  RoomcastClients& operator=(const RoomcastClients&) = delete;

  // Creates the room and a speaker token per participant, opens every participant's
  // WebSocket (hello, rtp-offer; self-mute for the silent ones) and keeps them open.
  // Blocks until all are ready or the setup failed.
  bool start(const Setup& setup, std::string* error) {
    setup_ = setup;
    std::future<std::string> result = setupResult_.get_future();
    thread_ = std::thread([this] { threadMain(); });
    if (result.wait_for(std::chrono::duration<double>(setup.timeout + 30)) != std::future_status::ready)
      die("the roomcast signaling thread did not finish its setup");  // it has its own deadline
    *error = result.get();
    return error->empty();
  }
  double restSeconds() const { return restSeconds_; }
  double wsSeconds() const { return wsSeconds_; }
  const std::string& baseUrl() const { return setup_.baseUrl; }
  const std::string& roomId() const { return roomId_; }
  // The server is about to stop: closed sockets from now on are expected.
  void expectClose() { expectClose_ = true; }
  int unexpectedCloses() const { return unexpectedCloses_.load(); }
  int errorsAfterSetup() const { return errorsAfterSetup_.load(); }
  // media_error after setup, answered with a new rtp-offer (as the protocol says), and the
  // re-offers that got a new rtp-answer.
  int reoffers() const { return reoffers_.load(); }
  int reoffersAnswered() const { return reoffersAnswered_.load(); }
  int connectRetries() const { return connectRetries_.load(); }
  // "connect 1.2 s (max 0.10 s), hello->welcome ..." summed over all participants.
  std::string phaseSummary() const {
    static const char* names[kPhases] = {"connect", "hello->welcome", "rtp-offer->answer", "self-mute->mute-changed"};
    std::string out;
    for (int i = 0; i < kPhases; i++)
      out += (i ? ", " : "") + std::string(names[i]) + " " + fmt("%.1f s", phaseSeconds_[i]) + " (max " +
             fmt("%.2f s)", phaseMax_[i]);
    return out;
  }
  // Closes what is still open and ends the thread. Counters are final afterwards.
  void stop() {
    stopRequested_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Messages received over all sockets, by type (read after stop()).
  const std::map<std::string, guint64>& messageCounts() const { return counts_; }
  const std::string& firstLateError() const { return firstLateError_; }

 private:
  enum class State { Idle, Connecting, Hello, Offered, Muting, Ready, Reoffered, Failed };
  static constexpr int kMaxReoffers = 5;
  struct Peer {
    RoomcastClients* owner = nullptr;
    int index = 0;
    bool mute = false;
    std::string token, identity;
    SoupWebsocketConnection* ws = nullptr;
    State state = State::Idle;
    int serverPort = 0;
    int reoffers = 0;
    int connectAttempts = 0;
    double phaseStart = 0;  // when the current setup step started
  };
  // Setup time summed over participants, per step: WebSocket connect, hello -> welcome,
  // rtp-offer -> rtp-answer, self-mute -> own mute-changed.
  enum Phase { kConnect, kHello, kOffer, kMute, kPhases };
  static constexpr int kMaxConnectAttempts = 5;

  void fail(Peer& p, const std::string& why) {
    if (p.state != State::Failed) p.state = State::Failed;
    if (setupError_.empty()) setupError_ = "participant " + std::to_string(p.index) + ": " + why;
  }

  void send(Peer& p, const std::string& text) {
    if (p.ws && soup_websocket_connection_get_state(p.ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_text(p.ws, text.c_str());
  }

  void offer(Peer& p) {
    send(p, "{\"type\":\"rtp-offer\",\"host\":\"127.0.0.1\",\"port\":" + std::to_string(setup_.localPorts[p.index]) +
                ",\"payload_type\":" + std::to_string(kPayloadType) + "}");
  }

  // The port from an rtp-answer; 0 (and the setup failed) if it is not 127.0.0.1:port.
  int answeredPort(Peer& p, const char* text, size_t size) {
    std::string body(text, size);
    gint64 port = 0;
    std::string host = jsonMember(body, "host");
    jsonMember(body, "port", &port);
    if (host != "127.0.0.1" || port <= 0 || port > 65535) {
      fail(p, "unexpected rtp-answer " + body);
      return 0;
    }
    setup_.ports->ports[p.index].store(static_cast<int>(port));
    return static_cast<int>(port);
  }

  void endPhase(Peer& p, Phase phase) {
    const double now = monotonicSeconds();
    phaseSeconds_[phase] += now - p.phaseStart;
    phaseMax_[phase] = std::max(phaseMax_[phase], now - p.phaseStart);
    p.phaseStart = now;
  }

  void becameReady(Peer& p) {
    p.state = State::Ready;
    ready_++;
    active_--;
    launchMore();
  }

  static void onMessage(SoupWebsocketConnection*, gint, GBytes* message, gpointer data) {
    auto* p = static_cast<Peer*>(data);
    gsize size = 0;
    const char* text = static_cast<const char*>(g_bytes_get_data(message, &size));
    if (!text) return;
    p->owner->handle(*p, text, size);
  }

  void handle(Peer& p, const char* text, size_t size) {
    const std::string type = messageType(text, size);
    counts_[type]++;
    if (type == "error") {
      if (p.state != State::Ready && p.state != State::Reoffered) return fail(p, std::string(text, size));
      if (errorsAfterSetup_++ == 0) firstLateError_ = std::string(text, std::min<size_t>(size, 300));
      // "If only the media session fails, the server sends an error (media_error) and the
      // client offers again on the same socket."
      if (std::string_view(text, size).find("\"media_error\"") != std::string_view::npos && p.reoffers < kMaxReoffers) {
        p.reoffers++;
        reoffers_++;
        offer(p);
        p.state = State::Reoffered;
      }
      return;
    }
    switch (p.state) {
      case State::Hello:
        if (type == "welcome") {
          endPhase(p, kHello);
          p.identity = jsonMember(std::string(text, size), "you.identity");
          if (p.identity.empty()) return fail(p, "welcome without you.identity");
          offer(p);
          p.state = State::Offered;
        }
        break;
      case State::Offered:
        if (type == "rtp-answer") {
          endPhase(p, kOffer);
          p.serverPort = answeredPort(p, text, size);
          if (!p.serverPort) return;
          if (p.mute) {
            send(p, "{\"type\":\"self-mute\",\"muted\":true}");
            p.state = State::Muting;
          } else {
            becameReady(p);
          }
        }
        break;
      case State::Muting:
        if (type == "mute-changed") {
          std::string body(text, size);
          if (body.find("\"identity\":\"" + p.identity + "\"") != std::string::npos &&
              body.find("\"muted\":true") != std::string::npos) {
            endPhase(p, kMute);
            becameReady(p);
          }
        }
        break;
      case State::Reoffered:
        if (type == "rtp-answer") {
          p.serverPort = answeredPort(p, text, size);
          if (!p.serverPort) return;
          reoffersAnswered_++;
          p.state = State::Ready;
        }
        break;
      default:
        break;
    }
  }

  static void onClosed(SoupWebsocketConnection*, gpointer data) {
    auto* p = static_cast<Peer*>(data);
    RoomcastClients* self = p->owner;
    if (p->state != State::Ready && p->state != State::Reoffered)
      self->fail(*p, "the server closed the WebSocket during setup");
    else if (!self->expectClose_) self->unexpectedCloses_++;
  }

  static void onConnected(GObject* source, GAsyncResult* result, gpointer data) {
    auto* p = static_cast<Peer*>(data);
    RoomcastClients* self = p->owner;
    self->pendingConnects_--;
    GError* err = nullptr;
    SoupWebsocketConnection* ws = soup_session_websocket_connect_finish(SOUP_SESSION(source), result, &err);
    if (!ws) {
      // A connection refused or reset (a busy server's accept queue overflows) is tried
      // again after a pause, as a client would; an HTTP answer other than the upgrade is not.
      const bool transport = err && err->domain == G_IO_ERROR && !g_cancellable_is_cancelled(self->cancel_);
      if (transport && p->connectAttempts < kMaxConnectAttempts) {
        self->connectRetries_++;
        g_clear_error(&err);
        GSource* later = g_timeout_source_new(500);
        g_source_set_callback(later, [](gpointer data) -> gboolean {
          auto* peer = static_cast<Peer*>(data);
          peer->owner->connect(*peer);
          return G_SOURCE_REMOVE;
        }, p, nullptr);
        g_source_attach(later, self->context_);
        g_source_unref(later);
        self->pendingConnects_++;  // the retry holds a pending connect
        return;
      }
      self->fail(*p, std::string("WebSocket connect: ") + (err ? err->message : "?") + " (" +
                         std::to_string(p->connectAttempts) + " attempts)");
      g_clear_error(&err);
      return;
    }
    p->ws = ws;
    self->endPhase(*p, kConnect);
    // A welcome lists every participant (about 120 bytes each): past libsoup's default 128 KiB at 1000.
    soup_websocket_connection_set_max_incoming_payload_size(ws, 16 << 20);
    g_signal_connect(ws, "message", G_CALLBACK(&RoomcastClients::onMessage), p);
    g_signal_connect(ws, "closed", G_CALLBACK(&RoomcastClients::onClosed), p);
    p->state = State::Hello;
    self->send(*p, "{\"type\":\"hello\",\"version\":1,\"token\":\"" + p->token + "\"}");
  }

  void connect(Peer& p) {
    if (p.connectAttempts > 0) pendingConnects_--;  // the retry's hold, taken over by the connect
    if (g_cancellable_is_cancelled(cancel_)) return;
    std::string url = "ws" + setup_.baseUrl.substr(4) + "/ws/" + roomId_;  // http://... -> ws://...
    SoupMessage* msg = soup_message_new("GET", url.c_str());
    if (!msg) return fail(p, "bad URL " + url);
    p.connectAttempts++;
    pendingConnects_++;
    soup_session_websocket_connect_async(wsSession_, msg, nullptr, nullptr, G_PRIORITY_DEFAULT, cancel_,
                                         &RoomcastClients::onConnected, &p);
    g_object_unref(msg);
  }

  void launchMore() {
    while (active_ < setup_.concurrency && next_ < peers_.size() && setupError_.empty()) {
      Peer& p = *peers_[next_++];
      p.state = State::Connecting;
      p.phaseStart = monotonicSeconds();
      active_++;
      connect(p);
    }
  }

  // Runs the context until `done` or the deadline; false at the deadline.
  bool iterateUntil(const std::function<bool()>& done, double until) {
    while (!done()) {
      if (monotonicSeconds() > until) return false;
      g_main_context_iteration(context_, TRUE);  // the 50 ms ticker bounds each wait
    }
    return true;
  }

  std::string setUp() {
    const double t0 = monotonicSeconds(), until = t0 + setup_.timeout;
    const auto room = rest_->request("POST", "/api/v1/rooms", "{\"title\":\"bench\"}");
    if (room.status != 201) return "POST /api/v1/rooms: " + std::to_string(room.status) + " " + room.error + room.body;
    roomId_ = jsonMember(room.body, "id");
    const std::string host = jsonMember(room.body, "host_token");
    if (roomId_.empty() || host.empty()) return "unexpected room " + room.body;
    const size_t n = setup_.localPorts.size();
    for (size_t i = 0; i < n; i++) {
      auto p = std::make_unique<Peer>();
      p->owner = this;
      p->index = static_cast<int>(i);
      p->mute = static_cast<int>(i) >= setup_.talking;
      const auto t = rest_->request("POST", "/api/v1/rooms/" + roomId_ + "/tokens",
                                   "{\"role\":\"speaker\",\"name\":\"p" + std::to_string(i) + "\"}", host);
      if (t.status != 201) return "POST tokens: " + std::to_string(t.status) + " " + t.error + t.body;
      p->token = jsonMember(t.body, "token");
      if (p->token.empty()) return "unexpected token reply " + t.body;
      peers_.push_back(std::move(p));
      if (monotonicSeconds() > until) return "tokens: past the setup deadline";
    }
    restSeconds_ = monotonicSeconds() - t0;
    const double t1 = monotonicSeconds();
    launchMore();
    bool ok = iterateUntil([&] { return ready_ == n || !setupError_.empty(); }, until);
    wsSeconds_ = monotonicSeconds() - t1;
    if (!setupError_.empty()) return setupError_;
    if (!ok) return std::to_string(ready_) + " of " + std::to_string(n) + " participants ready after " +
                    fmt("%.0f s", setup_.timeout);
    return "";
  }

  void threadMain() {
    context_ = g_main_context_new();
    g_main_context_push_thread_default(context_);
    rest_ = std::make_unique<RestClient>(setup_.baseUrl);  // on this thread: libsoup sessions stay on theirs
    // No I/O timeout on the WebSockets: they stay open and quiet for the whole run.
    wsSession_ = soup_session_new_with_options("timeout", 0u, "idle-timeout", 0u, "max-conns", 4096,
                                               "max-conns-per-host", 4096, nullptr);
    cancel_ = g_cancellable_new();
    GSource* ticker = g_timeout_source_new(50);
    g_source_set_callback(ticker, [](gpointer) -> gboolean { return G_SOURCE_CONTINUE; }, nullptr, nullptr);
    g_source_attach(ticker, context_);

    std::string error = setUp();
    setupResult_.set_value(error);
    // Keep the sockets served (pings, room events) until stop().
    while (!stopRequested_) g_main_context_iteration(context_, TRUE);

    g_cancellable_cancel(cancel_);
    iterateUntil([&] { return pendingConnects_ == 0; }, monotonicSeconds() + 5);
    for (auto& p : peers_) {
      if (!p->ws) continue;
      g_signal_handlers_disconnect_by_data(p->ws, p.get());
      if (soup_websocket_connection_get_state(p->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close(p->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, nullptr);
    }
    iterateUntil([&] {
      for (auto& p : peers_)
        if (p->ws && soup_websocket_connection_get_state(p->ws) != SOUP_WEBSOCKET_STATE_CLOSED) return false;
      return true;
    }, monotonicSeconds() + 2);
    for (auto& p : peers_)
      if (p->ws) g_object_unref(p->ws);
    peers_.clear();
    g_source_destroy(ticker);
    g_source_unref(ticker);
    g_object_unref(cancel_);
    g_object_unref(wsSession_);
    rest_.reset();
    g_main_context_pop_thread_default(context_);
    g_main_context_unref(context_);
  }

  Setup setup_;
  std::thread thread_;
  std::promise<std::string> setupResult_;
  std::atomic<bool> stopRequested_{false}, expectClose_{false};
  std::atomic<int> unexpectedCloses_{0}, errorsAfterSetup_{0}, reoffers_{0}, reoffersAnswered_{0}, connectRetries_{0};
  // Signaling thread only (until stop() has joined it):
  GMainContext* context_ = nullptr;
  std::unique_ptr<RestClient> rest_;
  SoupSession* wsSession_ = nullptr;
  GCancellable* cancel_ = nullptr;
  std::vector<std::unique_ptr<Peer>> peers_;
  size_t next_ = 0, ready_ = 0;
  int active_ = 0, pendingConnects_ = 0;
  std::string setupError_, roomId_, firstLateError_;
  std::map<std::string, guint64> counts_;
  double restSeconds_ = 0, wsSeconds_ = 0;
  double phaseSeconds_[kPhases] = {0, 0, 0, 0}, phaseMax_[kPhases] = {0, 0, 0, 0};
};

// Writes roomcastd's configuration: plain-RTP speakers on, a stage for the large room.
void writeRoomcastConfig(const std::string& path, const std::vector<std::string>& extra) {
  std::map<std::string, std::map<std::string, std::string>> ini;
  ini["room"]["max_speakers"] = "1000";
  ini["media"]["plain_rtp"] = "true";
  for (const std::string& s : extra) {
    auto dot = s.find('.'), eq = s.find('=');
    ini[s.substr(0, dot)][s.substr(dot + 1, eq - dot - 1)] = s.substr(eq + 1);
  }
  std::ofstream f(path);
  for (const auto& [section, keys] : ini) {
    f << "[" << section << "]\n";
    for (const auto& [k, v] : keys) f << k << " = " << v << "\n";
  }
}

// ---- Participants' sockets and the receiver thread

struct Captured {
  double time;  // CLOCK_REALTIME seconds: kernel receive timestamp, or send time
  std::vector<guint8> data;
};

// UDP sockets bound to 127.0.0.1:base.. base+n-1; empty with *error set if one is taken.
std::vector<int> bindSockets(int basePort, int n, std::string* error) {
  std::vector<int> fds;
  for (int i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(basePort + i));
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      *error = "cannot bind 127.0.0.1:" + std::to_string(basePort + i) + ": " + std::strerror(errno);
      if (fd >= 0) close(fd);
      for (int o : fds) close(o);
      return {};
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);  // drop counter with every packet
    int rcvbuf = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    fds.push_back(fd);
  }
  return fds;
}

void closeSockets(std::vector<int>& fds) {
  for (int fd : fds) close(fd);
  fds.clear();
}

std::vector<int> bindParticipants(int& basePort, int n) {
  std::string error;
  for (int attempt = 0; attempt < 20; attempt++, basePort += ((n + 99) / 100) * 100 + 100) {
    std::vector<int> fds = bindSockets(basePort, n, &error);
    if (!fds.empty()) return fds;
  }
  die("no free UDP port range near --base-port: " + error);
}

// Counts what comes back on every participant's socket (epoll, one thread), and keeps the
// packets (with kernel receive time) of one participant while capturing.
class Receiver {
 public:
  explicit Receiver(const std::vector<int>& fds)
      : fds_(fds), counts_(fds.size()), drops_(fds.size()), odd_(fds.size()), last_(fds.size()) {
    for (auto& c : counts_) c.store(0);
    for (auto& d : drops_) d.store(0);
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    for (size_t i = 0; i < fds_.size(); i++) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = static_cast<uint32_t>(i);
      epoll_ctl(epoll_, EPOLL_CTL_ADD, fds_[i], &ev);
    }
    thread_ = std::thread([this] { loop(); });
  }
  ~Receiver() {
    stop();
    close(epoll_);
  }
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
  // Packets the kernel dropped at our sockets (receive buffer full), all sockets together.
  guint64 drops() const {
    guint64 sum = 0;
    for (const auto& d : drops_) sum += d.load();
    return sum;
  }
  // Per participant over the whole run (read after stop()): packets whose RTP timestamp went
  // backwards, and changes of SSRC. A well-formed return has neither.
  struct StreamOddities {
    guint64 timestampBackwards = 0, timestampRepeats = 0, ssrcChanges = 0;
    guint64 advanced = 0;  // RTP timestamp advance, summed over steps forward of under 1 s
  };
  const std::vector<StreamOddities>& oddities() const { return odd_; }
  void capture(int index) { captureIndex_ = index; }
  std::vector<Captured> takeCaptured() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::move(captured_);
  }

 private:
  void loop() {
    std::vector<epoll_event> events(256);
    guint8 buf[2048];
    alignas(cmsghdr) char control[256];
    while (!stop_) {
      int r = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 100);
      for (int e = 0; e < r; e++) {
        const uint32_t i = events[e].data.u32;
        for (;;) {
          iovec iov{buf, sizeof buf};
          msghdr msg{};
          msg.msg_iov = &iov;
          msg.msg_iovlen = 1;
          msg.msg_control = control;
          msg.msg_controllen = sizeof control;
          ssize_t n = recvmsg(fds_[i], &msg, MSG_DONTWAIT);
          if (n < 0) break;
          counts_[i].fetch_add(1, std::memory_order_relaxed);
          if (n >= 12) {
            const guint32 ts = (static_cast<guint32>(buf[4]) << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7];
            const guint32 ssrc = (static_cast<guint32>(buf[8]) << 24) | (buf[9] << 16) | (buf[10] << 8) | buf[11];
            Last& l = last_[i];
            const gint32 step = static_cast<gint32>(ts - l.ts);
            if (l.seen && ssrc != l.ssrc) odd_[i].ssrcChanges++;
            else if (l.seen && step < 0) odd_[i].timestampBackwards++;
            else if (l.seen && step == 0) odd_[i].timestampRepeats++;
            else if (l.seen && step < kRate) odd_[i].advanced += static_cast<guint64>(step);
            l = Last{true, ts, ssrc};
          }
          const bool keep = static_cast<int>(i) == captureIndex_.load(std::memory_order_relaxed) && n >= 12;
          double t = 0;
          for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET) continue;
            if (c->cmsg_type == SO_RXQ_OVFL) {
              uint32_t dropped = 0;
              std::memcpy(&dropped, CMSG_DATA(c), sizeof dropped);
              drops_[i].store(dropped, std::memory_order_relaxed);
            } else if (keep && c->cmsg_type == SO_TIMESTAMPNS) {
              timespec ts;
              std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
              t = static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
            }
          }
          if (!keep) continue;
          if (t == 0) t = realtimeSeconds();
          std::lock_guard<std::mutex> lock(mutex_);
          captured_.push_back(Captured{t, std::vector<guint8>(buf, buf + n)});
        }
      }
    }
  }

  std::vector<int> fds_;
  int epoll_ = -1;
  std::vector<std::atomic<guint64>> counts_;
  std::vector<std::atomic<guint64>> drops_;
  struct Last {
    bool seen = false;
    guint32 ts = 0, ssrc = 0;
  };
  std::vector<StreamOddities> odd_;
  std::vector<Last> last_;
  std::atomic<bool> stop_{false};
  std::atomic<int> captureIndex_{-1};
  std::mutex mutex_;
  std::vector<Captured> captured_;
  std::thread thread_;
};

// ---- Load generator: Opus frames encoded once, sent by one thread

enum class Signal { None = -1, Tone = 0, Silence = 1, Ticks = 2 };

// One loop of Opus frames (20 ms each) that repeats seamlessly: a 440 Hz tone has whole
// periods in 1 s; ticks repeat every kMarkerPeriod tick intervals. Frames are taken from the
// second loop the encoder produced, past its start-up.
std::vector<std::vector<guint8>> encodeLoop(Signal kind, int tickIntervalMs) {
  int loopMs = 1000;
  if (kind == Signal::Ticks) loopMs = std::lcm(static_cast<int>(kMarkerPeriod) * tickIntervalMs, 1000);
  const int frames = loopMs / 20;
  GstElement* pipeline = gst_pipeline_new("encoder");
  GstBin* bin = GST_BIN(pipeline);
  auto add = [&](const char* factory) {
    GstElement* e = gst_element_factory_make(factory, nullptr);
    if (!e) die(std::string("element ") + factory + " is missing");
    gst_bin_add(bin, e);
    return e;
  };
  GstElement* src = add("audiotestsrc");
  g_object_set(src, "is-live", FALSE, "samplesperbuffer", kFrame, "num-buffers", 3 * frames + 10, nullptr);
  switch (kind) {
    case Signal::Tone:
      gst_util_set_object_arg(G_OBJECT(src), "wave", "sine");
      g_object_set(src, "freq", 440.0, "volume", 0.3, nullptr);
      break;
    case Signal::Ticks:
      gst_util_set_object_arg(G_OBJECT(src), "wave", "ticks");
      g_object_set(src, "freq", 1000.0, "volume", kTickVolume, "marker-tick-period", kMarkerPeriod,
                   "marker-tick-volume", kMarkerVolume, "sine-periods-per-tick", 10u, "tick-interval",
                   static_cast<guint64>(tickIntervalMs) * GST_MSECOND, nullptr);
      break;
    default:
      gst_util_set_object_arg(G_OBJECT(src), "wave", "silence");
      break;
  }
  GstElement* caps = add("capsfilter");
  GstCaps* c = gst_caps_from_string("audio/x-raw,rate=48000,channels=1");
  g_object_set(caps, "caps", c, nullptr);
  gst_caps_unref(c);
  GstElement* enc = add("opusenc");
  g_object_set(enc, "bitrate", 32000, nullptr);
  gst_util_set_object_arg(G_OBJECT(enc), "frame-size", "20");
  GstElement* sink = add("appsink");
  g_object_set(sink, "sync", FALSE, nullptr);
  if (!gst_element_link_many(src, caps, enc, sink, nullptr)) die("cannot link the Opus encoder");
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  std::vector<std::vector<guint8>> all;
  while (GstSample* sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 10 * GST_SECOND)) {
    GstBuffer* buf = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (gst_buffer_map(buf, &map, GST_MAP_READ)) {
      all.emplace_back(map.data, map.data + map.size);
      gst_buffer_unmap(buf, &map);
    }
    gst_sample_unref(sample);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  if (all.size() < static_cast<size_t>(2 * frames)) die("the Opus encoder produced too few frames");
  return {all.begin() + frames, all.begin() + 2 * frames};
}

// What participant 0 sent while capturing: send time (just before sendto) and the packet.
struct SendCapture {
  std::atomic<bool> on{false};
  std::mutex mutex;
  std::vector<Captured> packets;
};

// Sends every participant's RTP from its own socket, 50 packets/s each. Participant i's
// packets go out at start + k * 20 ms + phase_i; with spread phases the participants are
// evenly spread over the 20 ms (in 1 ms steps), as independent clients are.
class RtpSender {
 public:
  RtpSender(const std::vector<int>& fds, std::shared_ptr<PortTable> serverPorts, const std::vector<Signal>& signals,
            const std::map<Signal, std::vector<std::vector<guint8>>>& loops, bool spread, SendCapture* capture,
            int captureIndex)
      : fds_(fds), ports_(std::move(serverPorts)), signals_(signals), loops_(loops), capture_(capture),
        captureIndex_(captureIndex) {
    const size_t n = fds.size();
    for (size_t i = 0; i < n; i++) {
      if (signals[i] == Signal::None) continue;
      const int slot = spread ? static_cast<int>((i * 20) / n) : 0;
      slots_[slot].push_back(i);
    }
    thread_ = std::thread([this] { loop(); });
  }
  ~RtpSender() { stop(); }
  RtpSender(const RtpSender&) = delete;
  RtpSender& operator=(const RtpSender&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  guint64 sent() const { return sent_.load(); }
  bool realtime() const { return realtime_.load(); }
  guint64 errors() const { return errors_.load(); }
  // Slots (1 ms) that went out more than 5 ms late; the worst lateness.
  guint64 lateSlots() const { return late_.load(); }
  double worstLateMs() const { return worstLateUs_.load() / 1000.0; }

 private:
  void loop() {
    // Real-time priority where allowed (root), so other work on the generator's CPU (our
    // receiver and signaling threads, other processes) does not delay the packets.
    sched_param param{};
    param.sched_priority = 10;
    realtime_ = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0;
    timespec start{};
    clock_gettime(CLOCK_MONOTONIC, &start);
    const gint64 startNs = static_cast<gint64>(start.tv_sec) * 1000000000 + start.tv_nsec + 20000000;
    guint8 packet[1500];
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (guint64 k = 0; !stop_; k++) {
      for (int slot = 0; slot < 20 && !stop_; slot++) {
        if (slots_[slot].empty()) continue;
        const gint64 due = startNs + static_cast<gint64>(k) * 20000000 + slot * 1000000;
        timespec ts{static_cast<time_t>(due / 1000000000), static_cast<long>(due % 1000000000)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
        }
        timespec now{};
        clock_gettime(CLOCK_MONOTONIC, &now);
        const gint64 lateUs = ((static_cast<gint64>(now.tv_sec) * 1000000000 + now.tv_nsec) - due) / 1000;
        if (lateUs > 5000) late_++;
        if (lateUs > worstLateUs_.load()) worstLateUs_ = lateUs;
        for (size_t i : slots_[slot]) {
          const auto& frames = loops_.at(signals_[i]);
          const auto& frame = frames[k % frames.size()];
          const guint16 seq = static_cast<guint16>(1000 + i * 7 + k);
          const guint32 rtpTime = static_cast<guint32>(i * 100003u + k * kFrame);
          const guint32 ssrc = static_cast<guint32>(0x10000 + i);
          packet[0] = 0x80;
          packet[1] = static_cast<guint8>((k == 0 ? 0x80 : 0) | kPayloadType);
          packet[2] = static_cast<guint8>(seq >> 8);
          packet[3] = static_cast<guint8>(seq);
          for (int b = 0; b < 4; b++) packet[4 + b] = static_cast<guint8>(rtpTime >> (24 - 8 * b));
          for (int b = 0; b < 4; b++) packet[8 + b] = static_cast<guint8>(ssrc >> (24 - 8 * b));
          const size_t len = 12 + std::min(frame.size(), sizeof packet - 12);
          std::memcpy(packet + 12, frame.data(), len - 12);
          if (capture_ && static_cast<int>(i) == captureIndex_ && capture_->on.load(std::memory_order_relaxed)) {
            std::lock_guard<std::mutex> lock(capture_->mutex);
            capture_->packets.push_back(Captured{realtimeSeconds(), std::vector<guint8>(packet, packet + len)});
          }
          to.sin_port = htons(static_cast<uint16_t>(ports_->ports[i].load(std::memory_order_relaxed)));
          if (sendto(fds_[i], packet, len, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
            errors_++;
          else
            sent_++;
        }
      }
    }
  }

  std::vector<int> fds_;
  std::shared_ptr<PortTable> ports_;
  std::vector<Signal> signals_;
  const std::map<Signal, std::vector<std::vector<guint8>>>& loops_;
  SendCapture* capture_;
  int captureIndex_;
  std::vector<size_t> slots_[20];
  std::atomic<bool> stop_{false};
  std::atomic<guint64> sent_{0}, errors_{0}, late_{0};
  std::atomic<gint64> worstLateUs_{0};
  std::atomic<bool> realtime_{false};
  std::thread thread_;
};

// ---- Servers

struct LogSummary {
  int warnings = 0;                  // roomcastd: WARNING/CRITICAL/ERROR lines; Janus: [WARN]/[ERR]
  std::vector<std::string> samples;  // the first few distinct ones
};

LogSummary scanLog(const std::string& path, Variant variant) {
  LogSummary s;
  std::ifstream f(path);
  std::set<std::string> seen;
  for (std::string line; std::getline(f, line);) {
    // Janus' start-up lists what this configuration leaves out (disabled plugins, no logger
    // configuration): expected, not counted.
    bool bad = variant == Variant::Janus
                   ? ((line.find("[ERR]") != std::string::npos || line.find("[WARN]") != std::string::npos) &&
                      line.find("has been disabled") == std::string::npos &&
                      line.find("janus.logger.jsonlog") == std::string::npos)
                   : (line.find("WARNING") != std::string::npos || line.find("CRITICAL") != std::string::npos ||
                      line.find("ERROR") != std::string::npos || line.find("error") != std::string::npos);
    if (!bad) continue;
    s.warnings++;
    // Group by the text after the timestamp and without numbers, so repeats count once.
    std::string key;
    for (char c : line.substr(std::min<size_t>(line.size(), 20))) key += std::isdigit(static_cast<unsigned char>(c)) ? '#' : c;
    if (s.samples.size() < 5 && seen.insert(key).second) s.samples.push_back(line.substr(0, 240));
  }
  return s;
}

struct Server {
  Variant variant = Variant::Janus;
  SpawnedChild child;
  std::shared_ptr<PortTable> ports;       // where participant i sends its RTP
  std::vector<gint64> sessions;           // Janus sessions (keepalive)
  double lastKeepalive = 0;
  std::unique_ptr<RoomcastClients> rc;    // roomcast participants' sessions
  std::string log;
  std::string version;
  std::string error;
  double startSeconds = 0;                // spawn to every participant joined
  double restSeconds = 0, wsSeconds = 0;  // roomcast: room + tokens, WebSockets
  bool stopTimedOut = false;              // it ignored SIGTERM for too long and was killed
};

struct Context {
  Options opt;
  std::string workdir;
  std::string janusLib;
  std::string janusVersion;
  std::string roomcastVersion;
  std::string roomcastConf;
  JanusClient janus;
  int runCounter = 0;
  bool keepWorkdir = false;  // set when something needs its logs looked at
  std::map<Signal, std::vector<std::vector<guint8>>> loops;
};

void keepJanusAlive(Context& ctx, Server& s, bool force) {
  if (s.variant != Variant::Janus || s.sessions.empty()) return;
  if (!force && monotonicSeconds() - s.lastKeepalive < 20) return;
  ctx.janus.keepaliveAll(s.sessions);
  s.lastKeepalive = monotonicSeconds();
}

// The port in roomcastd's "listening on http://127.0.0.1:PORT/" line, once it is in the log.
int waitForListening(SpawnedChild& child, const std::string& log, double timeout, std::string* version) {
  const double until = monotonicSeconds() + timeout;
  while (monotonicSeconds() < until) {
    std::string text = readFile(log);
    auto at = text.find(": listening on http://127.0.0.1:");
    if (at != std::string::npos) {
      auto lineStart = text.rfind('\n', at);
      std::string head = text.substr(lineStart == std::string::npos ? 0 : lineStart + 1, at - (lineStart + 1));
      if (head.rfind("roomcastd ", 0) == 0) *version = head.substr(10);
      return std::atoi(text.c_str() + at + std::strlen(": listening on http://127.0.0.1:"));
    }
    if (!child.alive()) return 0;
    g_usleep(50000);
  }
  return 0;
}

Server startServer(Context& ctx, Variant variant, int n, int talking, const std::vector<int>& localPorts) {
  Server s;
  s.variant = variant;
  s.ports = std::make_shared<PortTable>(static_cast<size_t>(n));
  const double t0 = monotonicSeconds();
  const int id = ++ctx.runCounter;
  std::string error;
  if (variant == Variant::Janus) {
    s.log = ctx.workdir + "/janus-" + std::to_string(id) + ".log";
    std::string stdoutLog = ctx.workdir + "/janus-" + std::to_string(id) + ".out";
    pid_t pid = spawnPinned({ctx.opt.janus, "-C", ctx.workdir + "/janus-conf/janus.jcfg", "-F",
                             ctx.workdir + "/janus-conf", "-L", s.log, "-N", "-o"},
                            ctx.opt.serverCpu, -1, stdoutLog, &error);
    if (pid < 0) die(error);
    s.child = SpawnedChild(pid);
    s.version = ctx.janus.waitReady(s.child, 20);
    if (s.version.empty()) {
      s.error = "Janus did not answer on " + std::string(kJanusUrl) + " (log: " + tailOf(stdoutLog, 600) + ")";
      return s;
    }
    s.lastKeepalive = monotonicSeconds();
    for (int i = 0; i < n; i++) {
      gint64 session = 0;
      int port = ctx.janus.joinParticipant(i, localPorts[i], i >= talking, &session, &error);
      if (!port) {
        s.error = "Janus join of participant " + std::to_string(i) + " failed: " + error;
        return s;
      }
      s.sessions.push_back(session);
      s.ports->ports[i].store(port);
      keepJanusAlive(ctx, s, false);
    }
  } else {
    s.log = ctx.workdir + "/roomcastd-" + std::to_string(id) + ".log";
    const std::string dataDir = ctx.workdir + "/roomcastd-" + std::to_string(id);
    pid_t pid = spawnPinned({ctx.opt.roomcastd, "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--config",
                             ctx.roomcastConf},
                            ctx.opt.serverCpu, -1, s.log, &error);
    if (pid < 0) die(error);
    s.child = SpawnedChild(pid);
    const int port = waitForListening(s.child, s.log, 20, &s.version);
    if (!port) {
      s.error = "roomcastd did not print its listening line (log: " + tailOf(s.log, 600) + ")";
      return s;
    }
    RoomcastClients::Setup setup;
    setup.baseUrl = "http://127.0.0.1:" + std::to_string(port);
    setup.localPorts = localPorts;
    setup.talking = talking;
    setup.concurrency = ctx.opt.joinConcurrency;
    setup.timeout = 60 + 0.45 * n;  // 1000 joins took 25-40 s on a quiet machine, 290 s on a busy one
    setup.ports = s.ports;
    s.rc = std::make_unique<RoomcastClients>();
    if (!s.rc->start(setup, &error)) {
      s.error = "roomcast setup: " + error;
      return s;
    }
    s.restSeconds = s.rc->restSeconds();
    s.wsSeconds = s.rc->wsSeconds();
  }
  s.startSeconds = monotonicSeconds() - t0;
  return s;
}

void stopServer(Server& s) {
  if (s.rc) s.rc->expectClose();
  if (s.child.pid() > 0) {
    // roomcastd ends its rooms first (HLS ENDLIST), which can take a few seconds.
    int status = s.child.stop(s.variant == Variant::Janus ? 15 : 20, s.log + ".hang.txt", &s.stopTimedOut);
    if (status != -1 && WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM && WTERMSIG(status) != SIGKILL &&
        s.error.empty())
      s.error = std::string("died from signal ") + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) +
                ") while stopping";
  }
  if (s.rc) s.rc->stop();
}

// Waits `seconds` while the server lives (Janus sessions kept alive meanwhile).
bool waitWhileAlive(Context& ctx, double seconds, Server& server, std::string* error) {
  const double until = monotonicSeconds() + seconds;
  while (monotonicSeconds() < until) {
    if (!server.child.alive()) {
      *error = std::string(variantName(server.variant)) + " exited during the run (log " + server.log + ")";
      return false;
    }
    keepJanusAlive(ctx, server, false);
    g_usleep(50000);
  }
  return true;
}

// ---- One CPU measurement

struct LoadRun {
  Variant variant;
  int n = 0;
  int talking = 0;
  int repeat = 0;
  bool big = false;  // the large room
  bool ok = false;
  std::string error;
  double seconds = 0;
  double quietWaitSeconds = 0;
  bool senderRealtime = false;
  double serverCpuPercent = NAN;       // % of one core
  double generatorCpuPercent = NAN;    // this process: sender, receiver, signaling
  double otherCpuPercent = NAN;        // the rest of the machine, % of one core (without steal)
  double stealPercent = NAN;           // hypervisor steal, whole machine, % of one core
  double serverCoreBusyPercent = NAN;  // the server's CPU as a whole (incl. other processes on it)
  double rxPercentMin = NAN, rxPercentMean = NAN;  // received / expected packets, per participant
  double rxTalkMin = NAN, rxTalkMean = NAN, rxSilentMin = NAN, rxSilentMean = NAN;
  std::vector<double> rxEach;  // per participant
  double rxPercentMax = NAN;
  int rxAbove105 = 0;          // participants that got more than 105 % of 50 packets/s
  guint64 tsBackwards = 0, tsRepeats = 0, ssrcChanges = 0;  // in the returns, whole run, all participants
  double mediaRateOver105 = NAN;  // participants above 105 %: RTP time advanced per wall second
  int threads = 0;
  long rssKb = 0;
  int fds = 0;
  double startSeconds = 0, restSeconds = 0, wsSeconds = 0;
  guint64 socketDrops = 0;  // dropped at our sockets during the window (our receiver fell behind)
  guint64 sendErrors = 0, lateSlots = 0;
  double worstLateMs = 0;
  int wsUnexpectedCloses = 0, wsErrors = 0;
  int reoffers = 0, reoffersInWindow = 0, reoffersAnswered = 0;  // roomcast: media_error, offered again
  int connectRetries = 0;  // roomcast: WebSocket connects tried again (refused or reset)
  std::string joinPhases;  // roomcast: setup time per step, summed over participants
  std::string stopError;   // the server crashed (or was killed) when told to stop
  std::string wsError;
  std::map<std::string, guint64> wsMessages;
  LogSummary logSummary;
  bool stopTimedOut = false;
  std::string log;
};

// Waits (up to --quiet-wait) until the rest of the machine (other processes, steal) uses less
// than --quiet-percent of a core over one second. Returns the seconds waited.
double waitForQuiet(const Options& opt) {
  static double spent = 0;
  const double t0 = monotonicSeconds();
  const double limit = std::min(opt.quietWait, opt.quietBudget - spent);
  bool told = false;
  while (limit > 0) {
    const long long self0 = processCpuTicks(getpid());
    const MachineTicks m0 = machineTicks();
    g_usleep(1000000);
    const long long self1 = processCpuTicks(getpid());
    const MachineTicks m1 = machineTicks();
    const double others = ((m1.busy - m0.busy) - (self1 - self0)) * 100.0 / static_cast<double>(clockTicks());
    if (others < opt.quietPercent) break;
    if (monotonicSeconds() - t0 > limit) {
      note("  the machine is still busy (others %.0f%% of a core); going on", others);
      break;
    }
    if (!told) note("  waiting for other processes to calm down (%.0f%% of a core)", others);
    told = true;
  }
  spent += monotonicSeconds() - t0;
  return monotonicSeconds() - t0;
}

std::vector<Signal> loadSignals(const Options& opt, int n, int talking) {
  std::vector<Signal> signals(n);
  for (int i = 0; i < n; i++) signals[i] = i < talking ? Signal::Tone : (opt.silentSends ? Signal::Silence : Signal::None);
  return signals;
}

// Packets received per participant in the window, as % of the 50 a second each should get.
void receptionShares(LoadRun& r, const std::vector<guint64>& c0, const std::vector<guint64>& c1, double wall) {
  const double expected = kPacketsPerSecond * wall;
  std::vector<double> all, talk, silent;
  for (int i = 0; i < r.n; i++) {
    const double pct = 100.0 * static_cast<double>(c1[i] - c0[i]) / expected;
    all.push_back(pct);
    (i < r.talking ? talk : silent).push_back(pct);
    r.rxEach.push_back(pct);
  }
  auto mean = [](const std::vector<double>& v) {
    return v.empty() ? NAN : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  };
  auto min = [](const std::vector<double>& v) { return v.empty() ? NAN : *std::min_element(v.begin(), v.end()); };
  r.rxPercentMean = mean(all);
  r.rxPercentMin = min(all);
  r.rxPercentMax = *std::max_element(all.begin(), all.end());
  r.rxAbove105 = static_cast<int>(std::count_if(all.begin(), all.end(), [](double x) { return x > 105; }));
  r.rxTalkMean = mean(talk);
  r.rxTalkMin = min(talk);
  r.rxSilentMean = mean(silent);
  r.rxSilentMin = min(silent);
}

// The measured window: CPU of the server, this process and the rest of the machine, and what
// every participant received. False if the server died meanwhile.
bool measureWindow(Context& ctx, LoadRun& r, Server& server, Receiver& receiver, RtpSender& sender, std::string* error) {
  keepJanusAlive(ctx, server, true);
  const long long s0 = processCpuTicks(server.child.pid()), g0 = processCpuTicks(getpid());
  const MachineTicks m0 = machineTicks();
  const std::vector<guint64> c0 = receiver.counts();
  const guint64 drops0 = receiver.drops(), late0 = sender.lateSlots(), err0 = sender.errors();
  const int reoffers0 = server.rc ? server.rc->reoffers() : 0;
  const double t0 = monotonicSeconds();
  const bool ok = waitWhileAlive(ctx, r.seconds, server, error);
  const long long s1 = processCpuTicks(server.child.pid()), g1 = processCpuTicks(getpid());
  const MachineTicks m1 = machineTicks();
  const std::vector<guint64> c1 = receiver.counts();
  const double wall = monotonicSeconds() - t0;
  r.socketDrops = receiver.drops() - drops0;
  r.reoffersInWindow = (server.rc ? server.rc->reoffers() : 0) - reoffers0;
  r.lateSlots = sender.lateSlots() - late0;
  r.sendErrors = sender.errors() - err0;
  r.worstLateMs = sender.worstLateMs();
  r.senderRealtime = sender.realtime();
  ProcessStatus st = processStatus(server.child.pid());
  r.threads = st.threads;
  r.rssKb = st.rssKb;
  r.fds = std::max(0, processOpenFds(server.child.pid()));
  if (!ok || s0 < 0 || s1 < 0) return ok;
  const double hz = static_cast<double>(clockTicks());
  r.serverCpuPercent = (s1 - s0) / hz / wall * 100.0;
  r.generatorCpuPercent = (g1 - g0) / hz / wall * 100.0;
  r.otherCpuPercent = ((m1.busy - m0.busy) - (m1.steal - m0.steal) - (s1 - s0) - (g1 - g0)) / hz / wall * 100.0;
  r.stealPercent = (m1.steal - m0.steal) / hz / wall * 100.0;
  const int cpu = ctx.opt.serverCpu;
  if (cpu >= 0 && static_cast<size_t>(cpu) < m1.cpuBusy.size() && m1.cpuTotal[cpu] > m0.cpuTotal[cpu])
    r.serverCoreBusyPercent =
        100.0 * (m1.cpuBusy[cpu] - m0.cpuBusy[cpu]) / static_cast<double>(m1.cpuTotal[cpu] - m0.cpuTotal[cpu]);
  receptionShares(r, c0, c1, wall);
  r.ok = true;
  return ok;
}

// Timestamp oddities in the returns over the receiver's whole life, and the media rate of the
// participants that got more than 105 % of the packets.
void countOddities(LoadRun& r, Receiver& receiver, double lifetime) {
  double rateSum = 0;
  int rateCount = 0;
  for (size_t i = 0; i < receiver.oddities().size(); i++) {
    const auto& o = receiver.oddities()[i];
    r.tsBackwards += o.timestampBackwards;
    r.tsRepeats += o.timestampRepeats;
    r.ssrcChanges += o.ssrcChanges;
    if (i < r.rxEach.size() && r.rxEach[i] > 105) {
      rateSum += static_cast<double>(o.advanced) / kRate / lifetime;
      rateCount++;
    }
  }
  if (rateCount) r.mediaRateOver105 = rateSum / rateCount;
}

void takeSignalingCounts(LoadRun& r, RoomcastClients& rc) {
  r.wsUnexpectedCloses = rc.unexpectedCloses();
  r.wsErrors = rc.errorsAfterSetup();
  r.reoffers = rc.reoffers();
  r.reoffersAnswered = rc.reoffersAnswered();
  r.connectRetries = rc.connectRetries();
  r.joinPhases = rc.phaseSummary();
  r.wsError = rc.firstLateError();
  r.wsMessages = rc.messageCounts();
}

void noteLoadRun(const LoadRun& r) {
  if (r.ok)
    note("  %s: server %.1f%% of a core (its core busy %.0f%%), generator %.1f%%, others ~%.0f%%, steal %.0f%%, rx %.1f%% "
         "(min %.1f%%), %d threads, RSS %.0f MB%s%s%s",
         variantName(r.variant), r.serverCpuPercent, r.serverCoreBusyPercent, r.generatorCpuPercent,
         std::max(0.0, r.otherCpuPercent), r.stealPercent, r.rxPercentMean, r.rxPercentMin, r.threads, r.rssKb / 1024.0,
         r.socketDrops ? fmt(", %.0f packets dropped at our sockets", static_cast<double>(r.socketDrops)).c_str() : "",
         r.logSummary.warnings ? fmt(", %.0f warning lines in its log", r.logSummary.warnings).c_str() : "",
         r.reoffers ? fmt(", %.0f media_error(s) answered with a new rtp-offer", r.reoffers).c_str() : "");
  else
    note("  %s failed: %s", variantName(r.variant), r.error.c_str());
}

LoadRun failedStart(Context& ctx, LoadRun r, Server& server, std::vector<int>& sockets) {
  r.error = server.error;
  if (server.rc) {
    r.connectRetries = server.rc->connectRetries();
    r.joinPhases = server.rc->phaseSummary();
  }
  stopServer(server);
  closeSockets(sockets);
  r.logSummary = scanLog(server.log, r.variant);
  ctx.keepWorkdir = true;
  note("  failed: %s", r.error.c_str());
  return r;
}

LoadRun runLoad(Context& ctx, Variant variant, int n, int talking, int repeat, double warmup, double seconds, bool big) {
  LoadRun r;
  r.variant = variant;
  r.n = n;
  r.talking = talking;
  r.repeat = repeat;
  r.big = big;
  r.seconds = seconds;
  r.quietWaitSeconds = waitForQuiet(ctx.opt);
  note("[%s] N=%d, %d talking: starting %s", clockNow().c_str(), n, talking, variantName(variant));

  int basePort = ctx.opt.basePort;
  std::vector<int> sockets = bindParticipants(basePort, n);
  std::vector<int> localPorts;
  for (int i = 0; i < n; i++) localPorts.push_back(basePort + i);
  Server server = startServer(ctx, variant, n, talking, localPorts);
  r.log = server.log;
  if (!server.error.empty()) return failedStart(ctx, r, server, sockets);
  if (variant == Variant::Janus) ctx.janusVersion = server.version;
  else ctx.roomcastVersion = server.version;
  r.startSeconds = server.startSeconds;
  r.restSeconds = server.restSeconds;
  r.wsSeconds = server.wsSeconds;
  if (big)
    note("  %d participants joined in %.1f s%s", n, server.startSeconds,
         server.rc && server.rc->connectRetries()
             ? fmt(" (%.0f WebSocket connects refused or reset, tried again)", server.rc->connectRetries()).c_str()
             : "");

  Receiver receiver(sockets);
  const double receiverStart = monotonicSeconds();
  auto sender = std::make_unique<RtpSender>(sockets, server.ports, loadSignals(ctx.opt, n, talking), ctx.loops,
                                            ctx.opt.spreadPhases, nullptr, -1);
  std::string error;
  bool ok = waitWhileAlive(ctx, warmup, server, &error);
  if (ok) ok = measureWindow(ctx, r, server, receiver, *sender, &error);
  const double receiverEnd = monotonicSeconds();
  sender->stop();
  stopServer(server);
  receiver.stop();
  closeSockets(sockets);
  countOddities(r, receiver, receiverEnd - receiverStart);
  r.stopTimedOut = server.stopTimedOut;
  r.stopError = server.error;
  if (!r.stopError.empty()) ctx.keepWorkdir = true;
  if (server.rc) takeSignalingCounts(r, *server.rc);
  r.logSummary = scanLog(server.log, variant);
  if (r.stopTimedOut || r.wsUnexpectedCloses) ctx.keepWorkdir = true;
  if (!ok) r.error = error;
  noteLoadRun(r);
  return r;
}

// ---- Transit latency

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

struct LatencyRun {
  Variant variant;
  bool ok = false;
  std::string error;
  int sentTicks = 0;      // onsets found in what participant 0 sent (and could come back)
  int markers = 0;        // marker ticks matched (they fix the transit beyond one tick interval)
  int matched = 0;        // of those, found in participant 1's mix within one tick interval
  int sentPackets = 0, returnedPackets = 0;
  double p50 = NAN, p90 = NAN, p99 = NAN, min = NAN, max = NAN, mean = NAN;
  std::vector<double> ms;
  LogSummary logSummary;
  // roomcast: its mixer's counters at the end of the run (/metrics); -1 when not read.
  long long mixerTicks = -1, mixerUnderruns = -1, mixerRealigned = -1;
};

void summarise(LatencyRun& r) {
  if (r.ms.empty()) return;
  r.ok = true;
  r.p50 = percentile(r.ms, 50);
  r.p90 = percentile(r.ms, 90);
  r.p99 = percentile(r.ms, 99);
  r.min = *std::min_element(r.ms.begin(), r.ms.end());
  r.max = *std::max_element(r.ms.begin(), r.ms.end());
  r.mean = std::accumulate(r.ms.begin(), r.ms.end(), 0.0) / static_cast<double>(r.ms.size());
}

// The decoded audio for a look at it by ear or in a plot: raw float samples and their times.
void dumpLatency(const std::string& dir, Variant variant, const Decoded& sentAudio, const Decoded& backAudio) {
  g_mkdir_with_parents(dir.c_str(), 0755);
  for (auto [name, d] : {std::pair<const char*, const Decoded*>{"sent", &sentAudio}, {"back", &backAudio}}) {
    std::string base = dir + "/" + variantName(variant) + "-" + name;
    std::ofstream(base + ".f32", std::ios::binary)
        .write(reinterpret_cast<const char*>(d->samples.data()), static_cast<std::streamsize>(d->samples.size() * 4));
    std::ofstream times(base + ".times");
    for (double t : d->times) times << fmt("%.6f", t) << "\n";
  }
}

// Pairs sent ticks with returned ones: the transit of each in r.ms.
void matchTicks(LatencyRun& r, const std::vector<Onset>& s, const std::vector<Onset>& b, double interval) {
  const double markerPeriod = interval * kMarkerPeriod;
  // 1. Markers: the first returned marker within one marker period gives the transit
  //    unambiguously. 2. Every tick: the returned onset nearest to (sent + that transit).
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
}

// Drop-outs (ticks without the talker's frame) and realigning, as roomcast's mixer counted them.
void readMixerCounters(LatencyRun& r, const std::string& baseUrl) {
  const auto m = RestClient(baseUrl, 10).request("GET", "/metrics");
  const auto metrics = parseMetrics(m.body);
  auto value = [&](const char* name) {
    const auto it = metrics.find(name);
    return it == metrics.end() ? -1LL : static_cast<long long>(it->second);
  };
  r.mixerTicks = value("roomcast_mixer_ticks");
  r.mixerUnderruns = value("roomcast_mixer_underruns");
  r.mixerRealigned = value("roomcast_mixer_realigned_samples");
}

// Decodes what participant 0 sent and what came back to participant 1, and matches the ticks.
void analyseTransit(Context& ctx, LatencyRun& r, std::vector<Captured> sentPackets, std::vector<Captured> back) {
  r.sentPackets = static_cast<int>(sentPackets.size());
  r.returnedPackets = static_cast<int>(back.size());
  double sentPeak = 0, backPeak = 0;
  Decoded sentAudio = decodeOpus(std::move(sentPackets)), backAudio = decodeOpus(std::move(back));
  if (!ctx.opt.dumpLatency.empty()) dumpLatency(ctx.opt.dumpLatency, r.variant, sentAudio, backAudio);
  matchTicks(r, onsets(sentAudio, &sentPeak), onsets(backAudio, &backPeak), ctx.opt.tickIntervalMs / 1000.0);
  summarise(r);
  if (!r.ok)
    r.error = "no tick came back (sent peak " + fmt("%.3f", sentPeak) + ", returned peak " + fmt("%.3f", backPeak) + ")";
  note("  %s: %d/%d ticks matched, p50 %.1f ms, p99 %.1f ms", variantName(r.variant), r.matched, r.sentTicks, r.p50,
       r.p99);
  if (r.mixerTicks >= 0)
    note("  mixer: %lld ticks, %lld underruns (drop-outs of an awaited input), %lld samples realigned", r.mixerTicks,
         r.mixerUnderruns, r.mixerRealigned);
}

LatencyRun runLatency(Context& ctx, Variant variant) {
  LatencyRun r;
  r.variant = variant;
  const int n = ctx.opt.latencyParticipants;
  waitForQuiet(ctx.opt);
  note("[%s] transit: %s, %d participants, ticks every %d ms from participant 0, received by participant 1",
       clockNow().c_str(), variantName(variant), n, ctx.opt.tickIntervalMs);
  int basePort = ctx.opt.basePort;
  std::vector<int> sockets = bindParticipants(basePort, n);
  std::vector<int> localPorts;
  for (int i = 0; i < n; i++) localPorts.push_back(basePort + i);
  Server server = startServer(ctx, variant, n, n, localPorts);
  if (!server.error.empty()) {
    r.error = server.error;
    stopServer(server);
    closeSockets(sockets);
    ctx.keepWorkdir = true;
    note("  failed: %s", r.error.c_str());
    return r;
  }
  if (variant == Variant::Janus) ctx.janusVersion = server.version;
  else ctx.roomcastVersion = server.version;
  // Participant 0 ticks; the others are unmuted and send encoded silence.
  std::vector<Signal> signals(n, Signal::Silence);
  signals[0] = Signal::Ticks;
  Receiver receiver(sockets);
  SendCapture sent;
  auto sender = std::make_unique<RtpSender>(sockets, server.ports, signals, ctx.loops, ctx.opt.spreadPhases, &sent, 0);
  std::string error;
  bool ok = waitWhileAlive(ctx, ctx.opt.latencyWarmup, server, &error);
  if (ok) {
    keepJanusAlive(ctx, server, true);
    receiver.capture(1);
    sent.on = true;
    ok = waitWhileAlive(ctx, ctx.opt.latencySeconds, server, &error);
    sent.on = false;
    // Let the last ticks come back (at most one interval later).
    if (ok) ok = waitWhileAlive(ctx, ctx.opt.tickIntervalMs / 1000.0 + 0.3, server, &error);
    receiver.capture(-1);
  }
  if (ok && server.rc) readMixerCounters(r, server.rc->baseUrl());
  sender->stop();
  stopServer(server);
  receiver.stop();
  closeSockets(sockets);
  r.logSummary = scanLog(server.log, variant);
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
  analyseTransit(ctx, r, std::move(sentPackets), receiver.takeCaptured());
  return r;
}

// ---- Summaries

struct Cell {
  double cpu = NAN, rxMin = NAN, rxMean = NAN, coreBusy = NAN, other = NAN, generator = NAN;
  int threads = 0;
  int runs = 0, failed = 0;
  int stopErrors = 0;
  int stopTimeouts = 0, wsCloses = 0, reoffers = 0, reoffersInWindow = 0, rxAbove105 = 0;
  double rxMax = NAN;
  guint64 tsBackwards = 0;
  guint64 socketDrops = 0, lateSlots = 0;
  std::string error;
};

Cell cellOf(const std::vector<LoadRun>& runs, Variant v, int n, int talking) {
  Cell c;
  std::vector<double> cpu, rxMin, rxMean, busy, other, gen;
  for (const LoadRun& r : runs) {
    if (r.variant != v || r.n != n || r.talking != talking || r.big) continue;
    c.runs++;
    c.wsCloses += r.wsUnexpectedCloses;
    c.reoffers += r.reoffers;
    if (!r.stopError.empty()) c.stopErrors++;
    c.reoffersInWindow += r.reoffersInWindow;
    if (r.stopTimedOut) c.stopTimeouts++;
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
    gen.push_back(r.generatorCpuPercent);
    c.threads = r.threads;
    c.rxAbove105 += r.rxAbove105;
    c.rxMax = std::isfinite(c.rxMax) ? std::max(c.rxMax, r.rxPercentMax) : r.rxPercentMax;
    c.tsBackwards += r.tsBackwards;
    c.socketDrops += r.socketDrops;
    c.lateSlots += r.lateSlots;
  }
  c.cpu = median(cpu);
  c.rxMin = median(rxMin);
  c.rxMean = median(rxMean);
  c.coreBusy = median(busy);
  c.other = median(other);
  c.generator = median(gen);
  return c;
}

// The server used (nearly) a whole core: it cannot get more.
bool saturated(double cpu, double) { return std::isfinite(cpu) && cpu >= 90; }
// Its core was busy, but not with the server: other processes took part of it.
bool contended(double cpu, double coreBusy) {
  return !saturated(cpu, coreBusy) && std::isfinite(coreBusy) && coreBusy >= 95;
}

// Health of one cell for the table: saturation and what came back.
std::string flags(const Cell& c) {
  std::string f;
  if (c.failed) f += " FAILED";
  if (saturated(c.cpu, c.coreBusy))
    f += " core-saturated (server " + fmt("%.0f%%", c.cpu) + ", its core busy " + fmt("%.0f%%", c.coreBusy) + ")";
  if (contended(c.cpu, c.coreBusy))
    f += " core-contended (its core " + fmt("%.0f%%", c.coreBusy) + " busy, the server " + fmt("%.0f%%", c.cpu) + ")";
  if (std::isfinite(c.rxMin) && c.rxMin < 97) f += " rx-min " + fmt("%.0f%%", c.rxMin);
  if (c.rxAbove105) f += " rx-max " + fmt("%.0f%%", c.rxMax) + " (more packets than 50/s)";
  if (c.tsBackwards) f += " " + std::to_string(c.tsBackwards) + "-return-timestamps-went-backwards";
  if (c.socketDrops) f += " " + std::to_string(c.socketDrops) + "-dropped-at-our-sockets";
  if (c.lateSlots) f += " generator-late (" + std::to_string(c.lateSlots) + " send slots > 5 ms late)";
  if (c.wsCloses) f += " " + std::to_string(c.wsCloses) + "-websockets-closed-by-the-server";
  if (c.reoffers)
    f += " media_error-re-offers " + std::to_string(c.reoffers) + " (" + std::to_string(c.reoffersInWindow) +
         " in the window)";
  if (c.stopTimeouts) f += " did-not-stop-on-SIGTERM (killed; backtraces in the work folder)";
  if (c.stopErrors) f += " crashed-when-stopped (" + std::to_string(c.stopErrors) + " runs)";
  if (std::isfinite(c.other) && c.other > 30) f += " machine-busy (other processes ~" + fmt("%.0f%%", c.other) + ")";
  return f;
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

std::string rxText(double mean, double min) {
  if (!std::isfinite(mean)) return "n/a";
  return fmt("%.1f", mean) + "/" + fmt("%.1f", min);
}

double safeRatio(double a, double b) { return std::isfinite(a) && std::isfinite(b) && b > 0 ? a / b : NAN; }

std::string jsonRun(const LoadRun& r) {
  std::ostringstream j;
  j << "{\"server\": " << jsonString(variantName(r.variant)) << ", \"n\": " << r.n << ", \"talking\": " << r.talking
    << ", \"repeat\": " << r.repeat << ", \"large_room\": " << (r.big ? "true" : "false")
    << ", \"ok\": " << (r.ok ? "true" : "false") << ", \"error\": " << jsonString(r.error)
    << ", \"window_seconds\": " << jsonNumber(r.seconds) << ", \"quiet_wait_seconds\": " << jsonNumber(r.quietWaitSeconds)
    << ", \"sender_realtime\": " << (r.senderRealtime ? "true" : "false")
    << ", \"server_cpu_core_percent\": " << jsonNumber(r.serverCpuPercent)
    << ", \"server_core_busy_percent\": " << jsonNumber(r.serverCoreBusyPercent)
    << ", \"generator_cpu_core_percent\": " << jsonNumber(r.generatorCpuPercent)
    << ", \"other_cpu_core_percent\": " << jsonNumber(r.otherCpuPercent)
    << ", \"steal_core_percent\": " << jsonNumber(r.stealPercent)
    << ", \"rx_percent_mean\": " << jsonNumber(r.rxPercentMean) << ", \"rx_percent_min\": " << jsonNumber(r.rxPercentMin)
    << ", \"rx_percent_max\": " << jsonNumber(r.rxPercentMax) << ", \"rx_participants_above_105_percent\": " << r.rxAbove105
    << ", \"return_timestamps_backwards\": " << r.tsBackwards << ", \"return_timestamps_repeated\": " << r.tsRepeats
    << ", \"return_ssrc_changes\": " << r.ssrcChanges
    << ", \"rtp_seconds_per_second_above_105_percent\": " << jsonNumber(r.mediaRateOver105)
    << ", \"rx_talkers_percent_mean\": " << jsonNumber(r.rxTalkMean)
    << ", \"rx_talkers_percent_min\": " << jsonNumber(r.rxTalkMin)
    << ", \"rx_silent_percent_mean\": " << jsonNumber(r.rxSilentMean)
    << ", \"rx_silent_percent_min\": " << jsonNumber(r.rxSilentMin) << ", \"threads\": " << r.threads
    << ", \"rss_kb\": " << r.rssKb << ", \"open_fds\": " << r.fds << ", \"start_seconds\": " << jsonNumber(r.startSeconds)
    << ", \"rest_seconds\": " << jsonNumber(r.restSeconds) << ", \"websocket_setup_seconds\": " << jsonNumber(r.wsSeconds)
    << ", \"dropped_at_generator_sockets\": " << r.socketDrops << ", \"send_errors\": " << r.sendErrors
    << ", \"send_slots_late_over_5ms\": " << r.lateSlots << ", \"send_worst_late_ms\": " << jsonNumber(r.worstLateMs)
    << ", \"websockets_closed_by_server\": " << r.wsUnexpectedCloses << ", \"websocket_errors\": " << r.wsErrors
    << ", \"websocket_first_error\": " << jsonString(r.wsError) << ", \"media_error_reoffers\": " << r.reoffers
    << ", \"media_error_reoffers_in_window\": " << r.reoffersInWindow
    << ", \"media_error_reoffers_answered\": " << r.reoffersAnswered
    << ", \"websocket_connect_retries\": " << r.connectRetries << ", \"join_phases\": " << jsonString(r.joinPhases)
    << ", \"stop_error\": " << jsonString(r.stopError) << ", \"websocket_messages\": {";
  bool first = true;
  for (const auto& [type, count] : r.wsMessages) {
    j << (first ? "" : ", ") << jsonString(type) << ": " << count;
    first = false;
  }
  j << "}, \"rx_percent_each\": [";
  for (size_t k = 0; k < r.rxEach.size(); k++) j << (k ? ", " : "") << fmt("%.1f", r.rxEach[k]);
  j << "], \"log_warning_lines\": " << r.logSummary.warnings << ", \"log_samples\": [";
  for (size_t k = 0; k < r.logSummary.samples.size(); k++) j << (k ? ", " : "") << jsonString(r.logSummary.samples[k]);
  j << "], \"stop_timed_out\": " << (r.stopTimedOut ? "true" : "false") << ", \"log\": " << jsonString(r.log) << "}";
  return j.str();
}

// Everything one run of the benchmark measured, for the table and the JSON.
struct Report {
  explicit Report(Context& c) : ctx(c) {}
  Context& ctx;
  std::string started, loadBefore, loadAfter, gstVersion;
  double wallSeconds = 0, otherMean = NAN, stealMean = NAN;
  int cpus = 0;
  long fileLimit = 0;
  bool wantRoomcast = false, compare = false;
  std::vector<LoadRun> runs, bigRuns;
  std::vector<LatencyRun> latency;
  struct Slope {
    int from, to;
    std::map<Variant, double> talker, silent;
  };
  std::vector<Slope> slopes;
  std::map<int, std::map<Variant, double>> talkerOverSilent;
  std::map<Variant, LatencyRun> pooled;
  std::map<Variant, std::string> perRun;
};

bool wants(const std::vector<Variant>& list, Variant v) { return std::find(list.begin(), list.end(), v) != list.end(); }

// Checks what the run needs (CPUs, open files, janus, roomcastd), makes the work folder and
// the servers' configurations, and encodes the signals once. Returns the open-files limit.
long prepare(Context& ctx) {
  Options& opt = ctx.opt;
  const int cpus = onlineCpus();
  if (cpus < 2) {
    note("only %d CPU: servers and generator share it (no pinning)", cpus);
    opt.serverCpu = opt.generatorCpu = -1;
  }
  if (!pinToCpu(opt.generatorCpu)) note("could not pin the generator to CPU %d", opt.generatorCpu);

  // Every participant has a UDP socket here, and a WebSocket for roomcast; roomcastd (our
  // child, it inherits the limit) has a UDP socket, a WebSocket and GStreamer's poll fds each.
  const int most = std::max({opt.sizes.back(), opt.big, opt.latencyParticipants});
  const long fileLimit = raiseFileLimit(std::max(8192L, 8L * most + 1024));
  if (fileLimit < 4L * most + 256)
    die("the open-files limit is " + std::to_string(fileLimit) + ", too low for " + std::to_string(most) +
        " participants (ulimit -n)");

  const bool bigRun = opt.big > 0;
  const bool wantJanus = wants(opt.variants, Variant::Janus) || (bigRun && wants(opt.bigVariants, Variant::Janus));
  const bool wantRoomcast =
      wants(opt.variants, Variant::Roomcast) || (bigRun && wants(opt.bigVariants, Variant::Roomcast));
  if (wantJanus) {
    gchar* path = g_find_program_in_path(opt.janus.c_str());
    if (!path) die("janus not found (install it: apt-get install -y janus), or run with --variants roomcast");
    opt.janus = path;
    g_free(path);
    ctx.janusLib = opt.janusLib.empty() ? findJanusLib() : opt.janusLib;
    if (ctx.janusLib.empty()) die("cannot find Janus' plugins folder (libjanus_audiobridge.so); use --janus-lib");
  }
  if (wantRoomcast && !g_file_test(opt.roomcastd.c_str(), G_FILE_TEST_IS_EXECUTABLE))
    die("roomcastd not found: " + opt.roomcastd + " (ninja -C build, or --roomcastd PATH)");
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
  ctx.roomcastConf = ctx.workdir + "/roomcast.conf";
  if (wantRoomcast) writeRoomcastConfig(ctx.roomcastConf, opt.roomcastSettings);
  signal(SIGPIPE, SIG_IGN);

  for (Signal kind : {Signal::Tone, Signal::Silence, Signal::Ticks}) ctx.loops[kind] = encodeLoop(kind, opt.tickIntervalMs);
  return fileLimit;
}

// Every measurement, servers alternating: forward order in one slot, reversed in the next.
void runAll(Context& ctx, Report& r) {
  const Options& opt = ctx.opt;
  const bool bigRun = opt.big > 0;
  auto& runs = r.runs;
  auto& latency = r.latency;
  auto& bigRuns = r.bigRuns;
  const int runsPlanned = (opt.load ? static_cast<int>(opt.sizes.size()) * 2 * opt.repeats : 0) *
                          static_cast<int>(opt.variants.size());
  note("janus-compare: %d CPU runs of ~%.0f s (%zu sizes x 2 scenarios x %zu servers x %d repeats), %s, %s; "
       "open files limit %ld; work folder %s",
       runsPlanned, opt.warmup + opt.seconds + 3, opt.sizes.size(), opt.variants.size(), opt.repeats,
       bigRun ? fmt("a large room of %.0f", opt.big).c_str() : "no large room",
       opt.latency ? "transit runs" : "no transit runs", r.fileLimit, ctx.workdir.c_str());

  int slot = 0;
  for (int n : opt.load ? opt.sizes : std::vector<int>{}) {
    for (int talking : {n, 1}) {
      for (int rep = 0; rep < opt.repeats; rep++, slot++) {
        std::vector<Variant> order = opt.variants;
        if (slot % 2) std::reverse(order.begin(), order.end());
        for (Variant v : order) runs.push_back(runLoad(ctx, v, n, talking, rep, opt.warmup, opt.seconds, false));
      }
    }
  }
  if (opt.latency) {
    for (int rep = 0; rep < opt.latencyRepeats; rep++, slot++) {
      std::vector<Variant> order = opt.variants;
      if (slot % 2) std::reverse(order.begin(), order.end());
      for (Variant v : order) latency.push_back(runLatency(ctx, v));
    }
  }
  if (bigRun)
    for (Variant v : opt.bigVariants)
      bigRuns.push_back(runLoad(ctx, v, opt.big, opt.bigTalking, 0, opt.bigWarmup, opt.bigSeconds, true));
}

void printCells(const Report& r) {
  const Options& opt = r.ctx.opt;
  const Context& ctx = r.ctx;
  const auto& runs = r.runs;
  const bool compare = r.compare;

  std::printf("janus-compare: roomcastd %s vs Janus AudioBridge %s, plain RTP on loopback\n",
              ctx.roomcastVersion.empty() ? "(not run)" : ctx.roomcastVersion.c_str(),
              ctx.janusVersion.empty() ? "(not run)" : ctx.janusVersion.c_str());
  std::printf("%s, %d CPUs (%s). Servers pinned to CPU %d, load generator to CPU %d.\n", r.gstVersion.c_str(), r.cpus,
              cpuModel().c_str(), opt.serverCpu, opt.generatorCpu);
  std::printf("Server CPU = utime+stime of its process over %.0f s after %.0f s warm-up, %% of one core; "
              "%d run(s) per cell (median).\n",
              opt.seconds, opt.warmup, opt.repeats);
  std::printf("Silent participants: server-muted, sending %s; every participant receives a mix. "
              "Send phases %s.\n",
              opt.silentSends ? "encoded silence at 50 packets/s" : "nothing",
              opt.spreadPhases ? "spread over each 20 ms" : "aligned");
  std::printf("rx = packets received per participant, %% of 50/s, mean/min.\n\n");
  if (!runs.empty()) {
    std::printf("   N  scenario              ");
    for (Variant v : opt.variants) std::printf("%10s", variantName(v));
    if (compare) std::printf("  rc/janus");
    for (Variant v : opt.variants) std::printf("  %14s", (std::string("rx ") + variantName(v)).c_str());
    std::printf("\n");
  }
  for (int n : runs.empty() ? std::vector<int>{} : opt.sizes) {
    for (int talking : {n, 1}) {
      char label[64];
      if (talking == n) std::snprintf(label, sizeof label, "all %d talking", n);
      else std::snprintf(label, sizeof label, "1 talking + %d muted", n - 1);
      std::printf("%4d  %-22s", n, label);
      std::map<Variant, Cell> cells;
      for (Variant v : opt.variants) {
        cells[v] = cellOf(runs, v, n, talking);
        std::printf("%10s", pct(cells[v].cpu, 10).c_str());
      }
      if (compare) std::printf("  %8s", ratio(cells[Variant::Roomcast].cpu, cells[Variant::Janus].cpu, 8).c_str());
      for (Variant v : opt.variants) std::printf("  %14s", rxText(cells[v].rxMean, cells[v].rxMin).c_str());
      std::printf("\n");
      for (Variant v : opt.variants) {
        std::string f = flags(cells[v]);
        if (!f.empty())
          std::printf("        %s:%s%s\n", variantName(v), f.c_str(),
                      cells[v].error.empty() ? "" : (" (" + cells[v].error + ")").c_str());
      }
    }
  }
  if (!runs.empty()) {
    std::printf("Server threads at N=%d (all talking):", opt.sizes.back());
    for (Variant v : opt.variants)
      std::printf(" %s %d", variantName(v), cellOf(runs, v, opt.sizes.back(), opt.sizes.back()).threads);
    std::printf("\n");
  }
}

// Marginal costs: slopes between consecutive sizes, headline = the two largest.
void computeSlopes(Report& r) {
  const Options& opt = r.ctx.opt;
  const auto& runs = r.runs;
  auto& slopes = r.slopes;
  for (size_t i = 0; !runs.empty() && i + 1 < opt.sizes.size(); i++) {
    Report::Slope s{opt.sizes[i], opt.sizes[i + 1], {}, {}};
    for (Variant v : opt.variants) {
      const double dn = s.to - s.from;
      s.talker[v] = (cellOf(runs, v, s.to, s.to).cpu - cellOf(runs, v, s.from, s.from).cpu) / dn;
      s.silent[v] = (cellOf(runs, v, s.to, 1).cpu - cellOf(runs, v, s.from, 1).cpu) / dn;
    }
    slopes.push_back(s);
  }
  // Talker over silent at one size: (all talking - 1 talking) / (N - 1).
  auto& talkerOverSilent = r.talkerOverSilent;
  for (int n : opt.sizes)
    for (Variant v : opt.variants)
      talkerOverSilent[n][v] = (cellOf(runs, v, n, n).cpu - cellOf(runs, v, n, 1).cpu) / (n - 1);
}

void printMarginal(const Report& r) {
  const Options& opt = r.ctx.opt;
  const auto& runs = r.runs;
  const bool compare = r.compare;
  if (!r.slopes.empty()) {
    std::printf("\nMarginal CPU per participant, %% of one core (slope of the median CPU over N):\n");
    std::printf("  %-26s", "");
    for (Variant v : opt.variants) std::printf("%10s", variantName(v));
    if (compare) std::printf("  rc/janus");
    std::printf("\n");
    for (const Report::Slope& s : r.slopes) {
      for (int kind = 0; kind < 2; kind++) {
        const auto& m = kind == 0 ? s.talker : s.silent;
        char label[64];
        std::snprintf(label, sizeof label, "per %s, N %d->%d", kind == 0 ? "talker" : "silent", s.from, s.to);
        std::printf("  %-26s", label);
        for (Variant v : opt.variants) std::printf("%10s", fmt("%.3f%%", m.at(v)).c_str());
        if (compare) std::printf("  %8s", ratio(m.at(Variant::Roomcast), m.at(Variant::Janus), 8).c_str());
        std::printf("\n");
      }
    }
    std::printf("  talker minus silent, (all - 1 talking)/(N-1):\n");
    for (int n : opt.sizes) {
      char label[64];
      std::snprintf(label, sizeof label, "  at N=%d", n);
      std::printf("  %-26s", label);
      for (Variant v : opt.variants) std::printf("%10s", fmt("%.3f%%", r.talkerOverSilent.at(n).at(v)).c_str());
      std::printf("\n");
    }
    const Report::Slope& h = r.slopes.back();
    if (compare) {
      const double t = safeRatio(h.talker.at(Variant::Roomcast), h.talker.at(Variant::Janus));
      const double s = safeRatio(h.silent.at(Variant::Roomcast), h.silent.at(Variant::Janus));
      std::printf("\nGoals (product owner), headline = slope N %d->%d:\n", h.from, h.to);
      std::printf("  roomcast per talker %s of Janus (goal <= 0.75x: %s), per silent speaker %s of Janus "
                  "(goal <= 0.10x: %s)\n",
                  fmt("%.2fx", t).c_str(), std::isfinite(t) ? (t <= 0.75 ? "met" : "NOT met") : "n/a",
                  fmt("%.2fx", s).c_str(), std::isfinite(s) ? (s <= 0.10 ? "met" : "NOT met") : "n/a");
    }
    // A slope through a cell where the server could not keep up understates its cost.
    for (int kind = 0; kind < 2; kind++)
      for (Variant v : opt.variants)
        for (int n : {h.from, h.to}) {
          const Cell c = cellOf(runs, v, n, kind == 0 ? n : 1);
          if (saturated(c.cpu, c.coreBusy) || (std::isfinite(c.rxMin) && c.rxMin < 97))
            std::printf("  CAUTION: the per-%s slope of %s uses N=%d, where it %s (%.0f%% of a core, rx min %.0f%%): "
                        "its real cost per %s is higher than shown.\n",
                        kind == 0 ? "talker" : "silent", variantName(v), n,
                        saturated(c.cpu, c.coreBusy) ? "saturated its core" : "dropped returns", c.cpu, c.rxMin,
                        kind == 0 ? "talker" : "silent speaker");
        }
  }
}

void printLargeRoom(const Report& r) {
  const Options& opt = r.ctx.opt;
  const auto& bigRuns = r.bigRuns;
  if (!bigRuns.empty()) {
    std::printf("\nLarge room: %d participants, %d talking, %d muted; %.0f s window after %.0f s warm-up\n", opt.big,
                opt.bigTalking, opt.big - opt.bigTalking, opt.bigSeconds, opt.bigWarmup);
    std::printf("  %-9s %7s %6s  %-13s %-13s %-13s %7s %7s %6s %7s %6s  %s\n", "server", "CPU", "core", "rx all",
                "rx talkers", "rx silent", "RSS MB", "threads", "fds", "join s", "gen", "keeps up");
    for (const LoadRun& r : bigRuns) {
      if (!r.ok) {
        std::printf("  %-9s failed: %s\n", variantName(r.variant), r.error.c_str());
        continue;
      }
      const bool keepsUp = r.rxPercentMin >= 97 && !saturated(r.serverCpuPercent, r.serverCoreBusyPercent);
      std::printf("  %-9s %7s %5.0f%%  %-13s %-13s %-13s %7.0f %7d %6d %7.1f %5.0f%%  %s\n", variantName(r.variant),
                  pct(r.serverCpuPercent).c_str(), r.serverCoreBusyPercent, rxText(r.rxPercentMean, r.rxPercentMin).c_str(),
                  rxText(r.rxTalkMean, r.rxTalkMin).c_str(), rxText(r.rxSilentMean, r.rxSilentMin).c_str(),
                  r.rssKb / 1024.0, r.threads, r.fds, r.startSeconds, r.generatorCpuPercent,
                  keepsUp ? "yes" : (r.rxPercentMin >= 97 ? "no (core saturated)" : "NO (returns missing)"));
      if (!r.joinPhases.empty()) std::printf("            join, summed over participants: %s\n", r.joinPhases.c_str());
      if (!r.stopError.empty()) std::printf("            on SIGTERM: %s\n", r.stopError.c_str());
      if (r.connectRetries)
        std::printf("            %d WebSocket connects were refused or reset during the join and tried again\n",
                    r.connectRetries);
      if (r.rxAbove105 || r.tsBackwards || r.tsRepeats || r.ssrcChanges)
        std::printf("            returns: %d participants got more than 105%% (max %.0f%%%s); RTP timestamps: %llu "
                    "backwards, %llu repeated; %llu SSRC changes\n",
                    r.rxAbove105, r.rxPercentMax,
                    std::isfinite(r.mediaRateOver105)
                        ? fmt(", their RTP time ran %.2fx the wall clock", r.mediaRateOver105).c_str()
                        : "",
                    static_cast<unsigned long long>(r.tsBackwards), static_cast<unsigned long long>(r.tsRepeats),
                    static_cast<unsigned long long>(r.ssrcChanges));
      if (r.socketDrops || r.lateSlots || r.sendErrors)
        std::printf("            generator: %llu packets dropped at our sockets, %llu send slots > 5 ms late (worst "
                    "%.1f ms), %llu send errors\n",
                    static_cast<unsigned long long>(r.socketDrops), static_cast<unsigned long long>(r.lateSlots),
                    r.worstLateMs, static_cast<unsigned long long>(r.sendErrors));
      if (r.wsUnexpectedCloses) std::printf("            %d WebSockets closed by the server\n", r.wsUnexpectedCloses);
      if (r.reoffers)
        std::printf("            %d media_error(s) from the server, answered with a new rtp-offer (%d in the window, "
                    "%d answered)\n",
                    r.reoffers, r.reoffersInWindow, r.reoffersAnswered);
    }
    std::printf("  (rx = mean/min %% of 50 packets/s; core = busy share of the server's CPU; gen = this process;\n"
                "   keeps up = every participant got >= 97%% and the server's core was not saturated)\n");
  }
}

// Transit: ticks pooled over the runs of each server.
void poolLatency(Report& r) {
  const Options& opt = r.ctx.opt;
  const auto& latency = r.latency;
  auto& pooled = r.pooled;
  auto& perRun = r.perRun;
  for (Variant v : opt.variants) {
    LatencyRun p;
    p.variant = v;
    for (const LatencyRun& l : latency) {
      if (l.variant != v) continue;
      p.sentTicks += l.sentTicks;
      p.matched += l.matched;
      p.markers += l.markers;
      p.ms.insert(p.ms.end(), l.ms.begin(), l.ms.end());
      if (!l.ok && p.error.empty()) p.error = l.error;
      perRun[v] += (perRun[v].empty() ? "" : ", ") + (l.ok ? fmt("%.1f", l.p50) : std::string("failed"));
    }
    summarise(p);
    pooled[v] = p;
  }
}

void printLatency(const Report& r) {
  const Options& opt = r.ctx.opt;
  const auto& latency = r.latency;
  const bool compare = r.compare;
  if (!latency.empty()) {
    std::printf("\nTransit latency, participant 0's ticks heard in participant 1's mix (%d participants, loopback),\n"
                "ms, ticks of %d run(s) per server pooled, each server with its defaults:\n",
                opt.latencyParticipants, opt.latencyRepeats);
    std::printf("  %-10s %8s %7s %7s %7s %7s %7s  %-6s  %s\n", "", "ticks", "p50", "p90", "p99", "min", "max", "goal",
                "p50 of each run");
    for (Variant v : opt.variants) {
      const LatencyRun& l = r.pooled.at(v);
      char ticks[32];
      std::snprintf(ticks, sizeof ticks, "%d/%d", l.matched, l.sentTicks);
      if (!l.ok) {
        std::printf("  %-10s %8s   failed: %s\n", variantName(v), ticks, l.error.c_str());
        continue;
      }
      std::printf("  %-10s %8s %7.1f %7.1f %7.1f %7.1f %7.1f  %-6s  %s\n", variantName(v), ticks, l.p50, l.p90, l.p99,
                  l.min, l.max, v == Variant::Janus ? "" : ((l.p50 <= 15 && l.p99 <= 30) ? "met" : "NOT"),
                  r.perRun.at(v).c_str());
    }
    std::printf("  (roomcast goal: p50 <= 15 ms and p99 <= 30 ms)\n");
    if (compare && r.pooled.at(Variant::Janus).ok && r.pooled.at(Variant::Roomcast).ok)
      std::printf("  roomcast/janus: p50 %.2fx, p99 %.2fx\n", r.pooled.at(Variant::Roomcast).p50 / r.pooled.at(Variant::Janus).p50,
                  r.pooled.at(Variant::Roomcast).p99 / r.pooled.at(Variant::Janus).p99);
  }
}

// Anything odd in the servers' logs or on the WebSockets.
void printLogs(const Report& r) {
  const auto& runs = r.runs;
  const auto& bigRuns = r.bigRuns;
  const auto& latency = r.latency;
  std::printf("\nServer logs:");
  for (Variant v : {Variant::Janus, Variant::Roomcast}) {
    int lines = 0, withWarnings = 0, total = 0;
    std::vector<std::string> samples;
    auto add = [&](const LogSummary& s) {
      total++;
      lines += s.warnings;
      if (s.warnings) withWarnings++;
      for (const auto& x : s.samples)
        if (samples.size() < 4 && std::find(samples.begin(), samples.end(), x) == samples.end()) samples.push_back(x);
    };
    for (const LoadRun& r : runs) if (r.variant == v) add(r.logSummary);
    for (const LoadRun& r : bigRuns) if (r.variant == v) add(r.logSummary);
    for (const LatencyRun& l : latency) if (l.variant == v) add(l.logSummary);
    if (!total) continue;
    std::printf("\n  %s: %d warning/error lines in %d of %d runs%s", variantName(v), lines, withWarnings, total,
                lines ? ", e.g.:" : "");
    for (const auto& s : samples) std::printf("\n    %s", s.c_str());
  }
  int wsCloses = 0, reoffers = 0, reoffersInWindow = 0, runsWithReoffers = 0, roomcastRuns = 0;
  for (const auto* list : {&runs, &bigRuns})
    for (const LoadRun& r : *list) {
      if (r.variant != Variant::Roomcast) continue;
      roomcastRuns++;
      wsCloses += r.wsUnexpectedCloses;
      reoffers += r.reoffers;
      reoffersInWindow += r.reoffersInWindow;
      if (r.reoffers) runsWithReoffers++;
    }
  if (r.wantRoomcast) {
    std::printf("\n  roomcast: %d WebSockets closed by the server during CPU runs", wsCloses);
    std::printf("\n  roomcast: %d media_error(s) after setup in %d of %d CPU runs (%d in a window), each answered with a "
                "new rtp-offer",
                reoffers, runsWithReoffers, roomcastRuns, reoffersInWindow);
  }
  std::printf("\n");
}

// How busy the rest of the machine was (it goes into the JSON too).
void printMachine(Report& r) {
  const auto& runs = r.runs;
  const auto& bigRuns = r.bigRuns;
  double otherSum = 0, stealSum = 0;
  int otherCount = 0;
  for (const auto* list : {&runs, &bigRuns})
    for (const LoadRun& r : *list)
      if (r.ok && std::isfinite(r.otherCpuPercent)) {
        otherSum += r.otherCpuPercent;
        stealSum += r.stealPercent;
        otherCount++;
      }
  r.otherMean = otherCount ? otherSum / otherCount : NAN;
  r.stealMean = otherCount ? stealSum / otherCount : NAN;
  const double otherMean = r.otherMean, stealMean = r.stealMean;
  std::printf("\nTotal %.0f s wall; load average before %s, after %s.\n", r.wallSeconds, r.loadBefore.c_str(), r.loadAfter.c_str());
  std::printf("Other processes used ~%.0f%% of a core on average during the windows, the hypervisor stole ~%.0f%% "
              "(tick-sampled /proc/stat)%s.\n",
              std::max(0.0, std::isfinite(otherMean) ? otherMean : 0.0), std::isfinite(stealMean) ? stealMean : 0.0,
              std::isfinite(otherMean) && otherMean + stealMean > 20 ? " (more than 20%: consider a rerun)" : "");
  std::printf("Absolute numbers drift by +-30%% between runs; quote the ratios.\n");
}

void jsonHeader(std::ostringstream& j, const Report& r) {
  const Options& opt = r.ctx.opt;
  const Context& ctx = r.ctx;
  j << "{\n  \"benchmark\": \"janus-compare\",\n  \"roomcast_version\": " << jsonString(ctx.roomcastVersion)
    << ",\n  \"janus_version\": " << jsonString(ctx.janusVersion) << ",\n  \"gstreamer\": " << jsonString(r.gstVersion)
    << ",\n  \"cpus\": " << r.cpus << ",\n  \"cpu_model\": " << jsonString(cpuModel())
    << ",\n  \"started_utc\": " << jsonString(r.started) << ",\n  \"total_wall_seconds\": " << jsonNumber(r.wallSeconds)
    << ",\n  \"load_average_before\": " << jsonString(r.loadBefore) << ",\n  \"load_average_after\": "
    << jsonString(r.loadAfter) << ",\n  \"other_processes_core_percent_mean\": " << jsonNumber(r.otherMean)
    << ",\n  \"steal_core_percent_mean\": " << jsonNumber(r.stealMean)
    << ",\n  \"open_files_limit\": " << r.fileLimit << ",\n  \"params\": {\"sizes\": [";
  for (size_t i = 0; i < opt.sizes.size(); i++) j << (i ? ", " : "") << opt.sizes[i];
  j << "], \"seconds\": " << jsonNumber(opt.seconds) << ", \"warmup\": " << jsonNumber(opt.warmup)
    << ", \"repeats\": " << opt.repeats << ", \"quick\": " << (opt.quick ? "true" : "false") << ", \"variants\": [";
  for (size_t i = 0; i < opt.variants.size(); i++) j << (i ? ", " : "") << jsonString(variantName(opt.variants[i]));
  j << "], \"server_cpu\": " << opt.serverCpu << ", \"generator_cpu\": " << opt.generatorCpu
    << ", \"silent_input\": " << jsonString(opt.silentSends ? "silence" : "none")
    << ", \"send_phase\": " << jsonString(opt.spreadPhases ? "spread" : "aligned")
    << ", \"large_room\": {\"participants\": " << opt.big << ", \"talking\": " << opt.bigTalking
    << ", \"seconds\": " << jsonNumber(opt.bigSeconds) << ", \"warmup\": " << jsonNumber(opt.bigWarmup) << "}"
    << ", \"latency_seconds\": " << jsonNumber(opt.latencySeconds) << ", \"latency_repeats\": " << opt.latencyRepeats
    << ", \"tick_interval_ms\": " << opt.tickIntervalMs << ", \"latency_participants\": " << opt.latencyParticipants
    << ", \"janus_room\": {\"sampling_rate\": 48000, \"prebuffer\": \"default (6 packets)\"}"
    << ", \"roomcastd_config\": " << jsonString(r.wantRoomcast ? readFile(ctx.roomcastConf) : "") << "}";
}

void jsonCells(std::ostringstream& j, const Report& r) {
  const Options& opt = r.ctx.opt;
  const auto& runs = r.runs;
  const bool compare = r.compare;
  j << ",\n  \"cells\": [";
  bool first = true;
  for (int n : runs.empty() ? std::vector<int>{} : opt.sizes)
    for (int talking : {n, 1})
      for (Variant v : opt.variants) {
        Cell c = cellOf(runs, v, n, talking);
        j << (first ? "\n    " : ",\n    ") << "{\"n\": " << n << ", \"talking\": " << talking
          << ", \"server\": " << jsonString(variantName(v)) << ", \"cpu_core_percent\": " << jsonNumber(c.cpu)
          << ", \"server_core_busy_percent\": " << jsonNumber(c.coreBusy)
          << ", \"rx_percent_mean\": " << jsonNumber(c.rxMean) << ", \"rx_percent_min\": " << jsonNumber(c.rxMin)
          << ", \"generator_cpu_core_percent\": " << jsonNumber(c.generator) << ", \"threads\": " << c.threads
          << ", \"runs\": " << c.runs << ", \"failed\": " << c.failed << ", \"ratio_to_janus\": "
          << jsonNumber(compare && v != Variant::Janus ? safeRatio(c.cpu, cellOf(runs, Variant::Janus, n, talking).cpu)
                                                       : NAN)
          << "}";
        first = false;
      }
}

void jsonMarginal(std::ostringstream& j, const Report& r) {
  const Options& opt = r.ctx.opt;
  const auto& runs = r.runs;
  const auto& bigRuns = r.bigRuns;
  const bool compare = r.compare;
  j << "\n  ],\n  \"marginal\": [";
  for (size_t i = 0; i < r.slopes.size(); i++) {
    const Report::Slope& s = r.slopes[i];
    j << (i ? ",\n    " : "\n    ") << "{\"from\": " << s.from << ", \"to\": " << s.to << ", \"per_talker\": {";
    for (size_t k = 0; k < opt.variants.size(); k++)
      j << (k ? ", " : "") << jsonString(variantName(opt.variants[k])) << ": " << jsonNumber(s.talker.at(opt.variants[k]));
    j << "}, \"per_silent\": {";
    for (size_t k = 0; k < opt.variants.size(); k++)
      j << (k ? ", " : "") << jsonString(variantName(opt.variants[k])) << ": " << jsonNumber(s.silent.at(opt.variants[k]));
    j << "}";
    if (compare)
      j << ", \"ratio_to_janus\": {\"per_talker\": "
        << jsonNumber(safeRatio(s.talker.at(Variant::Roomcast), s.talker.at(Variant::Janus)))
        << ", \"per_silent\": " << jsonNumber(safeRatio(s.silent.at(Variant::Roomcast), s.silent.at(Variant::Janus)))
        << "}";
    j << "}";
  }
  j << "\n  ],\n  \"talker_minus_silent\": [";
  for (size_t i = 0; !runs.empty() && i < opt.sizes.size(); i++) {
    int n = opt.sizes[i];
    j << (i ? ", " : "") << "{\"n\": " << n;
    for (Variant v : opt.variants) j << ", " << jsonString(variantName(v)) << ": " << jsonNumber(r.talkerOverSilent.at(n).at(v));
    j << "}";
  }
  j << "],\n  \"goals\": {\"per_talker_ratio_max\": 0.75, \"per_silent_ratio_max\": 0.1, \"transit_p50_ms_max\": 15, "
       "\"transit_p99_ms_max\": 30},\n  \"large_room\": [";
  for (size_t i = 0; i < bigRuns.size(); i++) j << (i ? ",\n    " : "\n    ") << jsonRun(bigRuns[i]);
}

void jsonLatency(std::ostringstream& j, const Report& r) {
  const Options& opt = r.ctx.opt;
  const auto& runs = r.runs;
  const auto& latency = r.latency;
  const bool compare = r.compare;
  j << "\n  ],\n  \"latency\": [";
  for (size_t i = 0; i < latency.size(); i++) {
    const LatencyRun& l = latency[i];
    j << (i ? ",\n    " : "\n    ") << "{\"server\": " << jsonString(variantName(l.variant))
      << ", \"ok\": " << (l.ok ? "true" : "false") << ", \"error\": " << jsonString(l.error)
      << ", \"ticks_sent\": " << l.sentTicks << ", \"ticks_matched\": " << l.matched
      << ", \"markers_matched\": " << l.markers << ", \"packets_sent\": " << l.sentPackets
      << ", \"packets_returned\": " << l.returnedPackets << ", \"p50_ms\": " << jsonNumber(l.p50)
      << ", \"p90_ms\": " << jsonNumber(l.p90) << ", \"p99_ms\": " << jsonNumber(l.p99)
      << ", \"min_ms\": " << jsonNumber(l.min) << ", \"max_ms\": " << jsonNumber(l.max)
      << ", \"mean_ms\": " << jsonNumber(l.mean) << ", \"log_warning_lines\": " << l.logSummary.warnings
      << ", \"mixer_ticks\": " << l.mixerTicks << ", \"mixer_underruns\": " << l.mixerUnderruns
      << ", \"mixer_realigned_samples\": " << l.mixerRealigned << ", \"samples_ms\": [";
    for (size_t k = 0; k < l.ms.size(); k++) j << (k ? ", " : "") << fmt("%.2f", l.ms[k]);
    j << "]}";
  }
  j << "\n  ],\n  \"latency_pooled\": [";
  bool first = true;
  for (Variant v : opt.variants) {
    if (latency.empty()) break;
    const LatencyRun& l = r.pooled.at(v);
    j << (first ? "\n    " : ",\n    ") << "{\"server\": " << jsonString(variantName(v)) << ", \"ticks_sent\": " << l.sentTicks
      << ", \"ticks_matched\": " << l.matched << ", \"p50_ms\": " << jsonNumber(l.p50) << ", \"p90_ms\": "
      << jsonNumber(l.p90) << ", \"p99_ms\": " << jsonNumber(l.p99) << ", \"min_ms\": " << jsonNumber(l.min)
      << ", \"max_ms\": " << jsonNumber(l.max) << ", \"mean_ms\": " << jsonNumber(l.mean) << ", \"ratio_to_janus_p50\": "
      << jsonNumber(compare && v != Variant::Janus ? safeRatio(l.p50, r.pooled.at(Variant::Janus).p50) : NAN)
      << ", \"ratio_to_janus_p99\": "
      << jsonNumber(compare && v != Variant::Janus ? safeRatio(l.p99, r.pooled.at(Variant::Janus).p99) : NAN) << "}";
    first = false;
  }
  j << "\n  ],\n  \"runs\": [";
  for (size_t i = 0; i < runs.size(); i++) j << (i ? ",\n    " : "\n    ") << jsonRun(runs[i]);
  j << "\n  ]\n}\n";
}

}  // namespace

int main(int argc, char** argv) {
  // Let roomcastd (a child) find mixminus when run by hand.
  if (!g_getenv("GST_PLUGIN_PATH")) g_setenv("GST_PLUGIN_PATH", ROOMCAST_PLUGIN_DIR, TRUE);
  gst_init(&argc, &argv);
  Context ctx;
  ctx.opt = parseOptions(argc, argv);
  const Options& opt = ctx.opt;
  Report r{ctx};
  r.started = utcNow();
  r.loadBefore = loadAverage();
  const double benchStart = monotonicSeconds();
  r.fileLimit = prepare(ctx);
  r.cpus = onlineCpus();
  r.wantRoomcast = wants(opt.variants, Variant::Roomcast) || (opt.big > 0 && wants(opt.bigVariants, Variant::Roomcast));
  r.compare = wants(opt.variants, Variant::Janus) && wants(opt.variants, Variant::Roomcast);
  g_autofree gchar* gstVersion = gst_version_string();
  r.gstVersion = gstVersion;

  runAll(ctx, r);
  r.wallSeconds = monotonicSeconds() - benchStart;
  r.loadAfter = loadAverage();

  computeSlopes(r);
  poolLatency(r);
  printCells(r);
  printMarginal(r);
  printLargeRoom(r);
  printLatency(r);
  printLogs(r);
  printMachine(r);

  std::ostringstream j;
  jsonHeader(j, r);
  jsonCells(j, r);
  jsonMarginal(j, r);
  jsonLatency(j, r);
  {
    std::ofstream f(opt.json);
    if (!f) die("cannot write " + opt.json);
    f << j.str();
  }
  note("results written to %s", opt.json.c_str());

  if (ctx.keepWorkdir && !opt.keepWorkdir) note("kept %s: a run failed or a server misbehaved (see its logs)", ctx.workdir.c_str());
  if (!opt.keepWorkdir && !ctx.keepWorkdir && opt.workdir.empty()) removeTree(ctx.workdir);
  bool anyFailed = false;
  for (const LoadRun& run : r.runs) anyFailed |= !run.ok;
  for (const LoadRun& run : r.bigRuns) anyFailed |= !run.ok;
  for (const LatencyRun& l : r.latency) anyFailed |= !l.ok;
  return anyFailed ? 2 : 0;
}
