#include "audio/tone.h"

#include <algorithm>
#include <cmath>

namespace roomcast::audio {

std::vector<float> toMonoFloat(const PcmAudio& audio) {
  std::vector<float> out;
  if (audio.channels <= 0) return out;
  out.reserve(audio.samples.size() / audio.channels);
  for (size_t i = 0; i + audio.channels <= audio.samples.size(); i += audio.channels) {
    float sum = 0;
    for (int c = 0; c < audio.channels; c++) sum += audio.samples[i + c] / 32768.0f;
    out.push_back(sum / audio.channels);
  }
  return out;
}

double tonePower(const float* x, size_t n, int sampleRate, double frequency) {
  if (n == 0) return 0;
  const double w = 2 * M_PI * frequency / sampleRate;
  const double coeff = 2 * std::cos(w);
  double s1 = 0, s2 = 0;
  for (size_t i = 0; i < n; i++) {
    const double s0 = x[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;  // |X(f)|^2
  // A sine of amplitude A gives |X|^2 ≈ (A n / 2)^2; scale so it reads A^2 / 2 (its mean power).
  return 2 * power / (static_cast<double>(n) * n);
}

static double meanPower(const float* x, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += static_cast<double>(x[i]) * x[i];
  return n ? sum / n : 0;
}

double toneShare(const float* x, size_t n, int sampleRate, double frequency) {
  const double total = meanPower(x, n);
  if (total <= 1e-12) return 0;
  return std::min(1.0, tonePower(x, n, sampleRate, frequency) / total);
}

double rmsDbfs(const float* x, size_t n) {
  const double p = meanPower(x, n);
  return p > 0 ? 10 * std::log10(p) : -200;
}

double peakAbs(const float* x, size_t n) {
  double peak = 0;
  for (size_t i = 0; i < n; i++) peak = std::max(peak, static_cast<double>(std::fabs(x[i])));
  return peak;
}

double fractionOfWindowsWithTone(const std::vector<float>& mono, int sampleRate, double frequency, double window,
                                 double minShare, double minDbfs) {
  const size_t size = static_cast<size_t>(window * sampleRate);
  if (size == 0 || mono.size() < size) return 0;
  size_t windows = 0, hits = 0;
  for (size_t start = 0; start + size <= mono.size(); start += size) {
    windows++;
    const float* w = mono.data() + start;
    if (rmsDbfs(w, size) > minDbfs && toneShare(w, size, sampleRate, frequency) >= minShare) hits++;
  }
  return windows ? static_cast<double>(hits) / windows : 0;
}

}  // namespace roomcast::audio
