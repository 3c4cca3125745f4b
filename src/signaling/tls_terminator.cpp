#include "signaling/tls_terminator.h"

#include <glib-unix.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

#include "signaling/connection_router.h"
#include "signaling/tls_credentials.h"

namespace roomcast::signaling {

namespace {

constexpr size_t kChunk = 16384;  // one TLS record's worth
// After the server's side has closed, what the client still sends is read (and dropped) for
// this long before the connection closes, so that it reads the last answer rather than a reset.
constexpr guint kLingerMs = 1000;
// Blocking steps GIO's TLS does on its worker threads (the handshake, the closing alert) give
// up after this long, so a client that stops reading cannot hold one of them for ever.
constexpr guint kSocketTimeoutS = 30;

void stop(GSource*& source) {
  if (!source) return;
  g_source_destroy(source);
  g_source_unref(source);
  source = nullptr;
}

bool wouldBlock(const GError* error) { return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK); }

void closeQuietly(GIOStream* stream) {
  // Sends close_notify (on a GIO worker thread, bounded by the socket timeout), then lets go.
  g_io_stream_close_async(stream, G_PRIORITY_DEFAULT, nullptr,
                          [](GObject* s, GAsyncResult* r, gpointer) {
                            (void)g_io_stream_close_finish(G_IO_STREAM(s), r, nullptr);
                            g_object_unref(s);
                          },
                          nullptr);
}

}  // namespace

struct TlsTerminator::Link {
  TlsTerminator* owner;  // null once finished (the handshake may still be running)
  std::string key;
  sockaddr_storage remote;
  socklen_t remoteLength;
  sockaddr_storage local{};
  socklen_t localLength = 0;
  int64_t headerDeadlineUs = 0;
  GIOStream* tls = nullptr;  // the GTlsServerConnection over the client's socket
  GCancellable* cancel = g_cancellable_new();
  bool handshaking = false;
  bool handedOn = false;  // the plain end is someone else's (and so is the count)
  int plain = -1;         // our end of the pair
  std::string first{};    // decrypted before the first request was classified
  std::string up{};       // client → server, not yet written
  std::string down{};     // server → client, not yet written
  bool clientClosed = false;
  bool serverClosed = false;
  GSource* timer = nullptr;  // the header deadline, later the linger
  GSource* clientIn = nullptr;
  GSource* clientOut = nullptr;
  GSource* plainIn = nullptr;
  GSource* plainOut = nullptr;

  GPollableInputStream* in() const { return G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(tls)); }
  GPollableOutputStream* out() const { return G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(tls)); }
};

TlsTerminator::TlsTerminator(GMainContext* context, const TlsCredentials& credentials,
                             std::function<void(const PlainConnection&)> handOn,
                             std::function<void(const std::string&)> released)
    : context_(g_main_context_ref(context)),
      credentials_(credentials),
      handOn_(std::move(handOn)),
      released_(std::move(released)) {}

TlsTerminator::~TlsTerminator() {
  while (!links_.empty()) finish(*links_.begin());
  g_main_context_unref(context_);
}

void TlsTerminator::adopt(int fd, const sockaddr_storage& address, socklen_t length, std::string key,
                          int64_t headerDeadlineUs) {
  auto* l = new Link{this, std::move(key), address, length};
  l->headerDeadlineUs = headerDeadlineUs;
  l->localLength = sizeof l->local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&l->local), &l->localLength) != 0) l->localLength = 0;
  links_.insert(l);
  g_autoptr(GError) error = nullptr;
  GSocket* socket = g_socket_new_from_fd(fd, &error);
  if (!socket) {
    close(fd);
    return finish(l);
  }
  g_socket_set_timeout(socket, kSocketTimeoutS);
  g_autoptr(GSocketConnection) base = g_socket_connection_factory_create_connection(socket);
  g_object_unref(socket);  // the connection holds it, and closes it when it is closed or finalized
  l->tls = G_IO_STREAM(g_tls_server_connection_new(G_IO_STREAM(base), credentials_.current(), &error));
  if (!l->tls) {
    g_warning("TLS: %s", error->message);
    return finish(l);
  }
  const int64_t left = std::max<int64_t>(0, headerDeadlineUs - g_get_monotonic_time());
  l->timer = g_timeout_source_new(static_cast<guint>((left + 999) / 1000));
  g_source_set_callback(l->timer, &TlsTerminator::onDeadline, l, nullptr);
  g_source_attach(l->timer, context_);
  l->handshaking = true;
  g_main_context_push_thread_default(context_);
  g_tls_connection_handshake_async(G_TLS_CONNECTION(l->tls), G_PRIORITY_DEFAULT, l->cancel, &TlsTerminator::onHandshake, l);
  g_main_context_pop_thread_default(context_);
}

