// Plain room state, owned by RoomManager on the control thread.
#pragma once

#include <cstdint>
#include <map>
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
};

struct Participant {
  std::string identity;  // stable per token (the JWT "sub")
  std::string name;
  Role role = Role::Listener;
  bool mediaConnected = false;  // WebRTC up; only meaningful for stage roles
};

struct Room {
  RoomInfo info;
  std::map<std::string, Participant> participants;  // by identity

  int speakerCount() const;
  int listenerCount() const;
};

}  // namespace roomcast::core
