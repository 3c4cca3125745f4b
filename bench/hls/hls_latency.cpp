// bench-hls-latency: glass-to-glass latency from a WebRTC speaker to HLS players. The speaker
// sends tone bursts named by their frequency; players running `roomcast listen`'s pipeline
// stamp what they render; a reference participant checks the send-time estimate; a logging
// proxy places each burst in its segment, splitting speaker -> mixer from mixer -> played.
// The details are "What it measures" in this benchmark's newest bench/results/ file.

#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "audio/tone.h"  // tonePower (Goertzel)
#include "audio/wav.h"
#include "children.h"
#include "logging_proxy.h"
#include "processes.h"

using namespace roomcast::bench;
namespace audio = roomcast::audio;

namespace {

constexpr int kRate = 48000;
constexpr int kFrequencies = 12;
double markerFrequency(int i) { return 600.0 + 200.0 * (i % kFrequencies); }

struct Options {
  int markers = 30;
  double spacing = 1.5;    // seconds between marker onsets
  double burst = 0.15;     // seconds
  double lead = 4.0;       // silence before the first marker (ICE + DTLS take about a second)
  int players = 5;         // per rendition, started at staggered times
  std::vector<std::string> renditions{"main", "low", "auto"};
  std::string anchor = "welcome";
  int segmentMs = 0;       // roomcastd's [hls] segment_ms; 0: its default
  std::string json = "bench-hls-latency.json";
  bool keep = false;
};

// ---- Markers

std::vector<float> makeMarkers(const Options& o, std::vector<double>& offsets) {
  const double total = o.lead + o.markers * o.spacing + 2.0;
  std::vector<float> x(static_cast<size_t>(total * kRate), 0.0f);
  const size_t ramp = kRate / 200;  // 5 ms raised-cosine edges: no click, a clean onset
  for (int k = 0; k < o.markers; k++) {
    const double start = o.lead + k * o.spacing;
    offsets.push_back(start);
    const size_t s0 = static_cast<size_t>(start * kRate), n = static_cast<size_t>(o.burst * kRate);
    for (size_t i = 0; i < n && s0 + i < x.size(); i++) {
      double g = 1;
      if (i < ramp) g = 0.5 - 0.5 * std::cos(M_PI * i / ramp);
      if (i >= n - ramp) g = 0.5 - 0.5 * std::cos(M_PI * (n - i) / ramp);
      x[s0 + i] = static_cast<float>(0.5 * g * std::sin(2 * M_PI * markerFrequency(k) * i / kRate));
    }
  }
  return x;
}

struct Burst {
  double onset;   // seconds into the stream
  int frequency;  // index 0..11
  double share;   // energy share of that frequency
};

// Bursts in a 48 kHz stream. The 1 ms RMS envelope crosses -35 dBFS; the onset is the first
// millisecond within 10 dB of the envelope's peak over the next 15 ms. (Through Opus, a
// burst's first ~8 ms come out at full level and then, for some frequencies, the level dips by
// up to 25 dB for tens of milliseconds before it builds up again: a threshold relative to the
// burst's later plateau would wander with the frequency. The first attack is the same for
// all markers.) The burst must average at least -30 dBFS over 150 ms; its frequency is the
// strongest of the 12 over 20..140 ms after the onset.
std::vector<Burst> detectBursts(const std::vector<float>& x) {
  const size_t block = kRate / 1000;
  std::vector<double> env(x.size() / block), power(x.size() / block);
  for (size_t b = 0; b < env.size(); b++) {
    double sum = 0;
    for (size_t i = 0; i < block; i++) sum += double(x[b * block + i]) * x[b * block + i];
    power[b] = sum / block;
    env[b] = 10 * std::log10(power[b] + 1e-20);
  }
  std::vector<Burst> out;
  for (size_t b = 10; b + 160 < env.size(); b++) {
    if (env[b] < -35) continue;
    const double peak = *std::max_element(env.begin() + b, env.begin() + b + 16);
    size_t onset = b;
    for (size_t j = b - 10; j <= b + 15; j++)
      if (env[j] >= peak - 10) {
        onset = j;
        break;
      }
    double mean = 0;
    for (size_t j = onset; j < onset + 150; j++) mean += power[j];
    mean = 10 * std::log10(mean / 150 + 1e-20);
    if (mean < -30) {
      b += 5;
      continue;
    }
    const size_t s = (onset + 20) * block, n = 120 * block;
    double best = -1, total = 0;
    int which = 0;
    for (size_t i = 0; i < n; i++) total += double(x[s + i]) * x[s + i];
    total /= n;
    for (int f = 0; f < kFrequencies; f++) {
      const double p = audio::tonePower(x.data() + s, n, kRate, markerFrequency(f));
      if (p > best) best = p, which = f;
    }
    out.push_back({onset / 1000.0, which, total > 0 ? best / total : 0});
    b = onset + 400;  // markers are at least 1 s apart
  }
  return out;
}

// ---- An HLS player: roomcast listen's pipeline, every rendered buffer stamped with the wall clock.

struct Player {
  std::string name, rendition, url;
  std::unique_ptr<LoggingProxy> proxy;
  GstElement* pipeline = nullptr;
  std::mutex mutex;
  std::vector<float> samples;
  std::vector<std::pair<size_t, double>> renders;  // (first sample, wall time when rendered)
  double startWall = 0;
  std::string error;
};

GstFlowReturn onSample(GstAppSink* sink, gpointer data) {
  const double now = realtimeSeconds();  // sync=true: the sink hands the buffer over at its running time
  auto* p = static_cast<Player*>(data);
  GstSample* sample = gst_app_sink_pull_sample(sink);
  if (!sample) return GST_FLOW_EOS;
  GstBuffer* buffer = gst_sample_get_buffer(sample);
  GstMapInfo map;
  if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    const auto* s = reinterpret_cast<const int16_t*>(map.data);
    std::lock_guard<std::mutex> lock(p->mutex);
    p->renders.emplace_back(p->samples.size(), now);
    for (size_t i = 0; i < map.size / 2; i++) p->samples.push_back(s[i] / 32768.0f);
    gst_buffer_unmap(buffer, &map);
  }
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

bool startPlayer(Player& p) {
  GError* error = nullptr;
  // The same description as src/client/listen.cpp.
  p.pipeline = gst_parse_launch(
      "uridecodebin name=source ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=1"
      " ! appsink name=heard sync=true",
      &error);
  if (!p.pipeline) {
    p.error = error ? error->message : "no pipeline";
    g_clear_error(&error);
    return false;
  }
  GstElement* source = gst_bin_get_by_name(GST_BIN(p.pipeline), "source");
  g_object_set(source, "uri", p.url.c_str(), nullptr);
  gst_object_unref(source);
  GstElement* sink = gst_bin_get_by_name(GST_BIN(p.pipeline), "heard");
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = onSample;
  gst_app_sink_set_callbacks(GST_APP_SINK(sink), &callbacks, &p, nullptr);
  gst_object_unref(sink);
  p.startWall = realtimeSeconds();
  return gst_element_set_state(p.pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE;
}

void pollBus(Player& p) {
  GstBus* bus = gst_element_get_bus(p.pipeline);
  while (GstMessage* m = gst_bus_pop(bus)) {
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR && p.error.empty()) {
      GError* e = nullptr;
      gst_message_parse_error(m, &e, nullptr);
      p.error = e->message;
      g_error_free(e);
    }
    gst_message_unref(m);
  }
  gst_object_unref(bus);
}

double renderedSeconds(Player& p) {
  std::lock_guard<std::mutex> lock(p.mutex);
  return p.samples.size() / double(kRate);
}

// Wall time at which sample `s` was rendered.
double wallAt(const Player& p, size_t s) {
  auto it = std::upper_bound(p.renders.begin(), p.renders.end(), s,
                             [](size_t v, const std::pair<size_t, double>& r) { return v < r.first; });
  if (it == p.renders.begin()) return NAN;
  --it;
  return it->second + double(s - it->first) / kRate;
}

// ---- Playlists as the player saw them (from the proxy): segment name → (PDT, duration).

struct SegmentInfo {
  double pdt = NAN, duration = 0;
  long sequence = -1;
};

double parseIso(const std::string& s) {
  int Y, M, D, h, m;
  double sec;
  if (sscanf(s.c_str(), "%d-%d-%dT%d:%d:%lf", &Y, &M, &D, &h, &m, &sec) != 6) return NAN;
  tm t{};
  t.tm_year = Y - 1900;
  t.tm_mon = M - 1;
  t.tm_mday = D;
  t.tm_hour = h;
  t.tm_min = m;
  return double(timegm(&t)) + sec;
}

struct ParsedPlaylist {
  long mediaSequence = 0;
  std::vector<std::pair<std::string, SegmentInfo>> segments;
};

ParsedPlaylist parsePlaylist(const std::string& text) {
  ParsedPlaylist out;
  std::istringstream in(text);
  std::string line;
  SegmentInfo next;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("#EXT-X-MEDIA-SEQUENCE:", 0) == 0) out.mediaSequence = std::atol(line.c_str() + 22);
    else if (line.rfind("#EXT-X-PROGRAM-DATE-TIME:", 0) == 0) next.pdt = parseIso(line.substr(25));
    else if (line.rfind("#EXTINF:", 0) == 0) next.duration = std::strtod(line.c_str() + 8, nullptr);
    else if (!line.empty() && line[0] != '#') {
      next.sequence = out.mediaSequence + long(out.segments.size());
      out.segments.emplace_back(line, next);
      next = SegmentInfo{};
    }
  }
  return out;
}

