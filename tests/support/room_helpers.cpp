#include "room_helpers.h"

#include <glib.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "audio/tone.h"
#include "ws_client.h"

namespace roomcast::testing {

std::string cli() { return buildPath("src/client/roomcast"); }

double nowSeconds() { return static_cast<double>(g_get_monotonic_time()) / G_USEC_PER_SEC; }

TestRoom createRoom(const Daemon& daemon, const std::string& title) {
  auto created = run({cli(), "--server", daemon.url(), "create", "--title", title}, 30);
  return {jsonString(created.stdoutText, "id"), jsonString(created.stdoutText, "host_token")};
}

std::string issueToken(const Daemon& daemon, const TestRoom& room, const char* role, const char* name) {
  auto r = http("POST", daemon.url() + "/api/v1/rooms/" + room.id + "/tokens",
                std::string(R"({"role":")") + role + R"(","name":")" + name + "\"}",
                {{"Authorization", "Bearer " + room.hostToken}});
  return r.status == 201 ? jsonString(r.body, "token") : "";
}

std::string wsUrl(const Daemon& daemon, const std::string& roomId) {
  return "ws://" + daemon.url().substr(7) + "/ws/" + roomId;
}

double toneDb(const audio::PcmAudio& audio, double frequency, double from, double to) {
  auto mono = audio::toMonoFloat(audio);
  const size_t a = static_cast<size_t>(std::max(0.0, from) * audio.sampleRate);
  const size_t b = std::min(mono.size(), static_cast<size_t>(std::max(0.0, to) * audio.sampleRate));
  if (b < a + 480) return NAN;
  const double p = audio::tonePower(mono.data() + a, b - a, audio.sampleRate, frequency);
  return 10 * std::log10(p + 1e-20);
}

long long metric(const Daemon& daemon, const std::string& name) {
  auto r = http("GET", daemon.url() + "/metrics");
  std::istringstream lines(r.body);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind(name + " ", 0) == 0) return std::stoll(line.substr(name.size() + 1));
  return -1;
}

}  // namespace roomcast::testing
