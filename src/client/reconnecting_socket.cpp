#include "client/reconnecting_socket.h"

#include <algorithm>
#include <cstdio>

#include "client/room_socket.h"

namespace roomcast::client {

namespace {

constexpr guint kFirstDelayMs = 250;
constexpr guint kMaxDelayMs = 2000;
// How long one attempt may take to be welcomed. Long enough for a relaying node that holds the
// socket while a room's new owner takes over (failover: within 10 s), short enough to move on
// from a node that accepts connections and answers nothing.
constexpr guint kAttemptPatienceMs = 15000;

}  // namespace

std::vector<std::string> splitServers(const std::string& commaSeparated) {
  std::vector<std::string> servers;
  size_t from = 0;
  while (from <= commaSeparated.size()) {
    size_t comma = commaSeparated.find(',', from);
    if (comma == std::string::npos) comma = commaSeparated.size();
    std::string server = commaSeparated.substr(from, comma - from);
    while (!server.empty() && (server.back() == '/' || server.back() == ' ')) server.pop_back();
    while (!server.empty() && server.front() == ' ') server.erase(0, 1);
    if (!server.empty()) servers.push_back(server);
    from = comma + 1;
  }
  return servers;
}

ReconnectingSocket::ReconnectingSocket(std::vector<std::string> servers, std::string room, std::string token,
                                       double reconnectForSeconds, ReconnectingSocketCallbacks callbacks)
    : servers_(std::move(servers)),
      room_(std::move(room)),
      token_(std::move(token)),
      reconnectForS_(reconnectForSeconds),
      callbacks_(std::move(callbacks)),
      session_(soup_session_new()) {}

ReconnectingSocket::~ReconnectingSocket() {
  stopped_ = true;
  dropSocket();
  g_object_unref(session_);
}

bool ReconnectingSocket::start() {
  for (const auto& server : servers_) {
    g_autoptr(GUri) uri = g_uri_parse(server.c_str(), G_URI_FLAGS_NONE, nullptr);
    if (!uri) return false;
  }
  if (servers_.empty()) return false;
  connect();
  return true;
}

void ReconnectingSocket::connect() {
  const int attempt = ++attempt_;
  welcomedHere_ = false;
  connecting_ = g_cancellable_new();
  RoomSocketCallbacks callbacks;
  callbacks.onMessage = [this, attempt](const std::string& text) {
    if (attempt == attempt_ && !stopped_) callbacks_.onMessage(text);
  };
  callbacks.onClosed = [this, attempt] { onClosed(attempt); };
  callbacks.onFailed = [this, attempt](const std::string& why) { onOpenFailed(attempt, why); };
  callbacks.beforeHello = [this, attempt] {
    if (attempt != attempt_) return;
    g_clear_object(&connecting_);
    if (callbacks_.beforeHello) callbacks_.beforeHello();
  };
  const std::string& server = servers_[server_];
  openRoomSocket(session_, server, room_, token_, &ws_, std::move(callbacks), resume_, connecting_);
  guint patienceMs = kAttemptPatienceMs;
  if (everWelcomed_) {
    const double leftMs = reconnectForS_ * 1000 - (g_get_monotonic_time() - lostUs_) / 1000.0;
    patienceMs = static_cast<guint>(std::clamp(leftMs, 1.0, static_cast<double>(kAttemptPatienceMs)));
  }
  patience_ = glib_support::Source::timeout(nullptr, patienceMs, [](gpointer data) -> gboolean {
    auto* self = static_cast<ReconnectingSocket*>(data);
    self->patience_ = {};
    self->dropSocket();
    self->retry("no welcome from " + self->servers_[self->server_] + " in time");
    return G_SOURCE_REMOVE;
  }, this);
}

void ReconnectingSocket::onOpenFailed(int attempt, const std::string& why) {
  if (attempt != attempt_ || stopped_) return;
  g_clear_object(&connecting_);
  patience_.reset();
  retry(servers_[server_] + ": " + why);
}

// Inside the socket's "closed" signal: the socket is let go of on the next turn of the loop,
// outside the emission (its callbacks live on it).
void ReconnectingSocket::onClosed(int attempt) {
  if (attempt != attempt_ || stopped_) return;
  closedLater_ = glib_support::Source::timeout(nullptr, 0, [](gpointer data) -> gboolean {
    auto* self = static_cast<ReconnectingSocket*>(data);
    self->closedLater_ = {};
    const gushort code = self->ws_ ? soup_websocket_connection_get_close_code(self->ws_) : 0;
    const char* closeData = self->ws_ ? soup_websocket_connection_get_close_data(self->ws_) : nullptr;
    const std::string reason = closeData && *closeData ? closeData : "no reason given";
    self->dropSocket();
    // Final: the server refused this participant (1008: a token refused, a removal, a rate
    // limit, no hello in time), or another connection with this token took over (coming back
    // would throw that one out in turn).
    if (code == SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION || reason == "replaced by a newer connection")
      self->fail("the server closed the connection (" + std::to_string(code) + ", " + reason + ")");
    else
      self->retry("the connection closed (" + (code ? std::to_string(code) + ", " : std::string()) + reason + ")");
    return G_SOURCE_REMOVE;
  }, this);
}

void ReconnectingSocket::dropSocket() {
  patience_.reset();
  if (connecting_) {
    g_cancellable_cancel(connecting_);
    g_clear_object(&connecting_);
  }
  if (ws_) {
    closeRoomSocket(ws_, "gone");
    g_clear_object(&ws_);
  }
}

// The socket is gone (it was welcomed: the connection was lost) or an attempt failed: the
// next attempt, on the same server right after a loss, on the next one after a failure.
void ReconnectingSocket::retry(const std::string& why) {
  if (stopped_) return;
  const gint64 now = g_get_monotonic_time();
  if (!everWelcomed_) {
    // The first connection: every server once, then the run fails as it always has.
    if (++failures_ >= static_cast<int>(servers_.size())) return fail(why);
    server_ = (server_ + 1) % servers_.size();
    return connect();
  }
  guint delayMs = kFirstDelayMs;
  if (welcomedHere_) {
    lostUs_ = now;
    failures_ = 0;
  } else {
    failures_++;
    server_ = (server_ + 1) % servers_.size();
    delayMs = std::min<guint>(kMaxDelayMs, kFirstDelayMs << std::min(failures_, 4));
  }
  welcomedHere_ = false;
  if (now + delayMs * 1000.0 > lostUs_ + reconnectForS_ * 1e6) {
    char budget[64];
    g_snprintf(budget, sizeof budget, "not back after %.0f s: ", reconnectForS_);
    return fail(budget + why);
  }
  if (callbacks_.onReconnecting) callbacks_.onReconnecting(why);
  retryTimer_ = glib_support::Source::timeout(nullptr, delayMs, [](gpointer data) -> gboolean {
    auto* self = static_cast<ReconnectingSocket*>(data);
    self->retryTimer_ = {};
    self->connect();
    return G_SOURCE_REMOVE;
  }, this);
}

void ReconnectingSocket::fail(const std::string& why) {
  stopped_ = true;
  retryTimer_.reset();
  dropSocket();
  if (callbacks_.onGone) callbacks_.onGone(why);
}

void ReconnectingSocket::welcomed(const std::string& resumeToken) {
  if (!resumeToken.empty()) resume_ = resumeToken;
  everWelcomed_ = true;
  welcomedHere_ = true;
  failures_ = 0;
  patience_.reset();
}

void ReconnectingSocket::abandonAttempt(const std::string& why) {
  if (stopped_ || welcomedHere_) return;
  closedLater_.reset();
  dropSocket();
  retry(why);
}

void ReconnectingSocket::send(const char* text) {
  if (ws_ && soup_websocket_connection_get_state(ws_) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text(ws_, text);
}

void ReconnectingSocket::stop(const char* lastMessage) {
  if (ws_ && lastMessage && soup_websocket_connection_get_state(ws_) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text(ws_, lastMessage);
  stopped_ = true;
  retryTimer_.reset();
  closedLater_.reset();
  if (ws_) closeRoomSocket(ws_, "bye");
}

}  // namespace roomcast::client