std::string baseName(const std::string& path) {
  std::string p = path.substr(0, path.find('?'));
  return p.substr(p.rfind('/') + 1);
}

struct Result {
  std::string player, rendition;
  int marker;
  double latency;      // played − sent (estimated)
  double model;        // the same player started 3 target durations (3 s) behind the playlist's end
  double viaPdt;       // mixer time from PROGRAM-DATE-TIME − sent; NAN if not placed
  std::string segment;
};

struct PlayerSummary {
  std::string name, rendition, variant, error;
  int startDistance = -1;      // segments between the first one fetched and the end of the playlist it came from
  int listed = 0;              // segments in that playlist
  double startBehindEdge = NAN;  // seconds of listed audio from the first fetched segment to the end
  double firstFetchAfterStart = NAN;
  int stalls = 0;              // render gaps > 50 ms
  double renderSpread = NAN;   // max |render time − (first + samples/48k)| in ms
  int requests = 0, playlists = 0, segments = 0, gaps = 0;
  int detected = 0, matched = 0;
  double edgeAgeMin = NAN, edgeAgeP50 = NAN;  // playlist response time − end of its newest segment (PDT + EXTINF)
};

Options parseOptions(int argc, char** argv) {
  Options o;
  int nice = 0;
  parseFlags(argc, argv, "bench-hls-latency: glass to glass from a WebRTC speaker to HLS players",
             {{"--markers", "N", "marker bursts (default 30)", setInt(o.markers, 1, 1 << 20)},
              {"--spacing", "S", "seconds between marker onsets, at least 1.25 (default 1.5)",
               setNumber(o.spacing, 15.0 / kFrequencies, 1e6)},
              {"--players", "K", "players per rendition, started at staggered times (default 5)", setInt(o.players, 1, 1000)},
              {"--renditions", "LIST", "main,low,auto (default all three)", setList(o.renditions)},
              {"--anchor", "welcome|connected", "the speaker's stdout line that dates the bursts (default welcome)", setText(o.anchor)},
              {"--segment-ms", "MS", "roomcastd's [hls] segment_ms (default: its own)", setInt(o.segmentMs, 0, 1 << 20)},
              {"--nice", "N", "nice value of this program and its children (default 0)", setInt(nice, -20, 19)},
              {"--json", "FILE", "results (default bench-hls-latency.json)", setText(o.json)},
              {"--keep", "", "keep the temporary folder", setSwitch(o.keep)}});
  setNice(nice);
  return o;
}

