#include "client/turn_uris.h"

#include <glib.h>

namespace roomcast::client {

std::string webrtcbinTurnUri(const std::string& url, const std::string& username, const std::string& credential) {
  std::string scheme;
  if (url.rfind("turn:", 0) == 0) scheme = "turn";
  else if (url.rfind("turns:", 0) == 0) scheme = "turns";
  else return "";
  std::string rest = url.substr(scheme.size() + 1);
  if (rest.rfind("//", 0) == 0) rest = rest.substr(2);
  g_autofree char* user = g_uri_escape_string(username.c_str(), nullptr, FALSE);
  g_autofree char* pass = g_uri_escape_string(credential.c_str(), nullptr, FALSE);
  return scheme + "://" + user + ":" + pass + "@" + rest;
}

std::vector<std::string> turnUrisFromWelcome(JsonObject* welcome) {
  std::vector<std::string> out;
  if (!welcome || !json_object_has_member(welcome, "ice_servers")) return out;
  JsonNode* node = json_object_get_member(welcome, "ice_servers");
  if (!JSON_NODE_HOLDS_ARRAY(node)) return out;
  JsonArray* servers = json_node_get_array(node);
  for (guint i = 0; i < json_array_get_length(servers); i++) {
    JsonNode* entry = json_array_get_element(servers, i);
    if (!JSON_NODE_HOLDS_OBJECT(entry)) continue;
    JsonObject* server = json_node_get_object(entry);
    const std::string username = json_object_get_string_member_with_default(server, "username", "");
    const std::string credential = json_object_get_string_member_with_default(server, "credential", "");
    JsonNode* urls = json_object_get_member(server, "urls");
    if (!urls || !JSON_NODE_HOLDS_ARRAY(urls)) continue;
    JsonArray* list = json_node_get_array(urls);
    for (guint u = 0; u < json_array_get_length(list); u++) {
      const char* url = json_array_get_string_element(list, u);
      if (!url) continue;
      if (std::string uri = webrtcbinTurnUri(url, username, credential); !uri.empty()) out.push_back(uri);
    }
  }
  return out;
}

}  // namespace roomcast::client
