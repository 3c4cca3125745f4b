#include "audio/continuity.h"

#include <algorithm>
#include <cmath>

#include "audio/tone.h"

namespace roomcast::audio {

Continuity measureContinuity(const std::vector<float>& mono, int sampleRate, double from, double to, double quietDbfs,
                             double windowSeconds) {
  Continuity result;
  const size_t size = static_cast<size_t>(windowSeconds * sampleRate);
  if (size == 0) return result;
  const size_t begin = std::min(mono.size(), static_cast<size_t>(std::max(0.0, from) * sampleRate));
  const size_t end = to > 0 ? std::min(mono.size(), static_cast<size_t>(to * sampleRate)) : mono.size();
  std::vector<double> levels;
  for (size_t at = begin; at + size <= end; at += size) levels.push_back(rmsDbfs(&mono[at], size));

  auto loud = [quietDbfs](double level) { return level >= quietDbfs; };
  const auto first = std::find_if(levels.begin(), levels.end(), loud);
  if (first == levels.end()) return result;
  const auto last = std::find_if(levels.rbegin(), levels.rend(), loud).base();
  std::vector<double> span(first, last);

  std::vector<double> sorted = span;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  result.medianDbfs = sorted[sorted.size() / 2];
  result.windows = static_cast<int>(span.size());
  int continuous = 0, intact = 0;
  for (double level : span) {
    const double off = std::fabs(level - result.medianDbfs);
    continuous += off <= 6;
    intact += off <= 1;
    result.quiet += level < quietDbfs;
  }
  result.continuous = static_cast<double>(continuous) / span.size();
  result.intact = static_cast<double>(intact) / span.size();
  return result;
}

}  // namespace roomcast::audio