void TlsTerminator::onHandshake(GObject* source, GAsyncResult* result, gpointer data) {
  auto* l = static_cast<Link*>(data);
  g_autoptr(GError) error = nullptr;
  const bool ok = g_tls_connection_handshake_finish(G_TLS_CONNECTION(source), result, &error);
  l->handshaking = false;
  if (!l->owner) {  // finished while it ran
    closeQuietly(l->tls);
    g_object_unref(l->cancel);
    delete l;
    return;
  }
  if (!ok) {
    // Scanners, clients that distrust the certificate, plain HTTP on the TLS port: routine.
    g_debug("TLS handshake failed: %s", error->message);
    return l->owner->finish(l);
  }
  l->owner->watchClientIn(l);
}

gboolean TlsTerminator::onDeadline(gpointer data) {
  auto* l = static_cast<Link*>(data);
  g_source_unref(l->timer);
  l->timer = nullptr;
  l->owner->finish(l);  // no request by the header deadline, or the linger is over
  return G_SOURCE_REMOVE;
}

void TlsTerminator::watchClientIn(Link* l) {
  if (l->clientIn || l->clientClosed) return;
  l->clientIn = g_pollable_input_stream_create_source(l->in(), nullptr);
  g_source_set_callback(l->clientIn, G_SOURCE_FUNC(&TlsTerminator::onClientReadable), l, nullptr);
  g_source_attach(l->clientIn, context_);
}

gboolean TlsTerminator::onClientReadable(GObject*, gpointer data) {
  auto* l = static_cast<Link*>(data);
  TlsTerminator* self = l->owner;
  std::array<char, kChunk> buffer;
  g_autoptr(GError) error = nullptr;
  const gssize n = g_pollable_input_stream_read_nonblocking(l->in(), buffer.data(), buffer.size(), nullptr, &error);
  if (n < 0 && wouldBlock(error)) return G_SOURCE_CONTINUE;
  stop(l->clientIn);  // pumpUp watches again once this much has gone on
  if (n <= 0) {
    // Closed (with or without close_notify) or broken: the server's side sees end-of-file.
    l->clientClosed = true;
    if (!l->handedOn || l->serverClosed) self->finish(l);
    else self->pumpUp(l);
    return G_SOURCE_CONTINUE;
  }
  if (!l->handedOn) {
    l->first.append(buffer.data(), static_cast<size_t>(n));
    const FirstRequest kind = classifyFirstRequest(l->first);
    if (kind == FirstRequest::Undecided) {
      self->watchClientIn(l);
      return G_SOURCE_CONTINUE;
    }
    self->handOn(l, kind);
    return G_SOURCE_CONTINUE;
  }
  if (!l->serverClosed) l->up.append(buffer.data(), static_cast<size_t>(n));  // else dropped (lingering)
  self->pumpUp(l);
  return G_SOURCE_CONTINUE;
}

// The first request is known: a socket pair, and its other end served like a TCP connection.
void TlsTerminator::handOn(Link* l, FirstRequest kind) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
    g_warning("TLS: cannot hand a connection on: %s", g_strerror(errno));
    return finish(l);
  }
  stop(l->timer);  // the plain connection's deadlines apply from here on
  l->plain = pair[0];
  l->handedOn = true;
  l->up = std::move(l->first);
  l->first.clear();
  const PlainConnection plain{pair[1],
                              kind,
                              reinterpret_cast<const sockaddr*>(&l->remote),
                              l->remoteLength,
                              l->localLength ? reinterpret_cast<const sockaddr*>(&l->local) : nullptr,
                              l->localLength,
                              l->key,
                              l->headerDeadlineUs};
  handOn_(plain);
  pumpDown(l);  // only starts watching the pair (nothing to write yet): never finishes `l`
  pumpUp(l);    // may finish `l` (the server's end already closed): last
}