struct Room {
  std::string id, host, refToken;
};

Room createRoom(const Roomcastd& daemon) {
  auto created = httpRequest("POST", daemon.url() + "/api/v1/rooms", R"({"title":"HLS latency bench"})");
  const std::string room = jsonMember(created.body, "id"), host = jsonMember(created.body, "host_token");
  auto issued = httpRequest("POST", daemon.url() + "/api/v1/rooms/" + room + "/tokens",
                            R"({"role":"speaker","name":"Reference"})", host);
  const std::string refToken = jsonMember(issued.body, "token");
  if (room.empty() || refToken.empty()) {
    fprintf(stderr, "cannot create the room or the reference's token: %s %s\n", created.body.c_str(),
            issued.body.c_str());
    std::exit(1);
  }

  return {room, host, refToken};
}

// The marker file, and where the detector finds each marker's onset in it.
struct MarkerFile {
  std::string path;
  std::vector<double> offsets;  // detected onsets in the file: same detector as on the way out
  double seconds = 0;
};

MarkerFile writeMarkerFile(const Options& o, const std::string& dir) {
  std::vector<double> designed;
  const std::vector<float> markers = makeMarkers(o, designed);
  audio::PcmAudio wav;
  for (float v : markers) wav.samples.push_back(static_cast<int16_t>(std::lround(v * 32767)));
  const std::string markerWav = dir + "/markers.wav";
  audio::writeWav(markerWav, wav);
  const std::vector<Burst> sourceBursts = detectBursts(markers);
  if (static_cast<int>(sourceBursts.size()) != o.markers) {
    fprintf(stderr, "the detector finds %zu of %d markers in the source file\n", sourceBursts.size(), o.markers);
    std::exit(1);
  }
  std::vector<double> offsets;
  for (const auto& b : sourceBursts) offsets.push_back(b.onset);
  const double fileSeconds = markers.size() / double(kRate);

  return {markerWav, offsets, fileSeconds};
}

// Listeners join a room that is already running: wait until both media playlists hold a full
// window (6 segments), as `roomcast listen` waits for a playable playlist.
bool waitForFullPlaylists(const Roomcastd& daemon, const std::string& room) {
  {
    const double deadline = monotonicSeconds() + 30;
    bool full = false;
    while (!full && monotonicSeconds() < deadline) {
      full = true;
      for (const char* pl : {"index.m3u8", "low.m3u8"}) {
        auto r = httpRequest("GET", daemon.url() + "/hls/" + room + "/" + pl);
        full = full && r.status == 200 && parsePlaylist(r.body).segments.size() >= 6;
      }
      if (!full) sleepFor(0.2);
    }
    if (!full) fprintf(stderr, "the room's playlists did not fill within 30 s\n");
    return full;
  }

}

