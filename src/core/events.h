// What room logic tells clients. The signaling layer encodes these for the wire; room logic
// never sees JSON or sockets.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "core/error.h"
#include "core/room.h"

namespace roomcast::core {

struct ParticipantJoined { Participant participant; };
struct ParticipantLeft { std::string identity; std::string reason; };
struct SdpAnswer { std::string sdp; };
struct IceCandidate { unsigned mlineIndex = 0; std::string candidate; };
struct RoomEnded { std::string reason; };
struct ErrorEvent { Error error; };
struct HandChanged { std::string identity; std::string name; bool raised = false; };
struct RoleChanged { std::string identity; Role role = Role::Listener; };
struct Invited { std::string by; };
struct InviteAnswered { std::string identity; bool accepted = false; };
struct MuteChanged { std::string identity; bool muted = false; bool byHost = false; };
struct Removed { std::string reason; };
struct PresenceChanged { std::string identity; bool reconnecting = false; };
struct ActiveSpeakers { std::vector<std::string> identities; };
struct ListenerCount { size_t count = 0; };  // HLS listeners, sent when it changes

using Event = std::variant<ParticipantJoined, ParticipantLeft, SdpAnswer, IceCandidate, RoomEnded, ErrorEvent,
                           HandChanged, RoleChanged, Invited, InviteAnswered, MuteChanged, Removed, PresenceChanged,
                           ActiveSpeakers, ListenerCount>;

class RoomEventSink {
 public:
  virtual ~RoomEventSink() = default;
  // Deliver to one participant of a room.
  virtual void sendTo(const std::string& roomId, const std::string& identity, const Event& event) = 0;
  // Deliver to everyone connected to a room.
  virtual void broadcast(const std::string& roomId, const Event& event) = 0;
  // The participant is gone for good (removed, left, grace expired): drop their connection.
  virtual void disconnect(const std::string& roomId, const std::string& identity, const std::string& reason) = 0;
};

}  // namespace roomcast::core
