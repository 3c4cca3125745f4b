#include "hls/listener_http.h"

#include <microhttpd.h>

#include <sys/resource.h>

#include <algorithm>
#include <cstring>

#include "glib_support/owned_data.h"
#include "glib_support/post_to_context.h"
#include "hls/hls_responder.h"
#include "hls/listener_counting.h"

namespace roomcast::hls {

namespace {

// Batches of counting requests reach the control thread at most this often.
constexpr guint kFlushIntervalMs = 10;

std::string value(MHD_Connection* connection, MHD_ValueKind kind, const char* key) {
  const char* v = MHD_lookup_connection_value(connection, kind, key);
  return v ? v : "";
}

// Every descriptor the process may open, less a reserve for the rest of roomcastd (rooms'
// sockets, files, libsoup's connections).
unsigned connectionLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 60000;
  return static_cast<unsigned>(std::max<rlim_t>(256, limit.rlim_cur > 1024 ? limit.rlim_cur - 512 : limit.rlim_cur / 2));
}

MHD_Result queue(MHD_Connection* connection, int status, MHD_Response* response) {
  const MHD_Result result = MHD_queue_response(connection, static_cast<unsigned>(status), response);
  MHD_destroy_response(response);
  return result;
}

}  // namespace

// One request on a connection: its raw URI (with the query, for a redirect) and the body it
// is answered with, kept alive until libmicrohttpd has sent it.
struct ListenerHttp::Exchange {
  std::string uri;
  std::shared_ptr<const std::string> body;
  bool headersSeen = false;
  // A request for a room another node may own, while the control thread looks: the 404 it gets
  // without an owner, the path and session a redirect names, then the answer once resumed.
  HlsResponse miss;
  std::string path;
  std::string session;
  bool viaEdge = false;
  std::optional<HlsResponse> resolved;
};

ListenerHttp::ListenerHttp(GMainContext* control, HlsResponder& responder, ListenerCounting& listeners)
    : control_(g_main_context_ref(control)), responder_(responder), listeners_(listeners) {}

ListenerHttp::~ListenerHttp() {
  // libmicrohttpd panics when stopped with suspended connections: they get their 404 first.
  std::map<MHD_Connection*, Exchange*> waiting;
  {
    std::lock_guard lock(mutex_);
    waiting.swap(suspended_);
  }
  for (auto& [connection, exchange] : waiting) {
    exchange->resolved = exchange->miss;
    MHD_resume_connection(connection);
  }
  if (daemon_) MHD_stop_daemon(daemon_);  // joins the listener thread
  std::lock_guard lock(mutex_);
  flush_.reset();
  g_main_context_unref(control_);
}

core::Status ListenerHttp::start() {
  const unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC | MHD_USE_TURBO |
                         MHD_ALLOW_SUSPEND_RESUME;  // owner lookups (askOwner)
  daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &ListenerHttp::onRequest, this,
      MHD_OPTION_URI_LOG_CALLBACK, &ListenerHttp::onUri, this,
      MHD_OPTION_NOTIFY_COMPLETED, &ListenerHttp::onCompleted, this,
      MHD_OPTION_CONNECTION_TIMEOUT, kIdleTimeoutSeconds,
      // libmicrohttpd's default is select()'s 1024 even on epoll: as many as we may open.
      MHD_OPTION_CONNECTION_LIMIT, connectionLimit(),
      // Requests are a line and a few headers: 16 KiB per connection is plenty (MHD answers
      // larger ones with an error).
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(16 * 1024), MHD_OPTION_END);
  if (!daemon_) return core::Error{core::ErrorCode::Internal, "cannot start the HLS listener thread (libmicrohttpd)"};
  return core::Ok{};
}

bool ListenerHttp::adopt(int fd, const sockaddr* address, socklen_t length) {
  return MHD_add_connection(daemon_, fd, address, length) == MHD_YES;
}

// The exchange is libmicrohttpd's per-request context from here until onCompleted.
void* ListenerHttp::onUri(void*, const char* uri, MHD_Connection*) {
  return std::make_unique<Exchange>(uri ? uri : "/", nullptr).release();
}

void ListenerHttp::onCompleted(void*, MHD_Connection*, void** context, MHD_RequestTerminationCode) {
  glib_support::destroyHandedOff<Exchange>(std::exchange(*context, nullptr));
}

