#include "signaling/soup_connections.h"

#include <glib-unix.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <algorithm>
#include <cerrno>
#include <utility>

#include "core/error.h"
#include "glib_support/owned_data.h"
#include "glib_support/source.h"
#include "protocol/messages.h"

namespace roomcast::signaling {

namespace {

// Pipelined requests already read into libsoup's buffer go back inside libsoup's own stream;
// after this many in a row the connection is closed instead (each one wraps it once more).
constexpr unsigned kMaxNested = 8;
// A refused body: after the answer, what the client still sends is read and dropped for this
// long, so that it reads the answer instead of a reset.
constexpr int64_t kLingerUs = 1 * G_USEC_PER_SEC;

// Whether the client may send another request on this connection after this response (the
// rule libsoup's own writer applies; its predicate is private in 3.2).
bool keepsAlive(SoupServerMessage* msg) {
  SoupMessageHeaders* request = soup_server_message_get_request_headers(msg);
  SoupMessageHeaders* response = soup_server_message_get_response_headers(msg);
  if (soup_message_headers_get_encoding(response) == SOUP_ENCODING_EOF) return false;
  if (soup_server_message_get_http_version(msg) == SOUP_HTTP_1_0)
    return soup_message_headers_header_contains(response, "Connection", "Keep-Alive");
  return !soup_message_headers_header_contains(request, "Connection", "close") &&
         !soup_message_headers_header_contains(response, "Connection", "close");
}

int64_t afterSeconds(double seconds) { return g_get_monotonic_time() + static_cast<int64_t>(seconds * G_USEC_PER_SEC); }

// Closes (once) and lets go of a connection's socket.
void closeSocket(GSocket* socket) {
  g_socket_close(socket, nullptr);
  g_object_unref(socket);
}

}  // namespace

struct SoupConnections::Connection {
  SoupConnections* owner;  // null once the owner is gone (the stream is still libsoup's)
  GSocket* socket;         // ours for the connection's whole life; closing it closes the connection
  int fd;                  // its descriptor, while it is open
  std::string key;
  GSocketAddress* local;
  GSocketAddress* remote;
  Phase phase = Phase::Headers;
  GIOStream* inSoup = nullptr;       // our stream while libsoup holds it (a weak reference)
  GIOStream* resume = nullptr;       // Resuming: the stolen stream with a pipelined request
  SoupServerMessage* msg = nullptr;  // the request on it now (a weak reference)
  glib_support::Source timer;
  glib_support::Source watch;
  size_t bodyBytes = 0;
  unsigned nested = 0;

