// For the browser tests: how continuous the audio in a WAV file is, by the loss tests' own
// measure (src/audio/continuity.h), as one line of JSON on stdout.
//
// usage: measure_continuity FILE.wav
#include <cstdio>

#include "audio/continuity.h"
#include "audio/wav.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FILE.wav\n", argv[0]);
    return 2;
  }
  roomcast::audio::PcmAudio pcm;
  if (!roomcast::audio::readWav(argv[1], pcm) || pcm.channels < 1) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  std::vector<float> mono;  // the first channel
  for (size_t i = 0; i < pcm.samples.size(); i += pcm.channels) mono.push_back(pcm.samples[i] / 32768.0f);
  const auto c = roomcast::audio::measureContinuity(mono, pcm.sampleRate);
  std::printf("{\"windows\":%d,\"continuous\":%.4f,\"intact\":%.4f,\"quiet\":%d,\"medianDbfs\":%.1f}\n", c.windows,
              c.continuous, c.intact, c.quiet, c.medianDbfs);
  return 0;
}
