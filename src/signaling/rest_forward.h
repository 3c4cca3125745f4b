// REST for a cluster of nodes: what the server asks of the cluster (ClusterRooms, given by the
// app), and RestForwarder, which hands a request to another node and relays its answer.
#pragma once

#include <libsoup/soup.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace roomcast::signaling {

// A request that carries this header was forwarded by another node: it is served here and
// never forwarded again (no loops, whatever the directory says).
inline constexpr const char* kForwardedHeader = "X-Roomcast-Placed";

// A room run by some node, as the directory has it.
struct RemoteRoom {
  std::string id;
  std::string node;        // its owner's node URL
  std::string record;  // the directory's record of it (ClusterRooms::present makes it a ROOM)
};

// The cluster as the REST API sees it. Unset (no nodeUrl): the server is a single box.
struct ClusterRooms {
  std::function<std::string()> nodeUrl;  // this node's URL; "" while it is not (yet) a node
  // Where a new room goes (a node URL; this node's own, or "" when the cluster cannot say).
  std::function<void(std::function<void(std::string node)>)> place;
  // A room of the directory (nullopt: none, or Redis is down).
  std::function<void(const std::string& roomId, std::function<void(std::optional<RemoteRoom>)>)> find;
  // Every room of the directory (empty when Redis is down).
  std::function<void(std::function<void(std::vector<RemoteRoom>)>)> list;
  // A directory room's JSON as this node answers it (its ws_url and hls_url), "" if unreadable.
  std::function<std::string(const RemoteRoom&, const std::string& wsUrl, const std::string& hlsUrl)> present;
};

using HeldMessage = std::shared_ptr<SoupServerMessage>;
// Pauses `msg` and keeps a reference until the last copy goes: for answers that come later.
HeldMessage holdMessage(SoupServerMessage* msg);

class RestForwarder {
 public:
  explicit RestForwarder(unsigned timeoutSeconds = 5);
  ~RestForwarder();  // cancels what is in flight; their messages are left to the server
  RestForwarder(const RestForwarder&) = delete;
  RestForwarder& operator=(const RestForwarder&) = delete;

  // Sends `msg`'s request (method, path and query, body, Content-Type, Authorization) to
  // `nodeUrl` with kForwardedHeader, answers `msg` with that node's status and body and unpauses
  // it. When the node cannot be reached or does not answer in time, `failed` gets the reason
  // and `msg` is left unanswered (still paused) for it.
  void forward(HeldMessage msg, const std::string& nodeUrl, std::function<void(const std::string& reason)> failed);

 private:
  SoupSession* session_;
  GCancellable* cancel_;
};

}  // namespace roomcast::signaling
