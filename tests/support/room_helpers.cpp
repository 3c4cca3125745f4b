#include "room_helpers.h"

#include <glib.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "audio/tone.h"
#include "audio/wav.h"
#include "ws_client.h"

namespace roomcast::testing {

std::string cli() { return buildPath("src/client/roomcast"); }

double nowSeconds() { return static_cast<double>(g_get_monotonic_time()) / G_USEC_PER_SEC; }

double synthesizeSpeech(const std::string& text, int times, const std::string& path) {
  const std::string once = path + ".once.wav";
  const auto r = run({"flite", "-t", text, "-o", once}, 30);
  audio::PcmAudio phrase;
  if (r.exitStatus != 0 || !audio::readWav(once, phrase)) return 0;
  audio::PcmAudio out;
  out.sampleRate = phrase.sampleRate;
  out.channels = phrase.channels;
  auto silence = [&](double seconds) {
    out.samples.insert(out.samples.end(), static_cast<size_t>(seconds * out.sampleRate) * out.channels, 0);
  };
  silence(1.0);
  for (int i = 0; i < times; i++) {
    out.samples.insert(out.samples.end(), phrase.samples.begin(), phrase.samples.end());
    silence(i + 1 < times ? 1.5 : 2.0);
  }
  return audio::writeWav(path, out) ? out.seconds() : 0;
}

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

namespace {

// Levels (power, A^2/2 for a sine of amplitude A) of `frequency` in ~`piece`-second Hann-
// windowed pieces of [from, to). Hann: a neighbouring test tone leaks nothing measurable.
std::vector<double> pieceLevels(const audio::PcmAudio& audio, double frequency, double from, double to,
                                double piece = 0.1) {
  auto mono = audio::toMonoFloat(audio);
  const size_t a = static_cast<size_t>(std::max(0.0, from) * audio.sampleRate);
  const size_t b = std::min(mono.size(), static_cast<size_t>(std::max(0.0, to) * audio.sampleRate));
  std::vector<double> levels;
  if (b < a + 480) return levels;
  const size_t count = std::max<size_t>(1, std::lround((b - a) / (piece * audio.sampleRate)));
  const size_t length = (b - a) / count;
  std::vector<float> window(length), windowed(length);
  double sum = 0;
  for (size_t i = 0; i < length; i++) sum += window[i] = 0.5f - 0.5f * std::cos(2 * M_PI * (i + 0.5) / length);
  for (size_t k = 0; k < count; k++) {
    for (size_t i = 0; i < length; i++) windowed[i] = mono[a + k * length + i] * window[i];
    // tonePower normalises by the piece's length; a window of weight `sum` needs sum instead.
    const double p = audio::tonePower(windowed.data(), length, audio.sampleRate, frequency);
    levels.push_back(p * static_cast<double>(length) * length / (sum * sum));
  }
  return levels;
}

}  // namespace

double meanToneDb(const audio::PcmAudio& audio, double frequency, double from, double to) {
  const auto levels = pieceLevels(audio, frequency, from, to);
  if (levels.empty()) return NAN;
  double sum = 0;
  for (double p : levels) sum += p;
  return 10 * std::log10(sum / levels.size() + 1e-20);
}

double fractionWithToneAbove(const audio::PcmAudio& audio, double frequency, double from, double to, double minDb) {
  const auto levels = pieceLevels(audio, frequency, from, to);
  if (levels.empty()) return 0;
  const double minPower = std::pow(10.0, minDb / 10);
  return static_cast<double>(std::count_if(levels.begin(), levels.end(), [&](double p) { return p > minPower; })) /
         levels.size();
}

double toneOnset(const audio::PcmAudio& audio, double frequency, double minDb, double from) {
  const auto mono = audio::toMonoFloat(audio);
  const size_t window = audio.sampleRate / 50;
  const double minPower = std::pow(10.0, minDb / 10);
  for (size_t a = static_cast<size_t>(std::max(0.0, from) * audio.sampleRate); a + window <= mono.size(); a += window)
    if (audio::tonePower(mono.data() + a, window, audio.sampleRate, frequency) > minPower)
      return static_cast<double>(a) / audio.sampleRate;
  return NAN;
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
