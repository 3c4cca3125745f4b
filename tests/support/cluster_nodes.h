// What the cluster tests do with their roomcastd nodes: the configuration every node of a test
// cluster shares (secrets, [cluster], the Redis URL), the operator's view of a node
// (GET /api/v1/cluster), and the room list as a node answers it.
#pragma once

#include <json-glib/json-glib.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "processes.h"

namespace roomcast::testing {

// roomcastd arguments for a node on `redisUrl`: the operator's API key (`ops`) and the room
// secret shared by every node (room tokens verify on every node only then), plus `moreConfig`
// lines for [cluster].
std::vector<std::string> clusterNodeArgs(const std::string& redisUrl, const std::string& moreConfig = {});
// A bearer token of the operator with room_create and room_admin.
std::string clusterAdminToken();

// A parsed JSON object (root null when the text is not one).
struct JsonDoc {
  explicit JsonDoc(const std::string& text);
  ~JsonDoc();
  JsonDoc(const JsonDoc&) = delete;
  JsonDoc& operator=(const JsonDoc&) = delete;
  std::string str(const char* name) const;  // "" when absent

  JsonParser* parser;
  JsonObject* root = nullptr;
};

// GET /api/v1/cluster as the operator: Redis as the node sees it ("up"/"down"), the live nodes'
// URLs, the rooms it believes it owns, and the body as it came.
struct ClusterView {
  std::string redis;
  std::set<std::string> nodes, owned;
  std::string body;
};
ClusterView clusterView(const Daemon& node);

// GET /api/v1/rooms through `node`: room id -> the node URL it names as the room's owner.
std::map<std::string, std::string> roomListing(const Daemon& node);

}  // namespace roomcast::testing
