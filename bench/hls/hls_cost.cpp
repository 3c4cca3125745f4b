// bench-hls-cost: what one HLS listener costs per hour (requests and bytes: the battery and
// data-plan proxy), per rendition: main (index.m3u8), low (low.m3u8) and auto (master.m3u8).
//
// For each rendition one real listener (`roomcast listen --rendition R`, GStreamer's hlsdemux,
// decoding in real time) listens for --seconds while a speaker talks. Its HTTP goes through a
// logging proxy, which sees every request and every byte on the wire both ways, and
// roomcastd's /metrics is read before and after (the two must agree). The steady state (from
// 10 s after the first segment to the end) is extrapolated to one hour; the start-up (the
// session POST, the wait for a playable playlist, the first playlists and segments) is shown
// apart.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "children.h"
#include "logging_proxy.h"
#include "processes.h"

using namespace roomcast::bench;

namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string fileOf(const std::string& path) {
  const std::string p = path.substr(0, path.find('?'));
  return p.substr(p.rfind('/') + 1);
}

struct Counts {
  int playlists = 0, masters = 0, segments = 0, other = 0;
  double wireDown = 0, wireUp = 0, body = 0;
  int bursts = 0;  // requests grouped: one starts more than 200 ms after the previous one ended
  int total() const { return playlists + masters + segments + other; }
};

struct Run {
  std::string rendition;
  int exitStatus = -1;
  double listened = 0;         // seconds the client says it heard
  double steadySeconds = 0;    // the extrapolated span
  Counts startup, steady, all;
  int connections = 0;
  std::map<std::string, int> segmentKinds;  // "main", "low"
  double metricsPlaylists = 0, metricsSegments = 0, metricsBytes = 0;
  double proxyBodyAll = 0;
  int non2xx = 0;
  double playlistInterval = NAN;  // median time between playlist requests in the steady span
};

struct Options {
  double seconds = 60;
  std::vector<std::string> renditions{"main", "low", "auto"};
  std::string json = "bench-hls-cost.json";
  bool keep = false;
  int nice = 0;
};

Options parseOptions(int argc, char** argv) {
  Options o;
  parseFlags(argc, argv, "bench-hls-cost: one real HLS listener per rendition, requests and bytes per hour",
             {{"--seconds", "S", "listening time per rendition, at least 20 (default 60)", setNumber(o.seconds, 20, 1e6)},
              {"--renditions", "LIST", "main,low,auto (default all three)", setList(o.renditions)},
              {"--nice", "N", "nice value of this program and its children (default 0)", setInt(o.nice, -20, 19)},
              {"--json", "FILE", "results (default bench-hls-cost.json)", setText(o.json)},
              {"--keep", "", "keep the temporary folder", setSwitch(o.keep)}});
  setNice(o.nice);
  return o;
}

// A running room: both playlists hold a full window.
void waitForFullPlaylists(const std::string& hls) {
  for (const double deadline = monotonicSeconds() + 30; monotonicSeconds() < deadline; sleepFor(0.2)) {
    auto a = httpRequest("GET", hls + "index.m3u8");
    auto b = httpRequest("GET", hls + "low.m3u8");
    if (std::count(a.body.begin(), a.body.end(), '\n') >= 16 && std::count(b.body.begin(), b.body.end(), '\n') >= 16)
      return;
  }
}

// What a segment is made of (MPEG-TS, 188-byte packets).
struct Anatomy {
  std::string rendition, name;
  size_t bytes = 0, packets = 0, patPmt = 0, audio = 0, pesStarts = 0, audioPayload = 0, stuffing = 0;
  double duration = 0;
};

void countPackets(Anatomy& a, const std::string& segment) {
  for (size_t i = 0; i + 188 <= segment.size(); i += 188) {
    const auto* p = reinterpret_cast<const unsigned char*>(segment.data() + i);
    a.packets++;
    const int pid = ((p[1] & 0x1f) << 8) | p[2];
    const int afc = (p[3] >> 4) & 3;
    size_t header = 4;
    if (afc & 2) {
      header += 1 + p[4];
      a.stuffing += p[4];  // adaptation field (mostly stuffing; a PCR now and then)
    }
    if (pid == 0 || pid == 0x20 || pid == 0x1000) {
      a.patPmt++;
    } else {
      a.audio++;
      if (p[1] & 0x40) a.pesStarts++;
      if (afc & 1) a.audioPayload += 188 - std::min<size_t>(header, 188);
    }
  }
}

