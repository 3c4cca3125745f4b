#include "rest_client.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <sstream>

namespace roomcast::bench {

RestClient::RestClient(std::string baseUrl, unsigned timeoutSeconds)
    : baseUrl_(std::move(baseUrl)), session_(soup_session_new_with_options("timeout", timeoutSeconds, nullptr)) {}

RestClient::~RestClient() { g_object_unref(session_); }

RestClient::Reply RestClient::request(const char* method, const std::string& path, const std::string& body,
                                      const std::string& bearer) {
  Reply r;
  g_autoptr(SoupMessage) msg = soup_message_new(method, (baseUrl_ + path).c_str());
  if (!msg) {
    r.error = "bad URL " + baseUrl_ + path;
    return r;
  }
  if (!bearer.empty())
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization", ("Bearer " + bearer).c_str());
  if (!body.empty() || g_str_equal(method, "POST")) {
    g_autoptr(GBytes) bytes = g_bytes_new(body.data(), body.size());
    soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
  }
  g_autoptr(GError) error = nullptr;
  g_autoptr(GBytes) reply = soup_session_send_and_read(session_, msg, nullptr, &error);
  if (!reply) {
    r.error = error ? error->message : "no reply";
    return r;
  }
  r.status = static_cast<int>(soup_message_get_status(msg));
  gsize size = 0;
  const char* data = static_cast<const char*>(g_bytes_get_data(reply, &size));
  r.body.assign(data ? data : "", size);
  return r;
}

std::string jsonMember(const std::string& text, const std::string& path, gint64* intOut) {
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, text.data(), static_cast<gssize>(text.size()), nullptr)) return "";
  JsonNode* node = json_parser_get_root(parser);
  std::stringstream keys(path);
  for (std::string key; node && std::getline(keys, key, '.');) {
    if (!JSON_NODE_HOLDS_OBJECT(node)) return "";
    JsonObject* o = json_node_get_object(node);
    node = json_object_has_member(o, key.c_str()) ? json_object_get_member(o, key.c_str()) : nullptr;
  }
  if (!node || !JSON_NODE_HOLDS_VALUE(node)) return "";
  if (json_node_get_value_type(node) == G_TYPE_STRING) return json_node_get_string(node);
  if (intOut && json_node_get_value_type(node) == G_TYPE_INT64) *intOut = json_node_get_int(node);
  return "";
}

}  // namespace roomcast::bench
