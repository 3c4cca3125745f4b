// Did the live speaker's tone ever stop during the soak? The observer (`roomcast speak
// --out`) records what it hears and prints "heard N s" each time another second of audio has
// arrived; those lines, stamped with the wall clock as they arrive, map wall time to a place
// in the recording. The tone is then measured (Goertzel, src/audio/tone.h) in short windows
// over the soak's span of the recording.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace roomcast::bench::soak {

// "heard N s" at wall time `wall`.
struct HeardMark {
  double wall = 0;
  double seconds = 0;
};

struct ToneReport {
  double fromSeconds = 0, toSeconds = 0;  // the soak's span of the recording
  double spanWallSeconds = 0;             // the same span on the wall clock
  size_t windows = 0;
  double medianDb = 0, minDb = 0;
  double thresholdDb = 0;                 // median - drop
  size_t quietWindows = 0;                // windows below the threshold
  size_t gaps = 0;                        // runs of consecutive quiet windows
  double longestGapMs = 0;
  std::vector<std::pair<double, double>> firstGaps;  // [from, to) in recording seconds, at most 10
  // Delivery: the longest wall-clock time between two consecutive "heard" lines in the span
  // (1 s when audio flows steadily), and how far the recording fell behind the wall clock.
  double longestHeardIntervalSeconds = 0;
  double lagGrowthSeconds = 0;
  bool complete = false;  // the recording covers the whole span
};

// Recording offset (seconds) for a wall time, interpolated between the marks.
double recordingOffset(const std::vector<HeardMark>& marks, double wall);

// `mono` at `rate` Hz; windows of `windowSeconds`; a window is quiet when its tone power is
// more than `dropDb` below the span's median.
ToneReport analyseTone(const std::vector<float>& mono, int rate, double hz, const std::vector<HeardMark>& marks,
                       double wallFrom, double wallTo, double windowSeconds, double dropDb);

}  // namespace roomcast::bench::soak
