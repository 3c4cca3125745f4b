// What room logic tells clients. The signaling layer encodes these for the wire; room logic
// never sees JSON or sockets.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
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
// `participant`: the whole entry after the change, so clients that never saw a listener (they
// are counted, not announced) can show the one who comes on stage.
struct RoleChanged { std::string identity; Role role = Role::Listener; Participant participant; };
struct Invited { std::string by; };
struct InviteAnswered { std::string identity; bool accepted = false; };
struct MuteChanged { std::string identity; bool muted = false; bool byHost = false; };
struct Removed { std::string reason; };
struct PresenceChanged { std::string identity; bool reconnecting = false; };
struct ActiveSpeakers { std::vector<std::string> identities; };
struct ListenerCount { size_t count = 0; };  // HLS listeners, sent when it changes

struct ChatMessage {
  uint64_t id = 0;  // unique in the room, increasing
  std::string identity;
  std::string name;
  std::string text;
  int64_t sentAtMs = 0;
  Role role = Role::Listener;  // the author's role when they wrote it (shown beside the name)
};
struct ChatPosted { ChatMessage message; };
struct ChatHistory { std::vector<ChatMessage> messages; };  // to one late joiner, oldest first
struct ChatDeleted { uint64_t id = 0; std::string by; };
struct Reactions { std::vector<std::pair<std::string, uint32_t>> counts; };  // one window's totals
struct Report {
  uint64_t id = 0;
  std::string roomId;
  std::string reporter;
  std::string targetIdentity;  // the participant reported (for a message: its author)
  uint64_t messageId = 0;      // 0: a participant, not a message
  std::string messageText;     // the reported message, as it was
  std::string reason;
  int64_t createdAtMs = 0;
  std::string evidencePath;    // the room's last minutes of audio, kept when it was filed
};
struct ReportFiled { Report report; };  // to the host and co-hosts
// The room started or stopped recording (and why: "host", "disk full: ...", ...).
struct RecordingChanged { bool active = false; std::string reason; };
// To a listener about to go on stage: the room is being recorded (consent).
struct RecordingNotice { bool recording = true; };
struct RecordingOptOutChanged { std::string identity; bool optedOut = false; };
// Automated moderation acted (to the host and co-hosts), with its evidence.
struct ModerationAlert {
  std::string identity;
  std::string name;
  std::string category;
  std::string severity;
  std::string action;       // notify, mute, remove: what was done
  std::string snippet;      // the words heard
  int64_t spanStartMs = 0;  // when they were said (wall clock)
  int64_t spanEndMs = 0;
  std::string evidencePath; // the room's last minutes of audio, kept
};

using Event = std::variant<ParticipantJoined, ParticipantLeft, SdpAnswer, IceCandidate, RoomEnded, ErrorEvent,
                           HandChanged, RoleChanged, Invited, InviteAnswered, MuteChanged, Removed, PresenceChanged,
                           ActiveSpeakers, ListenerCount, ChatPosted, ChatHistory, ChatDeleted, Reactions,
                           ReportFiled, RecordingChanged, RecordingNotice, RecordingOptOutChanged,
                           ModerationAlert>;

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
