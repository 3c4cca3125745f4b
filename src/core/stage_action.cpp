// The stage: hands, promotion and demotion, co-hosts, invitations, muting and removal, and
// RoomManager::apply, the one switch from a stage action to the call that does it (REST and
// the WebSocket both land there). RoomManager's state is in room_manager.cpp.
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

Status RoomManager::setHand(const std::string& roomId, const std::string& identity, bool raised) {
  auto member = memberOf(roomId, identity);
  if (!member) return member.error();
  auto [room, p] = member.value();
  if (p->role != Role::Listener) return Error{ErrorCode::Conflict, "you are already on stage"};
  if (p->handRaised == raised) return Ok{};
  if (raised && room->handQueue().size() >= limits_.maxRaisedHands)
    return Error{ErrorCode::RoomFull, "too many hands are up in this room; try again later"};
  p->handRaised = raised;
  if (raised) p->handOrder = room->nextOrder++;
  const HandChanged event{p->identity, p->name, raised};
  // The queue is for the people who run the stage, and for the one whose hand it is.
  for (const auto& [id, other] : room->participants)
    if (permits(other.role, Action::SeeHands) || id == identity) events_.sendTo(roomId, id, event);
  if (!raised && !p->mayHaveMedia() && p->mediaConnected) {
    media_.removePeer(roomId, identity);
    p->mediaConnected = false;
  }
  return Ok{};
}

Status RoomManager::promote(const std::string& roomId, const Actor& actor, const std::string& target) {
  auto found = moderation(roomId, actor, target, Action::Promote);
  if (!found) return found.error();
  auto [room, p] = found.value();
  if (isOnStage(p->role)) return Error{ErrorCode::Conflict, p->name + " is already on stage"};
  if (static_cast<size_t>(room->speakerCount()) >= limits_.maxSpeakers)
    return Error{ErrorCode::RoomFull, "the stage is full (" + std::to_string(limits_.maxSpeakers) + " speakers)"};
  changeRole(*room, *p, Role::Speaker);
  return Ok{};
}

Status RoomManager::demote(const std::string& roomId, const Actor& actor, const std::string& target) {
  auto found = moderation(roomId, actor, target, Action::Demote);
  if (!found) return found.error();
  auto [room, p] = found.value();
  if (!isOnStage(p->role)) return Error{ErrorCode::Conflict, p->name + " is not on stage"};
  changeRole(*room, *p, Role::Listener);
  return Ok{};
}

Status RoomManager::setCohost(const std::string& roomId, const Actor& actor, const std::string& target, bool cohost) {
  auto found = moderation(roomId, actor, target, cohost ? Action::AppointCohost : Action::RevokeCohost);
  if (!found) return found.error();
  auto [room, p] = found.value();
  if (cohost && p->role == Role::CoHost) return Error{ErrorCode::Conflict, p->name + " is already a co-host"};
  if (!cohost && p->role != Role::CoHost) return Error{ErrorCode::Conflict, p->name + " is not a co-host"};
  if (cohost && !isOnStage(p->role) && static_cast<size_t>(room->speakerCount()) >= limits_.maxSpeakers)
    return Error{ErrorCode::RoomFull, "the stage is full (" + std::to_string(limits_.maxSpeakers) + " speakers)"};
  // A co-host is on stage; a revoked co-host stays there as a speaker.
  changeRole(*room, *p, cohost ? Role::CoHost : Role::Speaker);
  return Ok{};
}

Status RoomManager::invite(const std::string& roomId, const Actor& actor, const std::string& target) {
  auto found = moderation(roomId, actor, target, Action::Invite);
  if (!found) return found.error();
  auto [room, p] = found.value();
  if (isOnStage(p->role)) return Error{ErrorCode::Conflict, p->name + " is already on stage"};
  p->invited = true;
  noticeRecording(*room, *p);
  events_.sendTo(roomId, target, Invited{actor.identity});
  return Ok{};
}

Status RoomManager::answerInvite(const std::string& roomId, const std::string& identity, bool accept) {
  auto member = memberOf(roomId, identity);
  if (!member) return member.error();
  auto [room, p] = member.value();
  if (!p->invited) return Error{ErrorCode::Conflict, "there is no invitation to answer"};
  const InviteAnswered answer{identity, accept};
  for (const auto& [id, other] : room->participants)
    if (permits(other.role, Action::SeeHands)) events_.sendTo(roomId, id, answer);
  if (accept) {
    if (static_cast<size_t>(room->speakerCount()) >= limits_.maxSpeakers)
      return Error{ErrorCode::RoomFull, "the stage is full"};
    changeRole(*room, *p, Role::Speaker);
  } else {
    p->invited = false;
    if (!p->mayHaveMedia() && p->mediaConnected) {
      media_.removePeer(roomId, identity);
      p->mediaConnected = false;
    }
  }
  return Ok{};
}

Status RoomManager::setMuted(const std::string& roomId, const Actor& actor, const std::string& target, bool muted) {
  Room* room = findMutable(roomId);
  if (!room) return noLiveRoom(roomId);
  Participant* p = nullptr;
  const bool self = actor.identity == target;
  if (self) {
    p = findParticipant(roomId, target);
    if (!p) return Error{ErrorCode::Conflict, "join the room first"};
  } else {
    auto found = moderation(roomId, actor, target, Action::Mute);
    if (!found) return found.error();
    p = found.value().second;
  }
  if (!isOnStage(p->role)) return Error{ErrorCode::Conflict, p->name + " is not on stage"};
  const bool wasMixed = p->mixed();
  if (self) {
    // Unmuting yourself does not lift a host's mute.
    p->selfMuted = muted;
  } else {
    p->serverMuted = muted;
  }
  syncMixing(*room, *p, wasMixed);
  events_.broadcast(roomId, MuteChanged{p->identity, p->serverMuted || p->selfMuted, !self});
  return Ok{};
}

Status RoomManager::remove(const std::string& roomId, const Actor& actor, const std::string& target) {
  auto found = moderation(roomId, actor, target, Action::Remove);
  if (!found) return found.error();
  auto [room, p] = found.value();
  if (actor.identity == target) return Error{ErrorCode::Conflict, "leave instead of removing yourself"};
  room->banned.insert(target);
  room->roles.erase(target);
  if (!p->tokenId.empty()) room->revokedTokens.insert(p->tokenId);
  events_.sendTo(roomId, target, Removed{"removed by the host"});
  leave(roomId, target, "removed");
  events_.disconnect(roomId, target, "removed");
  return Ok{};
}

Result<std::string> RoomManager::identityByName(const std::string& roomId, const std::string& name) const {
  const Room* room = find(roomId);
  if (!room) return noLiveRoom(roomId);
  std::string found;
  for (const auto& [id, p] : room->participants) {
    if (p.name != name && p.identity != name) continue;
    if (!found.empty()) return Error{ErrorCode::Conflict, "more than one participant is called '" + name + "'"};
    found = id;
  }
  if (found.empty()) return Error{ErrorCode::NotFound, "no participant called '" + name + "'"};
  return found;
}


}  // namespace roomcast::core