// The newest listed segment of a media playlist.
Anatomy newestSegment(const std::string& hls, const std::string& playlist) {
  auto pl = httpRequest("GET", hls + playlist);
  Anatomy a;
  a.rendition = playlist == "index.m3u8" ? "main" : "low";
  size_t at = 0;
  while (at < pl.body.size()) {
    size_t nl = pl.body.find('\n', at);
    if (nl == std::string::npos) nl = pl.body.size();
    const std::string line = pl.body.substr(at, nl - at);
    if (line.rfind("#EXTINF:", 0) == 0) a.duration = std::atof(line.c_str() + 8);
    else if (!line.empty() && line[0] != '#') a.name = line;
    at = nl + 1;
  }
  auto seg = httpRequest("GET", hls + a.name);
  a.bytes = seg.body.size();
  countPackets(a, seg.body);
  return a;
}

// Sorts what the proxy saw into start-up and steady span (from 10 s after the first segment).
void countRequests(Run& run, std::vector<LoggingProxy::Request> requests) {
  std::sort(requests.begin(), requests.end(), [](const auto& x, const auto& y) { return x.sentWall < y.sentWall; });
  double firstSegment = NAN, last = 0;
  for (const auto& r : requests) {
    if (std::isnan(firstSegment) && endsWith(fileOf(r.path), ".ts")) firstSegment = r.sentWall;
    last = std::max(last, r.doneWall);
  }
  const double steadyFrom = firstSegment + 10;
  run.steadySeconds = last - steadyFrom;
  double previousEnd = 0;
  std::vector<double> playlistTimes;
  for (const auto& r : requests) {
    const std::string file = fileOf(r.path);
    const bool steady = r.sentWall >= steadyFrom;
    Counts& c = steady ? run.steady : run.startup;
    for (Counts* x : {&c, &run.all}) {
      if (file == "master.m3u8") x->masters++;
      else if (endsWith(file, ".m3u8")) x->playlists++;
      else if (endsWith(file, ".ts")) x->segments++;
      else x->other++;
      x->wireUp += r.requestBytes;
      x->wireDown += r.headerBytes + r.bodyBytes;
      x->body += r.bodyBytes;
      if (r.sentWall - previousEnd > 0.2) x->bursts++;
    }
    previousEnd = std::max(previousEnd, r.doneWall);
    if (endsWith(file, ".ts")) run.segmentKinds[file.rfind("low", 0) == 0 ? "low" : "main"]++;
    if (steady && endsWith(file, ".m3u8") && file != "master.m3u8") playlistTimes.push_back(r.sentWall);
    if (r.path.rfind("/hls/", 0) == 0) run.proxyBodyAll += r.bodyBytes;
    if (r.status < 200 || r.status >= 300) run.non2xx++;
  }
  std::vector<double> gaps;
  for (size_t i = 1; i < playlistTimes.size(); i++) gaps.push_back(playlistTimes[i] - playlistTimes[i - 1]);
  run.playlistInterval = nearestRankPercentile(gaps, 0.5);
}

// One `roomcast listen` through a logging proxy, with /metrics read before and after.
Run listenOnce(Roomcastd& daemon, const std::string& cli, const std::string& room, const std::string& rendition,
               double seconds, const std::string& dir) {
  Run run;
  run.rendition = rendition;
  LoggingProxy proxy(daemon.hostPort());
  auto before = parseMetrics(httpRequest("GET", daemon.url() + "/metrics").body);
  fprintf(stderr, "hls-cost: %s, %.0f s\n", rendition.c_str(), seconds);
  const std::string log = dir + "/listen-" + rendition + ".log";
  Child listener({cli, "--server", proxy.url(), "listen", room, "--seconds", std::to_string(seconds), "--rendition",
                  rendition},
                 -1, log);
  run.exitStatus = listener.wait(seconds + 60);
  sleepFor(0.2);  // the proxy logs the last response
  auto after = parseMetrics(httpRequest("GET", daemon.url() + "/metrics").body);
  // The /metrics request itself is not HLS: the deltas are the listener's alone.
  run.metricsPlaylists = after["roomcast_hls_playlist_requests_total"] - before["roomcast_hls_playlist_requests_total"];
  run.metricsSegments = after["roomcast_hls_segment_requests_total"] - before["roomcast_hls_segment_requests_total"];
  run.metricsBytes = after["roomcast_hls_bytes_total"] - before["roomcast_hls_bytes_total"];
  const std::string said = readFile(log);
  if (const auto at = said.find("listened to "); at != std::string::npos) run.listened = std::atof(said.c_str() + at + 12);
  run.connections = proxy.connections();
  countRequests(run, proxy.requests());
  return run;
}

std::string segmentKinds(const Run& r) {
  std::string kinds;
  for (const auto& [kind, count] : r.segmentKinds) kinds += (kinds.empty() ? "" : "+") + kind;
  return kinds;
}

