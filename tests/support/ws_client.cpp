#include "ws_client.h"

#include <json-glib/json-glib.h>

#include "wait.h"

namespace roomcast::testing {

WsClient::WsClient() : context_(g_main_context_new()) {
  g_main_context_push_thread_default(context_);
  session_ = soup_session_new();
  g_main_context_pop_thread_default(context_);
}

WsClient::~WsClient() {
  g_main_context_push_thread_default(context_);
  if (connection_) {
    g_signal_handlers_disconnect_by_data(connection_, this);
    if (soup_websocket_connection_get_state(connection_) == SOUP_WEBSOCKET_STATE_OPEN) {
      soup_websocket_connection_close(connection_, SOUP_WEBSOCKET_CLOSE_NORMAL, nullptr);
      iterateUntil(context_, [&] { return soup_websocket_connection_get_state(connection_) == SOUP_WEBSOCKET_STATE_CLOSED; }, 2);
    }
    g_object_unref(connection_);
  }
  g_object_unref(session_);
  g_main_context_pop_thread_default(context_);
  g_main_context_unref(context_);
}

bool WsClient::connect(const std::string& url, double timeoutSeconds, const std::string& origin,
                       const std::string& forwardedFor) {
  g_main_context_push_thread_default(context_);
  g_autoptr(SoupMessage) msg = soup_message_new("GET", url.c_str());
  if (!origin.empty()) soup_message_headers_replace(soup_message_get_request_headers(msg), "Origin", origin.c_str());
  if (!forwardedFor.empty())
    soup_message_headers_replace(soup_message_get_request_headers(msg), "X-Forwarded-For", forwardedFor.c_str());
  bool done = false;
  struct Ctx { WsClient* self; bool* done; } ctx{this, &done};
  soup_session_websocket_connect_async(session_, msg, nullptr, nullptr, G_PRIORITY_DEFAULT, nullptr,
      [](GObject* source, GAsyncResult* result, gpointer data) {
        auto* c = static_cast<Ctx*>(data);
        c->self->connection_ = soup_session_websocket_connect_finish(SOUP_SESSION(source), result, nullptr);
        *c->done = true;
      }, &ctx);
  iterateUntil(context_, [&] { return done; }, timeoutSeconds);
  if (connection_) {
    soup_websocket_connection_set_max_incoming_payload_size(connection_, 1 << 20);
    g_signal_connect(connection_, "message", G_CALLBACK(+[](SoupWebsocketConnection*, gint, GBytes* bytes, gpointer self) {
      gsize n = 0;
      const char* d = static_cast<const char*>(g_bytes_get_data(bytes, &n));
      static_cast<WsClient*>(self)->received_.emplace_back(d ? d : "", n);
    }), this);
    g_signal_connect(connection_, "closed", G_CALLBACK(+[](SoupWebsocketConnection*, gpointer self) {
      static_cast<WsClient*>(self)->closed_ = true;
    }), this);
  }
  g_main_context_pop_thread_default(context_);
  return connection_ != nullptr;
}

void WsClient::send(const std::string& text) {
  // libsoup attaches its write sources to the thread-default context: make it ours.
  g_main_context_push_thread_default(context_);
  if (isOpen()) soup_websocket_connection_send_text(connection_, text.c_str());
  g_main_context_pop_thread_default(context_);
}

bool WsClient::isOpen() const {
  return connection_ && soup_websocket_connection_get_state(connection_) == SOUP_WEBSOCKET_STATE_OPEN;
}

gushort WsClient::closeCode() const { return connection_ ? soup_websocket_connection_get_close_code(connection_) : 0; }

bool WsClient::waitFor(const std::function<bool(const std::string&)>& match, std::string& out, double timeoutSeconds) {
  auto found = [&] {
    while (!received_.empty()) {
      std::string next = std::move(received_.front());
      received_.pop_front();
      if (match(next)) {
        out = std::move(next);
        return true;
      }
    }
    return false;
  };
  bool ok = false;
  g_main_context_push_thread_default(context_);
  iterateUntil(context_, [&] { return ok = ok || found(), ok || closed_; }, timeoutSeconds);
  g_main_context_pop_thread_default(context_);
  return ok || found();
}

bool WsClient::waitForType(const std::string& type, std::string& out, double timeoutSeconds) {
  return waitFor([&](const std::string& m) { return jsonString(m, "type") == type; }, out, timeoutSeconds);
}

bool WsClient::waitClosed(double timeoutSeconds) {
  g_main_context_push_thread_default(context_);
  const bool closed = iterateUntil(context_, [&] { return closed_; }, timeoutSeconds);
  g_main_context_pop_thread_default(context_);
  return closed;
}

static JsonNode* lookup(JsonParser* parser, const std::string& json, const std::string& path) {
  if (!json_parser_load_from_data(parser, json.c_str(), static_cast<gssize>(json.size()), nullptr)) return nullptr;
  JsonNode* node = json_parser_get_root(parser);
  size_t start = 0;
  while (node && start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (JSON_NODE_HOLDS_ARRAY(node)) {  // "hits.0.speaker": an index into an array
      JsonArray* array = json_node_get_array(node);
      char* end = nullptr;
      const unsigned long index = strtoul(key.c_str(), &end, 10);
      if (key.empty() || *end || index >= json_array_get_length(array)) return nullptr;
      node = json_array_get_element(array, static_cast<guint>(index));
    } else if (JSON_NODE_HOLDS_OBJECT(node)) {
      node = json_object_get_member(json_node_get_object(node), key.c_str());
    } else {
      return nullptr;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return node;
}

std::string jsonString(const std::string& json, const std::string& path) {
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonNode* node = lookup(parser, json, path);
  if (!node || JSON_NODE_TYPE(node) != JSON_NODE_VALUE || json_node_get_value_type(node) != G_TYPE_STRING) return "";
  return json_node_get_string(node);
}

long long jsonCount(const std::string& json, const std::string& path) {
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonNode* node = lookup(parser, json, path);
  // (the length is unsigned: without the cast, a missing array came back as 4294967295, not -1)
  return node && JSON_NODE_HOLDS_ARRAY(node) ? static_cast<long long>(json_array_get_length(json_node_get_array(node))) : -1;
}

double jsonNumber(const std::string& json, const std::string& path, double fallback) {
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonNode* node = lookup(parser, json, path);
  if (!node || JSON_NODE_TYPE(node) != JSON_NODE_VALUE) return fallback;
  const GType t = json_node_get_value_type(node);
  if (t == G_TYPE_DOUBLE) return json_node_get_double(node);
  if (t == G_TYPE_INT64) return static_cast<double>(json_node_get_int(node));
  return fallback;
}

bool jsonIsNull(const std::string& json, const std::string& path) {
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonNode* node = lookup(parser, json, path);
  return node && JSON_NODE_HOLDS_NULL(node);
}

bool jsonBool(const std::string& json, const std::string& path, bool fallback) {
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonNode* node = lookup(parser, json, path);
  if (!node || JSON_NODE_TYPE(node) != JSON_NODE_VALUE || json_node_get_value_type(node) != G_TYPE_BOOLEAN)
    return fallback;
  return json_node_get_boolean(node);
}

long long jsonInt(const std::string& json, const std::string& path, long long fallback) {
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonNode* node = lookup(parser, json, path);
  if (!node || JSON_NODE_TYPE(node) != JSON_NODE_VALUE || json_node_get_value_type(node) != G_TYPE_INT64) return fallback;
  return json_node_get_int(node);
}

}  // namespace roomcast::testing
