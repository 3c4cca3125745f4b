// `roomcast chat`: one WebSocket session in a room to send a chat message or print the recent
// ones. The server sends the history right after the welcome.
#include "client/chat.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <cstdio>

#include "client/rest_client.h"
#include "protocol/json.h"

namespace roomcast::client {

namespace {

struct ChatSession {
  ChatOptions options;
  GMainLoop* loop = nullptr;
  SoupWebsocketConnection* ws = nullptr;
  int exitCode = 1;
  bool sent = false;

  void finish(int code) {
    exitCode = code;
    g_main_loop_quit(loop);
  }

  void onMessage(const std::string& text) {
    g_autoptr(JsonParser) parser = json_parser_new();
    if (!json_parser_load_from_data(parser, text.c_str(), -1, nullptr)) return;
    JsonObject* obj = json_node_get_object(json_parser_get_root(parser));
    const std::string type = json_object_get_string_member_with_default(obj, "type", "");
    if (type == "welcome") {
      if (!options.send.empty()) {
        protocol::JsonWriter w;
        w.beginObject().str("type", "chat").str("id", "send").str("text", options.send).endObject();
        soup_websocket_connection_send_text(ws, w.finish().c_str());
      } else {
        // No history message comes when the room has no chat yet: a ping's pong marks the end.
        soup_websocket_connection_send_text(ws, R"({"type":"ping"})");
      }
    } else if (type == "chat-history" && options.history) {
      JsonArray* messages = json_object_get_array_member(obj, "messages");
      for (guint i = 0; messages && i < json_array_get_length(messages); i++) {
        JsonObject* m = json_array_get_object_element(messages, i);
        printf("%s: %s\n", json_object_get_string_member_with_default(m, "name", ""),
               json_object_get_string_member_with_default(m, "text", ""));
      }
      fflush(stdout);
    } else if (type == "pong") {
      finish(0);
    } else if (type == "chat" && !options.send.empty() &&
               options.send == json_object_get_string_member_with_default(obj, "text", "")) {
      finish(0);  // our own message came back: it reached the room
    } else if (type == "error") {
      JsonObject* e = json_object_get_object_member(obj, "error");
      g_printerr("roomcast: %s: %s\n", e ? json_object_get_string_member_with_default(e, "code", "") : "error",
                 e ? json_object_get_string_member_with_default(e, "message", "") : text.c_str());
      finish(1);
    }
  }
};

std::string listenerToken(const ChatOptions& options) {
  g_autoptr(SoupSession) session = soup_session_new();
  HttpResult r = httpRequest(session, "POST", options.server + "/api/v1/rooms/" + options.room + "/tokens",
                             R"({"role":"listener","name":"roomcast chat"})");
  if (r.status != 201) {
    g_printerr("roomcast: %s\n", describeFailure(r).c_str());
    return "";
  }
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, r.body.c_str(), -1, nullptr)) return "";
  return json_object_get_string_member_with_default(json_node_get_object(json_parser_get_root(parser)), "token", "");
}

}  // namespace

int runChat(const ChatOptions& options) {
  ChatSession chat{options};
  if (chat.options.token.empty()) chat.options.token = listenerToken(options);
  if (chat.options.token.empty()) return 1;
  chat.loop = g_main_loop_new(nullptr, FALSE);
  g_autoptr(SoupSession) session = soup_session_new();
  g_autoptr(SoupMessage) msg = soup_message_new("GET", (toWebSocketBase(options.server) + "/ws/" + options.room).c_str());
  if (!msg) {
    g_printerr("roomcast: bad server URL\n");
    return 2;
  }
  soup_session_websocket_connect_async(
      session, msg, nullptr, nullptr, G_PRIORITY_DEFAULT, nullptr,
      [](GObject* source, GAsyncResult* result, gpointer data) {
        auto* self = static_cast<ChatSession*>(data);
        g_autoptr(GError) error = nullptr;
        self->ws = soup_session_websocket_connect_finish(SOUP_SESSION(source), result, &error);
        if (!self->ws) {
          g_printerr("roomcast: cannot connect: %s\n", error->message);
          return self->finish(1);
        }
        soup_websocket_connection_set_max_incoming_payload_size(self->ws, 1 << 20);
        g_signal_connect(self->ws, "message", G_CALLBACK(+[](SoupWebsocketConnection*, gint, GBytes* bytes, gpointer s) {
          gsize size = 0;
          const char* d = static_cast<const char*>(g_bytes_get_data(bytes, &size));
          static_cast<ChatSession*>(s)->onMessage(std::string(d, size));
        }), self);
        g_signal_connect(self->ws, "closed", G_CALLBACK(+[](SoupWebsocketConnection*, gpointer s) {
          static_cast<ChatSession*>(s)->finish(1);
        }), self);
        protocol::JsonWriter w;
        w.beginObject().str("type", "hello").integer("version", 1).str("token", self->options.token).endObject();
        soup_websocket_connection_send_text(self->ws, w.finish().c_str());
      },
      &chat);
  g_timeout_add_seconds(20, [](gpointer s) -> gboolean {
    g_printerr("roomcast: timed out\n");
    static_cast<ChatSession*>(s)->finish(1);
    return G_SOURCE_REMOVE;
  }, &chat);
  g_main_loop_run(chat.loop);
  if (chat.ws) {
    g_signal_handlers_disconnect_by_data(chat.ws, &chat);
    if (soup_websocket_connection_get_state(chat.ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close(chat.ws, SOUP_WEBSOCKET_CLOSE_NORMAL, "bye");
    g_object_unref(chat.ws);
  }
  g_main_loop_unref(chat.loop);
  return chat.exitCode;
}

}  // namespace roomcast::client
