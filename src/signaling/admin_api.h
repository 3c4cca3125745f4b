// The operator's admin API under /api/v1/admin, for admin tokens with the room_admin grant:
//   GET    /api/v1/admin/rooms             every live room with its numbers
//   DELETE /api/v1/admin/rooms/{id}        end a room, as its host would (outputs finished first)
//   DELETE /api/v1/admin/recordings/{id}   take an ended recording out of the archive, file too
// Runs on the control context, like the rest of the HTTP server.
#pragma once

#include <libsoup/soup.h>

#include <functional>
#include <string>

#include "core/result.h"
#include "core/room_manager.h"
#include "signaling/operator_auth.h"

namespace roomcast::signaling {

class AdminApi {
 public:
  // `deleteRecording`: removes recording `id` from the store and its file from disk.
  AdminApi(core::RoomManager& rooms, const OperatorAuthority& operators,
           std::function<core::Status(int64_t id)> deleteRecording)
      : rooms_(rooms), operators_(operators), deleteRecording_(std::move(deleteRecording)) {}

  void addTo(SoupServer* server);

 private:
  static void handle(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable*, gpointer self);
  void listRooms(SoupServerMessage* msg);
  void endRoom(SoupServerMessage* msg, const std::string& roomId);
  void deleteRecording(SoupServerMessage* msg, const std::string& id);

  core::RoomManager& rooms_;
  const OperatorAuthority& operators_;
  std::function<core::Status(int64_t id)> deleteRecording_;
};

}  // namespace roomcast::signaling
