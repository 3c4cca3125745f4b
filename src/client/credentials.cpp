#include "client/credentials.h"

#include <glib.h>

#include "protocol/json.h"
#include "protocol/jws.h"

namespace roomcast::client {

protocol::AdminGrants allGrants() { return {true, true, true}; }

bool isAdminToken(const std::string& token) {
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string::npos) return false;
  std::string payload;
  if (!protocol::base64UrlDecode(std::string_view(token).substr(dot1 + 1, dot2 - dot1 - 1), payload)) return false;
  auto parsed = protocol::parseObject(payload, 4096, 3);
  return parsed && json_object_has_member(json_node_get_object(parsed.value().get()), "grants");
}

std::string adminToken(const protocol::AdminGrants& grants, std::string& error, int64_t ttlSeconds) {
  const char* key = g_getenv("ROOMCAST_API_KEY");
  const char* secret = g_getenv("ROOMCAST_API_SECRET");
  if (key && *key && secret && *secret) {
    if (strlen(secret) < 32) {
      error = "ROOMCAST_API_SECRET is shorter than 32 bytes; no server would accept it";
      return {};
    }
    const int64_t now = g_get_real_time() / G_USEC_PER_SEC;
    g_autofree char* user = g_strdup(g_get_user_name());
    return protocol::signAdminToken({key, std::string("cli:") + user, now, now + ttlSeconds, grants}, secret);
  }
  if ((key && *key) != (secret && *secret)) {
    error = "set both ROOMCAST_API_KEY and ROOMCAST_API_SECRET";
    return {};
  }
  const char* token = g_getenv("ROOMCAST_TOKEN");
  return token && isAdminToken(token) ? token : "";
}

std::string roomToken(const std::string& given) {
  if (!given.empty()) return given;
  const char* token = g_getenv("ROOMCAST_TOKEN");
  return token && *token && !isAdminToken(token) ? token : "";
}

}  // namespace roomcast::client
