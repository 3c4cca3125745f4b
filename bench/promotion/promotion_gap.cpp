// bench-promotion-gap: how long from the host's "promote" to the new speaker being heard in
// another speaker's return, over real WebRTC clients (roomcast speak) and roomcastd.
//
// One host speaks 440 Hz the whole time and records its return. For each trial a listener
// joins with --raise-hand (pre-warmed, sending 660 Hz, not mixed), the bench POSTs the
// promotion over REST and notes the time, then demotes them (which ends that client). At the
// end the host's recording is analysed: the gap of each trial is the first 10 ms window after
// the promote request where 660 Hz is within 20 dB of its level while on stage.
//
// Prints a table, writes JSON (--json FILE). Options: --trials N (default 10).
#include <glib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "audio/tone.h"
#include "audio/wav.h"
#include "bench_util.h"
#include "processes.h"
#include "ws_client.h"

using namespace roomcast::testing;

namespace {

using roomcast::bench::percentile;

double now() { return roomcast::bench::monotonicSeconds(); }

double toneDb(const std::vector<float>& mono, double from, double to) {
  const size_t a = static_cast<size_t>(std::max(0.0, from) * 48000), b = std::min(mono.size(), size_t(to * 48000));
  if (b < a + 240) return -200;
  return 10 * std::log10(roomcast::audio::tonePower(mono.data() + a, b - a, 48000, 660) + 1e-20);
}

}  // namespace

int main(int argc, char** argv) {
  int trials = 10;
  std::string json = "bench-promotion-gap.json";
  roomcast::bench::parseFlags(
      argc, argv, "bench-promotion-gap: from the host's promote to the new speaker heard in another's return",
      {{"--trials", "N", "promotions timed (default 10)", roomcast::bench::setInt(trials, 1, 10000)},
       {"--json", "FILE", "results (default bench-promotion-gap.json)", roomcast::bench::setText(json)}});
  const std::string cli = buildPath("src/client/roomcast");
  Daemon daemon;
  if (!daemon.ready()) { fprintf(stderr, "roomcastd did not start\n%s", daemon.log().c_str()); return 1; }
  auto created = run({cli, "--server", daemon.url(), "create", "--title", "Promotion bench"}, 30);
  const std::string room = jsonString(created.stdoutText, "id"), host = jsonString(created.stdoutText, "host_token");
  const std::string wav = daemon.dataDir() + "/host.wav";
  Process speaker({cli, "--server", daemon.url(), "speak", room, "--token", host, "--tone", "440", "--seconds", "3600",
                   "--out", wav});
  if (!speaker.waitForOutput("speaking", 30)) { fprintf(stderr, "host did not connect\n"); return 1; }
  const double t0 = now();
  const std::string moderation = daemon.url() + "/api/v1/rooms/" + room + "/moderation";
  const std::vector<std::pair<std::string, std::string>> auth{{"Authorization", "Bearer " + host}};

  struct Trial { double promoteAt = 0, demoteAt = 0, requestMs = 0; };
  std::vector<Trial> done;
  for (int t = 0; t < trials; t++) {
    const std::string name = "hand" + std::to_string(t);
    Process hand({cli, "--server", daemon.url(), "speak", room, "--raise-hand", "--name", name, "--tone", "660",
                  "--seconds", "3600"});
    // Pre-warmed for a second of audio, then promoted; on stage for two seconds; demoted.
    if (!hand.waitForOutput("heard 1 s\n", 30)) { fprintf(stderr, "trial %d: no pre-warm\n", t); continue; }
    Trial trial;
    trial.promoteAt = now() - t0;
    auto r = http("POST", moderation, R"({"action":"promote","name":")" + name + "\"}", auth);
    trial.requestMs = (now() - t0 - trial.promoteAt) * 1000;
    if (r.status != 200) { fprintf(stderr, "trial %d: promote %d %s\n", t, r.status, r.body.c_str()); continue; }
    if (!hand.waitForOutput("heard 3 s\n", 30)) continue;
    trial.demoteAt = now() - t0;
    http("POST", moderation, R"({"action":"demote","name":")" + name + "\"}", auth);
    hand.wait(30);
    done.push_back(trial);
  }
  http("DELETE", daemon.url() + "/api/v1/rooms/" + room, {}, auth);
  speaker.wait(30);

  roomcast::audio::PcmAudio heard;
  if (!roomcast::audio::readWav(wav, heard)) { fprintf(stderr, "no host recording\n"); return 1; }
  auto mono = roomcast::audio::toMonoFloat(heard);
  std::vector<double> gaps;
  printf("%5s %12s %12s %10s\n", "trial", "request ms", "gap ms", "live dB");
  for (size_t i = 0; i < done.size(); i++) {
    const double live = toneDb(mono, done[i].promoteAt + 0.8, done[i].demoteAt);
    double gap = NAN;
    for (double t = done[i].promoteAt; t < done[i].promoteAt + 3; t += 0.01)
      if (toneDb(mono, t, t + 0.01) > live - 20) { gap = t - done[i].promoteAt; break; }
    printf("%5zu %12.1f %12.0f %10.1f\n", i, done[i].requestMs, gap * 1000, live);
    if (!std::isnan(gap)) gaps.push_back(gap * 1000);
  }
  const double p50 = percentile(gaps, 50), p90 = percentile(gaps, 90), mx = percentile(gaps, 100);
  printf("promotion gap over %zu trials: p50 %.0f ms, p90 %.0f ms, max %.0f ms (goal p50 <= 300 ms; the seed expects 1-3 s)\n",
         gaps.size(), p50, p90, mx);
  if (FILE* f = fopen(json.c_str(), "w")) {
    fprintf(f, "{\"benchmark\":\"promotion-gap\",\"trials\":%zu,\"p50_ms\":%.1f,\"p90_ms\":%.1f,\"max_ms\":%.1f,\"gaps_ms\":[",
            gaps.size(), p50, p90, mx);
    for (size_t i = 0; i < gaps.size(); i++) fprintf(f, "%s%.1f", i ? "," : "", gaps[i]);
    fprintf(f, "]}\n");
    fclose(f);
  }
  return gaps.size() == static_cast<size_t>(trials) ? 0 : 1;
}
