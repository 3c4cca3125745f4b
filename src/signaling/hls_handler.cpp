#include "signaling/hls_handler.h"

#include <glib/gstdio.h>

#include <memory>

namespace roomcast::signaling {

namespace {

constexpr const char* kPlaylistType = "application/vnd.apple.mpegurl";
constexpr const char* kSegmentType = "video/mp2t";
// Live playlists change every segment (1 s); a CDN may keep one for a second. Segments never
// change once listed. A finished room's playlists are final too.
constexpr const char* kLivePlaylistCache = "public, max-age=1";
constexpr const char* kFinalCache = "public, max-age=31536000, immutable";
constexpr const char* kMasterCache = "public, max-age=60";

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

std::string queryParam(SoupServerMessage* msg, const char* name) {
  GUri* uri = soup_server_message_get_uri(msg);
  const char* query = uri ? g_uri_get_query(uri) : nullptr;
  if (!query) return "";
  g_autoptr(GHashTable) params = g_uri_parse_params(query, -1, "&", G_URI_PARAMS_NONE, nullptr);
  const char* value = params ? static_cast<const char*>(g_hash_table_lookup(params, name)) : nullptr;
  return value ? value : "";
}

void sendNotFound(SoupServerMessage* msg) {
  static const char body[] = R"({"error":{"code":"not_found","message":"not found"}})";
  soup_server_message_set_status(msg, 404, nullptr);
  SoupMessageHeaders* headers = soup_server_message_get_response_headers(msg);
  soup_message_headers_replace(headers, "Access-Control-Allow-Origin", "*");
  // Short: the segment or playlist may exist a moment later.
  soup_message_headers_replace(headers, "Cache-Control", "no-store");
  soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_STATIC, body, sizeof body - 1);
}

}  // namespace

struct HlsHandler::Body {
  const char* contentType;
  std::shared_ptr<const std::string> bytes;
  std::string etag;          // with quotes
  int64_t lastModifiedMs = 0;
  const char* cacheControl;
  bool ranges = false;       // byte ranges allowed
};

void HlsHandler::handle(SoupServerMessage* msg, std::string_view path) {
  SoupMessageHeaders* out = soup_server_message_get_response_headers(msg);
  const std::string method = soup_server_message_get_method(msg);
  if (method == "OPTIONS") {  // CORS preflight (a player sending Range, say)
    soup_message_headers_replace(out, "Access-Control-Allow-Origin", "*");
    soup_message_headers_replace(out, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
    soup_message_headers_replace(out, "Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since");
    soup_message_headers_replace(out, "Access-Control-Max-Age", "86400");
    soup_server_message_set_status(msg, 204, nullptr);
    return;
  }
  if (method != "GET" && method != "HEAD") {
    soup_message_headers_replace(out, "Allow", "GET, HEAD, OPTIONS");
    static const char body[] = R"({"error":{"code":"method_not_allowed","message":"allowed methods: GET, HEAD, OPTIONS"}})";
    soup_server_message_set_status(msg, 405, nullptr);
    soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_STATIC, body, sizeof body - 1);
    return;
  }
  // /hls/<room>/<file>
  path.remove_prefix(std::min(path.size(), std::string_view("/hls/").size()));
  const size_t slash = path.find('/');
  if (slash == std::string_view::npos) return sendNotFound(msg);
  const std::string roomId(path.substr(0, slash)), file(path.substr(slash + 1));
  if (!isSafeFileName(roomId) || !isSafeFileName(file) || !(endsWith(file, ".m3u8") || endsWith(file, ".ts"))) {
    stats_.notFound++;
    return sendNotFound(msg);
  }
  if (endsWith(file, ".m3u8")) stats_.playlistRequests++;
  else stats_.segmentRequests++;

  if (hls::Room* room = registry_ ? registry_->find(roomId) : nullptr)
    return serveLive(msg, *room, roomId, file, queryParam(msg, "session"));
  serveFile(msg, roomId, file);
}

void HlsHandler::serveLive(SoupServerMessage* msg, const hls::Room& room, const std::string& roomId,
                           const std::string& file, const std::string& session) {
  const bool validSession = !session.empty() && isListenerSession(auth_, rooms_, roomId, session);
  if (file == "master.m3u8") {
    // The session goes into each variant URI, so the player's playlist requests carry it.
    const std::string query = validSession ? "?session=" + session : "";
    return send(msg, {kPlaylistType, std::make_shared<const std::string>(room.master(query)),
                      "\"master-" + std::to_string(room.renditions().size()) + "\"", 0, kMasterCache});
  }
  if (const hls::Rendition* rendition = room.renditionByPlaylist(file)) {
    if (validSession) rooms_.listenerSeen(roomId, session);
    if (rendition->segments().empty()) {  // nothing playable yet: a player retries
      stats_.notFound++;
      return sendNotFound(msg);
    }
    return send(msg, {kPlaylistType, std::make_shared<const std::string>(rendition->playlist()),
                      "\"" + rendition->version() + "\"", rendition->lastChangeUnixMs(),
                      rendition->ended() ? kFinalCache : kLivePlaylistCache});
  }
  if (const hls::Segment* segment = room.segment(file)) {
    return send(msg, {kSegmentType, segment->bytes,
                      "\"" + roomId + "-" + segment->name + "-" + std::to_string(segment->bytes->size()) + "\"",
                      segment->startUnixMs + static_cast<int64_t>(segment->duration * 1000), kFinalCache, true});
  }
  stats_.notFound++;
  sendNotFound(msg);
}

