#include "signaling/ws_relay.h"

#include "glib_support/owned_data.h"
#include "protocol/bounds.h"
#include "protocol/messages.h"

namespace roomcast::signaling {

namespace {

using Token = std::pair<std::weak_ptr<WsRelay*>, uint64_t>;  // a link, for an async answer

constexpr guint kKeepaliveSeconds = 30;  // as the hub's own sockets (ws_hub.cpp)

std::string webSocketUrl(const std::string& nodeUrl, const std::string& roomId, const std::string& query) {
  std::string base = nodeUrl;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.rfind("https://", 0) == 0) base = "wss://" + base.substr(8);
  else if (base.rfind("http://", 0) == 0) base = "ws://" + base.substr(7);
  return base + "/ws/" + roomId + (query.empty() ? "" : "?" + query);
}

// A close code one side gave that the other may be sent: none, or one only a library reports
// (1005 no status, 1006 abnormal: the owner was killed, say), becomes "going away", which every
// client treats as a drop to reconnect from.
gushort relayableCode(gushort code) {
  const bool sendable = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
  return sendable ? code : static_cast<gushort>(SOUP_WEBSOCKET_CLOSE_GOING_AWAY);
}

// Closes `ws` if it is open and drops our reference once libsoup has finished the close
// handshake (an object finalized mid-close would cut the socket instead).
void closeAndRelease(SoupWebsocketConnection* ws, gushort code, const std::string& reason) {
  if (!ws) return;
  if (soup_websocket_connection_get_state(ws) != SOUP_WEBSOCKET_STATE_OPEN) {
    if (soup_websocket_connection_get_state(ws) == SOUP_WEBSOCKET_STATE_CLOSED) return g_object_unref(ws);
  } else {
    // A close frame's reason fits in 123 bytes (RFC 6455 5.5); ours are ASCII.
    const std::string fitted = reason.substr(0, 123);
    soup_websocket_connection_close(ws, code, fitted.empty() ? nullptr : fitted.c_str());
    if (soup_websocket_connection_get_state(ws) == SOUP_WEBSOCKET_STATE_CLOSED) return g_object_unref(ws);
  }
  g_signal_connect(ws, "closed", G_CALLBACK(+[](SoupWebsocketConnection* closed, gpointer) { g_object_unref(closed); }),
                   nullptr);
}

}  // namespace

struct WsRelay::Link {
  uint64_t id;
  WsRelay* relay;
  SoupWebsocketConnection* client;              // ours (a reference)
  SoupWebsocketConnection* upstream = nullptr;  // the owner's, once open (a reference)
  GCancellable* cancel = g_cancellable_new();   // the handshake, when the client goes first
  std::string roomId;
  std::string query;
  std::string address;
  std::deque<std::pair<gint, GBytes*>> held;  // the client's messages before the owner's socket opened
  size_t heldBytes = 0;
  glib_support::Source deadline{};  // for the lookup and the handshake
  glib_support::Source retry{};     // the next lookup of a room that is moving
  bool waitingForMove = false;

  ~Link() {
    for (auto& [type, bytes] : held) g_bytes_unref(bytes);
    g_object_unref(cancel);
  }
};

WsRelay::WsRelay(OwnerOf ownerOf)
    : ownerOf_(std::move(ownerOf)),
      // Handshakes in flight count against libsoup's per-host limit (6 by default); a busy node
      // relays many at once to one owner.
      session_(soup_session_new_with_options("max-conns", 4096, "max-conns-per-host", 4096, nullptr)) {}

WsRelay::~WsRelay() {
  while (!links_.empty()) finish(*links_.begin()->second, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "server shutting down");
  soup_session_abort(session_);
  g_object_unref(session_);
}

WsRelay::Link* WsRelay::find(uint64_t id) {
  auto found = links_.find(id);
  return found == links_.end() ? nullptr : found->second.get();
}

void WsRelay::take(SoupWebsocketConnection* client, const std::string& roomId, const std::string& query,
                   const std::string& address) {
  soup_websocket_connection_set_max_incoming_payload_size(client, protocol::kMaxMessageBytes);
  soup_websocket_connection_set_keepalive_interval(client, kKeepaliveSeconds);
  const uint64_t id = nextId_++;
  auto owned = std::make_unique<Link>();
  Link& link = *owned;
  link.id = id;
  link.relay = this;
  link.client = static_cast<SoupWebsocketConnection*>(g_object_ref(client));
  link.roomId = roomId;
  link.query = query;
  link.address = address;
  links_[id] = std::move(owned);
  g_signal_connect(client, "message", G_CALLBACK(&WsRelay::onClientMessage), &link);
  g_signal_connect(client, "closed", G_CALLBACK(&WsRelay::onClientClosed), &link);
  link.deadline = glib_support::Source::timeout(
      g_main_context_get_thread_default(), kConnectTimeoutMs,
      [](gpointer data) -> gboolean {
        auto* late = static_cast<Link*>(data);
        late->relay->finish(*late, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, "the room's node did not answer in time");
        return G_SOURCE_REMOVE;
      },
      &link);
  lookUp(id);
}

void WsRelay::lookUp(uint64_t id) {
  Link* link = find(id);
  if (!link) return;
  std::weak_ptr<WsRelay*> weak = self_;
  ownerOf_(link->roomId, [weak, id](hls::RoomOwner owner) {
    if (auto self = weak.lock()) (*self)->ownerFound(id, owner);
  });
}

