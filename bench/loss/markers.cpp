#include "markers.h"

#include <algorithm>
#include <cmath>

#include "audio/tone.h"

namespace roomcast::bench::loss {

std::vector<float> makeSignal(const Signal& s) {
  std::vector<float> x(static_cast<size_t>(s.seconds() * kRate), 0.0f);
  const size_t ramp = kRate / 200;  // 5 ms raised-cosine edges: no click, a clean onset
  constexpr double kFull = 0.5, kLow = kFull / 16;  // -9 and -33.5 dBFS RMS
  std::vector<double> gain(x.size(), kLow);
  // Full level over [from, from + length), with raised-cosine edges: no click, a clean onset.
  auto full = [&](double from, double length) {
    const size_t s0 = static_cast<size_t>(from * kRate), n = static_cast<size_t>(length * kRate);
    for (size_t i = 0; i < n && s0 + i < x.size(); i++) {
      double g = 1;
      if (s0 > 0 && i < ramp) g = 0.5 - 0.5 * std::cos(M_PI * i / ramp);
      if (i >= n - ramp) g = 0.5 - 0.5 * std::cos(M_PI * (n - i) / ramp);
      gain[s0 + i] = kLow + (kFull - kLow) * g;
    }
  };
  full(0, s.steadySeconds);
  for (int k = 0; k < s.markers; k++) full(s.markerAt(k), 0.15);
  for (size_t i = 0; i < x.size(); i++) x[i] = static_cast<float>(gain[i] * std::sin(2 * M_PI * s.hz * i / kRate));
  return x;
}

std::pair<double, double> steadySpan(const std::vector<float>& mono) {
  const size_t w = kRate / 50;
  const size_t windows = mono.size() / w;
  size_t first = windows;
  for (size_t i = 0; i < windows; i++)
    if (audio::rmsDbfs(&mono[i * w], w) >= -30) {
      first = i;
      break;
    }
  if (first == windows) return {-1, -1};
  size_t quietRun = 0, end = windows;
  for (size_t i = first; i < windows; i++) {
    quietRun = audio::rmsDbfs(&mono[i * w], w) < -30 ? quietRun + 1 : 0;
    if (quietRun == 20) {
      end = i + 1 - quietRun;
      break;
    }
  }
  return {first * 0.02, end * 0.02};
}

std::vector<double> burstOnsets(const std::vector<float>& mono, double from) {
  const size_t block = kRate / 1000;
  std::vector<double> env(mono.size() / block);
  for (size_t b = 0; b < env.size(); b++) env[b] = audio::rmsDbfs(&mono[b * block], block);
  std::vector<double> out;
  size_t quiet = 0;
  for (size_t b = static_cast<size_t>(std::max(0.0, from) * 1000); b + 16 < env.size(); b++) {
    if (env[b] < -25) {
      quiet++;
      continue;
    }
    if (quiet >= 300) {
      const double peak = *std::max_element(env.begin() + b, env.begin() + b + 16);
      size_t onset = b;
      while (env[onset] < peak - 10) onset++;
      out.push_back(onset / 1000.0);
    }
    quiet = 0;
  }
  return out;
}

double HeardClock::timeOf(double streamSeconds) const {
  std::vector<double> zeros;
  for (const auto& [audioSeconds, at] : marks)
    if (std::fabs(audioSeconds - streamSeconds) <= 2) zeros.push_back(at - audioSeconds);
  if (zeros.empty()) return NAN;
  std::sort(zeros.begin(), zeros.end());
  return zeros[zeros.size() / 2] + streamSeconds;
}

}  // namespace roomcast::bench::loss
