#include "app/cluster_rooms.h"

#include <utility>
#include <variant>

#include "cluster/chat_log.h"
#include "cluster/room_directory.h"
#include "protocol/messages.h"

namespace roomcast::app {

namespace {

// Events after which GET /rooms/{id} (or a failover's owner_state) answers differently.
bool changesRoomJson(const core::Event& event) {
  return std::holds_alternative<core::ParticipantJoined>(event) || std::holds_alternative<core::ParticipantLeft>(event) ||
         std::holds_alternative<core::RoleChanged>(event) || std::holds_alternative<core::PresenceChanged>(event) ||
         std::holds_alternative<core::ListenerCount>(event) || std::holds_alternative<core::RecordingChanged>(event) ||
         std::holds_alternative<core::RecordingOptOutChanged>(event);
}

// The URLs of a room on its own node (a reader replaces them with its own).
protocol::RoomUrls ownerUrls(const std::string& nodeUrl, const std::string& roomId) {
  std::string ws = nodeUrl;
  if (ws.rfind("https://", 0) == 0) ws = "wss://" + ws.substr(8);
  else if (ws.rfind("http://", 0) == 0) ws = "ws://" + ws.substr(7);
  return {ws + "/ws/" + roomId, nodeUrl + "/hls/" + roomId + "/master.m3u8", nodeUrl};
}

std::optional<signaling::RemoteRoom> remote(const cluster::RoomRecord& record) {
  return signaling::RemoteRoom{record.id, record.node, record.json};
}

}  // namespace

ClusterRoomEvents::ClusterRoomEvents(core::RoomEventSink& inner, ClusterMembership* cluster, GMainContext* context)
    : inner_(inner), cluster_(cluster), context_(context) {}

void ClusterRoomEvents::changed(const std::string& roomId) {
  if (!cluster_) return;
  dirty_.insert(roomId);
  if (!flush_.pending()) flush_ = glib_support::Source::attach(g_idle_source_new(), context_, onFlush, this);
}

gboolean ClusterRoomEvents::onFlush(gpointer data) {
  auto* self = static_cast<ClusterRoomEvents*>(data);
  std::set<std::string> dirty = std::exchange(self->dirty_, {});
  const std::string& node = self->cluster_->nodeUrl();
  for (const std::string& roomId : dirty) {
    const core::Room* room = self->rooms_ ? self->rooms_->find(roomId) : nullptr;
    if (!room || node.empty()) continue;  // ended meanwhile (its record goes with the end); not joined yet
    const std::string json = protocol::encodeRoom(*room, ownerUrls(node, roomId));
    self->cluster_->roomChanged(roomId, cluster::encodeRoomRecord(*room, json, node, self->rooms_->hlsPosition(roomId)));
  }
  return G_SOURCE_REMOVE;
}

void ClusterRoomEvents::sendTo(const std::string& roomId, const std::string& identity, const core::Event& event) {
  inner_.sendTo(roomId, identity, event);
}

void ClusterRoomEvents::broadcast(const std::string& roomId, const core::Event& event) {
  inner_.broadcast(roomId, event);
  if (changesRoomJson(event)) changed(roomId);
  if (!cluster_) return;
  // Every chat line and deletion of a room this node runs, into the room's chat log.
  if (const auto* posted = std::get_if<core::ChatPosted>(&event))
    cluster_->chatLog().append(roomId, posted->message.id, cluster::encodeChatMessage(posted->message));
  else if (const auto* deleted = std::get_if<core::ChatDeleted>(&event))
    cluster_->chatLog().remove(roomId, deleted->id);
}

void ClusterRoomEvents::disconnect(const std::string& roomId, const std::string& identity, const std::string& reason) {
  inner_.disconnect(roomId, identity, reason);
  changed(roomId);
}

signaling::ClusterRooms clusterRooms(ClusterMembership& cluster) {
  signaling::ClusterRooms rest;
  rest.nodeUrl = [&cluster] { return cluster.nodeUrl(); };
  rest.place = [&cluster](std::function<void(std::string)> done) { cluster.place(std::move(done)); };
  rest.find = [&cluster](const std::string& roomId, std::function<void(std::optional<signaling::RemoteRoom>)> done) {
    cluster.directory().find(roomId, [done = std::move(done)](auto record) {
      done(record && record.value() ? remote(*record.value()) : std::nullopt);
    });
  };
  rest.list = [&cluster](std::function<void(std::vector<signaling::RemoteRoom>)> done) {
    cluster.directory().list([done = std::move(done)](core::Result<std::vector<cluster::RoomRecord>> records) {
      std::vector<signaling::RemoteRoom> rooms;
      if (records)
        for (const cluster::RoomRecord& record : records.value()) rooms.push_back(*remote(record));
      done(std::move(rooms));
    });
  };
  rest.present = [](const signaling::RemoteRoom& room, const std::string& wsUrl, const std::string& hlsUrl) {
    auto json = cluster::publicRoomJson(room.record, room.node, wsUrl, hlsUrl);
    return json ? json.value() : std::string();
  };
  return rest;
}

}  // namespace roomcast::app