void WsRelay::ownerFound(uint64_t id, const hls::RoomOwner& found) {
  Link* link = find(id);
  if (!link) return;  // the client went meanwhile
  if (found.here) return finish(*link, kCloseTryAgain, "the room is on this node now: connect again");
  if (!found.nodeUrl && found.moving) {
    // Failover: wait for the room's next owner (the client's hello is held meanwhile).
    if (!link->waitingForMove) {
      link->waitingForMove = true;
      link->deadline = glib_support::Source::timeout(
          g_main_context_get_thread_default(), kMovingWaitMs,
          [](gpointer data) -> gboolean {
            auto* late = static_cast<Link*>(data);
            late->relay->finish(*late, kCloseTryAgain, "the room is moving to another node: try again");
            return G_SOURCE_REMOVE;
          },
          link);
    }
    link->retry = glib_support::Source::timeout(
        g_main_context_get_thread_default(), kMovingRetryMs,
        [](gpointer data) -> gboolean {
          auto* waiting = static_cast<Link*>(data);
          waiting->relay->lookUp(waiting->id);
          return G_SOURCE_REMOVE;
        },
        link);
    return;
  }
  const std::optional<std::string>& owner = found.nodeUrl;
  if (!owner) {
    // As a node answers for a room it does not know (WsHub::accept).
    if (soup_websocket_connection_get_state(link->client) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_text(
          link->client,
          protocol::encodeError({core::ErrorCode::NotFound, "no live room with id '" + link->roomId + "'"}).c_str());
    return finish(*link, SOUP_WEBSOCKET_CLOSE_NORMAL, "no such room");
  }
  g_autoptr(SoupMessage) msg = soup_message_new("GET", webSocketUrl(*owner, link->roomId, link->query).c_str());
  if (!msg) return finish(*link, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, "the room's node has no usable URL");
  // The owner counts per-address quotas by it (trusted from loopback peers, clientAddress()).
  if (!link->address.empty())
    soup_message_headers_replace(soup_message_get_request_headers(msg), "X-Forwarded-For", link->address.c_str());
  soup_session_websocket_connect_async(session_, msg, nullptr, nullptr, G_PRIORITY_DEFAULT, link->cancel,
                                       &WsRelay::onUpstreamConnected, glib_support::handOff(Token(self_, id)).data);
}

void WsRelay::onUpstreamConnected(GObject* source, GAsyncResult* result, gpointer data) {
  std::unique_ptr<Token> token = glib_support::takeBack<Token>(data);
  g_autoptr(GError) error = nullptr;
  SoupWebsocketConnection* ws = soup_session_websocket_connect_finish(SOUP_SESSION(source), result, &error);
  auto self = token->first.lock();
  Link* link = self ? (*self)->find(token->second) : nullptr;
  if (!link) {
    if (ws) closeAndRelease(ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "client gone");
    return;
  }
  if (!ws)
    return (*self)->finish(*link, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
                           std::string("cannot reach the room's node: ") + (error ? error->message : "no connection"));
  link->deadline.reset();
  link->upstream = ws;
  soup_websocket_connection_set_max_incoming_payload_size(ws, kMaxOwnerMessageBytes);
  soup_websocket_connection_set_keepalive_interval(ws, kKeepaliveSeconds);
  g_signal_connect(ws, "message", G_CALLBACK(&WsRelay::onUpstreamMessage), link);
  g_signal_connect(ws, "closed", G_CALLBACK(&WsRelay::onUpstreamClosed), link);
  for (auto& [type, bytes] : link->held) {
    soup_websocket_connection_send_message(ws, static_cast<SoupWebsocketDataType>(type), bytes);
    g_bytes_unref(bytes);
  }
  link->held.clear();
  link->heldBytes = 0;
}

// Text and binary alike: the owner answers a binary message as it would a direct client's.
void WsRelay::onClientMessage(SoupWebsocketConnection*, gint type, GBytes* message, gpointer data) {
  auto* link = static_cast<Link*>(data);
  if (link->upstream) {
    if (soup_websocket_connection_get_state(link->upstream) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_message(link->upstream, static_cast<SoupWebsocketDataType>(type), message);
    return;
  }
  const size_t size = g_bytes_get_size(message);
  if (link->held.size() >= kMaxHeldMessages || link->heldBytes + size > kMaxHeldBytes)
    return link->relay->finish(*link, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                               "too much sent before the room's node answered");
  link->held.emplace_back(type, g_bytes_ref(message));
  link->heldBytes += size;
}

void WsRelay::onUpstreamMessage(SoupWebsocketConnection*, gint type, GBytes* message, gpointer data) {
  auto* link = static_cast<Link*>(data);
  if (soup_websocket_connection_get_state(link->client) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_message(link->client, static_cast<SoupWebsocketDataType>(type), message);
}

void WsRelay::onClientClosed(SoupWebsocketConnection* ws, gpointer data) {
  auto* link = static_cast<Link*>(data);
  const char* reason = soup_websocket_connection_get_close_data(ws);
  link->relay->finish(*link, relayableCode(soup_websocket_connection_get_close_code(ws)), reason ? reason : "");
}

void WsRelay::onUpstreamClosed(SoupWebsocketConnection* ws, gpointer data) {
  auto* link = static_cast<Link*>(data);
  const char* reason = soup_websocket_connection_get_close_data(ws);
  link->relay->finish(*link, relayableCode(soup_websocket_connection_get_close_code(ws)), reason ? reason : "");
}

void WsRelay::finish(Link& link, gushort code, const std::string& reason) {
  auto owned = std::move(links_[link.id]);
  links_.erase(link.id);
  owned->deadline.reset();
  owned->retry.reset();
  g_cancellable_cancel(owned->cancel);
  for (SoupWebsocketConnection* ws : {owned->client, owned->upstream}) {
    if (!ws) continue;
    g_signal_handlers_disconnect_by_data(ws, owned.get());
    closeAndRelease(ws, code, reason);
  }
}

}  // namespace roomcast::signaling
