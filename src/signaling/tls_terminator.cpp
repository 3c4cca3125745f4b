#include "signaling/tls_terminator.h"

#include <glib-unix.h>
#include <gnutls/gnutls.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

#include "glib_support/source.h"
#include "signaling/connection_router.h"
#include "signaling/tls_credentials.h"

namespace roomcast::signaling {

using hls::FirstRequest;

namespace {

constexpr size_t kChunk = 16384;  // one TLS record's worth
// After the server's side has closed, what the client still sends is read (and dropped) for
// this long before the connection closes, so that it reads the last answer rather than a reset.
constexpr guint kLingerMs = 1000;

// Watches `fd` for `condition`, and for hang-ups and errors, on `context`.
glib_support::Source watchFd(GMainContext* context, int fd, GIOCondition condition, GUnixFDSourceFunc fn,
                             gpointer data) {
  GSource* watch = g_unix_fd_source_new(fd, static_cast<GIOCondition>(condition | G_IO_HUP | G_IO_ERR));
  return glib_support::Source::attach(watch, context, G_SOURCE_FUNC(fn), data);
}

bool again(int result) { return result == GNUTLS_E_AGAIN || result == GNUTLS_E_INTERRUPTED; }

}  // namespace

struct TlsTerminator::Link {
  TlsTerminator* owner;
  int fd;  // the client's TCP socket
  std::string key;
  sockaddr_storage remote;
  socklen_t remoteLength;
  sockaddr_storage local{};
  socklen_t localLength = 0;
  int64_t headerDeadlineUs = 0;
  ServerCredentials credentials{};  // those the handshake used, alive as long as the session
  gnutls_session_t session = nullptr;
  bool handedOn = false;  // the plain end is someone else's (and so is the count)
  int plain = -1;         // our end of the pair
  std::string first{};    // decrypted before the first request was classified
  std::string up{};       // client → server, not yet written
  std::string down{};     // server → client, not yet written (GnuTLS wants the same bytes again)
  bool clientClosed = false;
  bool serverClosed = false;
  glib_support::Source timer;  // the header deadline, later the linger
  glib_support::Source handshakeWatch;
  glib_support::Source clientIn;
  glib_support::Source clientOut;
  glib_support::Source plainIn;
  glib_support::Source plainOut;
};

TlsTerminator::TlsTerminator(GMainContext* context, const TlsCredentials& credentials,
                             std::function<void(const PlainConnection&)> handOn,
                             std::function<void(const std::string&)> released)
    : context_(g_main_context_ref(context)),
      credentials_(credentials),
      handOn_(std::move(handOn)),
      released_(std::move(released)) {}

TlsTerminator::~TlsTerminator() {
  while (!links_.empty()) finish(links_.begin()->first);
  g_main_context_unref(context_);
}

void TlsTerminator::adopt(int fd, const sockaddr_storage& address, socklen_t length, std::string key,
                          int64_t headerDeadlineUs) {
  auto owned = std::make_unique<Link>(this, fd, std::move(key), address, length);
  Link* l = owned.get();
  l->headerDeadlineUs = headerDeadlineUs;
  l->localLength = sizeof l->local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&l->local), &l->localLength) != 0) l->localLength = 0;
  l->credentials = credentials_.current();
  links_.emplace(l, std::move(owned));
  if (gnutls_init(&l->session, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) != GNUTLS_E_SUCCESS ||
      gnutls_set_default_priority(l->session) != GNUTLS_E_SUCCESS ||
      gnutls_credentials_set(l->session, GNUTLS_CRD_CERTIFICATE, l->credentials.get()) != GNUTLS_E_SUCCESS) {
    g_warning("TLS: cannot set up a session");
    return finish(l);
  }
  gnutls_certificate_server_set_request(l->session, GNUTLS_CERT_IGNORE);  // no client certificates
  gnutls_handshake_set_timeout(l->session, 0);  // the header deadline bounds it
  gnutls_transport_set_int(l->session, fd);
  const int64_t left = std::max<int64_t>(0, headerDeadlineUs - g_get_monotonic_time());
  const auto leftMs = static_cast<guint>((left + 999) / 1000);
  l->timer = glib_support::Source::timeout(context_, leftMs, &TlsTerminator::onDeadline, l);
  handshake(l);
}

// One step of the handshake, as far as the bytes that have arrived allow; then the socket is
// watched for whatever GnuTLS waits for (more from the client, or room to send).
void TlsTerminator::handshake(Link* l) {
  l->handshakeWatch.reset();
  int result;
  do result = gnutls_handshake(l->session);
  while (result < 0 && !again(result) && !gnutls_error_is_fatal(result));  // warnings: go on
  if (result == GNUTLS_E_SUCCESS) return watchClientIn(l);
  if (!again(result)) {
    // Scanners, clients that distrust the certificate, plain HTTP on the TLS port: routine.
    g_debug("TLS handshake failed: %s", gnutls_strerror(result));
    return finish(l);
  }
  const GIOCondition wanted = gnutls_record_get_direction(l->session) == 1 ? G_IO_OUT : G_IO_IN;
  l->handshakeWatch = watchFd(context_, l->fd, wanted, &TlsTerminator::onHandshakeReady, l);
}

