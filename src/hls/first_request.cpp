#include "hls/first_request.h"

#include <algorithm>
#include <array>

namespace roomcast::hls {

namespace {
constexpr std::array<std::string_view, 3> kHlsStarts = {"GET /hls/", "HEAD /hls/", "OPTIONS /hls/"};
}

FirstRequest classifyFirstRequest(std::string_view bytes) {
  bool couldStillBe = false;
  for (std::string_view start : kHlsStarts) {
    const size_t n = std::min(bytes.size(), start.size());
    if (bytes.substr(0, n) != start.substr(0, n)) continue;
    if (n == start.size()) return FirstRequest::Hls;
    couldStillBe = true;
  }
  return couldStillBe ? FirstRequest::Undecided : FirstRequest::Other;
}

}  // namespace roomcast::hls