std::string runJson(const Run& r) {
  const double k = 3600 / r.steadySeconds;
  return strf(
      "{\"rendition\":%s,\"exit_status\":%d,\"listened_s\":%s,\"steady_s\":%s,\"segments_fetched\":%s,"
      "\"per_hour\":{\"requests\":%s,\"playlist_requests\":%s,\"segment_requests\":%s,\"fetch_bursts\":%s,"
      "\"body_mb\":%s,\"wire_down_mb\":%s,\"wire_up_mb\":%s},"
      "\"startup\":{\"requests\":%d,\"playlists\":%d,\"masters\":%d,\"segments\":%d,\"other\":%d,\"wire_down_bytes\":%s},"
      "\"whole_run\":{\"requests\":%d,\"wire_down_bytes\":%s,\"wire_up_bytes\":%s,\"body_bytes\":%s},"
      "\"connections\":%d,\"non2xx\":%d,\"playlist_interval_s\":%s,"
      "\"metrics_delta\":{\"playlist_requests\":%s,\"segment_requests\":%s,\"bytes\":%s},\"proxy_hls_body_bytes\":%s}",
      jsonString(r.rendition).c_str(), r.exitStatus, jsonNumber(r.listened).c_str(), jsonNumber(r.steadySeconds).c_str(),
      jsonString(segmentKinds(r)).c_str(), jsonNumber(r.steady.total() * k).c_str(),
      jsonNumber((r.steady.playlists + r.steady.masters) * k).c_str(), jsonNumber(r.steady.segments * k).c_str(),
      jsonNumber(r.steady.bursts * k).c_str(), jsonNumber(r.steady.body * k / 1e6).c_str(),
      jsonNumber(r.steady.wireDown * k / 1e6).c_str(), jsonNumber(r.steady.wireUp * k / 1e6).c_str(), r.startup.total(),
      r.startup.playlists, r.startup.masters, r.startup.segments, r.startup.other, jsonNumber(r.startup.wireDown).c_str(),
      r.all.total(), jsonNumber(r.all.wireDown).c_str(), jsonNumber(r.all.wireUp).c_str(), jsonNumber(r.all.body).c_str(),
      r.connections, r.non2xx, jsonNumber(r.playlistInterval).c_str(), jsonNumber(r.metricsPlaylists).c_str(),
      jsonNumber(r.metricsSegments).c_str(), jsonNumber(r.metricsBytes).c_str(), jsonNumber(r.proxyBodyAll).c_str());
}

std::string anatomyJson(const Anatomy& a) {
  return strf(
      "{\"rendition\":%s,\"segment\":%s,\"bytes\":%zu,\"duration_s\":%s,\"packets\":%zu,\"pat_pmt_packets\":%zu,"
      "\"audio_packets\":%zu,\"pes_starts\":%zu,\"audio_payload_bytes\":%zu,\"adaptation_bytes\":%zu}",
      jsonString(a.rendition).c_str(), jsonString(a.name).c_str(), a.bytes, jsonNumber(a.duration).c_str(), a.packets,
      a.patPmt, a.audio, a.pesStarts, a.audioPayload, a.stuffing);
}

void printRuns(const std::vector<Run>& runs, double seconds) {
  printf("hls-cost: one real HLS listener (roomcast listen, hlsdemux) per rendition, %.0f s each, while a speaker talks\n",
         seconds);
  printf("roomcast 0.1.0, GStreamer %s, %s, nice %d\n", gstVersion().c_str(), machineSummary().c_str(), niceValue());
  printf("Steady state (10 s after the first segment to the end), extrapolated to one hour:\n\n");
  printf("  %-9s %-8s %9s %9s %9s %8s %8s %8s %8s %8s %10s %6s\n", "rendition", "segments", "req/h", "playlist", "segment",
         "fetches", "MB/h", "MB/h", "MB/h", "kbit/s", "playlist", "conn");
  printf("  %-9s %-8s %9s %9s %9s %8s %8s %8s %8s %8s %10s %6s\n", "", "fetched", "total", "req/h", "req/h", "/h", "body",
         "down", "up", "down", "every", "/run");
  for (const auto& r : runs) {
    const double k = 3600 / r.steadySeconds;
    printf("  %-9s %-8s %9.0f %9.0f %9.0f %8.0f %8.2f %8.2f %8.2f %8.1f %8.2f s %6d\n", r.rendition.c_str(),
           segmentKinds(r).c_str(), r.steady.total() * k, (r.steady.playlists + r.steady.masters) * k,
           r.steady.segments * k, r.steady.bursts * k, r.steady.body * k / 1e6, r.steady.wireDown * k / 1e6,
           r.steady.wireUp * k / 1e6, r.steady.wireDown * 8 / r.steadySeconds / 1000, r.playlistInterval, r.connections);
  }
  printf("\n  req/h: every HTTP request; fetches/h: bursts of requests (one starts > 200 ms after the previous\n"
         "  ended), a proxy for radio wake-ups; MB/h body: HTTP bodies; down/up: bytes on the wire (headers\n"
         "  included, no TLS, no TCP/IP overhead); playlist every: median interval between playlist requests.\n\n");
  printf("Start-up (before the steady span) and cross-checks:\n");
  for (const auto& r : runs)
    printf("  %-5s listened %.1f s (exit %d); start-up %d requests (%d master, %d playlists, %d segments, %d other),"
           " %.1f kB down; whole run %d requests, %.1f kB down;\n"
           "        /metrics delta: %.0f playlist + %.0f segment requests, %.1f kB body (proxy saw %d + %d, %.1f kB of"
           " HLS bodies); non-2xx %d\n",
           r.rendition.c_str(), r.listened, r.exitStatus, r.startup.total(), r.startup.masters, r.startup.playlists,
           r.startup.segments, r.startup.other, r.startup.wireDown / 1e3, r.all.total(), r.all.wireDown / 1e3,
           r.metricsPlaylists, r.metricsSegments, r.metricsBytes / 1e3, r.all.playlists + r.all.masters, r.all.segments,
           r.proxyBodyAll / 1e3, r.non2xx);
}

