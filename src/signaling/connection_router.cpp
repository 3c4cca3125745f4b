#include "signaling/connection_router.h"

#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>
#include <utility>

#include "core/error.h"
#include "hls/listener_http.h"
#include "protocol/messages.h"
#include "signaling/tls_credentials.h"

namespace roomcast::signaling {

using hls::FirstRequest;

namespace {

int64_t afterSeconds(double seconds) { return g_get_monotonic_time() + static_cast<int64_t>(seconds * G_USEC_PER_SEC); }

// Readable only once at least `bytes` have arrived (or the client closed, or an error).
void setLowWater(int fd, int bytes) { setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes); }

// One client address holds as many connections as it may: told so, and closed. The request
// (if any yet) is not read; the answer goes into an empty send buffer in one call.
void refuseOverAddressCap(int fd) {
  static const std::string response = [] {
    const std::string body = protocol::encodeRestError(
        {core::ErrorCode::RateLimited, "too many connections from this address ([server] max_connections_per_address)"});
    return "HTTP/1.1 " + std::to_string(core::httpStatusFor(core::ErrorCode::RateLimited)) +
           " Too Many Requests\r\nContent-Type: application/json\r\nConnection: close\r\nRetry-After: 5\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  (void)!send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  close(fd);
}

}  // namespace

struct ConnectionRouter::Undecided {
  ConnectionRouter* router;
  int fd;
  sockaddr_storage address;
  socklen_t length;
  std::string key;             // the client's address, as counted
  int64_t deadlineUs;          // the header deadline
  glib_support::Source watch;    // readable (past the low-water mark), hung up, or failed
  glib_support::Source timeout;  // the header deadline
  ssize_t seen = 0;            // bytes peeked so far
};

ConnectionRouter::ConnectionRouter(GMainContext* context, SoupServer* server, hls::ListenerHttp* listener,
                                   ConnectionPolicy policy, const TlsCredentials* tls)
    : context_(g_main_context_ref(context)),
      server_(server),
      listener_(listener),
      policy_(std::move(policy)),
      descriptorCeiling_(descriptorCeiling(currentFdLimit(), policy_.fdReserve)),
      counts_(policy_.maxPerAddress, totalConnectionCap(policy_, currentFdLimit()), policy_.uncappedAddresses),
      soup_(std::make_unique<SoupConnections>(context, server, policy_,
                                              [this](const std::string& key) { counts_.remove(key); })) {
  if (tls)
    tls_ = std::make_unique<TlsTerminator>(
        context, *tls, [this](const PlainConnection& c) { serve(c); },
        [this](const std::string& key) { counts_.remove(key); });
}

ConnectionRouter::~ConnectionRouter() {
  while (!undecided_.empty()) {
    Undecided* u = undecided_.begin()->first;
    close(u->fd);
    finish(u);
  }
  acceptSource_.reset();
  resumeSource_.reset();
  tls_.reset();  // its plain ends close; SoupConnections and the listener thread see them end
  soup_.reset();
  if (socket_) {
    g_socket_close(socket_, nullptr);
    g_object_unref(socket_);
  }
  g_main_context_unref(context_);
}

core::Result<std::string> ConnectionRouter::listen(const std::string& host, int port) {
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string(host.c_str());
  if (!address) return core::Error{core::ErrorCode::Internal, "--listen host must be an IP address: " + host};
  g_autoptr(GSocketAddress) wanted = g_inet_socket_address_new(address, static_cast<guint16>(port));
  g_autoptr(GError) error = nullptr;
  socket_ = g_socket_new(g_inet_address_get_family(address), G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  // A large backlog: thousands of players may connect within a second when a room is shared.
  if (socket_) g_socket_set_listen_backlog(socket_, 4096);
  if (!socket_ || !g_socket_bind(socket_, wanted, TRUE, &error) || !g_socket_listen(socket_, &error))
    return core::Error{core::ErrorCode::Internal, std::string("cannot listen: ") + error->message};
  startAccepting();

  g_autoptr(GSocketAddress) bound = g_socket_get_local_address(socket_, &error);
  if (!bound) return core::Error{core::ErrorCode::Internal, std::string("cannot listen: ") + error->message};
  const guint16 boundPort = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  const bool v6 = g_inet_address_get_family(address) == G_SOCKET_FAMILY_IPV6;
  return (tls_ ? "https://" : "http://") + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(boundPort) + "/";
}

void ConnectionRouter::startAccepting() {
  acceptSource_ = glib_support::Source::attach(g_socket_create_source(socket_, G_IO_IN, nullptr), context_,
                                               G_SOURCE_FUNC(&ConnectionRouter::onAcceptable), this);
}

// Out of descriptors (or kernel memory): the listening socket stays readable, and accepting
// again at once would spin. Stop for a while; the backlog waits, and rooms keep their fds.
void ConnectionRouter::backOff() {
  acceptSource_.reset();
  g_warning("cannot accept connections (%s): pausing %u ms", g_strerror(errno), backoffMs_);
  resumeSource_ = glib_support::Source::timeout(context_, backoffMs_, &ConnectionRouter::onResumeAccepting, this);
  backoffMs_ = std::min(backoffMs_ * 2, kBackoffMaxMs);
}

gboolean ConnectionRouter::onResumeAccepting(gpointer data) {
  auto* self = static_cast<ConnectionRouter*>(data);
  self->resumeSource_.reset();
  self->startAccepting();
  return G_SOURCE_REMOVE;
}

gboolean ConnectionRouter::onAcceptable(GSocket* socket, GIOCondition, gpointer data) {
  auto* self = static_cast<ConnectionRouter*>(data);
  for (int i = 0; i < kAcceptBatch; i++) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    const int fd = accept4(g_socket_get_fd(socket), reinterpret_cast<sockaddr*>(&address), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        self->backOff();
        return G_SOURCE_REMOVE;  // backOff() has destroyed this source
      }
      if (errno == ECONNABORTED || errno == EINTR) continue;
      break;  // EAGAIN: all taken
    }
    self->backoffMs_ = kBackoffFirstMs;
    if (!self->admit(fd, address, length)) continue;
    // As libsoup does for the connections it accepts itself: a response or WebSocket message
    // written in two pieces must not wait for the client's delayed ACK (40 ms).
    const int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    const int64_t deadline = afterSeconds(self->policy_.headerTimeoutSeconds);
    std::string key = addressKey(reinterpret_cast<const sockaddr*>(&address), length);
    if (self->tls_) {
      self->tls_->adopt(fd, address, length, std::move(key), deadline);
      continue;
    }
    if (!self->listener_) {
      self->soup_->adopt(fd, reinterpret_cast<const sockaddr*>(&address), length, std::move(key), deadline);
      continue;
    }
    auto owned = std::make_unique<Undecided>(self, fd, address, length, std::move(key), deadline);
    Undecided* u = owned.get();
    self->undecided_.emplace(u, std::move(owned));
    u->timeout = glib_support::Source::timeout(
        self->context_, static_cast<guint>(self->policy_.headerTimeoutSeconds * 1000), &ConnectionRouter::onTimeout, u);
    const auto firstBytes = static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR);
    u->watch = glib_support::Source::attach(g_unix_fd_source_new(fd, firstBytes), self->context_,
                                            G_SOURCE_FUNC(&ConnectionRouter::onFirstBytes), u);
    self->look(u);
  }
  return G_SOURCE_CONTINUE;
}

