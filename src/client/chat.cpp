// `roomcast chat`: one WebSocket session in a room to send a chat message or print the recent
// ones. The server sends the history right after the welcome.
#include "client/chat.h"

#include "client/room_socket.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <cstdio>

#include "client/rest_client.h"
#include "glib_support/source.h"
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
  RoomSocketCallbacks callbacks;
  callbacks.onMessage = [&chat](const std::string& text) { chat.onMessage(text); };
  callbacks.onClosed = [&chat] { chat.finish(1); };
  callbacks.onFailed = [&chat](const std::string& why) {
    g_printerr("roomcast: cannot connect: %s\n", why.c_str());
    chat.finish(1);
  };
  if (!openRoomSocket(session, options.server, options.room, chat.options.token, &chat.ws, std::move(callbacks))) {
    g_printerr("roomcast: bad server URL\n");
    return 2;
  }
  glib_support::Source deadline = glib_support::Source::timeoutSeconds(nullptr, 20, [](gpointer s) -> gboolean {
    g_printerr("roomcast: timed out\n");
    static_cast<ChatSession*>(s)->finish(1);
    return G_SOURCE_REMOVE;
  }, &chat);
  g_main_loop_run(chat.loop);
  deadline.reset();
  if (chat.ws) {
    closeRoomSocket(chat.ws, "bye");
    g_object_unref(chat.ws);
  }
  g_main_loop_unref(chat.loop);
  return chat.exitCode;
}

}  // namespace roomcast::client
