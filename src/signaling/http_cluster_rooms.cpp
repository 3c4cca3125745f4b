// The rooms' REST API on a node of a cluster: a new room is placed on the least loaded node
// (forwarded there), the room list and a room's JSON come from the directory for rooms of other
// nodes, and what changes a room is forwarded to its owner, whose answer is relayed. A request
// another node forwarded (kForwardedHeader) is served here as on a single box.
#include <utility>

#include "signaling/http_server.h"
#include "signaling/json_replies.h"

namespace roomcast::signaling {

using core::Error;
using core::ErrorCode;

namespace {

// A handler ran on a held message: unpause it once it has an answer (a handler that answers
// later, such as the end of a room, unpauses it itself).
void answered(SoupServerMessage* msg) {
  if (soup_server_message_get_status(msg) != 0) soup_server_message_unpause(msg);
}

}  // namespace

bool HttpServer::clustered(SoupServerMessage* msg) const {
  if (!forwarder_ || config_.clusterRooms.nodeUrl().empty()) return false;
  return !soup_message_headers_get_one(soup_server_message_get_request_headers(msg), kForwardedHeader);
}

void HttpServer::placeRoom(SoupServerMessage* msg) {
  HeldMessage held = holdMessage(msg);
  config_.clusterRooms.place([this, held](std::string node) {
    if (node.empty() || node == config_.clusterRooms.nodeUrl()) {
      createRoomHere(held.get());
      return answered(held.get());
    }
    forwarder_->forward(held, node, [this, held, node](const std::string& reason) {
      g_warning("cluster: placing a room on %s failed (%s); creating it here", node.c_str(), reason.c_str());
      createRoomHere(held.get());
      answered(held.get());
    });
  });
}

void HttpServer::listClusterRooms(SoupServerMessage* msg) {
  HeldMessage held = holdMessage(msg);
  config_.clusterRooms.list([this, held](std::vector<RemoteRoom> remote) {
    // This node's rooms from memory (they are current); the others' from their records.
    std::string body = localRoomsJson(held.get());
    const std::string self = config_.clusterRooms.nodeUrl();
    for (const RemoteRoom& room : remote) {
      if (room.node == self || rooms_.find(room.id)) continue;
      const protocol::RoomUrls urls = urlsFor(held.get(), room.id);
      const std::string json = config_.clusterRooms.present(room, urls.ws, urls.hls);
      if (json.empty()) continue;
      if (!body.empty()) body += ",";
      body += json;
    }
    sendJson(held.get(), 200, R"({"rooms":[)" + body + "]}");
    soup_server_message_unpause(held.get());
  });
}

void HttpServer::getDirectoryRoom(SoupServerMessage* msg, const std::string& roomId) {
  HeldMessage held = holdMessage(msg);
  config_.clusterRooms.find(roomId, [this, held, roomId](std::optional<RemoteRoom> room) {
    const protocol::RoomUrls urls = urlsFor(held.get(), roomId);
    const std::string json = room ? config_.clusterRooms.present(*room, urls.ws, urls.hls) : std::string();
    if (json.empty()) sendError(held.get(), {ErrorCode::NotFound, "no live room with id '" + roomId + "'"});
    else sendJson(held.get(), 200, json);
    soup_server_message_unpause(held.get());
  });
}

// A room this node does not run: its owner answers (true: the request is taken care of).
// Not in the directory either: the local handler answers (404).
bool HttpServer::forwardedToOwner(SoupServerMessage* msg, const std::string& roomId, RoomHandler handler) {
  if (rooms_.find(roomId) || !clustered(msg)) return false;
  HeldMessage held = holdMessage(msg);
  config_.clusterRooms.find(roomId, [this, held, roomId, handler](std::optional<RemoteRoom> room) {
    if (!room || room->node == config_.clusterRooms.nodeUrl()) {
      (this->*handler)(held.get(), roomId);
      return answered(held.get());
    }
    forwarder_->forward(held, room->node, [held, node = room->node](const std::string& reason) {
      g_warning("cluster: forwarding to %s failed: %s", node.c_str(), reason.c_str());
      sendError(held.get(), {ErrorCode::Internal, "the room's node " + node + " did not answer"});
      soup_server_message_unpause(held.get());
    });
  });
  return true;
}

}  // namespace roomcast::signaling