std::vector<std::unique_ptr<Player>> startPlayers(const Options& o, const Roomcastd& daemon, const std::string& room) {
  // The players. Where a live player ends up behind the speaker depends on when it starts
  // within the segment clock (it starts at a segment boundary of a playlist that is 0..1 s
  // old), so the players of one rendition start at K phases spread over one segment duration;
  // the renditions' k-th players start together, so the renditions see the same phases.
  std::vector<std::unique_ptr<Player>> players;
  for (int k = 0; k < o.players; k++) {
    if (k) sleepFor(1.0 / o.players);
    for (const auto& r : o.renditions) {
      auto p = std::make_unique<Player>();
      p->rendition = r;
      p->name = r + "#" + std::to_string(k + 1);
      p->proxy = std::make_unique<LoggingProxy>(daemon.hostPort());
      auto listen = httpRequest("POST", daemon.url() + "/api/v1/rooms/" + room + "/listen", "{}");
      const std::string session = jsonMember(listen.body, "session");
      const std::string playlist = r == "main" ? "index.m3u8" : r == "low" ? "low.m3u8" : "master.m3u8";
      p->url = p->proxy->url() + "/hls/" + room + "/" + playlist + "?session=" + session;
      if (!startPlayer(*p)) fprintf(stderr, "player %s: %s\n", p->name.c_str(), p->error.c_str());
      players.push_back(std::move(p));
    }
  }
  {
    const double deadline = monotonicSeconds() + 30;
    while (monotonicSeconds() < deadline) {
      bool all = true;
      for (auto& p : players) {
        pollBus(*p);
        all = all && renderedSeconds(*p) >= 1.0;
      }
      if (all) break;
      sleepFor(0.05);
    }
  }

  return players;
}

// What the two WebRTC participants printed, stamped on arrival.
struct Speakers {
  bool ok = false;
  double connected = -1;  // the marker speaker's "connected" line
  std::vector<Child::Line> speakerLines, referenceLines;
};

// The reference participant and the marker speaker, while the players play.
Speakers runSpeakers(const std::string& dir, const Roomcastd& daemon, const Room& rm, const MarkerFile& mf,
                     std::vector<std::unique_ptr<Player>>& players) {
  const std::string cli = roomcast::testing::buildPath("src/client/roomcast");
  const std::string &room = rm.id, &host = rm.host, &refToken = rm.refToken, &markerWav = mf.path;
  const double fileSeconds = mf.seconds;
  Speakers out;
  // The reference participant: on stage, a -60 dBFS 150 Hz tone (not one of the markers'),
  // recording the room's return. It stops by itself (it writes its recording only then), a
  // few seconds after the marker file ends.
  const std::string refWav = dir + "/reference.wav";
  Child reference({cli, "--server", daemon.url(), "speak", room, "--token", refToken, "--tone", "150", "--volume",
                   "0.001", "--seconds", std::to_string(int(std::ceil(fileSeconds + 6))), "--out", refWav},
                  -1, dir + "/reference.log");
  if (reference.waitForLine("speaking", 30) < 0) {
    fprintf(stderr, "the reference participant did not connect\n%s", readFile(dir + "/reference.log").c_str());
    return out;
  }

  // The marker speaker.
  Child speaker({cli, "--server", daemon.url(), "speak", room, "--token", host, "--file", markerWav, "--seconds",
                 std::to_string(int(std::ceil(fileSeconds)))},
                -1, dir + "/speaker.log");
  const double tConnected = speaker.waitForLine("connected", 30);
  if (tConnected < 0) {
    fprintf(stderr, "the marker speaker did not connect\n%s", readFile(dir + "/speaker.log").c_str());
    return out;
  }
  {
    const double deadline = monotonicSeconds() + fileSeconds + 40;
    while (speaker.running() && monotonicSeconds() < deadline) {
      for (auto& p : players) pollBus(*p);
      sleepFor(0.05);
    }
    speaker.stop(10);
  }
  // Long enough for the last marker to come out of HLS (or for the 18 s matching window).
  {
    const double until = monotonicSeconds() + 14;
    while (monotonicSeconds() < until) {
      for (auto& p : players) pollBus(*p);
      sleepFor(0.05);
    }
  }
  for (auto& p : players) {
    pollBus(*p);
    gst_element_set_state(p->pipeline, GST_STATE_NULL);
  }
  reference.wait(20);  // killed at the deadline (then there is no reference recording)

  out.ok = true;
  out.connected = tConnected;
  out.speakerLines = speaker.lines();
  out.referenceLines = reference.lines();
  return out;
}

// The marker a burst heard at `heardWall` was: its frequency, sent at most maxLatency before.
int matchMarker(const Options& o, const std::vector<double>& sent, const Burst& b, double heardWall, double maxLatency) {
  int best = -1;
  for (int k = 0; k < o.markers; k++) {
    if (k % kFrequencies != b.frequency) continue;
    const double d = heardWall - sent[k];
    if (d > -1.0 && d < maxLatency) best = k;  // at most one candidate in 18 s
  }
  return best;
}

