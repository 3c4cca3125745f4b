#include "cluster_nodes.h"

#include <glib.h>

#include "hand_made_jws.h"

namespace roomcast::testing {

namespace {

const std::string kApiSecret = "ops-secret-for-cluster-tests-0123456789abcdef";
const std::string kRoomSecret = "room-secret-shared-by-every-node-0123456789";

}  // namespace

std::vector<std::string> clusterNodeArgs(const std::string& redisUrl, const std::string& moreConfig) {
  std::vector<std::string> args = configFileArgs("[server]\nsecret = " + kRoomSecret + "\n[auth]\napi_key = ops\napi_secret = " +
                                                 kApiSecret + "\n[cluster]\n" + moreConfig);
  args.push_back("--redis");
  args.push_back(redisUrl);
  return args;
}

std::string clusterAdminToken() {
  const int64_t now = g_get_real_time() / G_USEC_PER_SEC;
  return handMadeJws(R"({"iss":"ops","iat":)" + std::to_string(now) + R"(,"exp":)" + std::to_string(now + 3600) +
                         R"(,"grants":{"room_create":true,"room_admin":true}})",
                     kApiSecret);
}

JsonDoc::JsonDoc(const std::string& text) : parser(json_parser_new()) {
  if (json_parser_load_from_data(parser, text.c_str(), -1, nullptr) && JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
    root = json_node_get_object(json_parser_get_root(parser));
}

JsonDoc::~JsonDoc() { g_object_unref(parser); }

std::string JsonDoc::str(const char* name) const {
  return root ? json_object_get_string_member_with_default(root, name, "") : "";
}

ClusterView clusterView(const Daemon& node) {
  ClusterView view;
  view.body = http("GET", node.url() + "/api/v1/cluster", {}, {{"Authorization", "Bearer " + clusterAdminToken()}}).body;
  JsonDoc json(view.body);
  if (!json.root) return view;
  view.redis = json.str("redis");
  JsonArray* list = json_object_get_array_member(json.root, "nodes");
  for (guint i = 0; list && i < json_array_get_length(list); i++)
    view.nodes.insert(json_object_get_string_member(json_array_get_object_element(list, i), "url"));
  JsonArray* ids = json_object_get_array_member(json.root, "owned");
  for (guint i = 0; ids && i < json_array_get_length(ids); i++) view.owned.insert(json_array_get_string_element(ids, i));
  return view;
}

std::map<std::string, std::string> roomListing(const Daemon& node) {
  JsonDoc json(http("GET", node.url() + "/api/v1/rooms").body);
  std::map<std::string, std::string> rooms;
  JsonArray* list = json.root ? json_object_get_array_member(json.root, "rooms") : nullptr;
  for (guint i = 0; list && i < json_array_get_length(list); i++) {
    JsonObject* room = json_array_get_object_element(list, i);
    rooms[json_object_get_string_member(room, "id")] = json_object_get_string_member_with_default(room, "node", "");
  }
  return rooms;
}

}  // namespace roomcast::testing
