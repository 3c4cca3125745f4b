// What room logic tells clients. The signaling layer encodes these for the wire; room logic
// never sees JSON or sockets.
#pragma once

#include <string>
#include <variant>

#include "core/error.h"
#include "core/room.h"

namespace roomcast::core {

struct ParticipantJoined { Participant participant; };
struct ParticipantLeft { std::string identity; std::string reason; };
struct SdpAnswer { std::string sdp; };
struct IceCandidate { unsigned mlineIndex = 0; std::string candidate; };
struct RoomEnded { std::string reason; };
struct ErrorEvent { Error error; };

using Event =
    std::variant<ParticipantJoined, ParticipantLeft, SdpAnswer, IceCandidate, RoomEnded, ErrorEvent>;

class RoomEventSink {
 public:
  virtual ~RoomEventSink() = default;
  // Deliver to one participant of a room.
  virtual void sendTo(const std::string& roomId, const std::string& identity, const Event& event) = 0;
  // Deliver to everyone connected to a room.
  virtual void broadcast(const std::string& roomId, const Event& event) = 0;
};

}  // namespace roomcast::core
