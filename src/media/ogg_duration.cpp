#include "media/ogg_duration.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <vector>

namespace roomcast::media {

namespace {

uint64_t le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

// A complete page at `at`: header (27 bytes), segment table, then the segments.
bool completePage(const std::vector<unsigned char>& d, size_t at) {
  if (at + 27 > d.size() || std::memcmp(&d[at], "OggS", 4) != 0) return false;
  const size_t segments = d[at + 26];
  if (at + 27 + segments > d.size()) return false;
  size_t body = 0;
  for (size_t i = 0; i < segments; i++) body += d[at + 27 + i];
  return at + 27 + segments + body <= d.size();
}

// Samples (at 48 kHz) in one Opus packet, from its TOC byte (RFC 6716, 3.1).
uint64_t opusPacketSamples(const unsigned char* packet, size_t size) {
  if (size == 0) return 0;
  const unsigned config = packet[0] >> 3;
  static const uint64_t silk[] = {480, 960, 1920, 2880}, celt[] = {120, 240, 480, 960};
  const uint64_t frame = config < 12 ? silk[config & 3] : config < 16 ? (config & 1 ? 960 : 480) : celt[config & 3];
  switch (packet[0] & 3) {
    case 0: return frame;
    case 1:
    case 2: return 2 * frame;
    default: return size > 1 ? frame * (packet[1] & 0x3F) : 0;
  }
}

// Where the stream's audio starts on the granule scale: the first audio page's granule
// minus the samples of the packets it holds. Not 0 when a recording starts while the room
// is already running (oggmux starts the granule at the first timestamp).
uint64_t startGranule(const std::vector<unsigned char>& d) {
  size_t at = 0;
  while (completePage(d, at)) {
    const size_t segments = d[at + 26];
    const uint64_t granule = le64(&d[at + 6]);
    const size_t body = at + 27 + segments;
    if (granule != 0 && granule != UINT64_MAX) {
      uint64_t samples = 0;
      size_t offset = body, packet = 0;
      for (size_t i = 0; i < segments; i++) {
        packet += d[at + 27 + i];
        if (d[at + 27 + i] < 255) {  // a packet ends here
          samples += opusPacketSamples(&d[offset], packet);
          offset += packet;
          packet = 0;
        }
      }
      return granule > samples ? granule - samples : 0;
    }
    size_t length = 0;
    for (size_t i = 0; i < segments; i++) length += d[at + 27 + i];
    at = body + length;
  }
  return 0;
}

}  // namespace

std::optional<double> oggOpusDurationSeconds(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return std::nullopt;
  const std::streamoff size = in.tellg();
  if (size < 47) return std::nullopt;
  // Pre-skip, from the OpusHead packet in the first page; the start from the first audio page.
  std::vector<unsigned char> head(std::min<std::streamoff>(size, 64 * 1024));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  uint16_t preSkip = 0;
  for (size_t i = 0; i + 12 <= head.size(); i++) {
    if (std::memcmp(&head[i], "OpusHead", 8) == 0) {
      preSkip = static_cast<uint16_t>(head[i + 10] | (head[i + 11] << 8));
      break;
    }
  }
  const uint64_t start = startGranule(head) + preSkip;
  // The last complete page in the file's tail.
  const std::streamoff tailSize = std::min<std::streamoff>(size, 256 * 1024);
  std::vector<unsigned char> tail(static_cast<size_t>(tailSize));
  in.seekg(size - tailSize);
  in.read(reinterpret_cast<char*>(tail.data()), tailSize);
  for (size_t at = tail.size() - 26; at-- > 0;) {
    if (tail[at] != 'O' || !completePage(tail, at)) continue;
    const uint64_t granule = le64(&tail[at + 6]);
    if (granule == UINT64_MAX) continue;  // a page that ends no packet
    return granule > start ? static_cast<double>(granule - start) / 48000.0 : 0.0;
  }
  return std::nullopt;
}

}  // namespace roomcast::media
