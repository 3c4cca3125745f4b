#include "signaling/connection_router.h"

#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "signaling/listener_http.h"

namespace roomcast::signaling {

namespace {

constexpr std::array<std::string_view, 3> kHlsStarts = {"GET /hls/", "HEAD /hls/", "OPTIONS /hls/"};
constexpr size_t kLongestStart = 13;  // "OPTIONS /hls/"
// A connection whose first bytes came in pieces is looked at again after this long.
constexpr guint kRecheckMs = 5;
// New connections taken per wake-up (the rest on the next).
constexpr int kAcceptBatch = 64;

}  // namespace

FirstRequest classifyFirstRequest(std::string_view bytes) {
  bool couldStillBe = false;
  for (std::string_view start : kHlsStarts) {
    const size_t n = std::min(bytes.size(), start.size());
    if (bytes.substr(0, n) != start.substr(0, n)) continue;
    if (n == start.size()) return FirstRequest::Hls;
    couldStillBe = true;
  }
  return couldStillBe ? FirstRequest::Undecided : FirstRequest::Other;
}

struct ConnectionRouter::Undecided {
  ConnectionRouter* router;
  int fd;
  sockaddr_storage address;
  socklen_t length;
  GSource* watch = nullptr;    // readable, or the re-check timer
  GSource* timeout = nullptr;  // kFirstBytesTimeoutSeconds
};

ConnectionRouter::ConnectionRouter(GMainContext* context, SoupServer* server, ListenerHttp* listener)
    : context_(g_main_context_ref(context)), server_(server), listener_(listener) {}

ConnectionRouter::~ConnectionRouter() {
  while (!undecided_.empty()) {
    Undecided* u = *undecided_.begin();
    close(u->fd);
    finish(u);
  }
  if (acceptSource_) {
    g_source_destroy(acceptSource_);
    g_source_unref(acceptSource_);
  }
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
  acceptSource_ = g_socket_create_source(socket_, G_IO_IN, nullptr);
  g_source_set_callback(acceptSource_, G_SOURCE_FUNC(&ConnectionRouter::onAcceptable), this, nullptr);
  g_source_attach(acceptSource_, context_);

  g_autoptr(GSocketAddress) bound = g_socket_get_local_address(socket_, &error);
  if (!bound) return core::Error{core::ErrorCode::Internal, std::string("cannot listen: ") + error->message};
  const guint16 boundPort = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  const bool v6 = g_inet_address_get_family(address) == G_SOCKET_FAMILY_IPV6;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(boundPort) + "/";
}

gboolean ConnectionRouter::onAcceptable(GSocket* socket, GIOCondition, gpointer data) {
  auto* self = static_cast<ConnectionRouter*>(data);
  for (int i = 0; i < kAcceptBatch; i++) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    const int fd = accept4(g_socket_get_fd(socket), reinterpret_cast<sockaddr*>(&address), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;  // EAGAIN: all taken; anything else: the client is already gone
    // As libsoup does for the connections it accepts itself: a response or WebSocket message
    // written in two pieces must not wait for the client's delayed ACK (40 ms).
    const int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    if (!self->listener_ || self->undecided_.size() >= kMaxUndecided) {
      self->toSoup(fd);
      continue;
    }
    auto* u = new Undecided{self, fd, address, length};
    self->undecided_.insert(u);
    u->timeout = g_timeout_source_new_seconds(kFirstBytesTimeoutSeconds);
    g_source_set_callback(u->timeout, &ConnectionRouter::onTimeout, u, nullptr);
    g_source_attach(u->timeout, self->context_);
    self->look(u);
  }
  return G_SOURCE_CONTINUE;
}

// Peeks at what the client sent so far and sends the connection on, or waits for more.
void ConnectionRouter::look(Undecided* u) {
  if (u->watch) {
    g_source_destroy(u->watch);
    g_source_unref(u->watch);
    u->watch = nullptr;
  }
  char bytes[kLongestStart];
  const ssize_t n = recv(u->fd, bytes, sizeof bytes, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {  // gone
    close(u->fd);
    return finish(u);
  }
  const FirstRequest kind = n < 0 ? FirstRequest::Undecided : classifyFirstRequest({bytes, static_cast<size_t>(n)});
  if (kind == FirstRequest::Hls) {
    listener_->adopt(u->fd, reinterpret_cast<const sockaddr*>(&u->address), u->length);  // closes it on failure
    return finish(u);
  }
  if (kind == FirstRequest::Other) {
    toSoup(u->fd);
    return finish(u);
  }
  // Nothing yet: wait until something arrives. Part of a request line: the socket stays
  // readable, so look again a moment later instead of waking at once.
  u->watch = n < 0 ? g_unix_fd_source_new(u->fd, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR))
                   : g_timeout_source_new(kRecheckMs);
  if (n < 0)
    g_source_set_callback(u->watch, G_SOURCE_FUNC(&ConnectionRouter::onFirstBytes), u, nullptr);
  else
    g_source_set_callback(u->watch, &ConnectionRouter::onRecheck, u, nullptr);
  g_source_attach(u->watch, context_);
}

gboolean ConnectionRouter::onFirstBytes(gint, GIOCondition, gpointer data) {
  auto* u = static_cast<Undecided*>(data);
  u->router->look(u);
  return G_SOURCE_CONTINUE;  // look() has already destroyed this source
}

gboolean ConnectionRouter::onRecheck(gpointer data) {
  auto* u = static_cast<Undecided*>(data);
  u->router->look(u);
  return G_SOURCE_CONTINUE;
}

gboolean ConnectionRouter::onTimeout(gpointer data) {
  auto* u = static_cast<Undecided*>(data);
  close(u->fd);
  u->router->finish(u);
  return G_SOURCE_CONTINUE;
}

void ConnectionRouter::finish(Undecided* u) {
  for (GSource* s : {u->watch, u->timeout})
    if (s) {
      g_source_destroy(s);
      g_source_unref(s);
    }
  undecided_.erase(u);
  delete u;
}

void ConnectionRouter::toSoup(int fd) {
  g_autoptr(GError) error = nullptr;
  g_autoptr(GSocket) socket = g_socket_new_from_fd(fd, &error);
  if (!socket) {
    close(fd);
    return;
  }
  g_autoptr(GSocketConnection) connection = g_socket_connection_factory_create_connection(socket);
  g_autoptr(GSocketAddress) local = g_socket_get_local_address(socket, nullptr);
  g_autoptr(GSocketAddress) remote = g_socket_get_remote_address(socket, nullptr);
  if (!local || !remote || !soup_server_accept_iostream(server_, G_IO_STREAM(connection), local, remote, &error))
    g_socket_close(socket, nullptr);
}

}  // namespace roomcast::signaling
