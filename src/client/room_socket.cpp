#include "client/room_socket.h"

#include <memory>

#include "client/rest_client.h"
#include "protocol/json.h"

namespace roomcast::client {

namespace {

struct Pending {
  SoupWebsocketConnection** connection;
  RoomSocketCallbacks callbacks;
  std::string token;
  std::string resume;
};

constexpr const char* kCallbacksKey = "roomcast-room-socket";

void onConnected(GObject* source, GAsyncResult* result, gpointer data) {
  std::unique_ptr<Pending> pending(static_cast<Pending*>(data));
  g_autoptr(GError) error = nullptr;
  SoupWebsocketConnection* ws = soup_session_websocket_connect_finish(SOUP_SESSION(source), result, &error);
  if (!ws) return pending->callbacks.onFailed(error ? error->message : "no connection");
  *pending->connection = ws;
  soup_websocket_connection_set_max_incoming_payload_size(ws, 1 << 20);
  // The connection owns the callbacks from now on: they live as long as it does.
  auto owned = std::make_unique<RoomSocketCallbacks>(std::move(pending->callbacks));
  RoomSocketCallbacks* callbacks = owned.get();
  g_object_set_data_full(G_OBJECT(ws), kCallbacksKey, owned.release(),
                         [](gpointer p) { std::unique_ptr<RoomSocketCallbacks> owned(static_cast<RoomSocketCallbacks*>(p)); });
  g_signal_connect(ws, "message", G_CALLBACK(+[](SoupWebsocketConnection*, gint, GBytes* bytes, gpointer c) {
    gsize size = 0;
    const char* text = static_cast<const char*>(g_bytes_get_data(bytes, &size));
    static_cast<RoomSocketCallbacks*>(c)->onMessage(std::string(text, size));
  }), callbacks);
  g_signal_connect(ws, "closed", G_CALLBACK(+[](SoupWebsocketConnection*, gpointer c) {
    static_cast<RoomSocketCallbacks*>(c)->onClosed();
  }), callbacks);
  if (callbacks->beforeHello) callbacks->beforeHello();
  protocol::JsonWriter w;
  w.beginObject().str("type", "hello").integer("version", 1).str("token", pending->token);
  if (!pending->resume.empty()) w.str("resume", pending->resume);
  w.endObject();
  soup_websocket_connection_send_text(ws, w.finish().c_str());
}

}  // namespace

bool openRoomSocket(SoupSession* session, const std::string& server, const std::string& room, const std::string& token,
                    SoupWebsocketConnection** connection, RoomSocketCallbacks callbacks, const std::string& resume,
                    GCancellable* cancellable) {
  g_autoptr(SoupMessage) msg = soup_message_new("GET", (toWebSocketBase(server) + "/ws/" + room).c_str());
  if (!msg) return false;
  auto pending = std::make_unique<Pending>(Pending{connection, std::move(callbacks), token, resume});
  soup_session_websocket_connect_async(session, msg, nullptr, nullptr, G_PRIORITY_DEFAULT, cancellable, onConnected,
                                       pending.release());
  return true;
}

void closeRoomSocket(SoupWebsocketConnection* connection, const char* reason) {
  if (!connection) return;
  if (gpointer callbacks = g_object_get_data(G_OBJECT(connection), kCallbacksKey))
    g_signal_handlers_disconnect_by_data(connection, callbacks);
  if (soup_websocket_connection_get_state(connection) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close(connection, SOUP_WEBSOCKET_CLOSE_NORMAL, reason);
}

}  // namespace roomcast::client
