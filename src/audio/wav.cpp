#include "audio/wav.h"

#include <cstdio>
#include <cstring>
#include <algorithm>
#include <memory>

namespace roomcast::audio {

namespace {

struct FileCloser { void operator()(FILE* f) const { if (f) fclose(f); } };
using File = std::unique_ptr<FILE, FileCloser>;

void putU32(unsigned char* p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = static_cast<unsigned char>(v >> (8 * i)); }
void putU16(unsigned char* p, uint16_t v) { p[0] = static_cast<unsigned char>(v); p[1] = static_cast<unsigned char>(v >> 8); }
uint32_t getU32(const unsigned char* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }
uint16_t getU16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

}  // namespace

bool writeWav(const std::string& path, const PcmAudio& audio) {
  File f(fopen(path.c_str(), "wb"));
  if (!f) return false;
  const uint32_t dataBytes = static_cast<uint32_t>(audio.samples.size() * 2);
  unsigned char header[44];
  memcpy(header, "RIFF", 4);
  putU32(header + 4, 36 + dataBytes);
  memcpy(header + 8, "WAVEfmt ", 8);
  putU32(header + 16, 16);
  putU16(header + 20, 1);  // PCM
  putU16(header + 22, static_cast<uint16_t>(audio.channels));
  putU32(header + 24, static_cast<uint32_t>(audio.sampleRate));
  putU32(header + 28, static_cast<uint32_t>(audio.sampleRate * audio.channels * 2));
  putU16(header + 32, static_cast<uint16_t>(audio.channels * 2));
  putU16(header + 34, 16);
  memcpy(header + 36, "data", 4);
  putU32(header + 40, dataBytes);
  if (fwrite(header, 1, sizeof header, f.get()) != sizeof header) return false;
  // Little-endian hosts only (x86_64, arm64), which is all roomcast targets.
  return audio.samples.empty() ||
         fwrite(audio.samples.data(), 2, audio.samples.size(), f.get()) == audio.samples.size();
}

bool readWav(const std::string& path, PcmAudio& out) {
  File f(fopen(path.c_str(), "rb"));
  if (!f) return false;
  unsigned char riff[12];
  if (fread(riff, 1, 12, f.get()) != 12 || memcmp(riff, "RIFF", 4) || memcmp(riff + 8, "WAVE", 4)) return false;
  bool haveFormat = false;
  unsigned char chunk[8];
  while (fread(chunk, 1, 8, f.get()) == 8) {
    uint32_t size = getU32(chunk + 4);
    if (!memcmp(chunk, "fmt ", 4)) {
      std::vector<unsigned char> fmt(size);
      if (size < 16 || fread(fmt.data(), 1, size, f.get()) != size) return false;
      // 1 = PCM, 0xFFFE = extensible (ffmpeg writes it for some layouts)
      const uint16_t format = getU16(fmt.data());
      if ((format != 1 && format != 0xfffe) || getU16(fmt.data() + 14) != 16) return false;
      out.channels = getU16(fmt.data() + 2);
      out.sampleRate = static_cast<int>(getU32(fmt.data() + 4));
      haveFormat = true;
    } else if (!memcmp(chunk, "data", 4)) {
      if (!haveFormat) return false;
      // Streams written by ffmpeg to a pipe carry 0xFFFFFFFF: read to the end of the file.
      std::vector<int16_t> samples;
      int16_t buffer[4096];
      size_t n;
      uint64_t remaining = size == 0xffffffffu ? UINT64_MAX : size / 2;
      while (remaining && (n = fread(buffer, 2, std::min<uint64_t>(remaining, 4096), f.get())) > 0) {
        samples.insert(samples.end(), buffer, buffer + n);
        remaining -= n;
      }
      out.samples = std::move(samples);
      return true;
    } else {
      if (fseek(f.get(), size + (size & 1), SEEK_CUR) != 0) return false;
    }
  }
  return false;
}

}  // namespace roomcast::audio
