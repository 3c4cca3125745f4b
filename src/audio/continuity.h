// How continuous a steady signal arrived (a tone sent over a lossy link): the measure the loss
// tests and bench/loss share, so their figures mean the same thing.
//
// The recording is cut into 20 ms windows; the span runs from the first to the last loud window
// (louder than `quietDbfs`). Inside it, a window is continuous when its level is within 6 dB of
// the span's median level, and "intact" when within 1 dB. A lost packet that was concealed
// shows as a dip or a bump; one that was not, as a quiet window.
#pragma once

#include <vector>

namespace roomcast::audio {

struct Continuity {
  int windows = 0;              // in the span
  double continuous = 0;        // share of windows within 6 dB of the median, 0..1
  double intact = 0;            // share within 1 dB
  int quiet = 0;                // windows below quietDbfs
  double medianDbfs = -200;
};

// `mono`: float samples in [-1, 1]. `from`/`to` (seconds) limit the analysis, e.g. to skip the
// time a speaker took to connect; to = 0 means the end.
Continuity measureContinuity(const std::vector<float>& mono, int sampleRate, double from = 0, double to = 0,
                             double quietDbfs = -30, double windowSeconds = 0.02);

}  // namespace roomcast::audio