// The send-time check: when the reference participant heard each marker.
struct ReferenceCheck {
  std::vector<double> delay;  // reference heard − estimated send, per marker
  std::vector<int> markers;
  double fitResidualMs = NAN, slope = NAN;
};

ReferenceCheck checkReference(const Options& o, const std::string& refWav, const std::vector<Child::Line>& lines,
                              const std::vector<double>& sent) {
  ReferenceCheck c;
  std::vector<double>& refDelay = c.delay;
  std::vector<int>& refMarkers = c.markers;
  double& refFitResidualMs = c.fitResidualMs;
  double& refSlope = c.slope;
  // The reference: its recording's sample n*48000 was heard when it printed "heard n s".
  audio::PcmAudio refAudio;
  if (audio::readWav(refWav, refAudio)) {
    std::vector<std::pair<double, double>> points;  // (sample, wall)
    for (const auto& l : lines) {
      unsigned long n = 0;
      if (sscanf(l.text.c_str(), "heard %lu s", &n) == 1) points.emplace_back(double(n) * kRate, l.wall);
    }
    if (points.size() >= 2) {
      double sx = 0, sy = 0, sxx = 0, sxy = 0;
      const double y0 = points[0].second;
      for (auto [x, y] : points) sx += x, sy += y - y0, sxx += x * x, sxy += x * (y - y0);
      const double n = points.size();
      const double b = (n * sxy - sx * sy) / (n * sxx - sx * sx), a = (sy - b * sx) / n + y0;
      refSlope = b * kRate;
      double worst = 0;
      for (auto [x, y] : points) worst = std::max(worst, std::fabs(y - (a + b * x)));
      refFitResidualMs = worst * 1000;
      std::vector<float> mono;
      for (auto s : refAudio.samples) mono.push_back(s / 32768.0f);
      for (const auto& burst : detectBursts(mono)) {
        const double heard = a + b * burst.onset * kRate;
        const int k = matchMarker(o, sent, burst, heard, 3.0);
        if (k >= 0) {
          refDelay.push_back(heard - sent[k]);
          refMarkers.push_back(k);
        }
      }
    }
  }

  return c;
}

// Where a player started, how it played, and the latency of every marker it played.
PlayerSummary summarisePlayer(const Options& o, Player& player, const std::vector<double>& sent,
                              std::vector<Result>& results) {
  Player* p = &player;
  PlayerSummary s;
  s.name = p->name;
  s.rendition = p->rendition;
  s.error = p->error;
  const auto requests = p->proxy->requests();
  s.requests = static_cast<int>(requests.size());
  // Segment name → info, from every playlist the player received.
  std::map<std::string, SegmentInfo> info;
  const LoggingProxy::Request* lastPlaylist = nullptr;
  std::vector<std::string> fetched;
  bool first = true;
  std::vector<double> edgeAges;
  for (const auto& r : requests) {
    const std::string name = baseName(r.path);
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".m3u8") == 0) {
      s.playlists++;
      if (name == "master.m3u8") continue;
      const ParsedPlaylist pl = parsePlaylist(r.body);
      for (const auto& [seg, si] : pl.segments) info[seg] = si;
      if (!pl.segments.empty() && std::isfinite(pl.segments.back().second.pdt))
        edgeAges.push_back(r.firstByteWall - pl.segments.back().second.pdt - pl.segments.back().second.duration);
      lastPlaylist = &r;
      continue;
    }
    s.segments++;
    fetched.push_back(name);
    if (first) {
      first = false;
      s.variant = name.rfind("low", 0) == 0 ? "low" : "main";
      s.firstFetchAfterStart = r.sentWall - p->startWall;
      if (lastPlaylist) {
        const ParsedPlaylist pl = parsePlaylist(lastPlaylist->body);
        s.listed = static_cast<int>(pl.segments.size());
        for (size_t i = 0; i < pl.segments.size(); i++)
          if (pl.segments[i].first == name) {
            s.startDistance = static_cast<int>(pl.segments.size() - i);
            double behind = 0;
            for (size_t j = i; j < pl.segments.size(); j++) behind += pl.segments[j].second.duration;
            s.startBehindEdge = behind;
          }
      }
    } else if (s.variant != (name.rfind("low", 0) == 0 ? "low" : "main")) {
      s.variant += "+switch";
    }
  }
  s.edgeAgeMin = nearestRankPercentile(edgeAges, 0);
  s.edgeAgeP50 = nearestRankPercentile(edgeAges, 0.5);
  // Sequence gaps in what was fetched (a skipped segment breaks the PDT placement below).
  for (size_t i = 1; i < fetched.size(); i++)
    if (info.count(fetched[i]) && info.count(fetched[i - 1]) &&
        info[fetched[i]].sequence != info[fetched[i - 1]].sequence + 1)
      s.gaps++;
  // Rendering: real time, or stalls?
  {
    std::lock_guard<std::mutex> lock(p->mutex);
    double worst = 0;
    for (size_t i = 0; i < p->renders.size(); i++) {
      const double expect = p->renders[0].second + double(p->renders[i].first) / kRate;
      worst = std::max(worst, std::fabs(p->renders[i].second - expect));
      if (i && p->renders[i].second - p->renders[i - 1].second >
                   double(p->renders[i].first - p->renders[i - 1].first) / kRate + 0.05)
        s.stalls++;
    }
    s.renderSpread = worst * 1000;
  }
  // Segment start sample in the decoded stream, from the EXTINF durations of what was fetched.
  std::vector<std::pair<double, std::string>> segmentStarts;  // (seconds into the stream, name)
  double position = 0;
  for (const auto& name : fetched) {
    segmentStarts.emplace_back(position, name);
    position += info.count(name) ? info[name].duration : 1.0;
  }
  for (const auto& burst : detectBursts(p->samples)) {
    s.detected++;
    const double played = wallAt(*p, static_cast<size_t>(burst.onset * kRate));
    const int k = matchMarker(o, sent, burst, played, 18.0);
    if (k < 0) continue;
    s.matched++;
    Result r{p->name, p->rendition, k, played - sent[k], played - sent[k] - s.startBehindEdge + 3.0, NAN, ""};
    auto it = std::upper_bound(segmentStarts.begin(), segmentStarts.end(), burst.onset,
                               [](double v, const std::pair<double, std::string>& e) { return v < e.first; });
    if (it != segmentStarts.begin() && s.gaps == 0) {
      --it;
      r.segment = it->second;
      if (info.count(it->second) && std::isfinite(info[it->second].pdt))
        r.viaPdt = info[it->second].pdt + (burst.onset - it->first) - sent[k];
    }
    results.push_back(r);
  }
  return s;
}

