// What bench-loss's speakers send and how it is read back.
//
// Each speaker sends a WAV (roomcast speak --file): a steady tone for `steadySeconds` (the part
// whose continuity is measured), then the same tone 24 dB lower (-33.5 dBFS, "quiet" to the
// continuity measure) with `markers` bursts back at full level, 150 ms long, one a second
// (their onsets time the transit). Never silence: with silence the Opus encoders' DTX stops
// sending, the receiver's sample count stops following the clock, and "heard N s" (which
// places the bursts in time) would drift.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace roomcast::bench::loss {

constexpr int kRate = 48000;

struct Signal {
  double hz = 440;
  double steadySeconds = 12;
  int markers = 4;
  double markerAt(int k) const { return steadySeconds + 1.0 + k; }  // seconds into the file
  double seconds() const { return markerAt(markers) + 1.0; }
};

std::vector<float> makeSignal(const Signal& s);

// The steady part of a recording: from the first 20 ms window louder than -30 dBFS to the
// start of the first quiet stretch of at least 400 ms after it (the silence before the
// markers; a concealed or lost burst of packets is far shorter). {-1, -1} if never loud.
std::pair<double, double> steadySpan(const std::vector<float>& mono);

// Onsets (seconds into the stream) of tone bursts after `from`: the first millisecond whose
// 1 ms RMS is within 10 dB of the burst's peak over the next 15 ms, after >= 300 ms below
// -25 dBFS.
std::vector<double> burstOnsets(const std::vector<float>& mono, double from);

// When a client heard sample n, from its stdout: "connected" at its first decoded buffer and
// "heard N s" when its count of samples passed N*48000, each stamped by this program on
// arrival. The median (stamp - N) of the lines within 2 s of the sample: one line stamped late
// (pipes, scheduling) or a count that jumped (a burst of concealment) does not move it.
struct HeardClock {
  std::vector<std::pair<double, double>> marks;  // (seconds of audio, bench time)
  double timeOf(double streamSeconds) const;     // NAN without a mark near it
};

}  // namespace roomcast::bench::loss