// Client → server: what was decrypted goes into the pair, then the client is read again.
void TlsTerminator::pumpUp(Link* l) {
  while (!l->up.empty()) {
    const ssize_t n = send(l->plain, l->up.data(), l->up.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!l->plainOut) {
        l->plainOut = g_unix_fd_source_new(l->plain, static_cast<GIOCondition>(G_IO_OUT | G_IO_HUP | G_IO_ERR));
        g_source_set_callback(l->plainOut, G_SOURCE_FUNC(&TlsTerminator::onPlainWritable), l, nullptr);
        g_source_attach(l->plainOut, context_);
      }
      return;
    }
    if (n < 0) {
      // The server's end is closed: whatever the client still sends has nobody to read it.
      l->up.clear();
      if (!l->serverClosed) return finish(l);
      break;
    }
    l->up.erase(0, static_cast<size_t>(n));
  }
  stop(l->plainOut);
  if (l->clientClosed) {
    shutdown(l->plain, SHUT_WR);
    if (l->serverClosed) finish(l);
    return;
  }
  watchClientIn(l);
}

gboolean TlsTerminator::onPlainWritable(gint, GIOCondition, gpointer data) {
  auto* l = static_cast<Link*>(data);
  l->owner->pumpUp(l);
  return G_SOURCE_CONTINUE;  // pumpUp stopped it if it is done
}

// Server → client: what the server wrote is encrypted to the client, then the pair is read again.
void TlsTerminator::pumpDown(Link* l) {
  while (!l->down.empty()) {
    g_autoptr(GError) error = nullptr;
    const gssize n =
        g_pollable_output_stream_write_nonblocking(l->out(), l->down.data(), l->down.size(), nullptr, &error);
    if (n < 0 && wouldBlock(error)) {
      if (!l->clientOut) {
        l->clientOut = g_pollable_output_stream_create_source(l->out(), nullptr);
        g_source_set_callback(l->clientOut, G_SOURCE_FUNC(&TlsTerminator::onClientWritable), l, nullptr);
        g_source_attach(l->clientOut, context_);
      }
      return;
    }
    if (n < 0) return finish(l);  // the client is gone
    l->down.erase(0, static_cast<size_t>(n));
  }
  stop(l->clientOut);
  if (l->serverClosed) return serverDone(l);
  if (!l->plainIn) {
    l->plainIn = g_unix_fd_source_new(l->plain, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR));
    g_source_set_callback(l->plainIn, G_SOURCE_FUNC(&TlsTerminator::onPlainReadable), l, nullptr);
    g_source_attach(l->plainIn, context_);
  }
}

gboolean TlsTerminator::onClientWritable(GObject*, gpointer data) {
  auto* l = static_cast<Link*>(data);
  l->owner->pumpDown(l);
  return G_SOURCE_CONTINUE;
}

gboolean TlsTerminator::onPlainReadable(gint fd, GIOCondition, gpointer data) {
  auto* l = static_cast<Link*>(data);
  std::array<char, kChunk> buffer;
  const ssize_t n = recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return G_SOURCE_CONTINUE;
  stop(l->plainIn);
  if (n <= 0) l->serverClosed = true;  // the server closed (or shut down) its side
  else l->down.assign(buffer.data(), static_cast<size_t>(n));
  l->owner->pumpDown(l);
  return G_SOURCE_CONTINUE;
}

// The server has said all it will: close_notify to the client, and the connection closes once
// the client has closed too, or after the linger.
void TlsTerminator::serverDone(Link* l) {
  if (l->clientClosed) return finish(l);
  if (l->timer) return;  // already lingering
  g_output_stream_close_async(G_OUTPUT_STREAM(l->out()), G_PRIORITY_DEFAULT, nullptr, nullptr, nullptr);
  l->timer = g_timeout_source_new(kLingerMs);
  g_source_set_callback(l->timer, &TlsTerminator::onDeadline, l, nullptr);
  g_source_attach(l->timer, context_);
  watchClientIn(l);
}

void TlsTerminator::finish(Link* l) {
  for (GSource** s : {&l->timer, &l->clientIn, &l->clientOut, &l->plainIn, &l->plainOut}) stop(*s);
  if (l->plain >= 0) close(l->plain);
  l->plain = -1;
  if (!l->handedOn) released_(l->key);
  links_.erase(l);
  l->owner = nullptr;
  if (l->handshaking) {
    g_cancellable_cancel(l->cancel);  // onHandshake frees it
    return;
  }
  if (l->tls) closeQuietly(l->tls);
  g_object_unref(l->cancel);
  delete l;
}

}  // namespace roomcast::signaling