// A room that has ended: its files are final (the last playlists carry ENDLIST).
void HlsHandler::serveFile(SoupServerMessage* msg, const std::string& roomId, const std::string& file) {
  g_autofree char* path = g_build_filename(hlsRoot_.c_str(), roomId.c_str(), file.c_str(), nullptr);
  GStatBuf st;
  g_autofree char* contents = nullptr;
  gsize length = 0;
  if (g_stat(path, &st) != 0 || !g_file_get_contents(path, &contents, &length, nullptr)) {
    stats_.notFound++;
    return sendNotFound(msg);
  }
  const bool segment = endsWith(file, ".ts");
  send(msg, {segment ? kSegmentType : kPlaylistType, std::make_shared<const std::string>(contents, length),
             "\"f" + std::to_string(static_cast<long long>(st.st_mtime)) + "-" + std::to_string(length) + "\"",
             static_cast<int64_t>(st.st_mtime) * 1000, kFinalCache, segment});
}

void HlsHandler::serveStatic(SoupServerMessage* msg, const std::string& path, const char* contentType,
                             const char* cacheControl) {
  GStatBuf st;
  g_autofree char* contents = nullptr;
  gsize length = 0;
  if (g_stat(path.c_str(), &st) != 0 || !g_file_get_contents(path.c_str(), &contents, &length, nullptr))
    return sendNotFound(msg);
  send(msg, {contentType, std::make_shared<const std::string>(contents, length),
             "\"f" + std::to_string(static_cast<long long>(st.st_mtime)) + "-" + std::to_string(length) + "\"",
             static_cast<int64_t>(st.st_mtime) * 1000, cacheControl, true});
}

void HlsHandler::send(SoupServerMessage* msg, const Body& body) {
  SoupMessageHeaders* in = soup_server_message_get_request_headers(msg);
  SoupMessageHeaders* out = soup_server_message_get_response_headers(msg);
  soup_message_headers_replace(out, "Access-Control-Allow-Origin", "*");
  soup_message_headers_replace(out, "Access-Control-Expose-Headers", "Content-Length, Content-Range, ETag");
  soup_message_headers_replace(out, "Cache-Control", body.cacheControl);
  soup_message_headers_replace(out, "ETag", body.etag.c_str());
  if (body.lastModifiedMs > 0) soup_message_headers_replace(out, "Last-Modified", httpDate(body.lastModifiedMs).c_str());
  if (body.ranges) soup_message_headers_replace(out, "Accept-Ranges", "bytes");

  const char* ifNoneMatch = soup_message_headers_get_one(in, "If-None-Match");
  if (ifNoneMatch && (body.etag == ifNoneMatch || std::string_view(ifNoneMatch) == "*")) {
    stats_.notModified++;
    soup_server_message_set_status(msg, 304, nullptr);
    return;
  }

  const std::string& bytes = *body.bytes;
  const goffset total = static_cast<goffset>(bytes.size());
  SoupRange* ranges = nullptr;
  int count = 0;
  if (body.ranges && soup_message_headers_get_ranges(in, total, &ranges, &count)) {
    const SoupRange r = ranges[0];
    const bool single = count == 1;
    soup_message_headers_free_ranges(in, ranges);
    if (single && (r.start >= total || r.end < r.start)) {
      soup_message_headers_set_content_range(out, -1, -1, total);  // "bytes */total"
      soup_server_message_set_status(msg, 416, nullptr);
      return;
    }
    if (single) {
      const goffset end = std::min(r.end, total - 1);
      soup_message_headers_set_content_range(out, r.start, end, total);
      soup_server_message_set_status(msg, 206, nullptr);
      const auto length = static_cast<gsize>(end - r.start + 1);
      soup_server_message_set_response(msg, body.contentType, SOUP_MEMORY_COPY, bytes.data() + r.start, length);
      stats_.bytesSent += length;
      return;
    }
    // Several ranges: the whole body is a valid answer.
  }
  soup_server_message_set_status(msg, 200, nullptr);
  // The body shares the segment's memory: a reference, not a copy.
  auto* keep = new std::shared_ptr<const std::string>(body.bytes);
  g_autoptr(GBytes) data = g_bytes_new_with_free_func(
      bytes.data(), bytes.size(), [](gpointer p) { delete static_cast<std::shared_ptr<const std::string>*>(p); }, keep);
  soup_message_headers_set_content_type(out, body.contentType, nullptr);
  soup_message_body_append_bytes(soup_server_message_get_response_body(msg), data);
  stats_.bytesSent += bytes.size();
}

}  // namespace roomcast::signaling
