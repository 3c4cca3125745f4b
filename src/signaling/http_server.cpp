#include "signaling/http_server.h"

#include <gio/gio.h>

#include <algorithm>
#include <cstring>

#include "protocol/json.h"
#include "protocol/bounds.h"
#include "protocol/messages.h"
#include "signaling/file_stream.h"
#include "signaling/json_replies.h"

namespace roomcast::signaling {

using core::Error;
using core::ErrorCode;

namespace {

bool isSafeName(std::string_view name, size_t maxBytes) {
  if (name.empty() || name.size() > maxBytes || name[0] == '.') return false;
  for (char c : name)
    if (!g_ascii_isalnum(c) && c != '-' && c != '_' && c != '.') return false;
  return name.find("..") == std::string_view::npos;
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const char* contentTypeFor(std::string_view file) {
  if (endsWith(file, ".m3u8")) return "application/vnd.apple.mpegurl";
  if (endsWith(file, ".ts")) return "video/mp2t";
  if (endsWith(file, ".html")) return "text/html; charset=utf-8";
  if (endsWith(file, ".js")) return "text/javascript; charset=utf-8";
  if (endsWith(file, ".css")) return "text/css; charset=utf-8";
  if (endsWith(file, ".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

// The web app's files: small, read whole. `policy` is the page's Content-Security-Policy
// (webAppPolicy); with it, the page cannot be framed, run scripts from elsewhere or send
// what it reads anywhere but to this server.
void sendFile(SoupServerMessage* msg, const std::string& path, const char* cacheControl, const std::string& policy) {
  g_autofree char* contents = nullptr;
  gsize length = 0;
  if (!g_file_get_contents(path.c_str(), &contents, &length, nullptr)) {
    sendError(msg, {ErrorCode::NotFound, "not found"});
    return;
  }
  soup_server_message_set_status(msg, 200, nullptr);
  SoupMessageHeaders* headers = soup_server_message_get_response_headers(msg);
  soup_message_headers_replace(headers, "Cache-Control", cacheControl);
  soup_message_headers_replace(headers, "Access-Control-Allow-Origin", "*");
  soup_message_headers_replace(headers, "Content-Security-Policy", policy.c_str());
  soup_message_headers_replace(headers, "X-Frame-Options", "DENY");  // frame-ancestors, for older browsers
  soup_message_headers_replace(headers, "Referrer-Policy", "no-referrer");  // room links stay private
  soup_server_message_set_response(msg, contentTypeFor(path), SOUP_MEMORY_TAKE, static_cast<char*>(g_steal_pointer(&contents)),
                                   length);
}

// scheme://host[:port] of a URL, or "" when it is not an http(s) URL.
std::string originOf(const std::string& url) {
  g_autoptr(GUri) uri = g_uri_parse(url.c_str(), G_URI_FLAGS_NONE, nullptr);
  const char* scheme = uri ? g_uri_get_scheme(uri) : nullptr;
  const char* host = uri ? g_uri_get_host(uri) : nullptr;
  if (!scheme || !host || !*host || (g_strcmp0(scheme, "http") != 0 && g_strcmp0(scheme, "https") != 0)) return "";
  std::string origin = std::string(scheme) + "://" + (std::strchr(host, ':') ? "[" + std::string(host) + "]" : host);
  if (g_uri_get_port(uri) > 0) origin += ":" + std::to_string(g_uri_get_port(uri));
  return origin;
}

// What the web app needs and nothing more: its own scripts and styles (no inline code),
// hls.js's worker and media source (blob:), the API and WebSocket of this server (or of the
// public URL), recordings from the configured storage. No framing (clickjacking).
std::string webAppPolicy(const HttpConfig& config) {
  std::string media = "'self' blob:", connect = "'self'";
  const std::string own = originOf(config.publicUrl);
  if (own.empty()) {
    connect += " ws: wss:";  // the page's own host: 'self' covers ws:/wss: only in newer browsers
  } else {
    media += " " + own;
    connect += " " + own + (own.rfind("https://", 0) == 0 ? " wss://" + own.substr(8) : " ws://" + own.substr(7));
  }
  for (const std::string& url : config.mediaOrigins)
    if (const std::string origin = originOf(url); !origin.empty()) media += " " + origin;
  return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src " + media +
         "; connect-src " + connect +
         "; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
}

// Refuse oversized bodies from their headers, before libsoup buffers them.
void onGotHeaders(SoupServerMessage* msg, gpointer) {
  SoupMessageHeaders* headers = soup_server_message_get_request_headers(msg);
  if (soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH &&
      soup_message_headers_get_content_length(headers) > static_cast<goffset>(protocol::kMaxRestBodyBytes)) {
    sendError(msg, {ErrorCode::TooLarge, "request bodies are limited to " + std::to_string(protocol::kMaxRestBodyBytes) +
                                             " bytes"});
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection", "close");
  }
}

// Whether a Host header names this server by address ("127.0.0.1:8080", "[::1]:8080") or as
// localhost. Only such a Host is believed when no public URL is set: a domain name in it may be
// an attacker's that resolves here for a moment (DNS rebinding).
bool isAddressHost(std::string_view host) {
  std::string name(host);
  if (!name.empty() && name[0] == '[') {
    name = name.substr(1, name.find(']') == std::string::npos ? std::string::npos : name.find(']') - 1);
  } else if (std::count(name.begin(), name.end(), ':') == 1) {
    name = name.substr(0, name.find(':'));
  }
  return !name.empty() && (g_hostname_is_ip_address(name.c_str()) || g_ascii_strcasecmp(name.c_str(), "localhost") == 0);
}

bool isLoopback(GInetAddress* address) {
  return address && g_inet_address_get_is_loopback(address);
}

}  // namespace

// The request body as a bounded JSON object. Only as application/json: a cross-site page can
// send text/plain or a form without asking, but JSON only after a CORS preflight we never grant.
core::Result<protocol::JsonNodePtr> parseJsonBody(SoupServerMessage* msg) {
  g_autoptr(GBytes) bytes = soup_message_body_flatten(soup_server_message_get_request_body(msg));
  gsize size = 0;
  const char* text = static_cast<const char*>(g_bytes_get_data(bytes, &size));
  const char* type = soup_message_headers_get_content_type(soup_server_message_get_request_headers(msg), nullptr);
  if (size > 0 && (!type || g_ascii_strcasecmp(type, "application/json") != 0))  // empty: invalid_json below
    return Error{ErrorCode::UnsupportedMediaType, "send the body as Content-Type: application/json"};
  return protocol::parseObject(std::string_view(text ? text : "", size), protocol::kMaxRestBodyBytes,
                               protocol::kMaxJsonDepth);
}
// Who the client is, for per-address quotas. A proxy on this host (the nginx edge, Caddy) names
// the client in X-Forwarded-For (its last entry is the one the proxy added); a client on this
// host that no proxy speaks for is the operator's own (the CLI, scripts) and gets "": no address
// quota counts it. Anyone else is their socket's address.
std::string clientAddress(SoupServerMessage* msg) {
  GSocketAddress* remote = soup_server_message_get_remote_address(msg);
  GInetAddress* peer = remote && G_IS_INET_SOCKET_ADDRESS(remote)
                           ? g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(remote))
                           : nullptr;
  g_autofree char* peerText = peer ? g_inet_address_to_string(peer) : nullptr;
  if (peer && !isLoopback(peer)) return peerText;
  if (!peer && remote) return {};  // a Unix socket: this host
  const char* forwarded = soup_message_headers_get_list(soup_server_message_get_request_headers(msg), "X-Forwarded-For");
  if (!forwarded) return {};
  std::string_view list(forwarded);
  const size_t comma = list.rfind(',');
  std::string last(list.substr(comma == std::string_view::npos ? 0 : comma + 1));
  last.erase(0, last.find_first_not_of(" \t"));
  last.erase(last.find_last_not_of(" \t") + 1);
  g_autoptr(GInetAddress) parsed = g_inet_address_new_from_string(last.c_str());
  if (!parsed) return peerText ? peerText : "";  // not an address: count the proxy itself
  return isLoopback(parsed) ? std::string() : last;
}

// A REST call that changes something, from a page on another origin, is refused: the browser
// would send it with the victim's cookies or on the victim's network.
bool HttpServer::crossSite(SoupServerMessage* msg) const {
  const std::string method = soup_server_message_get_method(msg);
  if (method == "GET" || method == "HEAD" || method == "OPTIONS") return false;
  return !originAllowed(msg);
}

// Per-address quotas for REST calls that cost the server something; RateLimited when spent.
core::Status HttpServer::spend(SoupServerMessage* msg, TokenBucket AddressLimits::*bucket, const char* what) {
  const std::string address = clientAddress(msg);
  if (address.empty()) return core::Ok{};
  if ((addressQuotas_.at(address, g_get_monotonic_time()).*bucket).take(g_get_monotonic_time())) return core::Ok{};
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After", "10");
  return Error{ErrorCode::RateLimited, std::string("slow down: ") + what};
}

// A browser's WebSocket must come from an allowed page: this server's own origin (the public
// URL, or the Host it was reached at), or one the operator listed. Clients that send no
// Origin (the CLI, servers) are not browsers and pass.
bool HttpServer::originAllowed(SoupServerMessage* msg) const {
  SoupMessageHeaders* headers = soup_server_message_get_request_headers(msg);
  const char* origin = soup_message_headers_get_one(headers, "Origin");
  if (!origin) return true;
  std::string value(origin);
  while (!value.empty() && value.back() == '/') value.pop_back();
  for (const auto& allowed : config_.allowedOrigins)
    if (allowed == "*" || allowed == value) return true;
  return value == ownOrigin(msg);
}

// This server's origin: the public URL's, or (without one) the address the client reached.
std::string HttpServer::ownOrigin(SoupServerMessage* msg) const {
  std::string base = config_.publicUrl;
  if (base.empty()) {
    const char* host = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Host");
    const bool v6 = config_.listenHost.find(':') != std::string::npos;
    base = (config_.tls ? "https://" : "http://") + (host && isAddressHost(host) ? std::string(host)
                        : (v6 ? "[" + config_.listenHost + "]" : config_.listenHost) + ":" + std::to_string(config_.listenPort));
  }
  const size_t path = base.find('/', base.find("://") == std::string::npos ? 0 : base.find("://") + 3);
  return path == std::string::npos ? base : base.substr(0, path);
}

void HttpServer::onRequestStarted(SoupServer*, SoupServerMessage* msg, gpointer data) {
  g_signal_connect(msg, "got-headers", G_CALLBACK(onGotHeaders), nullptr);
  g_signal_connect(msg, "got-headers", G_CALLBACK(+[](SoupServerMessage* m, gpointer self) {
    GUri* uri = soup_server_message_get_uri(m);
    const char* path = uri ? g_uri_get_path(uri) : "";
    if (g_str_has_prefix(path, "/ws/") && !static_cast<HttpServer*>(self)->originAllowed(m))
      sendError(m, {ErrorCode::Forbidden, "WebSocket connections from this origin are not allowed ([server] allowed_origins)"});
  }), data);
}

HttpServer::HttpServer(HttpConfig config, core::RoomManager& rooms, WsHub& hub, const TokenAuthority& auth)
    : config_(std::move(config)), rooms_(rooms), hub_(hub), auth_(auth), operators_(config_.operators),
      admin_(rooms, operators_, config_.deleteRecording),
      listenerCounting_(auth, rooms), responder_(config_.hlsRoot, config_.hls, listenerCounting_), hls_(responder_, listenerCounting_),
      server_(soup_server_new("server-header", "roomcast/" ROOMCAST_VERSION_STRING, nullptr)),
      webPolicy_(webAppPolicy(config_)) {
  g_signal_connect(server_, "request-started", G_CALLBACK(&HttpServer::onRequestStarted), this);
  // No response is to be sniffed into another type (a JSON error rendered as HTML, say).
  g_signal_connect(server_, "request-started", G_CALLBACK(+[](SoupServer*, SoupServerMessage* msg) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "X-Content-Type-Options", "nosniff");
  }), nullptr);
  soup_server_add_handler(server_, "/api/v1", &HttpServer::handleApi, this, nullptr);
  admin_.addTo(server_);  // /api/v1/admin
  soup_server_add_handler(server_, "/hls", &HttpServer::handleHls, this, nullptr);
  soup_server_add_handler(server_, "/metrics", &HttpServer::handleMetrics, this, nullptr);
  soup_server_add_handler(server_, "/recordings", &HttpServer::handleRecordingFile, this, nullptr);
  soup_server_add_handler(server_, "/", &HttpServer::handleWeb, this, nullptr);
  soup_server_add_websocket_handler(server_, "/ws", nullptr, nullptr, &HttpServer::handleWebSocket, this, nullptr);
  hub_.setAddressQuotas(&addressQuotas_);
  if (config_.ownerOf) {
    relay_ = std::make_unique<WsRelay>(config_.ownerOf);
    hub_.setRelay(relay_.get());
    hls_.setOwnerOf(config_.ownerOf);
  }
  if (config_.clusterRooms.nodeUrl) forwarder_ = std::make_unique<RestForwarder>();
}

HttpServer::~HttpServer() {
  hub_.setAddressQuotas(nullptr);
  hub_.setRelay(nullptr);
  router_.reset();    // no new connections
  listener_.reset();  // the listener thread has stopped
  relay_.reset();     // relayed sockets close (going away)
  soup_server_disconnect(server_);
  g_object_unref(server_);
}

core::Result<std::string> HttpServer::listen() {
  GMainContext* context = g_main_context_get_thread_default();  // null: the global default
  if (!context) context = g_main_context_default();
  if (config_.hlsListenerThread) {
    listener_ = std::make_unique<hls::ListenerHttp>(context, responder_, listenerCounting_);
    if (config_.ownerOf) listener_->setOwnerOf(config_.ownerOf);
    if (auto started = listener_->start(); !started) return started.error();
  }
  // Every connection reaches libsoup through the router, and goes back to it between requests
  // (SoupConnections): libsoup listens on nothing of its own.
  router_ = std::make_unique<ConnectionRouter>(context, server_, listener_.get(), config_.connections, config_.tls);
  auto bound = router_->listen(config_.listenHost, config_.listenPort);
  if (bound) config_.listenPort = std::atoi(bound->c_str() + bound->rfind(':') + 1);  // port 0: the one picked
  return bound;
}

protocol::RoomUrls HttpServer::urlsFor(SoupServerMessage* msg, const std::string& roomId) const {
  std::string base = config_.publicUrl.empty() ? ownOrigin(msg) : config_.publicUrl;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string wsBase = base.rfind("https://", 0) == 0 ? "wss://" + base.substr(8)
                       : base.rfind("http://", 0) == 0 ? "ws://" + base.substr(7)
                                                        : base;
  const std::string node = config_.clusterRooms.nodeUrl ? config_.clusterRooms.nodeUrl() : std::string();
  return {wsBase + "/ws/" + roomId, base + "/hls/" + roomId + "/master.m3u8", node};
}

// 200 when every check passes, else 503 naming the failed ones: what a load balancer or
// systemd's health probe acts on.
void HttpServer::reportHealth(SoupServerMessage* msg) {
  const std::vector<HealthCheck> checks = config_.health ? config_.health() : std::vector<HealthCheck>{};
  bool ok = true;
  for (const auto& c : checks) ok = ok && c.ok;
  protocol::JsonWriter w;
  w.beginObject().str("status", ok ? "ok" : "failing");
  if (!ok) {
    w.beginArray("failed");
    for (const auto& c : checks)
      if (!c.ok) w.str(nullptr, c.name);
    w.endArray();
  }
  w.key("checks").beginObject();
  for (const auto& c : checks) {
    w.key(c.name.c_str()).beginObject().boolean("ok", c.ok);
    if (!c.detail.empty()) w.str("detail", c.detail);
    w.endObject();
  }
  w.endObject().endObject();
  sendJson(msg, ok ? 200 : 503, w.finish());
}

// The cluster as this node sees it (operators only): answered once Redis has (bounded by the
// connection's command deadline), the message paused meanwhile.
void HttpServer::reportCluster(SoupServerMessage* msg) {
  if (auto claims = operators_.require(msg, protocol::Grant::RoomAdmin); !claims) return sendError(msg, claims.error());
  if (!config_.cluster) return sendError(msg, {ErrorCode::NotClustered, "this server runs without [cluster] redis"});
  soup_server_message_pause(msg);
  std::shared_ptr<SoupServerMessage> held(SOUP_SERVER_MESSAGE(g_object_ref(msg)), g_object_unref);
  config_.cluster([held](int status, std::string body) {
    sendJson(held.get(), static_cast<guint>(status), body);
    soup_server_message_unpause(held.get());
  });
}

void HttpServer::handleApi(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable*, gpointer data) {
  auto* self = static_cast<HttpServer*>(data);
  if (soup_server_message_get_status(msg) != 0) return;  // refused in got-headers
  const std::string method = soup_server_message_get_method(msg);
  std::string_view rest(path);
  rest.remove_prefix(std::strlen("/api/v1"));
  if (self->crossSite(msg))
    return sendError(msg, {ErrorCode::Forbidden, "requests from this origin are not allowed ([server] allowed_origins)"});
  if (rest == "/health") {
    if (method != "GET") return sendMethodNotAllowed(msg, "GET");
    return self->reportHealth(msg);
  }
  if (rest == "/cluster") {
    if (method != "GET") return sendMethodNotAllowed(msg, "GET");
    return self->reportCluster(msg);
  }
  if (rest == "/recordings" || rest == "/recordings/") {
    if (method != "GET") return sendMethodNotAllowed(msg, "GET");
    return self->listRecordings(msg);
  }
  if (rest == "/rooms" || rest == "/rooms/") {
    if (method == "POST") return self->createRoom(msg);
    if (method == "GET") return self->listRooms(msg);
    return sendMethodNotAllowed(msg, "GET, POST");
  }
  // /rooms/{id}/<action>: one method each.
  struct RoomAction {
    const char* suffix;
    const char* method;
    RoomHandler handler;
    bool owners = true;  // served by the room's owner: forwarded there from other nodes
  };
  static const RoomAction kRoomActions[] = {
      {"/moderation", "POST", &HttpServer::moderate},   {"/recording", "POST", &HttpServer::setRecording},
      {"/reports", "GET", &HttpServer::listReports, false}, {"/listen", "POST", &HttpServer::startListening},
      {"/tokens", "POST", &HttpServer::issueToken},
  };
  constexpr std::string_view kRooms = "/rooms/";
  if (rest.rfind(kRooms, 0) == 0) {
    for (const RoomAction& action : kRoomActions) {
      const std::string_view suffix(action.suffix);
      if (!endsWith(rest, suffix) || rest.size() <= kRooms.size() + suffix.size()) continue;
      std::string roomId(rest.substr(kRooms.size(), rest.size() - kRooms.size() - suffix.size()));
      if (!isSafeName(roomId, 64)) return sendError(msg, {ErrorCode::NotFound, "no such room"});
      if (method != action.method) return sendMethodNotAllowed(msg, action.method);
      if (action.owners && self->forwardedToOwner(msg, roomId, action.handler)) return;
      return (self->*action.handler)(msg, roomId);
    }
  }
  if (rest.rfind("/rooms/", 0) == 0) {
    std::string roomId(rest.substr(std::strlen("/rooms/")));
    if (!isSafeName(roomId, 64) || roomId.find('.') != std::string::npos)
      return sendError(msg, {ErrorCode::NotFound, "no such room"});
    if (method == "GET") return self->getRoom(msg, roomId);
    if (method == "DELETE" && self->forwardedToOwner(msg, roomId, &HttpServer::deleteRoom)) return;
    if (method == "DELETE") return self->deleteRoom(msg, roomId);
    return sendMethodNotAllowed(msg, "GET, DELETE");
  }
  sendError(msg, {ErrorCode::NotFound, "no such API endpoint: " + std::string(path)});
}

void HttpServer::handleHls(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable*, gpointer data) {
  static_cast<HttpServer*>(data)->hls_.handle(msg, path);
}

// Prometheus text format: what an operator graphs, and what tests and benchmarks read.
void HttpServer::handleMetrics(SoupServer*, SoupServerMessage* msg, const char*, GHashTable*, gpointer data) {
  auto* self = static_cast<HttpServer*>(data);
  if (auto allowed = self->operators_.requireArchive(msg); !allowed) return sendError(msg, allowed.error());
  const hls::HlsStats& hls = self->responder_.stats();
  std::string body;
  auto metric = [&](const char* name, const char* help, uint64_t value) {
    body += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name +
            (std::string_view(name).find("_total") != std::string_view::npos ? " counter\n" : " gauge\n") + name + " " +
            std::to_string(value) + "\n";
  };
  metric("roomcast_rooms", "Live rooms.", self->rooms_.rooms().size());
  metric("roomcast_hls_listeners", "HLS listening sessions, all rooms.", self->rooms_.totalListeners());
  metric("roomcast_hls_playlist_requests_total", "HLS playlist requests.", hls.playlistRequests);
  metric("roomcast_hls_segment_requests_total", "HLS segment requests.", hls.segmentRequests);
  metric("roomcast_hls_not_modified_total", "HLS requests answered 304.", hls.notModified);
  metric("roomcast_hls_not_found_total", "HLS requests answered 404.", hls.notFound);
  metric("roomcast_hls_bytes_total", "HLS body bytes sent.", hls.bytesSent);
  const auto losses = self->rooms_.uplinkLosses();
  metric("roomcast_uplink_losses_rebuilt",
         "Lost uplink packets (spans) rebuilt from the next packet's FEC, speakers connected now.", losses.rebuilt);
  metric("roomcast_uplink_losses_concealed",
         "Lost uplink packets (spans) concealed without a next packet, speakers connected now.", losses.concealed);
  const auto mixers = self->rooms_.mixerStats();
  metric("roomcast_mixer_ticks", "Mixer ticks (20 ms each), live rooms.", mixers.ticks);
  metric("roomcast_mixer_late_ticks", "Mixer ticks that went out at max-wait, live rooms.", mixers.lateTicks);
  metric("roomcast_mixer_underruns",
         "Ticks that went without an awaited speaker's frame (a 20 ms drop-out in their audio), live rooms.",
         mixers.underruns);
  metric("roomcast_mixer_realigned_samples",
         "Quiet samples dropped so that a speaker's audio is mixed as it arrives, live rooms.",
         mixers.realignedSamples);
  const auto outputs = self->rooms_.outputStats();
  metric("roomcast_output_failures_total", "File outputs (HLS renditions, recordings) failed by a write error.",
         outputs.failures);
  metric("roomcast_output_restarts_total", "Failed file outputs running again.", outputs.restarts);
  metric("roomcast_hls_renditions_down", "HLS renditions of live rooms down after a write error, now.", outputs.hlsDown);
  soup_server_message_set_status(msg, 200, nullptr);
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control", "no-store");
  soup_server_message_set_response(msg, "text/plain; version=0.0.4", SOUP_MEMORY_COPY, body.data(), body.size());
}

// The archive: every recording, or (with ?q=words) where those words were said.
void HttpServer::listRecordings(SoupServerMessage* msg) {
  if (auto allowed = operators_.requireArchive(msg); !allowed) return sendError(msg, allowed.error());
  // Listed to an operator: URLs that play for a while without the token (an <audio> element).
  const protocol::RecordingUrlQuery signedQuery = [this](const std::string& file) { return operators_.signedQuery(file); };
  std::string base = config_.publicUrl.empty() ? ownOrigin(msg) : config_.publicUrl;
  while (!base.empty() && base.back() == '/') base.pop_back();
  GUri* uri = soup_server_message_get_uri(msg);
  const char* query = uri ? g_uri_get_query(uri) : nullptr;
  std::string words;
  if (query) {
    g_autoptr(GHashTable) params = g_uri_parse_params(query, -1, "&", G_URI_PARAMS_WWW_FORM, nullptr);
    const char* q = params ? static_cast<const char*>(g_hash_table_lookup(params, "q")) : nullptr;
    if (q) words = q;
  }
  if (words.size() > 200) return sendError(msg, {ErrorCode::TooLarge, "q is limited to 200 bytes"});
  if (!words.empty() && !core::isValidUtf8(words)) return sendError(msg, {ErrorCode::InvalidUtf8, "q must be UTF-8"});
  if (!words.empty())
    return sendJson(msg, 200, protocol::encodeSearch(words, config_.search ? config_.search(words) : std::vector<core::TranscriptHit>{}, base, signedQuery));
  sendJson(msg, 200, protocol::encodeRecordings(config_.recordings ? config_.recordings() : std::vector<core::RecordingRow>{}, base, signedQuery));
}

// Recording files (Ogg/Opus), with byte ranges so a player can start at a search hit.
void HttpServer::handleRecordingFile(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable*, gpointer data) {
  auto* self = static_cast<HttpServer*>(data);
  std::string_view rest(path);
  rest.remove_prefix(std::min(rest.size(), std::strlen("/recordings/")));
  const std::string file(rest);
  if (auto allowed = self->operators_.requireRecordingFile(msg, file); !allowed) return sendError(msg, allowed.error());
  if (!isSafeName(file, 128) || !endsWith(file, ".ogg")) return sendError(msg, {ErrorCode::NotFound, "not found"});
  // From the file's descriptor, read in chunks off the control thread: a recording may run to
  // hundreds of MB, and players ask for ranges of it again and again.
  const std::string local = self->config_.recordingsDir + "/" + file;
  // A cluster's archive lists every node's recordings: one held by another node is played there.
  if (self->config_.recordingHolder && !g_file_test(local.c_str(), G_FILE_TEST_IS_REGULAR))
    if (const std::string holder = self->config_.recordingHolder(file); !holder.empty()) {
      GUri* uri = soup_server_message_get_uri(msg);
      const char* query = uri ? g_uri_get_query(uri) : nullptr;
      const std::string location = holder + "/recordings/" + file + (query ? std::string("?") + query : std::string());
      soup_server_message_set_redirect(msg, 307, location.c_str());
      return;
    }
  streamFile(msg, local, "audio/ogg", "private, max-age=3600");
}

// Reports filed in a room (newest first), for its host and co-hosts.
void HttpServer::listReports(SoupServerMessage* msg, const std::string& roomId) {
  // A live room decides who its co-hosts are now; once it has ended, only its host's token reads them.
  core::Result<core::Actor> actor = core::Actor{};
  if (rooms_.find(roomId)) {
    actor = bearerActor(msg, roomId);
  } else if (auto claims = bearerClaims(msg, roomId); !claims) {
    actor = claims.error();
  } else {
    actor = core::Actor{claims->identity, claims->role == core::Role::Host ? core::Role::Host : core::Role::Listener};
  }
  if (!actor) return sendError(msg, actor.error());
  if (!core::permits(actor->role, core::Action::ReadReports))
    return sendError(msg, {ErrorCode::Forbidden, "only the host and co-hosts read reports"});
  sendJson(msg, 200, protocol::encodeReports(config_.reports ? config_.reports(roomId) : std::vector<core::Report>{}));
}

// A listening session: the HLS URL to play, counted while its playlists are fetched.
void HttpServer::startListening(SoupServerMessage* msg, const std::string& roomId) {
  if (!rooms_.find(roomId)) return sendError(msg, {ErrorCode::NotFound, "no live room with id '" + roomId + "'"});
  if (auto allowed = spend(msg, &AddressLimits::listens, "listening sessions from your address: 10 a second"); !allowed)
    return sendError(msg, allowed.error());
  const std::string session = auth_.issueListenerSession(roomId);
  auto urls = urlsFor(msg, roomId);
  protocol::JsonWriter w;
  w.beginObject()
      .str("session", session)
      .str("hls_url", urls.hls + "?session=" + session)
      .integer("idle_timeout_ms", rooms_.limits().listenerIdleMs)
      .endObject();
  sendJson(msg, 201, w.finish());
}

void HttpServer::handleWeb(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable*, gpointer data) {
  auto* self = static_cast<HttpServer*>(data);
  const std::string method = soup_server_message_get_method(msg);
  if (method != "GET" && method != "HEAD") return sendMethodNotAllowed(msg, "GET, HEAD");
  std::string_view p(path);
  if (p == "/vendor/hls.min.js") return sendFile(msg, self->config_.hlsJsPath, "max-age=3600", self->webPolicy_);
  if (p == "/" || p == "/archive" || p.rfind("/room/", 0) == 0) p = "/index.html";  // the app routes itself
  std::string_view file = p.substr(1);
  if (!isSafeName(file, 64)) return sendError(msg, {ErrorCode::NotFound, "not found"});
  g_autofree char* full = g_build_filename(self->config_.webDir.c_str(), std::string(file).c_str(), nullptr);
  sendFile(msg, full, "no-cache", self->webPolicy_);
}

void HttpServer::handleWebSocket(SoupServer*, SoupServerMessage* msg, const char* path, SoupWebsocketConnection* conn,
                                 gpointer data) {
  auto* self = static_cast<HttpServer*>(data);
  std::string_view rest(path);
  rest.remove_prefix(std::min(rest.size(), std::strlen("/ws/")));
  GUri* uri = soup_server_message_get_uri(msg);
  const char* query = uri ? g_uri_get_query(uri) : nullptr;
  self->hub_.accept(conn, std::string(rest), clientAddress(msg), query ? query : "");
}

}  // namespace roomcast::signaling