MHD_Result ListenerHttp::onRequest(void* data, MHD_Connection* connection, const char* url, const char* method,
                                   const char*, const char*, size_t* uploadSize, void** context) {
  auto* self = static_cast<ListenerHttp*>(data);
  auto* exchange = static_cast<Exchange*>(*context);
  // libmicrohttpd calls this once with the headers, then with any body, then once more with
  // nothing: answering on that last call keeps the connection alive. HLS requests have no body;
  // one is read and ignored.
  if (!exchange->headersSeen || *uploadSize) {
    exchange->headersSeen = true;
    *uploadSize = 0;
    return MHD_YES;
  }
  if (std::strncmp(url, "/hls/", 5) != 0) {
    // Not ours: the client asks again on a new connection, which libsoup gets.
    static const char text[] = "this connection serves HLS only: repeat the request on a new connection\n";
    MHD_Response* redirect = MHD_create_response_from_buffer(sizeof text - 1, const_cast<char*>(text),
                                                             MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(redirect, "Location", exchange->uri.c_str());
    MHD_add_response_header(redirect, MHD_HTTP_HEADER_CONNECTION, "close");
    MHD_add_response_header(redirect, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    return queue(connection, MHD_HTTP_TEMPORARY_REDIRECT, redirect);
  }
  if (exchange->resolved) return send(connection, *exchange, *exchange->resolved);  // resumed
  const std::string session = value(connection, MHD_GET_ARGUMENT_KIND, "session");
  const HlsResponse response = self->responder_.respond(
      {method, url, session, value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
       value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE)});
  if (!response.countSession.empty()) self->noteListener(response.countRoom, response.countSession);
  if (!response.unknownRoom.empty() && self->ownerOf_) {
    exchange->path = url;
    exchange->session = session;
    return self->askOwner(connection, *exchange, response, value(connection, MHD_HEADER_KIND, kEdgeHeader) == "1");
  }
  return send(connection, *exchange, response);
}

MHD_Result ListenerHttp::send(MHD_Connection* connection, Exchange& exchange, const HlsResponse& response) {
  MHD_Response* out = nullptr;
  if (response.contentType) {
    exchange.body = response.body;  // alive until the response is sent
    out = MHD_create_response_from_buffer(response.length, const_cast<char*>(response.body->data() + response.offset),
                                          MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(out, MHD_HTTP_HEADER_CONTENT_TYPE, response.contentType);
  } else {
    out = MHD_create_response_from_buffer(0, nullptr, MHD_RESPMEM_PERSISTENT);
  }
  for (const auto& [name, text] : response.headers) MHD_add_response_header(out, name, text.c_str());
  return queue(connection, response.status, out);
}

MHD_Result ListenerHttp::askOwner(MHD_Connection* connection, Exchange& exchange, const HlsResponse& miss,
                                  bool viaEdge) {
  exchange.miss = miss;
  exchange.viaEdge = viaEdge;
  {
    std::lock_guard lock(mutex_);
    suspended_[connection] = &exchange;
  }
  // Suspended before the control thread can answer: a resume always finds it suspended.
  MHD_suspend_connection(connection);
  std::weak_ptr<ListenerHttp*> weak = self_;
  glib_support::postToContext(control_, [weak, connection, room = miss.unknownRoom] {
    auto self = weak.lock();
    if (!self) return;
    (*self)->ownerOf_(room, [weak, connection](RoomOwner owner) {
      if (auto alive = weak.lock()) (*alive)->resolve(connection, std::move(owner));
    });
  });
  return MHD_YES;
}

void ListenerHttp::resolve(MHD_Connection* connection, const RoomOwner& owner) {
  Exchange* exchange = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto found = suspended_.find(connection);
    if (found == suspended_.end()) return;
    exchange = found->second;
    suspended_.erase(found);
  }
  std::optional<HlsResponse> redirect = ownerAnswer(owner, exchange->path, exchange->session, exchange->viaEdge);
  exchange->resolved = redirect ? std::move(*redirect) : exchange->miss;
  MHD_resume_connection(connection);
}

void ListenerHttp::noteListener(std::string room, std::string session) {
  std::lock_guard lock(mutex_);
  if (sightings_.size() >= kMaxPendingSightings) return;
  sightings_.emplace_back(std::move(room), std::move(session));
  if (flush_.pending()) return;
  flush_ = glib_support::Source::timeout(control_, kFlushIntervalMs, &ListenerHttp::onFlush, this);
}

gboolean ListenerHttp::onFlush(gpointer data) {
  auto* self = static_cast<ListenerHttp*>(data);
  std::vector<std::pair<std::string, std::string>> batch;
  {
    std::lock_guard lock(self->mutex_);
    batch.swap(self->sightings_);
    self->flush_.reset();  // the next sighting arms it again
  }
  for (const auto& [room, session] : batch) self->listeners_.count(room, session);
  return G_SOURCE_REMOVE;
}

}  // namespace roomcast::hls
