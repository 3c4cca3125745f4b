#include "app/health.h"

#include <glib.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

namespace roomcast::app {

namespace {

// Another writer (a backup, a sqlite3 shell) may hold the lock briefly; a health request waits
// this long at most, on the control thread.
constexpr int kProbeBusyMs = 250;

signaling::HealthCheck checkDatabase(store::Database& store) {
  auto written = store.probeWrite(g_get_real_time() / 1000, kProbeBusyMs);
  if (!written) return {"database", false, "cannot write: " + written.error().message};
  return {"database", true, {}};
}

signaling::HealthCheck checkRooms(const media::GstMediaBackend& media) {
  const auto stalled = media.roomsNotPlaying();
  if (stalled.empty()) return {"rooms", true, std::to_string(media.liveRooms()) + " live"};
  std::string names;
  for (const auto& s : stalled) names += (names.empty() ? "" : ", ") + s;
  return {"rooms", false, "not playing: " + names};
}

signaling::HealthCheck checkDisk(const std::string& dataDir, uint64_t minFreeBytes) {
  struct statvfs fs {};
  if (statvfs(dataDir.c_str(), &fs) != 0) return {"disk", false, "cannot stat " + dataDir + ": " + strerror(errno)};
  const uint64_t freeBytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  const std::string freeText = std::to_string(freeBytes >> 20) + " MB free";
  if (freeBytes < minFreeBytes)
    return {"disk", false, freeText + ", below " + std::to_string(minFreeBytes >> 20) + " MB ([server] min_free_disk_mb)"};
  return {"disk", true, freeText};
}

}  // namespace

std::vector<signaling::HealthCheck> checkHealth(const HealthSources& sources) {
  std::vector<signaling::HealthCheck> checks;
  if (sources.store) checks.push_back(checkDatabase(*sources.store));
  if (sources.media) checks.push_back(checkRooms(*sources.media));
  checks.push_back(checkDisk(sources.dataDir, sources.minFreeBytes));
  return checks;
}

}  // namespace roomcast::app
