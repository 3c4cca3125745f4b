// Reopening a room another node of the cluster ran (failover): RoomManager::restoreRoom.
#include <algorithm>

#include "core/room_manager.h"

namespace roomcast::core {

namespace {

Status validateSnapshot(const RoomSnapshot& snapshot, const RoomLimits& limits) {
  if (snapshot.info.id.empty()) return Error{ErrorCode::ValidationFailed, "a room to restore needs its id"};
  NewRoom asNew{snapshot.info.title, snapshot.info.topic, snapshot.info.record, snapshot.info.hostName};
  if (auto valid = validateNewRoom(asNew, limits); !valid) return valid;
  if (snapshot.stage.size() > limits.maxSpeakers)
    return Error{ErrorCode::ValidationFailed, "the stage to restore is larger than this node's stage"};
  for (const auto& entry : snapshot.stage)
    if (entry.identity.empty() || !isOnStage(entry.role))
      return Error{ErrorCode::ValidationFailed, "a stage entry to restore has no identity or no stage role"};
  return Ok{};
}

}  // namespace

Result<RoomInfo> RoomManager::restoreRoom(const RoomSnapshot& snapshot) {
  if (auto valid = validateSnapshot(snapshot, limits_); !valid) return valid.error();
  const RoomInfo& info = snapshot.info;
  if (rooms_.count(info.id)) return Error{ErrorCode::Conflict, "room " + info.id + " is already live here"};
  if (rooms_.size() >= limits_.maxRooms)
    return Error{ErrorCode::Conflict, "this server already runs its maximum of " +
                                          std::to_string(limits_.maxRooms) + " rooms"};
  // Recording consent carries over: a room that was being recorded goes on in a new file.
  RoomMediaConfig media{info.id, snapshot.recording};
  if (snapshot.hls) media.continueHls = continueAfter(*snapshot.hls, env_.nowUnixMs());
  auto opened = openRoom(info, media);
  if (!opened) return opened.error();
  Room& stored = *opened.value();
  stored.banned = snapshot.banned;
  stored.revokedTokens = snapshot.revokedTokens;
  // The stage comes back as it was, everyone reconnecting: a speaker who returns within the
  // grace period finds their role and slot (join() takes a reconnecting participant back).
  for (const auto& entry : snapshot.stage) {
    Participant p;
    p.identity = entry.identity;
    p.name = entry.name;
    p.role = entry.role;
    p.joinOrder = entry.slot;
    p.recordingOptOut = entry.recordingOptOut;
    p.presence = Presence::Reconnecting;
    stored.roles[p.identity] = p.role;
    stored.nextOrder = std::max(stored.nextOrder, entry.slot + 1);
    startGrace(info.id, stored.participants[p.identity] = p);
  }
  if (limits_.maxDurationMs) {
    const int64_t elapsed = env_.nowUnixMs() - info.createdAtUnixMs;
    const int64_t left = std::max<int64_t>(1000, static_cast<int64_t>(limits_.maxDurationMs) - elapsed);
    scheduleRoomEnd(stored, static_cast<unsigned>(left),
                    &Room::durationTimer,
                    "max_duration: the room reached its " + std::to_string(limits_.maxDurationMs / 1000) + " s limit");
  }
  stageChanged(stored);
  return info;
}

}  // namespace roomcast::core
