#include "core/media_backend.h"

#include <algorithm>
#include <cstdint>

namespace roomcast::core {

HlsPosition continueAfter(const HlsPosition& last, int64_t nowUnixMs) {
  // In unsigned arithmetic: no overflow, whatever a record says.
  const uint64_t elapsedMs =
      nowUnixMs > last.atUnixMs ? static_cast<uint64_t>(nowUnixMs) - static_cast<uint64_t>(last.atUnixMs) : 0;
  const uint64_t segmentMs = std::max(1u, last.segmentMs);
  HlsPosition next;
  next.nextSequence = last.nextSequence + elapsedMs / segmentMs + 1;
  next.discontinuitySequence = last.discontinuitySequence + 1;
  next.segmentMs = last.segmentMs;
  next.atUnixMs = nowUnixMs;
  return next;
}

}  // namespace roomcast::core
