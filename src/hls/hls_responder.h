// What roomcastd answers for /hls/<room>/... (and for recording files), independent of the HTTP
// library that carries it: libsoup on the control thread (HlsHandler) or libmicrohttpd on the
// listener thread (ListenerHttp) build an HlsRequest, send the HlsResponse, and count the
// listener it names. Thread-safe: live rooms are read from the registry's published copies,
// ended rooms from their files.
//
// Every response has the right content type, CORS, an ETag and Last-Modified (conditional
// requests get 304), byte ranges for segments, and cache headers a CDN can follow: playlists
// for a second, segments for a year (immutable).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hls/hls_room.h"

namespace roomcast::hls {

class ListenerCounting;

struct HlsRequest {
  std::string_view method;  // GET, HEAD, OPTIONS, ...
  std::string_view path;    // "/hls/<room>/<file>"
  std::string session;      // the `session` query parameter
  std::string ifNoneMatch;  // If-None-Match, or ""
  std::string range;        // Range, or ""
};

struct HlsResponse {
  int status = 200;
  std::vector<std::pair<const char*, std::string>> headers;  // besides Content-Type and Content-Length
  const char* contentType = nullptr;                        // null: no body
  std::shared_ptr<const std::string> body;                  // shared, never copied
  size_t offset = 0;
  size_t length = 0;
  // A media playlist was asked for with this session: the caller counts the listener if the
  // session is theirs (ListenerCounting::count), on the control thread.
  std::string countRoom;
  std::string countSession;
  // A 404 for a room neither live here nor ended here: in a cluster another node may own it
  // (owner_redirect.h); "" otherwise.
  std::string unknownRoom;
};

// A Range header against a body of `total` bytes (one range; several: the whole body).
struct ByteRange {
  enum class Kind { Whole, Single, Unsatisfiable } kind = Kind::Whole;
  size_t start = 0;
  size_t end = 0;  // inclusive
};
ByteRange parseByteRange(std::string_view header, size_t total);

struct HlsStats {
  std::atomic<uint64_t> playlistRequests = 0;
  std::atomic<uint64_t> segmentRequests = 0;
  std::atomic<uint64_t> notModified = 0;
  std::atomic<uint64_t> notFound = 0;
  std::atomic<uint64_t> bytesSent = 0;
};

class HlsResponder {
 public:
  HlsResponder(std::string hlsRoot, const Registry* registry, const ListenerCounting& listeners)
      : hlsRoot_(std::move(hlsRoot)), registry_(registry), listeners_(listeners) {}

  HlsResponse respond(const HlsRequest& request);
  // Any complete file (recordings): validators, ranges, CORS, as for segments.
  HlsResponse respondFile(const HlsRequest& request, const std::string& path, const char* contentType,
                          const char* cacheControl, bool ranges = true);
  const HlsStats& stats() const { return stats_; }

 private:
  struct Body {
    const char* contentType;
    std::shared_ptr<const std::string> bytes;
    std::string etag;  // with quotes
    int64_t lastModifiedMs = 0;
    const char* cacheControl;
    bool ranges = false;  // byte ranges allowed
  };
  HlsResponse respondLive(const HlsRequest& request, const PublishedRoom& room, const std::string& roomId,
                          const std::string& file);
  HlsResponse respondEnded(const HlsRequest& request, const std::string& roomId, const std::string& file);
  HlsResponse reply(const HlsRequest& request, const Body& body);
  // A whole file read from disk (ended rooms, recordings); nullopt when it cannot be read.
  static std::optional<Body> load(const std::string& path, const char* contentType, const char* cacheControl,
                                  bool ranges);
  static HlsResponse notFound();
  HlsResponse missing() {  // a 404 counted in the HLS stats (recordings are not)
    stats_.notFound++;
    return notFound();
  }

  std::string hlsRoot_;
  const Registry* registry_;
  const ListenerCounting& listeners_;
  HlsStats stats_;
};

}  // namespace roomcast::hls
