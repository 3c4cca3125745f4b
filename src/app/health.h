// What /api/v1/health checks for roomcastd: the store takes a write, every live room's
// pipeline is PLAYING, and the data dir's file system has more than a floor of free space.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "media/gst_media_backend.h"
#include "signaling/http_server.h"
#include "store/database.h"

namespace roomcast::app {

struct HealthSources {
  store::Database* store = nullptr;
  const media::GstMediaBackend* media = nullptr;
  std::string dataDir;
  uint64_t minFreeBytes = 0;
};

std::vector<signaling::HealthCheck> checkHealth(const HealthSources& sources);

}  // namespace roomcast::app