void printPlayers(const Options& o, const ReferenceCheck& ref, const std::vector<PlayerSummary>& summaries) {
  const auto& refDelay = ref.delay;
  const double refSlope = ref.slope, refFitResidualMs = ref.fitResidualMs;
  printf("hls-latency: speaker (roomcast speak, WebRTC) -> roomcastd -> HLS -> player (hlsdemux, real time)\n");
  printf("roomcast 0.1.0, GStreamer %s, %s, nice %d\n", gstVersion().c_str(), machineSummary().c_str(), niceValue());
  printf("%d markers every %.2f s (150 ms tone bursts, 12 frequencies), %d player(s) per rendition; "
         "send time = speaker's \"%s\" line + marker offset\n\n",
         o.markers, o.spacing, o.players, o.anchor.c_str());
  printf("Send-time check: the reference WebRTC participant heard the markers %s after the estimated send\n",
         refDelay.empty() ? "(no data)" : "");
  if (!refDelay.empty())
    printf("  %zu markers: min %.0f ms, p50 %.0f ms, max %.0f ms (its clock fit: slope %.5f, worst residual %.1f ms)\n",
           refDelay.size(), nearestRankPercentile(refDelay, 0) * 1000, nearestRankPercentile(refDelay, 0.5) * 1000,
           nearestRankPercentile(refDelay, 1) * 1000, refSlope, refFitResidualMs);
  printf("\nPlayers: where hlsdemux started, and whether it played in real time\n");
  printf("  %-8s %-11s %9s %12s %14s %14s %7s %11s %6s %9s %8s\n", "player", "variant", "start", "behind edge",
         "1st segment at", "edge age min", "stalls", "render dev", "gaps", "requests", "markers");
  for (const auto& s : summaries)
    printf("  %-8s %-11s %5d/%-3d %10.2f s %12.2f s %12.2f s %7d %8.1f ms %6d %9d %4d/%-3d%s%s\n", s.name.c_str(),
           s.variant.c_str(), s.listed - s.startDistance + 1, s.listed, s.startBehindEdge, s.firstFetchAfterStart,
           s.edgeAgeMin, s.stalls, s.renderSpread, s.gaps, s.requests, s.matched, o.markers, s.error.empty() ? "" : "  error: ",
           s.error.c_str());
  printf("  start: position of the first fetched segment in the playlist it came from (1-based); behind edge:\n"
         "  listed audio from there to the playlist's end; edge age min: over all its playlist responses, the\n"
         "  shortest time between the end of the newest listed segment (PDT + EXTINF) and the response (how\n"
         "  soon a closed segment is published); render dev: worst |render time - (first + samples/48 kHz)|;\n"
         "  stalls: render gaps over 50 ms; gaps: skipped media sequence numbers.\n");

}

