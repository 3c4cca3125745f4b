#include "media/ogg_duration.h"

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

}  // namespace

std::optional<double> oggOpusDurationSeconds(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return std::nullopt;
  const std::streamoff size = in.tellg();
  if (size < 47) return std::nullopt;
  // Pre-skip, from the OpusHead packet in the first page.
  std::vector<unsigned char> head(std::min<std::streamoff>(size, 4096));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  uint16_t preSkip = 0;
  for (size_t i = 0; i + 12 <= head.size(); i++) {
    if (std::memcmp(&head[i], "OpusHead", 8) == 0) {
      preSkip = static_cast<uint16_t>(head[i + 10] | (head[i + 11] << 8));
      break;
    }
  }
  // The last complete page in the file's tail.
  const std::streamoff tailSize = std::min<std::streamoff>(size, 256 * 1024);
  std::vector<unsigned char> tail(static_cast<size_t>(tailSize));
  in.seekg(size - tailSize);
  in.read(reinterpret_cast<char*>(tail.data()), tailSize);
  for (size_t at = tail.size() - 26; at-- > 0;) {
    if (tail[at] != 'O' || !completePage(tail, at)) continue;
    const uint64_t granule = le64(&tail[at + 6]);
    if (granule == UINT64_MAX) continue;  // a page that ends no packet
    return granule > preSkip ? static_cast<double>(granule - preSkip) / 48000.0 : 0.0;
  }
  return std::nullopt;
}

}  // namespace roomcast::media
