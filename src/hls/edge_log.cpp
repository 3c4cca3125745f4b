#include "hls/edge_log.h"

#include <sys/socket.h>

#include "hls/listener_counting.h"

namespace roomcast::hls {

namespace {

constexpr size_t kMaxDatagram = 1024;
constexpr int kMaxPerBatch = 2048;  // then the main loop serves everything else again
constexpr guint kBatchMs = 10;      // while lines flow: 100 wake-ups a second, not one per line
constexpr int kReceiveBuffer = 4 << 20;  // a batch's datagrams (about 1 KiB each in the kernel)
constexpr std::string_view kTag = "roomcast: ";

bool isIdChar(char c) { return g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.'; }

bool isId(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (!isIdChar(c)) return false;
  return true;
}

}  // namespace

core::Result<EdgeLogLine> parseEdgeLogLine(std::string_view datagram) {
  using core::Error;
  using core::ErrorCode;
  if (datagram.size() > kMaxDatagram) return Error{ErrorCode::TooLarge, "edge log line too long"};
  // "<PRI>Mmm dd hh:mm:ss roomcast: ROOM SESSION" (nginx, syslog nohostname); the tag is the
  // first "roomcast: " after the priority.
  const size_t tag = datagram.find(kTag);
  if (datagram.empty() || datagram[0] != '<' || tag == std::string_view::npos)
    return Error{ErrorCode::BadRequest, "not a roomcast edge log line"};
  std::string_view message = datagram.substr(tag + kTag.size());
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.remove_suffix(1);
  const size_t space = message.find(' ');
  if (space == std::string_view::npos) return Error{ErrorCode::BadRequest, "edge log line without a session"};
  std::string_view room = message.substr(0, space), session = message.substr(space + 1);
  if (!isId(room, 64) || !isId(session, 256)) return Error{ErrorCode::BadRequest, "malformed edge log line"};
  return EdgeLogLine{std::string(room), std::string(session)};
}

EdgeLogReceiver::EdgeLogReceiver(GMainContext* context, ListenerCounting& listeners)
    : context_(context), listeners_(listeners) {}

EdgeLogReceiver::~EdgeLogReceiver() {
  source_.reset();  // before the socket it watches
  if (socket_) g_object_unref(socket_);
}

core::Status EdgeLogReceiver::bind(const std::string& host, int port) {
  using core::Error;
  using core::ErrorCode;
  g_autoptr(GError) error = nullptr;
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string(host.c_str());
  if (!address) return Error{ErrorCode::BadRequest, "edge_log wants an IP address, got " + host};
  socket_ = g_socket_new(g_inet_address_get_family(address), G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_autoptr(GSocketAddress) where = g_inet_socket_address_new(address, static_cast<guint16>(port));
  if (socket_) g_socket_set_blocking(socket_, FALSE);
  if (!socket_ || !g_socket_bind(socket_, where, TRUE, &error)) {
    return Error{ErrorCode::Internal, "cannot listen for the edge's log on udp " + host + ":" + std::to_string(port) +
                                          ": " + (error ? error->message : "unknown error")};
  }
  // Room for a batch: the kernel caps this at twice net.core.rmem_max.
  g_socket_set_option(socket_, SOL_SOCKET, SO_RCVBUF, kReceiveBuffer, nullptr);
  watchSocket();
  return core::Ok{};
}

void EdgeLogReceiver::watchSocket() {
  // A socket source calls a GSocketSourceFunc through the GSourceFunc slot; the double cast says so.
  source_ = glib_support::Source::attach(
      g_socket_create_source(socket_, G_IO_IN, nullptr), context_,
      reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)()>(&EdgeLogReceiver::onReadable)), this);
}

int EdgeLogReceiver::drain() {
  char buffer[kMaxDatagram + 1];
  int n = 0;
  for (; n < kMaxPerBatch; n++) {
    const gssize got = g_socket_receive(socket_, buffer, sizeof buffer, nullptr, nullptr);
    if (got < 0) break;  // nothing more for now (or an error the next wake-up sees again)
    handle(std::string_view(buffer, static_cast<size_t>(got)));
  }
  return n;
}

gboolean EdgeLogReceiver::onReadable(GSocket*, GIOCondition, gpointer data) {
  auto* self = static_cast<EdgeLogReceiver*>(data);
  self->drain();
  // Lines are flowing: collect the next ones in a batch instead of waking for each (replacing
  // this watch).
  self->source_ = glib_support::Source::timeout(self->context_, kBatchMs, &EdgeLogReceiver::onBatchTimer, self);
  return G_SOURCE_REMOVE;
}

gboolean EdgeLogReceiver::onBatchTimer(gpointer data) {
  auto* self = static_cast<EdgeLogReceiver*>(data);
  if (self->drain() > 0) return G_SOURCE_CONTINUE;
  self->watchSocket();  // replaces this timer
  return G_SOURCE_REMOVE;
}

void EdgeLogReceiver::handle(std::string_view datagram) {
  auto line = parseEdgeLogLine(datagram);
  if (!line || !listeners_.count(line.value().room, line.value().session)) {
    // Said once, then counted: a misconfigured edge would otherwise fill the log.
    if (rejected_++ == 0)
      g_warning("edge log: ignored a line (%s); further ones are only counted",
                line ? "a session this server did not sign" : line.error().message.c_str());
    return;
  }
  accepted_++;
}

}  // namespace roomcast::hls
