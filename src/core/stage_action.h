// What the host and co-hosts do to the stage, from the WebSocket and from REST alike: one
// enum, applied in one place (RoomManager::apply). The wire names are the protocol's
// (protocol/message_table.h); core only knows the actions.
#pragma once

namespace roomcast::core {

enum class StageAction { Promote, Demote, Invite, Mute, Unmute, Remove, AppointCohost, RevokeCohost };

}  // namespace roomcast::core
