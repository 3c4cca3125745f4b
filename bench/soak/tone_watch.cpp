#include "tone_watch.h"

#include <algorithm>
#include <cmath>

#include "audio/tone.h"

namespace roomcast::bench::soak {

double recordingOffset(const std::vector<HeardMark>& marks, double wall) {
  if (marks.empty()) return 0;
  if (wall <= marks.front().wall) return std::max(0.0, marks.front().seconds - (marks.front().wall - wall));
  for (size_t i = 1; i < marks.size(); i++) {
    const HeardMark& a = marks[i - 1];
    const HeardMark& b = marks[i];
    if (wall > b.wall) continue;
    const double f = b.wall > a.wall ? (wall - a.wall) / (b.wall - a.wall) : 1.0;
    return a.seconds + f * (b.seconds - a.seconds);
  }
  return marks.back().seconds + (wall - marks.back().wall);
}

ToneReport analyseTone(const std::vector<float>& mono, int rate, double hz, const std::vector<HeardMark>& marks,
                       double wallFrom, double wallTo, double windowSeconds, double dropDb) {
  ToneReport r;
  r.fromSeconds = recordingOffset(marks, wallFrom);
  r.toSeconds = recordingOffset(marks, wallTo);
  r.spanWallSeconds = wallTo - wallFrom;
  const double recorded = static_cast<double>(mono.size()) / rate;
  // The span ends just before the room is deleted; the last few hundred ms may not have been
  // decoded by then (jitter buffers), so up to one "heard" interval may be missing.
  r.complete = r.toSeconds <= recorded + 1.0;
  r.toSeconds = std::min(r.toSeconds, recorded);

  const size_t window = static_cast<size_t>(windowSeconds * rate);
  std::vector<double> levels;
  for (size_t at = static_cast<size_t>(r.fromSeconds * rate); window && at + window <= static_cast<size_t>(r.toSeconds * rate);
       at += window)
    levels.push_back(10 * std::log10(audio::tonePower(mono.data() + at, window, rate, hz) + 1e-20));
  r.windows = levels.size();
  if (!levels.empty()) {
    std::vector<double> sorted = levels;
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    r.medianDb = sorted[sorted.size() / 2];
    r.minDb = *std::min_element(levels.begin(), levels.end());
    r.thresholdDb = r.medianDb - dropDb;
    size_t run = 0;
    for (size_t i = 0; i <= levels.size(); i++) {
      const bool quiet = i < levels.size() && levels[i] < r.thresholdDb;
      if (quiet) {
        r.quietWindows++;
        run++;
        continue;
      }
      if (run == 0) continue;
      r.gaps++;
      r.longestGapMs = std::max(r.longestGapMs, run * windowSeconds * 1000);
      if (r.firstGaps.size() < 10) {
        const double start = r.fromSeconds + (i - run) * windowSeconds;
        r.firstGaps.emplace_back(start, start + run * windowSeconds);
      }
      run = 0;
    }
  }

  // Delivery, from the marks inside the span.
  const HeardMark* first = nullptr;
  const HeardMark* previous = nullptr;
  for (const HeardMark& m : marks) {
    if (m.wall < wallFrom || m.wall > wallTo) continue;
    if (!first) first = &m;
    if (previous) r.longestHeardIntervalSeconds = std::max(r.longestHeardIntervalSeconds, m.wall - previous->wall);
    r.lagGrowthSeconds = (m.wall - first->wall) - (m.seconds - first->seconds);
    previous = &m;
  }
  // The stretches before the first and after the last mark count too (a stall at the end).
  if (previous) r.longestHeardIntervalSeconds = std::max(r.longestHeardIntervalSeconds, wallTo - previous->wall);
  if (first) r.longestHeardIntervalSeconds = std::max(r.longestHeardIntervalSeconds, first->wall - wallFrom);
  else r.longestHeardIntervalSeconds = wallTo - wallFrom;  // nothing arrived in the whole span
  return r;
}

}  // namespace roomcast::bench::soak