gboolean TlsTerminator::onHandshakeReady(gint, GIOCondition, gpointer data) {
  auto* l = static_cast<Link*>(data);
  l->owner->handshake(l);
  return G_SOURCE_CONTINUE;  // handshake() replaced or destroyed this source
}

gboolean TlsTerminator::onDeadline(gpointer data) {
  auto* l = static_cast<Link*>(data);
  l->owner->finish(l);  // no request by the header deadline, or the linger is over
  return G_SOURCE_REMOVE;
}

// Reads the client again: at once if GnuTLS holds decrypted bytes already (the socket would
// not wake us for them), else when the socket is readable.
void TlsTerminator::watchClientIn(Link* l) {
  if (l->clientIn.pending() || l->clientClosed) return;
  if (gnutls_record_check_pending(l->session) > 0) {
    l->clientIn = glib_support::Source::attach(g_idle_source_new(), context_, &TlsTerminator::onClientReadable, l);
  } else {
    l->clientIn = watchFd(context_, l->fd, G_IO_IN, +[](gint, GIOCondition, gpointer link) {
      return TlsTerminator::onClientReadable(link);
    }, l);
  }
}

gboolean TlsTerminator::onClientReadable(gpointer data) {
  auto* l = static_cast<Link*>(data);
  TlsTerminator* self = l->owner;
  std::array<char, kChunk> buffer;
  ssize_t n = gnutls_record_recv(l->session, buffer.data(), buffer.size());
  if (again(static_cast<int>(n)) || (n < 0 && !gnutls_error_is_fatal(static_cast<int>(n)))) {
    // Nothing (more) to read yet, or an alert that is only a warning: wait as the state is now.
    l->clientIn.reset();
    self->watchClientIn(l);
    return G_SOURCE_CONTINUE;
  }
  l->clientIn.reset();  // pumpUp watches again once this much has gone on
  if (n <= 0) {
    // Closed (with or without close_notify) or broken: the server's side sees end-of-file.
    l->clientClosed = true;
    if (!l->handedOn || l->serverClosed) self->finish(l);
    else self->pumpUp(l);
    return G_SOURCE_CONTINUE;
  }
  if (!l->handedOn) {
    l->first.append(buffer.data(), static_cast<size_t>(n));
    const FirstRequest kind = hls::classifyFirstRequest(l->first);
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
  l->timer.reset();  // the plain connection's deadlines apply from here on
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
      if (!l->plainOut.pending())
        l->plainOut = watchFd(context_, l->plain, G_IO_OUT, &TlsTerminator::onPlainWritable, l);
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
  l->plainOut.reset();
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
    const ssize_t n = gnutls_record_send(l->session, l->down.data(), l->down.size());
    if (again(static_cast<int>(n))) {
      if (!l->clientOut.pending())
        l->clientOut = watchFd(context_, l->fd, G_IO_OUT, &TlsTerminator::onClientWritable, l);
      return;
    }
    if (n < 0) return finish(l);  // the client is gone
    l->down.erase(0, static_cast<size_t>(n));
  }
  l->clientOut.reset();
  if (l->serverClosed) return serverDone(l);
  if (!l->plainIn.pending()) l->plainIn = watchFd(context_, l->plain, G_IO_IN, &TlsTerminator::onPlainReadable, l);
}

gboolean TlsTerminator::onClientWritable(gint, GIOCondition, gpointer data) {
  auto* l = static_cast<Link*>(data);
  l->owner->pumpDown(l);
  return G_SOURCE_CONTINUE;
}

gboolean TlsTerminator::onPlainReadable(gint fd, GIOCondition, gpointer data) {
  auto* l = static_cast<Link*>(data);
  std::array<char, kChunk> buffer;
  const ssize_t n = recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return G_SOURCE_CONTINUE;
  l->plainIn.reset();
  if (n <= 0) l->serverClosed = true;  // the server closed (or shut down) its side
  else l->down.assign(buffer.data(), static_cast<size_t>(n));
  l->owner->pumpDown(l);
  return G_SOURCE_CONTINUE;
}

// The server has said all it will: close_notify to the client, and the connection closes once
// the client has closed too, or after the linger.
void TlsTerminator::serverDone(Link* l) {
  if (l->clientClosed) return finish(l);
  if (l->timer.pending()) return;  // already lingering
  (void)gnutls_bye(l->session, GNUTLS_SHUT_WR);  // one try: the alert fits an idle send buffer
  shutdown(l->fd, SHUT_WR);
  l->timer = glib_support::Source::timeout(context_, kLingerMs, &TlsTerminator::onDeadline, l);
  watchClientIn(l);
}

void TlsTerminator::finish(Link* l) {
  // Before the descriptors they watch close.
  for (auto* s : {&l->timer, &l->handshakeWatch, &l->clientIn, &l->clientOut, &l->plainIn, &l->plainOut}) s->reset();
  if (l->plain >= 0) close(l->plain);
  if (l->session) gnutls_deinit(l->session);
  close(l->fd);
  if (!l->handedOn) released_(l->key);
  links_.erase(l);  // frees it
}

}  // namespace roomcast::signaling
