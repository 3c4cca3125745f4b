#include "client/rest_client.h"

#include <json-glib/json-glib.h>

namespace roomcast::client {

bool setTrustedCaFile(const std::string& caFile) {
  std::string path = caFile;
  const bool fromEnvironment = path.empty();
  if (fromEnvironment)
    if (const char* env = g_getenv("SSL_CERT_FILE"); env && *env) path = env;
  if (path.empty()) return true;
  g_autofree char* absolute = g_canonicalize_filename(path.c_str(), nullptr);  // GIO wants an absolute path
  path = absolute;
  g_autoptr(GError) error = nullptr;
  GTlsDatabase* database = g_tls_file_database_new(path.c_str(), &error);
  if (!database) {
    // --ca-file is this command's own request; SSL_CERT_FILE may be set for other programs (and
    // plain http:// needs no CA at all), so that one falls back to the system's, said aloud.
    g_printerr("roomcast: %s CA file %s: %s\n", fromEnvironment ? "ignoring SSL_CERT_FILE's" : "cannot use",
               path.c_str(), error->message);
    return fromEnvironment;
  }
  g_tls_backend_set_default_database(g_tls_backend_get_default(), database);
  g_object_unref(database);
  return true;
}

HttpResult httpRequest(SoupSession* session, const char* method, const std::string& url, const std::string& body,
                       const std::string& bearer) {
  HttpResult result;
  g_autoptr(SoupMessage) msg = soup_message_new(method, url.c_str());
  if (!msg) {
    result.transportError = "invalid URL " + url;
    return result;
  }
  if (!body.empty()) {
    g_autoptr(GBytes) bytes = g_bytes_new(body.data(), body.size());
    soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
  }
  if (!bearer.empty())
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization", ("Bearer " + bearer).c_str());
  g_autoptr(GError) error = nullptr;
  g_autoptr(GBytes) response = soup_session_send_and_read(session, msg, nullptr, &error);
  if (!response) {
    result.transportError = error ? error->message : "request failed";
    return result;
  }
  result.status = static_cast<int>(soup_message_get_status(msg));
  gsize size = 0;
  const char* data = static_cast<const char*>(g_bytes_get_data(response, &size));
  result.body.assign(data ? data : "", size);
  return result;
}

std::string describeFailure(const HttpResult& result) {
  if (result.status == 0) return "cannot reach the server: " + result.transportError;
  std::string message = result.body;
  g_autoptr(JsonParser) parser = json_parser_new();
  if (json_parser_load_from_data(parser, result.body.c_str(), static_cast<gssize>(result.body.size()), nullptr)) {
    JsonNode* root = json_parser_get_root(parser);
    if (root && JSON_NODE_HOLDS_OBJECT(root)) {
      JsonObject* error = json_object_get_object_member(json_node_get_object(root), "error");
      if (error && json_object_has_member(error, "message"))
        message = std::string(json_object_get_string_member_with_default(error, "code", "error")) + ": " +
                  json_object_get_string_member(error, "message");
    }
  }
  return "server answered " + std::to_string(result.status) + ": " + message;
}

std::string toWebSocketBase(const std::string& httpBase) {
  if (httpBase.rfind("https://", 0) == 0) return "wss://" + httpBase.substr(8);
  if (httpBase.rfind("http://", 0) == 0) return "ws://" + httpBase.substr(7);
  return httpBase;
}

}  // namespace roomcast::client
