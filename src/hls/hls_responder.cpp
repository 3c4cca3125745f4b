#include "hls/hls_responder.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include <charconv>

#include "hls/listener_counting.h"

namespace roomcast::hls {

namespace {

constexpr const char* kPlaylistType = "application/vnd.apple.mpegurl";
constexpr const char* kSegmentType = "video/mp2t";
// Live playlists change every segment; a CDN may keep one for a second. Segments never change
// once listed. A finished room's playlists are final too.
constexpr const char* kLivePlaylistCache = "public, max-age=1";
constexpr const char* kFinalCache = "public, max-age=31536000, immutable";
constexpr const char* kMasterCache = "public, max-age=60";
constexpr const char* kUnfinishedCache = "no-cache";  // stored, but revalidated on every use

bool isSafeFileName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  for (char c : name)
    if (!g_ascii_isalnum(c) && c != '-' && c != '_' && c != '.') return false;
  return name.find("..") == std::string_view::npos;
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string httpDate(int64_t unixMs) {
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(unixMs / 1000);
  g_autofree char* text = t ? soup_date_time_to_string(t, SOUP_DATE_HTTP) : nullptr;
  return text ? text : "";
}

std::shared_ptr<const std::string> staticBody(std::string_view text) {
  return std::make_shared<const std::string>(text);
}

bool parseSize(std::string_view text, size_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

ByteRange parseByteRange(std::string_view header, size_t total) {
  using Kind = ByteRange::Kind;
  constexpr std::string_view unit = "bytes=";
  // Anything we do not understand is ignored: the whole body is always a valid answer.
  if (header.substr(0, unit.size()) != unit) return {};
  std::string_view spec = header.substr(unit.size());
  while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
  if (spec.find(',') != std::string_view::npos) return {};
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return {};
  const std::string_view first = spec.substr(0, dash), last = spec.substr(dash + 1);
  size_t a = 0, b = 0;
  if (first.empty()) {  // "-N": the last N bytes
    if (!parseSize(last, b)) return {};
    if (b == 0 || total == 0) return {Kind::Unsatisfiable};
    return {Kind::Single, total - std::min(b, total), total - 1};
  }
  if (!parseSize(first, a)) return {};
  if (last.empty()) b = total ? total - 1 : 0;
  else if (!parseSize(last, b) || b < a) return {};
  if (a >= total) return {Kind::Unsatisfiable};
  return {Kind::Single, a, std::min(b, total - 1)};
}

HlsResponse HlsResponder::notFound() {
  HlsResponse r;
  r.status = 404;
  r.headers = {{"Access-Control-Allow-Origin", "*"},
               // Short: the segment or playlist may exist a moment later.
               {"Cache-Control", "no-store"}};
  r.contentType = "application/json";
  static const auto body = staticBody(R"({"error":{"code":"not_found","message":"not found"}})");
  r.body = body;
  r.length = body->size();
  return r;
}

HlsResponse HlsResponder::respond(const HlsRequest& request) {
  HlsResponse r;
  if (request.method == "OPTIONS") {  // CORS preflight (a player sending Range, say)
    r.status = 204;
    r.headers = {{"Access-Control-Allow-Origin", "*"},
                 {"Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"},
                 {"Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since"},
                 {"Access-Control-Max-Age", "86400"}};
    return r;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    r.status = 405;
    r.headers = {{"Allow", "GET, HEAD, OPTIONS"}};
    r.contentType = "application/json";
    static const auto body =
        staticBody(R"({"error":{"code":"method_not_allowed","message":"allowed methods: GET, HEAD, OPTIONS"}})");
    r.body = body;
    r.length = body->size();
    return r;
  }
  // /hls/<room>/<file>
  std::string_view path = request.path;
  path.remove_prefix(std::min(path.size(), std::string_view("/hls/").size()));
  const size_t slash = path.find('/');
  if (slash == std::string_view::npos) return missing();
  const std::string roomId(path.substr(0, slash)), file(path.substr(slash + 1));
  if (!isSafeFileName(roomId) || !isSafeFileName(file) || !(endsWith(file, ".m3u8") || endsWith(file, ".ts")))
    return missing();
  if (endsWith(file, ".m3u8")) stats_.playlistRequests++;
  else stats_.segmentRequests++;

  if (auto room = registry_ ? registry_->published(roomId) : nullptr) return respondLive(request, *room, roomId, file);
  HlsResponse ended = respondEnded(request, roomId, file);
  if (ended.status == 404) ended.unknownRoom = roomId;
  return ended;
}

HlsResponse HlsResponder::respondLive(const HlsRequest& request, const PublishedRoom& room,
                                      const std::string& roomId, const std::string& file) {
  if (file == "master.m3u8") {
    // The session goes into each variant URI, so the player's playlist requests carry it.
    // Only a session this server signed (the HMAC needs no room state, so any thread may check).
    const bool signedSession = !request.session.empty() && listeners_.signedByThisServer(request.session, roomId);
    const std::string query = signedSession ? "?session=" + request.session : "";
    return reply(request, {kPlaylistType, std::make_shared<const std::string>(renderMaster(room.renditions, query)),
                           "\"master-" + std::to_string(room.renditions.size()) + "\"", 0, kMasterCache});
  }
  if (auto playlist = room.playlists.find(file); playlist != room.playlists.end()) {
    HlsResponse r = !playlist->second  // nothing playable yet: a player retries
                        ? missing()
                        : reply(request, {kPlaylistType, playlist->second->bytes, playlist->second->etag,
                                          playlist->second->lastModifiedUnixMs,
                                          room.ended ? kFinalCache : kLivePlaylistCache});
    if (!request.session.empty()) {
      r.countRoom = roomId;
      r.countSession = request.session;
    }
    return r;
  }
  if (auto segment = room.segments.find(file); segment != room.segments.end())
    return reply(request, {kSegmentType, segment->second.bytes, segment->second.etag,
                           segment->second.lastModifiedUnixMs, kFinalCache, true});
  return missing();
}

// A room that has ended: its segments and master playlist are final, and so are its media
// playlists once they carry ENDLIST. One without (the room's process was killed before it
// finished them) may yet be finished or replaced: caches revalidate it every time.
HlsResponse HlsResponder::respondEnded(const HlsRequest& request, const std::string& roomId, const std::string& file) {
  g_autofree char* path = g_build_filename(hlsRoot_.c_str(), roomId.c_str(), file.c_str(), nullptr);
  const bool segment = endsWith(file, ".ts");
  auto body = load(path, segment ? kSegmentType : kPlaylistType, kFinalCache, segment);
  if (!body) return missing();
  if (!segment && file != "master.m3u8" && body->bytes->find("#EXT-X-ENDLIST") == std::string::npos)
    body->cacheControl = kUnfinishedCache;
  return reply(request, *body);
}

std::optional<HlsResponder::Body> HlsResponder::load(const std::string& path, const char* contentType,
                                                     const char* cacheControl, bool ranges) {
  GStatBuf st;
  g_autofree char* contents = nullptr;
  gsize length = 0;
  if (g_stat(path.c_str(), &st) != 0 || !g_file_get_contents(path.c_str(), &contents, &length, nullptr))
    return std::nullopt;
  return Body{contentType, std::make_shared<const std::string>(contents, length),
              "\"f" + std::to_string(static_cast<long long>(st.st_mtime)) + "-" + std::to_string(length) + "\"",
              static_cast<int64_t>(st.st_mtime) * 1000, cacheControl, ranges};
}

HlsResponse HlsResponder::respondFile(const HlsRequest& request, const std::string& path, const char* contentType,
                                      const char* cacheControl, bool ranges) {
  auto body = load(path, contentType, cacheControl, ranges);
  return body ? reply(request, *body) : notFound();
}

HlsResponse HlsResponder::reply(const HlsRequest& request, const Body& body) {
  HlsResponse r;
  r.headers = {{"Access-Control-Allow-Origin", "*"},
               {"Access-Control-Expose-Headers", "Content-Length, Content-Range, ETag"},
               {"Cache-Control", body.cacheControl},
               {"ETag", body.etag}};
  if (body.lastModifiedMs > 0) r.headers.emplace_back("Last-Modified", httpDate(body.lastModifiedMs));
  if (body.ranges) r.headers.emplace_back("Accept-Ranges", "bytes");

  if (!request.ifNoneMatch.empty() && (request.ifNoneMatch == body.etag || request.ifNoneMatch == "*")) {
    stats_.notModified++;
    r.status = 304;
    return r;
  }
  const size_t total = body.bytes->size();
  r.contentType = body.contentType;
  r.body = body.bytes;
  r.length = total;
  if (body.ranges && !request.range.empty()) {
    const ByteRange range = parseByteRange(request.range, total);
    if (range.kind == ByteRange::Kind::Unsatisfiable) {
      r.headers.emplace_back("Content-Range", "bytes */" + std::to_string(total));
      r.status = 416;
      r.contentType = nullptr;
      r.body = nullptr;
      r.length = 0;
      return r;
    }
    if (range.kind == ByteRange::Kind::Single) {
      r.status = 206;
      r.offset = range.start;
      r.length = range.end - range.start + 1;
      r.headers.emplace_back("Content-Range", "bytes " + std::to_string(range.start) + "-" +
                                                  std::to_string(range.end) + "/" + std::to_string(total));
    }
  }
  if (request.method != "HEAD") stats_.bytesSent += r.length;
  return r;
}

}  // namespace roomcast::hls