// Counts the connection against the caps, or closes it at once.
bool ConnectionRouter::admit(int fd, const sockaddr_storage& address, socklen_t length) {
  const char* refusal = nullptr;
  // The lowest free number is always the one given: a descriptor this high means the process
  // already holds at least this many, and the rest is the rooms' (pipelines, peers, files).
  if (static_cast<unsigned>(fd) >= descriptorCeiling_) {
    refusal = "the descriptors left are the rooms' ([server] fd_reserve)";
    close(fd);
  } else {
    switch (counts_.add(addressKey(reinterpret_cast<const sockaddr*>(&address), length))) {
      case AddressCounts::Admit::Yes: return true;
      case AddressCounts::Admit::AddressFull:
        refusal = "an address over [server] max_connections_per_address";
        // Under TLS the answer would take a handshake first, the very work the cap limits (and
        // plain text on a TLS connection is noise to the client): the connection just closes.
        if (tls_) close(fd);
        else refuseOverAddressCap(fd);
        break;
      case AddressCounts::Admit::TotalFull:
        refusal = "all client connections allowed are open ([server] max_connections)";
        close(fd);
        break;
    }
  }
  // Told to the operator, at most every 10 s.
  refusedSinceLog_++;
  const int64_t now = g_get_monotonic_time();
  if (now - lastRefusalLogUs_ >= 10 * G_USEC_PER_SEC) {
    g_warning("refused %u connection(s), the last because %s", refusedSinceLog_, refusal);
    refusedSinceLog_ = 0;
    lastRefusalLogUs_ = now;
  }
  return false;
}