// The latency table per rendition; returns the renditions' JSON and the p50 of all markers.
std::string printLatency(const Options& o, const std::vector<PlayerSummary>& summaries,
                         const std::vector<Result>& results, double* p50Out, size_t* markersOut) {
  printf("\nGlass-to-glass latency, s (played - sent), markers of all players of a rendition pooled:\n");
  printf("  %-9s %8s %7s %7s %7s %7s %24s %12s %14s\n", "rendition", "markers", "p50", "p90", "max", "min",
         "p50 per player", "spk->mixer", "3-TD p50/max");
  std::string jsonRenditions;
  for (const auto& r : o.renditions) {
    std::vector<double> v, pdtSpeaker, model;
    std::string perPlayer;
    for (const auto& s : summaries) {
      if (s.rendition != r) continue;
      std::vector<double> mine;
      for (const auto& x : results)
        if (x.player == s.name) mine.push_back(x.latency);
      char buf[32];
      snprintf(buf, sizeof buf, "%s%.2f", perPlayer.empty() ? "" : " ", nearestRankPercentile(mine, 0.5));
      perPlayer += buf;
    }
    for (const auto& x : results)
      if (x.rendition == r) {
        v.push_back(x.latency);
        if (std::isfinite(x.model)) model.push_back(x.model);
        if (std::isfinite(x.viaPdt)) pdtSpeaker.push_back(x.viaPdt);
      }
    printf("  %-9s %8zu %7.2f %7.2f %7.2f %7.2f %24s %10.2f s %7.2f/%.2f\n", r.c_str(), v.size(), nearestRankPercentile(v, 0.5),
           nearestRankPercentile(v, 0.9), nearestRankPercentile(v, 1), nearestRankPercentile(v, 0), perPlayer.c_str(), nearestRankPercentile(pdtSpeaker, 0.5),
           nearestRankPercentile(model, 0.5), nearestRankPercentile(model, 1));
    jsonRenditions += std::string(jsonRenditions.empty() ? "" : ",") + "{\"rendition\":" + jsonString(r) +
                      ",\"markers\":" + std::to_string(v.size()) + ",\"p50_s\":" + jsonNumber(nearestRankPercentile(v, 0.5)) +
                      ",\"p90_s\":" + jsonNumber(nearestRankPercentile(v, 0.9)) + ",\"max_s\":" + jsonNumber(nearestRankPercentile(v, 1)) +
                      ",\"min_s\":" + jsonNumber(nearestRankPercentile(v, 0)) +
                      ",\"speaker_to_mixer_via_pdt_p50_s\":" + jsonNumber(nearestRankPercentile(pdtSpeaker, 0.5)) +
                      ",\"three_target_durations_p50_s\":" + jsonNumber(nearestRankPercentile(model, 0.5)) +
                      ",\"three_target_durations_p90_s\":" + jsonNumber(nearestRankPercentile(model, 0.9)) +
                      ",\"three_target_durations_max_s\":" + jsonNumber(nearestRankPercentile(model, 1)) + "}";
  }
  std::vector<double> all;
  for (const auto& x : results) all.push_back(x.latency);
  const double p50 = nearestRankPercentile(all, 0.5);
  *p50Out = p50;
  *markersOut = all.size();
  printf("  %-9s %8zu %7.2f %7.2f %7.2f %7.2f\n", "all", all.size(), p50, nearestRankPercentile(all, 0.9), nearestRankPercentile(all, 1),
         nearestRankPercentile(all, 0));
  printf("\nGoal: p50 <= 4 s: %s (the seed expects 5-10 s)\n", p50 <= 4.0 ? "met" : "NOT met");
  printf("spk->mixer: p50 of (the segment's EXT-X-PROGRAM-DATE-TIME + the marker's offset in it - send time):\n"
         "  the speaker -> mixer part as roomcastd's PDT tells it (the rest is mixer -> played).\n"
         "3-TD: the same markers for a player that starts 3 target durations (3.0 s) behind the end of the\n"
         "  playlist, as hls.js does by default: latency - behind edge + 3.0 s (a model, not a measurement).\n");

  return jsonRenditions;
}