  // It ends its own life (destroyHandedOff), its socket closed before.
  ~Connection() {
    g_object_unref(local);
    g_object_unref(remote);
  }
};

SoupConnections::SoupConnections(GMainContext* context, SoupServer* server, const ConnectionPolicy& policy,
                                 std::function<void(const std::string&)> released)
    : context_(g_main_context_ref(context)), server_(server), policy_(policy), released_(std::move(released)) {
  requestStarted_ = g_signal_connect(server_, "request-started", G_CALLBACK(&SoupConnections::onRequestStarted), this);
}

SoupConnections::~SoupConnections() {
  g_signal_handler_disconnect(server_, requestStarted_);
  for (Connection* c : connections_) {
    clearSources(c);
    setMessage(c, nullptr);
    if (c->resume) dropStolen(c, std::exchange(c->resume, nullptr));  // the descriptor is ours again
    if (c->inSoup) {
      c->owner = nullptr;  // onStreamGone closes and frees it when libsoup lets go
      continue;
    }
    closeSocket(c->socket);
    glib_support::destroyHandedOff<Connection>(c);
  }
  connections_.clear();
  g_main_context_unref(context_);
}

void SoupConnections::adopt(int fd, const sockaddr* address, socklen_t length, std::string key,
                            int64_t headerDeadlineUs, const sockaddr* reached, socklen_t reachedLength) {
  sockaddr_storage local{};
  socklen_t localLength = sizeof local;
  GSocketAddress* remote = g_socket_address_new_from_native(const_cast<sockaddr*>(address), length);
  GSocketAddress* here = reached ? g_socket_address_new_from_native(const_cast<sockaddr*>(reached), reachedLength)
                         : getsockname(fd, reinterpret_cast<sockaddr*>(&local), &localLength) == 0
                             ? g_socket_address_new_from_native(&local, localLength)
                             : nullptr;
  // A GSocket allocates no descriptor (GUnixInputStream would: GIO probes pollability with an
  // epoll instance, and aborts the process when that fails, as it does at the fd limit).
  GSocket* socket = g_socket_new_from_fd(fd, nullptr);
  if (!remote || !here || !socket) {
    if (remote) g_object_unref(remote);
    if (here) g_object_unref(here);
    if (socket) closeSocket(socket);
    else close(fd);
    released_(key);
    return;
  }
  Connection* c = std::make_unique<Connection>(this, socket, fd, std::move(key), here, remote).release();
  connections_.insert(c);
  handOver(c, nullptr, headerDeadlineUs);
}

// libsoup reads the next request. `stolen`: a stream it gave back with a request in its buffer.
void SoupConnections::handOver(Connection* c, GIOStream* stolen, int64_t headerDeadlineUs) {
  clearSources(c);
  GIOStream* stream = stolen;
  if (!stream) {
    // A fresh GSocketConnection per request: when libsoup lets go of it without closing it, it
    // leaves the socket open (a GSocketConnection closes its socket only when asked to, not when
    // disposed), and we hold the socket.
    stream = G_IO_STREAM(g_socket_connection_factory_create_connection(c->socket));
    c->inSoup = stream;
    g_object_weak_ref(G_OBJECT(stream), &SoupConnections::onStreamGone, c);
  }
  c->phase = Phase::Headers;
  c->bodyBytes = 0;
  arm(c, headerDeadlineUs);
  // request-started is emitted from inside this call: onRequestStarted ties the message to c.
  handingOver_ = c;
  soup_server_accept_iostream(server_, stream, c->local, c->remote, nullptr);
  handingOver_ = nullptr;
  g_object_unref(stream);  // libsoup holds its own
}

void SoupConnections::onRequestStarted(SoupServer*, SoupServerMessage* msg, gpointer data) {
  auto* self = static_cast<SoupConnections*>(data);
  Connection* c = self->handingOver_;
  if (!c) return;  // not one of ours (libsoup never keeps a connection past a response now)
  self->setMessage(c, msg);
  g_signal_connect(msg, "got-headers", G_CALLBACK(&SoupConnections::onGotHeaders), c);
  g_signal_connect(msg, "got-chunk", G_CALLBACK(&SoupConnections::onGotChunk), c);
  g_signal_connect(msg, "got-body", G_CALLBACK(&SoupConnections::onGotBody), c);
  g_signal_connect(msg, "wrote-informational", G_CALLBACK(&SoupConnections::onWroteInformational), c);
  g_signal_connect(msg, "wrote-body", G_CALLBACK(&SoupConnections::onWroteBody), c);
}

void SoupConnections::onGotHeaders(SoupServerMessage* msg, gpointer data) {
  auto* c = static_cast<Connection*>(data);
  if (!c->owner) return;
  SoupMessageHeaders* headers = soup_server_message_get_request_headers(msg);
  const SoupEncoding encoding = soup_message_headers_get_encoding(headers);
  const goffset length =
      encoding == SOUP_ENCODING_CONTENT_LENGTH ? soup_message_headers_get_content_length(headers) : -1;
  if (length > static_cast<goffset>(c->owner->policy_.maxBodyBytes)) return c->owner->refuseBody(c);
  if (encoding == SOUP_ENCODING_NONE || length == 0) {
    c->phase = Phase::Handling;  // no body: the handler may take its time (it is ours)
    return c->owner->clearSources(c);
  }
  c->phase = Phase::Body;
  c->owner->arm(c, afterSeconds(c->owner->policy_.bodyTimeoutSeconds));
}

// Chunked bodies announce no length: count what arrives, whatever the encoding.
void SoupConnections::onGotChunk(SoupServerMessage*, GBytes* chunk, gpointer data) {
  auto* c = static_cast<Connection*>(data);
  if (!c->owner) return;
  c->bodyBytes += g_bytes_get_size(chunk);
  if (c->bodyBytes > c->owner->policy_.maxBodyBytes) c->owner->refuseBody(c);
}

void SoupConnections::onGotBody(SoupServerMessage*, gpointer data) {
  auto* c = static_cast<Connection*>(data);
  if (!c->owner) return;
  c->phase = Phase::Handling;
  c->owner->clearSources(c);
}

// "101 Switching Protocols": libsoup makes it a WebSocket (WsHub has its own deadlines). The
// stream is let go of, and the descriptor closed, when the WebSocket is finalized.
void SoupConnections::onWroteInformational(SoupServerMessage* msg, gpointer data) {
  auto* c = static_cast<Connection*>(data);
  if (!c->owner || soup_server_message_get_status(msg) != SOUP_STATUS_SWITCHING_PROTOCOLS) return;
  c->phase = Phase::Upgraded;
  c->owner->clearSources(c);
  c->owner->setMessage(c, nullptr);
}

void SoupConnections::onWroteBody(SoupServerMessage* msg, gpointer data) {
  auto* c = static_cast<Connection*>(data);
  if (!c->owner) return;
  if (!keepsAlive(msg)) {
    c->phase = Phase::Closing;  // libsoup disconnects it after this response
    return;
  }
  c->owner->takeBack(c);
}

// After a response on a keep-alive connection: ours again until the next request.
void SoupConnections::takeBack(Connection* c) {
  GIOStream* stolen = steal(c);
  if (!stolen) return;
  GInputStream* in = g_io_stream_get_input_stream(stolen);
  const bool pipelined = G_IS_POLLABLE_INPUT_STREAM(in) && g_pollable_input_stream_is_readable(G_POLLABLE_INPUT_STREAM(in));
  if (pipelined && c->nested < kMaxNested) {
    // The next request may already sit in libsoup's buffer: hand the same stream back, from
    // the main loop rather than from inside libsoup's write.
    c->nested++;
    c->resume = stolen;
    c->phase = Phase::Resuming;
    c->watch = glib_support::Source::attach(g_idle_source_new(), context_, &SoupConnections::onResume, c);
    return;
  }
  dropStolen(c, stolen);
  if (pipelined) return closeNow(c);
  c->nested = 0;
  c->phase = Phase::Idle;
  arm(c, afterSeconds(policy_.idleTimeoutSeconds));
  watch(c, G_SOURCE_FUNC(&SoupConnections::onIdleReadable));
}

gboolean SoupConnections::onResume(gpointer data) {
  auto* c = static_cast<Connection*>(data);
  GIOStream* stream = c->resume;
  c->resume = nullptr;
  c->watch.reset();
  c->owner->handOver(c, stream, afterSeconds(c->owner->policy_.headerTimeoutSeconds));
  return G_SOURCE_REMOVE;
}

// Takes the connection from libsoup, wherever its request is.
GIOStream* SoupConnections::steal(Connection* c) {
  SoupServerMessage* msg = c->msg;
  if (!msg) return nullptr;
  g_object_ref(msg);
  setMessage(c, nullptr);
  GIOStream* stolen = soup_server_message_steal_connection(msg);
  g_object_unref(msg);
  return stolen;
}

// Lets go of libsoup's stream without closing the descriptor (our streams never close it).
void SoupConnections::dropStolen(Connection* c, GIOStream* stolen) {
  if (c->inSoup) g_object_weak_unref(G_OBJECT(c->inSoup), &SoupConnections::onStreamGone, c);
  c->inSoup = nullptr;
  if (stolen) g_object_unref(stolen);
}

gboolean SoupConnections::onIdleReadable(gint fd, GIOCondition, gpointer data) {
  auto* c = static_cast<Connection*>(data);
  char byte;
  const ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return G_SOURCE_CONTINUE;
  // The client closed (or broke) its side: reaped at once.
  if (n <= 0) {
    c->owner->closeNow(c);
    return G_SOURCE_CONTINUE;  // closeNow destroyed this source
  }
  c->owner->handOver(c, nullptr, afterSeconds(c->owner->policy_.headerTimeoutSeconds));
  return G_SOURCE_CONTINUE;  // handOver destroyed this source
}

// Over the body limit: 413 with the stable code, and the connection closes. libsoup would
// read (and keep) the whole body before any handler could answer, so the answer is ours.
void SoupConnections::refuseBody(Connection* c) {
  GIOStream* stolen = steal(c);
  if (!stolen) return;
  dropStolen(c, stolen);
  const std::string body = protocol::encodeRestError(
      {core::ErrorCode::TooLarge, "request bodies are limited to " + std::to_string(policy_.maxBodyBytes) + " bytes"});
  const std::string response = "HTTP/1.1 " + std::to_string(core::httpStatusFor(core::ErrorCode::TooLarge)) +
                               " Payload Too Large\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
                               "Connection: close\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n" + body;
  // A few hundred bytes into an idle send buffer: one call writes them all.
  (void)!send(c->fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  shutdown(c->fd, SHUT_WR);
  c->phase = Phase::Lingering;
  arm(c, g_get_monotonic_time() + kLingerUs);
  watch(c, G_SOURCE_FUNC(&SoupConnections::onLingerReadable));
}

gboolean SoupConnections::onLingerReadable(gint fd, GIOCondition, gpointer data) {
  auto* c = static_cast<Connection*>(data);
  static std::array<char, 65536> sink;
  for (int i = 0; i < 16; i++) {
    const ssize_t n = recv(fd, sink.data(), sink.size(), MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return G_SOURCE_CONTINUE;
    c->owner->closeNow(c);  // the client has closed (or the connection broke)
    return G_SOURCE_CONTINUE;
  }
  return G_SOURCE_CONTINUE;
}

gboolean SoupConnections::onDeadline(gpointer data) {
  auto* c = static_cast<Connection*>(data);
  SoupConnections* self = c->owner;
  c->timer.reset();
  switch (c->phase) {
    case Phase::Headers:
    case Phase::Body: {
      // Too slow (or gone silent) mid-request: taken from libsoup and closed.
      GIOStream* stolen = self->steal(c);
      if (!stolen) break;  // libsoup has let go already; onStreamGone closes it
      self->dropStolen(c, stolen);
      self->closeNow(c);
      break;
    }
    case Phase::Idle:
    case Phase::Lingering: self->closeNow(c); break;
    default: break;
  }
  return G_SOURCE_REMOVE;
}

// libsoup let go of the stream (it disconnected the connection, or a WebSocket ended).
void SoupConnections::onStreamGone(gpointer data, GObject*) {
  auto* c = static_cast<Connection*>(data);
  c->inSoup = nullptr;
  if (!c->owner) {
    closeSocket(c->socket);
    glib_support::destroyHandedOff<Connection>(c);
    return;
  }
  c->owner->closeNow(c);
}

void SoupConnections::onMessageGone(gpointer data, GObject*) { static_cast<Connection*>(data)->msg = nullptr; }

void SoupConnections::closeNow(Connection* c) {
  clearSources(c);
  setMessage(c, nullptr);
  if (c->resume) dropStolen(c, std::exchange(c->resume, nullptr));
  if (c->inSoup) return;  // never under libsoup's feet: onStreamGone comes back here
  closeSocket(c->socket);
  released_(c->key);
  connections_.erase(c);
  glib_support::destroyHandedOff<Connection>(c);
}

void SoupConnections::arm(Connection* c, int64_t deadlineUs) {
  const int64_t left = std::max<int64_t>(0, deadlineUs - g_get_monotonic_time());
  const auto leftMs = static_cast<guint>((left + 999) / 1000);
  c->timer = glib_support::Source::timeout(context_, leftMs, &SoupConnections::onDeadline, c);
}

void SoupConnections::watch(Connection* c, GSourceFunc onReady) {
  GSource* readable = g_unix_fd_source_new(c->fd, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR));
  c->watch = glib_support::Source::attach(readable, context_, onReady, c);  // the previous one goes
}

void SoupConnections::clearSources(Connection* c) {
  c->timer.reset();
  c->watch.reset();
}

void SoupConnections::setMessage(Connection* c, SoupServerMessage* msg) {
  if (c->msg) {
    g_signal_handlers_disconnect_by_data(c->msg, c);
    g_object_weak_unref(G_OBJECT(c->msg), &SoupConnections::onMessageGone, c);
  }
  c->msg = msg;
  if (msg) g_object_weak_ref(G_OBJECT(msg), &SoupConnections::onMessageGone, c);
}

}  // namespace roomcast::signaling