// Peeks at what the client sent so far and sends the connection on, or waits for more.
void ConnectionRouter::look(Undecided* u) {
  char bytes[hls::kLongestHlsRequestStart];
  const ssize_t n = recv(u->fd, bytes, sizeof bytes, MSG_PEEK | MSG_DONTWAIT);
  const bool nothingYet = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
  // Gone: closed before a byte, failed, or woken with no new byte past the low-water mark
  // (which only a close does).
  if (n == 0 || (n < 0 && !nothingYet) || (n > 0 && n == u->seen)) {
    close(u->fd);
    counts_.remove(u->key);
    return finish(u);
  }
  if (nothingYet) return;  // spurious: the watch stays
  const FirstRequest kind = hls::classifyFirstRequest({bytes, static_cast<size_t>(n)});
  if (kind != FirstRequest::Undecided && u->seen > 0) setLowWater(u->fd, 1);  // as sockets are
  if (kind == FirstRequest::Hls) {
    counts_.remove(u->key);  // libmicrohttpd's to limit from now on
    listener_->adopt(u->fd, reinterpret_cast<const sockaddr*>(&u->address), u->length);  // closes it on failure
    return finish(u);
  }
  if (kind == FirstRequest::Other) {
    soup_->adopt(u->fd, reinterpret_cast<const sockaddr*>(&u->address), u->length, u->key, u->deadlineUs);
    return finish(u);
  }
  // Part of a request line: not readable again until a byte more has arrived.
  u->seen = n;
  setLowWater(u->fd, static_cast<int>(n) + 1);
}

gboolean ConnectionRouter::onFirstBytes(gint, GIOCondition, gpointer data) {
  auto* u = static_cast<Undecided*>(data);
  u->router->look(u);
  return G_SOURCE_CONTINUE;  // if look() finished it, it has destroyed this source
}

gboolean ConnectionRouter::onTimeout(gpointer data) {
  auto* u = static_cast<Undecided*>(data);
  close(u->fd);
  u->router->counts_.remove(u->key);
  u->router->finish(u);
  return G_SOURCE_CONTINUE;
}

// Decrypted, its first request known: on as an unencrypted connection would go (look()).
void ConnectionRouter::serve(const PlainConnection& c) {
  if (c.kind == FirstRequest::Hls && listener_) {
    counts_.remove(c.key);  // libmicrohttpd's to limit from now on
    listener_->adopt(c.fd, c.remote, c.remoteLength);  // closes it on failure
    return;
  }
  soup_->adopt(c.fd, c.remote, c.remoteLength, c.key, c.headerDeadlineUs, c.local, c.localLength);
}

void ConnectionRouter::finish(Undecided* u) {
  undecided_.erase(u);  // frees it, and with it its sources
}

}  // namespace roomcast::signaling
