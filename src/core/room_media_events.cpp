// What the media backend reports (MediaObserver), on the control thread: answers and
// candidates for clients, levels and active speakers, failed peers, transcripts, recordings
// and a room whose media failed. RoomManager's state is in room_manager.cpp.
#include "core/room_manager.h"

namespace roomcast::core {

void RoomManager::onLocalAnswer(const std::string& roomId, const std::string& peerId, const std::string& sdp) {
  Participant* p = findParticipant(roomId, peerId);
  if (!p) return;  // left while the answer was being made
  events_.sendTo(roomId, peerId, SdpAnswer{sdp});
}

void RoomManager::onLocalCandidate(const std::string& roomId, const std::string& peerId, unsigned mlineIndex,
                                   const std::string& candidate) {
  if (!findParticipant(roomId, peerId)) return;
  events_.sendTo(roomId, peerId, IceCandidate{mlineIndex, candidate});
}

void RoomManager::onPeerLevels(const std::string& roomId, const std::vector<PeerLevel>& levels) {
  Room* room = findMutable(roomId);
  if (!room) return;
  const int64_t now = env_.nowUnixMs();
  for (const auto& level : levels)
    if (level.rmsDbfs >= limits_.speakingThresholdDbfs) lastLoudMs_[roomId][level.peerId] = now;
  updateActiveSpeakers(*room, now);
}

// Active speakers: mixed participants loud within the hold time. Sent only when the set
// changes, and not more often than the minimum interval (a change inside the interval goes
// out with the next level report, about 100 ms later).
void RoomManager::updateActiveSpeakers(Room& room, int64_t nowMs) {
  std::set<std::string> active;
  for (const auto& [peer, loudAt] : lastLoudMs_[room.info.id]) {
    auto p = room.participants.find(peer);
    if (p != room.participants.end() && p->second.mixed() && nowMs - loudAt <= limits_.speakingHoldMs)
      active.insert(peer);
  }
  if (active == room.activeSpeakers) return;
  if (nowMs - room.activeSpeakersSentMs < limits_.activeSpeakersMinIntervalMs) return;
  room.activeSpeakers = active;
  room.activeSpeakersSentMs = nowMs;
  events_.broadcast(room.info.id, ActiveSpeakers{{active.begin(), active.end()}});
}

void RoomManager::onPeerFailed(const std::string& roomId, const std::string& peerId, const std::string& reason) {
  Participant* p = findParticipant(roomId, peerId);
  if (!p) return;
  p->mediaConnected = false;
  // The socket may still be up: the client offers again to resume, keeping role and slot.
  events_.sendTo(roomId, peerId, ErrorEvent{{ErrorCode::MediaError, "media session failed: " + reason}});
}

void RoomManager::onPeerTransportFailed(const std::string& roomId, const std::string& peerId,
                                        const std::string& reason) {
  Participant* p = findParticipant(roomId, peerId);
  if (!p) return;
  p->mediaConnected = false;
  // The network between them and us: a new offer (a new ICE session) may well get through.
  events_.sendTo(roomId, peerId, ErrorEvent{{ErrorCode::IceFailed, "the audio connection did not get through: " + reason}});
}

Status RoomManager::setRecording(const std::string& roomId, const Actor& actor, bool on) {
  Room* room = findMutable(roomId);
  if (!room) return noLiveRoom(roomId);
  if (!permits(actor.role, Action::Record)) return Error{ErrorCode::Forbidden, "only the host starts and stops recording"};
  if (on == room->info.record) return Error{ErrorCode::Conflict, on ? "already recording" : "not recording"};
  if (on) {
    if (auto started = media_.startRecording(roomId); !started) return started;
  } else {
    media_.stopRecording(roomId);
  }
  room->info.record = on;  // what the host wants; `recording` follows the media
  return Ok{};
}

Status RoomManager::setRecordingOptOut(const std::string& roomId, const std::string& identity, bool optOut) {
  auto member = memberOf(roomId, identity);
  if (!member) return member.error();
  auto [room, p] = member.value();
  if (!permits(p->role, Action::OptOutOfRecording)) return Error{ErrorCode::Forbidden, "you may not opt out"};
  if (p->recordingOptOut == optOut) return Ok{};
  p->recordingOptOut = optOut;
  if (p->mediaConnected) media_.setPeerInRecording(roomId, identity, !optOut);
  events_.broadcast(roomId, RecordingOptOutChanged{identity, optOut});
  return Ok{};
}

void RoomManager::onPeerTranscript(const std::string& roomId, const std::string& peerId, const std::string& text,
                                   int64_t startMs, int64_t endMs) {
  Room* room = findMutable(roomId);
  auto p = room ? room->participants.find(peerId) : decltype(room->participants.end()){};
  if (room && p != room->participants.end()) {
    if (env_.transcribed) env_.transcribed(room->info, p->second, text, startMs, endMs);
    return;
  }
  // The last words of a speaker who has left, or of a room that has ended.
  auto gone = departed_.find(roomId);
  if (gone == departed_.end()) return;
  auto who = gone->second.find(peerId);
  if (who != gone->second.end() && env_.transcribed)
    env_.transcribed(who->second.room, who->second.participant, text, startMs, endMs);
}

void RoomManager::onPeerFinished(const std::string& roomId, const std::string& peerId) {
  auto gone = departed_.find(roomId);
  if (gone == departed_.end()) return;
  gone->second.erase(peerId);
  if (gone->second.empty()) departed_.erase(gone);
}

void RoomManager::onRecordingStarted(const std::string& roomId, const RecordingInfo& info) {
  Room* room = findMutable(roomId);
  if (!room) return;
  room->recording = true;
  if (env_.recordingStarted) env_.recordingStarted(room->info, info);
  events_.broadcast(roomId, RecordingChanged{true, info.reason});
}

void RoomManager::onRecordingStopped(const std::string& roomId, const RecordingInfo& info) {
  // Stored even when the room has just ended: the file is finished now.
  if (env_.recordingStopped) env_.recordingStopped(roomId, info);
  Room* room = findMutable(roomId);
  if (!room) return;
  room->recording = false;
  events_.broadcast(roomId, RecordingChanged{false, info.reason});
  if (info.failed) {
    const std::string text = "the recording stopped: " + info.reason;
    for (const auto& [id, p] : room->participants)
      if (permits(p.role, Action::Record)) events_.sendTo(roomId, id, ErrorEvent{{ErrorCode::RecordingFailed, text}});
  }
}

void RoomManager::onRoomMediaFailed(const std::string& roomId, const std::string& reason) {
  (void)endRoom(roomId, "media_failed: " + reason);
}

}  // namespace roomcast::core
