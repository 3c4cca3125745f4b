// The rooms of a node in the cluster's directory, and the directory for the REST API.
// ClusterRoomEvents sits between the rooms and the WebSocket hub (the sink room events already
// go through): it passes every event on and, for those that change a room's JSON (stage, roles,
// counts, recording), republishes the room's record from an idle callback, one per burst; chat
// lines and deletions go to the room's chat log (cluster::ChatLog).
#pragma once

#include <glib.h>

#include <set>
#include <string>

#include "app/cluster_membership.h"
#include "core/events.h"
#include "core/room_manager.h"
#include "glib_support/source.h"
#include "signaling/rest_forward.h"

namespace roomcast::app {

class ClusterRoomEvents final : public core::RoomEventSink {
 public:
  // `cluster`: null on a single box (events only pass through).
  ClusterRoomEvents(core::RoomEventSink& inner, ClusterMembership* cluster, GMainContext* context);
  ClusterRoomEvents(const ClusterRoomEvents&) = delete;
  ClusterRoomEvents& operator=(const ClusterRoomEvents&) = delete;

  void setRooms(const core::RoomManager* rooms) { rooms_ = rooms; }
  // The room's JSON may have changed (it was created, ...): its record is written soon.
  void changed(const std::string& roomId);

  void sendTo(const std::string& roomId, const std::string& identity, const core::Event& event) override;
  void broadcast(const std::string& roomId, const core::Event& event) override;
  void disconnect(const std::string& roomId, const std::string& identity, const std::string& reason) override;

 private:
  static gboolean onFlush(gpointer self);

  core::RoomEventSink& inner_;
  ClusterMembership* cluster_;
  GMainContext* context_;
  const core::RoomManager* rooms_ = nullptr;
  std::set<std::string> dirty_;
  glib_support::Source flush_;
};

// The REST API's view of the cluster, answered by `cluster` (which outlives the server).
signaling::ClusterRooms clusterRooms(ClusterMembership& cluster);

}  // namespace roomcast::app