void writeJson(const Options& o, const ReferenceCheck& ref, const std::string& jsonRenditions, double p50,
               const std::vector<PlayerSummary>& summaries, const std::vector<Result>& results) {
  const auto& refDelay = ref.delay;
  const auto& refMarkers = ref.markers;
  const double refFitResidualMs = ref.fitResidualMs;
  if (FILE* f = fopen(o.json.c_str(), "w")) {
    fprintf(f, "{\"benchmark\":\"hls-latency\",\"gstreamer\":%s,\"machine\":%s,\"nice\":%d,\"markers\":%d,\"spacing_s\":%g,",
            jsonString(gstVersion()).c_str(), jsonString(machineSummary()).c_str(), niceValue(), o.markers, o.spacing);
    fprintf(f, "\"segment_ms\":%d,\"players_per_rendition\":%d,\"anchor\":%s,\"p50_s\":%s,\"goal_p50_s\":4,\"goal_met\":%s,",
            o.segmentMs, o.players, jsonString(o.anchor).c_str(), jsonNumber(p50).c_str(), p50 <= 4.0 ? "true" : "false");
    fprintf(f, "\"reference_delay_s\":{\"n\":%zu,\"min\":%s,\"p50\":%s,\"max\":%s,\"fit_residual_ms\":%s},",
            refDelay.size(), jsonNumber(nearestRankPercentile(refDelay, 0)).c_str(), jsonNumber(nearestRankPercentile(refDelay, 0.5)).c_str(),
            jsonNumber(nearestRankPercentile(refDelay, 1)).c_str(), jsonNumber(refFitResidualMs).c_str());
    fprintf(f, "\"reference\":[");
    for (size_t i = 0; i < refDelay.size(); i++)
      fprintf(f, "%s{\"marker\":%d,\"delay_s\":%s}", i ? "," : "", refMarkers[i], jsonNumber(refDelay[i]).c_str());
    fprintf(f, "],\"renditions\":[%s],\"players\":[", jsonRenditions.c_str());
    for (size_t i = 0; i < summaries.size(); i++) {
      const auto& s = summaries[i];
      fprintf(f,
              "%s{\"name\":%s,\"rendition\":%s,\"variant\":%s,\"start_index\":%d,\"listed\":%d,"
              "\"start_behind_edge_s\":%s,\"first_segment_after_s\":%s,\"stalls\":%d,\"render_deviation_ms\":%s,"
              "\"gaps\":%d,\"requests\":%d,\"matched\":%d,\"edge_age_min_s\":%s,\"edge_age_p50_s\":%s,\"error\":%s}",
              i ? "," : "", jsonString(s.name).c_str(), jsonString(s.rendition).c_str(), jsonString(s.variant).c_str(),
              s.listed - s.startDistance + 1, s.listed, jsonNumber(s.startBehindEdge).c_str(),
              jsonNumber(s.firstFetchAfterStart).c_str(), s.stalls, jsonNumber(s.renderSpread).c_str(), s.gaps,
              s.requests, s.matched, jsonNumber(s.edgeAgeMin).c_str(), jsonNumber(s.edgeAgeP50).c_str(),
              jsonString(s.error).c_str());
    }
    fprintf(f, "],\"results\":[");
    for (size_t i = 0; i < results.size(); i++)
      fprintf(f, "%s{\"player\":%s,\"marker\":%d,\"latency_s\":%s,\"speaker_to_mixer_via_pdt_s\":%s,\"segment\":%s}",
              i ? "," : "", jsonString(results[i].player).c_str(), results[i].marker,
              jsonNumber(results[i].latency).c_str(), jsonNumber(results[i].viaPdt).c_str(),
              jsonString(results[i].segment).c_str());
    fprintf(f, "]}\n");
    fclose(f);
    fprintf(stderr, "hls-latency: JSON in %s\n", o.json.c_str());
  }

}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  const Options o = parseOptions(argc, argv);
  const std::string dir = roomcast::testing::makeTempDir("roomcast-hls-latency");
  fprintf(stderr, "hls-latency: work dir %s\n", dir.c_str());
  std::vector<std::string> daemonArgs;
  if (o.segmentMs > 0) {
    writeFile(dir + "/roomcast.conf", "[hls]\nsegment_ms = " + std::to_string(o.segmentMs) + "\n");
    daemonArgs = {"--config", dir + "/roomcast.conf"};
  }
  Roomcastd daemon(dir + "/data", daemonArgs);
  if (!daemon.ready()) {
    fprintf(stderr, "roomcastd did not start\n%s", daemon.log().c_str());
    return 1;
  }
  const Room room = createRoom(daemon);
  const MarkerFile markers = writeMarkerFile(o, dir);
  if (!waitForFullPlaylists(daemon, room.id)) return 1;
  auto players = startPlayers(o, daemon, room.id);
  const Speakers speakers = runSpeakers(dir, daemon, room, markers, players);
  if (!speakers.ok) return 1;

  // When the markers left the speaker.
  double tWelcome = -1;
  for (const auto& l : speakers.speakerLines)
    if (l.text.find("\"type\":\"welcome\"") != std::string::npos) {
      tWelcome = l.wall;
      break;
    }
  const double anchor = o.anchor == "connected" ? speakers.connected : tWelcome;
  if (anchor < 0) {
    fprintf(stderr, "no %s line from the speaker\n", o.anchor.c_str());
    return 1;
  }
  std::vector<double> sent;
  for (double off : markers.offsets) sent.push_back(anchor + off);

  const ReferenceCheck ref = checkReference(o, dir + "/reference.wav", speakers.referenceLines, sent);
  std::vector<Result> results;
  std::vector<PlayerSummary> summaries;
  for (auto& p : players) summaries.push_back(summarisePlayer(o, *p, sent, results));

  printPlayers(o, ref, summaries);
  double p50 = NAN;
  size_t matched = 0;
  const std::string jsonRenditions = printLatency(o, summaries, results, &p50, &matched);
  writeJson(o, ref, jsonRenditions, p50, summaries, results);

  for (auto& p : players) gst_object_unref(p->pipeline);
  daemon.stop();
  if (!o.keep) {
    std::string cmd = "rm -rf '" + dir + "'";
    (void)!system(cmd.c_str());
  }
  return matched >= 20 ? 0 : 1;
}
