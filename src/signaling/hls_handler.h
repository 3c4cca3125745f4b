// Serves /hls/<room>/...: what listeners, players and CDNs fetch.
//
// Live rooms are served from memory (hls::Registry): the playlists roomcastd renders and the
// segments they list, each complete; a segment still being written is simply not there yet.
// Ended rooms are served from their files (playlists with ENDLIST). Every response has the
// right content type, CORS, an ETag and Last-Modified (conditional requests get 304), byte
// ranges for segments, and cache headers a CDN can follow: playlists for a second, segments
// for a year (immutable). A `session` query parameter on a playlist request counts that
// listener (see ListenerSessions).
#pragma once

#include <libsoup/soup.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/room_manager.h"
#include "hls/hls_room.h"
#include "signaling/auth.h"

namespace roomcast::signaling {

struct HlsStats {
  uint64_t playlistRequests = 0;
  uint64_t segmentRequests = 0;
  uint64_t notModified = 0;
  uint64_t notFound = 0;
  uint64_t bytesSent = 0;
};

class HlsHandler {
 public:
  HlsHandler(std::string hlsRoot, hls::Registry* registry, core::RoomManager& rooms, const TokenAuthority& auth)
      : hlsRoot_(std::move(hlsRoot)), registry_(registry), rooms_(rooms), auth_(auth) {}

  // `path` is the request path ("/hls/<room>/<file>").
  void handle(SoupServerMessage* msg, std::string_view path);
  const HlsStats& stats() const { return stats_; }
  // Any complete file (recordings): validators, ranges, CORS, as for segments.
  void serveStatic(SoupServerMessage* msg, const std::string& path, const char* contentType, const char* cacheControl);

 private:
  struct Body;
  void send(SoupServerMessage* msg, const Body& body);
  void serveLive(SoupServerMessage* msg, const hls::Room& room, const std::string& roomId, const std::string& file,
                 const std::string& session);
  void serveFile(SoupServerMessage* msg, const std::string& roomId, const std::string& file);

  std::string hlsRoot_;
  hls::Registry* registry_;
  core::RoomManager& rooms_;
  const TokenAuthority& auth_;
  HlsStats stats_;
};

}  // namespace roomcast::signaling