void printAnatomy(const std::vector<Anatomy>& anatomy) {
  printf("\nWhat a segment is made of (the newest listed one of each playlist; MPEG-TS, 188-byte packets):\n");
  for (const auto& a : anatomy)
    printf("  %-4s %s: %zu bytes for %.3f s (%.0f kbit/s): %zu packets = %zu PAT/PMT (%zu bytes) + %zu audio"
           " (%zu PES starts, %zu payload bytes incl. PES/ADTS headers); adaptation fields/stuffing %zu bytes\n",
           a.rendition.c_str(), a.name.c_str(), a.bytes, a.duration, a.bytes * 8 / a.duration / 1000, a.packets,
           a.patPmt, a.patPmt * 188, a.audio, a.pesStarts, a.audioPayload, a.stuffing);
}

template <typename T>
std::string jsonArray(const std::vector<T>& items, std::string (*one)(const T&)) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + one(item);
  return "[" + out + "]";
}

void writeJson(const Options& o, const std::vector<Run>& runs, const std::vector<Anatomy>& anatomy) {
  writeJsonFile(o.json, strf("{\"benchmark\":\"hls-cost\",\"gstreamer\":%s,\"machine\":%s,\"nice\":%d,\"seconds\":%g,"
                             "\"runs\":%s,\"segments\":%s}\n",
                             jsonString(gstVersion()).c_str(), jsonString(machineSummary()).c_str(), niceValue(),
                             o.seconds, jsonArray(runs, runJson).c_str(), jsonArray(anatomy, anatomyJson).c_str()));
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parseOptions(argc, argv);
  const std::string dir = roomcast::testing::makeTempDir("roomcast-hls-cost");
  const std::string cli = roomcast::testing::buildPath("src/client/roomcast");
  Roomcastd daemon(dir + "/data");
  if (!daemon.ready()) {
    fprintf(stderr, "roomcastd did not start\n%s", daemon.log().c_str());
    return 1;
  }
  auto created = httpRequest("POST", daemon.url() + "/api/v1/rooms", R"({"title":"HLS cost bench"})");
  const std::string room = jsonMember(created.body, "id"), host = jsonMember(created.body, "host_token");
  const std::string hls = daemon.url() + "/hls/" + room + "/";
  Child speaker({cli, "--server", daemon.url(), "speak", room, "--token", host, "--tone", "440", "--seconds",
                 std::to_string(static_cast<int>(o.renditions.size() * (o.seconds + 60) + 60))},
                -1, dir + "/speaker.log");
  if (speaker.waitForLine("speaking", 30) < 0) {
    fprintf(stderr, "the speaker did not connect\n%s", readFile(dir + "/speaker.log").c_str());
    return 1;
  }
  waitForFullPlaylists(hls);
  const std::vector<Anatomy> anatomy{newestSegment(hls, "index.m3u8"), newestSegment(hls, "low.m3u8")};
  std::vector<Run> runs;
  for (const auto& rendition : o.renditions) runs.push_back(listenOnce(daemon, cli, room, rendition, o.seconds, dir));
  speaker.stop(10);

  printRuns(runs, o.seconds);
  printAnatomy(anatomy);
  writeJson(o, runs, anatomy);
  daemon.stop();
  if (!o.keep) removeTree(dir);
  return std::all_of(runs.begin(), runs.end(), [](const Run& r) { return r.exitStatus == 0; }) ? 0 : 1;
}
