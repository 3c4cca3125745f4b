// Plain room state, owned by RoomManager on the control thread.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>
#include <string>

#include "core/role.h"

namespace roomcast::core {

struct RoomInfo {
  std::string id;
  std::string title;
  std::string topic;
  bool record = false;
  std::string hostIdentity;
  int64_t createdAtUnixMs = 0;
  std::string hostName;  // reserved in the room: nobody else may join under it
};

enum class Presence { Connected, Reconnecting };

struct Participant {
  std::string identity;  // stable per token (the JWT "sub")
  std::string name;
  Role role = Role::Listener;
  bool mediaConnected = false;  // the server answered this participant's WebRTC offer
  bool handRaised = false;
  bool invited = false;         // invited to the stage, not yet answered
  bool serverMuted = false;     // muted by a host: out of every mix
  bool selfMuted = false;
  bool recordingOptOut = false; // left out of the recording (not of the live room)
  Presence presence = Presence::Connected;
  uint64_t joinOrder = 0;       // the slot: stage and hand queue are shown in this order
  uint64_t handOrder = 0;       // when the hand went up (queue order)
  std::string tokenId;          // the "jti" of the token they joined with (revoked on removal)
  std::string resumeToken;      // proves a reconnecting client is this participant
  uint64_t graceTimer = 0;      // pending removal while reconnecting (0: none)

  // Whether this participant's uplink belongs in the mix now.
  bool mixed() const { return isOnStage(role) && !serverMuted && !selfMuted; }
  // Whether this participant may hold a WebRTC session (stage, or pre-warming for it).
  bool mayHaveMedia() const { return isOnStage(role) || handRaised || invited; }
};

struct Room {
  RoomInfo info;
  std::map<std::string, Participant> participants;  // by identity
  std::set<std::string> banned;                      // removed identities: never again
  std::set<std::string> revokedTokens;               // "jti"s of removed participants' tokens
  // The room's word on a participant's role, kept after they leave: once the room has seen an
  // identity (or changed its role), a rejoin with the same token gets this role, not the token's.
  std::map<std::string, Role> roles;
  std::set<std::string> activeSpeakers;              // last announced
  int64_t activeSpeakersSentMs = 0;
  uint64_t nextOrder = 1;
  size_t hlsListeners = 0;  // listening sessions on HLS (see ListenerSessions), last counted
  bool recording = false;   // a recording file is being written now
  // Rooms end by themselves (RoomLimits::emptyTimeoutMs, maxDurationMs): since when nobody has
  // been on stage (0: someone is), and the pending timers (0: none).
  int64_t stageEmptySinceMs = 0;
  uint64_t emptyTimer = 0;
  uint64_t durationTimer = 0;

  int speakerCount() const;
  int listenerCount() const;
  std::vector<const Participant*> handQueue() const;  // raised hands, oldest first
};

}  // namespace roomcast::core
