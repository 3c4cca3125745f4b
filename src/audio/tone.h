// Tone analysis for tests and benchmarks: is a frequency there, and how strongly.
#pragma once

#include <vector>

#include "audio/wav.h"

namespace roomcast::audio {

// Mono float samples in [-1, 1] from interleaved PCM (channels averaged).
std::vector<float> toMonoFloat(const PcmAudio& audio);

// Power of one frequency in a window (Goertzel), normalised so a full-scale sine gives 0.5.
double tonePower(const float* samples, size_t count, int sampleRate, double frequency);

// Share of the window's energy that sits at `frequency` (1.0 for a pure tone, ~0 for noise).
double toneShare(const float* samples, size_t count, int sampleRate, double frequency);

double rmsDbfs(const float* samples, size_t count);
double peakAbs(const float* samples, size_t count);

// Fraction of `window`-second windows in which `frequency` holds at least `minShare` of
// the energy and the level is above `minDbfs`.
double fractionOfWindowsWithTone(const std::vector<float>& mono, int sampleRate, double frequency,
                                 double window = 0.2, double minShare = 0.5, double minDbfs = -40);

}  // namespace roomcast::audio
