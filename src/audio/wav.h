// 16-bit PCM WAV files: what the CLI writes (--out) and what the tests analyse.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace roomcast::audio {

struct PcmAudio {
  int sampleRate = 48000;
  int channels = 1;
  std::vector<int16_t> samples;  // interleaved
  double seconds() const { return channels ? static_cast<double>(samples.size()) / channels / sampleRate : 0; }
};

bool writeWav(const std::string& path, const PcmAudio& audio);
// Reads PCM 16-bit WAV (any channel count); returns false for anything else.
bool readWav(const std::string& path, PcmAudio& out);

}  // namespace roomcast::audio
