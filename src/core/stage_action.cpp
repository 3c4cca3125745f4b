// RoomManager::apply: the one switch from a stage action to the RoomManager call that does it.
// Its own file so room_manager.cpp does not grow; REST and the WebSocket both land here.
#include "core/room_manager.h"

namespace roomcast::core {

Status RoomManager::apply(const std::string& roomId, const Actor& actor, StageAction action,
                          const std::string& identity) {
  switch (action) {
    case StageAction::Promote: return promote(roomId, actor, identity);
    case StageAction::Demote: return demote(roomId, actor, identity);
    case StageAction::Invite: return invite(roomId, actor, identity);
    case StageAction::Mute: return setMuted(roomId, actor, identity, true);
    case StageAction::Unmute: return setMuted(roomId, actor, identity, false);
    case StageAction::Remove: return remove(roomId, actor, identity);
    case StageAction::AppointCohost: return setCohost(roomId, actor, identity, true);
    case StageAction::RevokeCohost: return setCohost(roomId, actor, identity, false);
  }
  return Error{ErrorCode::Internal, "unknown stage action"};
}

}  // namespace roomcast::core
