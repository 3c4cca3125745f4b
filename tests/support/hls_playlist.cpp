#include "hls_playlist.h"

#include <glib.h>

#include <cstdlib>
#include <sstream>

#include "processes.h"
#include "wait.h"

namespace roomcast::testing {

std::vector<ListedSegment> parsePlaylist(const std::string& text) {
  std::vector<ListedSegment> out;
  std::istringstream lines(text);
  std::string line;
  long long sequence = 0;
  ListedSegment next;
  while (std::getline(lines, line)) {
    if (line.rfind("#EXT-X-MEDIA-SEQUENCE:", 0) == 0) {
      sequence = std::strtoll(line.c_str() + 22, nullptr, 10);
    } else if (line.rfind("#EXT-X-PROGRAM-DATE-TIME:", 0) == 0) {
      g_autoptr(GDateTime) t = g_date_time_new_from_iso8601(line.substr(25).c_str(), nullptr);
      next.startUnix = t ? g_date_time_to_unix(t) + g_date_time_get_microsecond(t) / 1e6 : 0;
    } else if (line.rfind("#EXTINF:", 0) == 0) {
      next.duration = std::strtod(line.c_str() + 8, nullptr);
    } else if (!line.empty() && line[0] != '#') {
      next.name = line;
      next.sequence = sequence++;
      out.push_back(next);
      next = {};
    }
  }
  return out;
}

long long newestSegmentSequence(const std::string& playlistUrl) {
  auto r = http("GET", playlistUrl);
  if (r.status != 200) return -1;
  auto listed = parsePlaylist(r.body);
  return listed.empty() ? -1 : listed.back().sequence;
}

bool waitForSegments(const std::string& playlistUrl, size_t count, double timeoutSeconds) {
  return pollUntil(
      [&] {
        auto r = http("GET", playlistUrl);
        return r.status == 200 && parsePlaylist(r.body).size() >= count;
      },
      timeoutSeconds);
}

bool waitForSegmentSequence(const std::string& playlistUrl, long long sequence, double timeoutSeconds) {
  return pollUntil([&] { return newestSegmentSequence(playlistUrl) >= sequence; }, timeoutSeconds);
}

}  // namespace roomcast::testing
