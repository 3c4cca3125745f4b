#include "core/room_manager.h"

#include <utility>

namespace roomcast::core {

namespace {

Error notFound(const std::string& roomId) {
  return {ErrorCode::NotFound, "no live room with id '" + roomId + "'"};
}

bool hasControlCharacters(std::string_view text, bool allowNewlines) {
  for (unsigned char c : text) {
    if (c == 0x7f) return true;
    if (c < 0x20 && !(allowNewlines && (c == '\n' || c == '\t'))) return true;
  }
  return false;
}

}  // namespace

bool isValidUtf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) { i++; continue; }
    if ((c & 0xe0) == 0xc0) { extra = 1; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { extra = 2; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { extra = 3; cp = c & 0x07; }
    else return false;
    if (i + extra >= n) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; k++) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Reject overlong forms, surrogates and code points past U+10FFFF.
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000)) return false;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

Status validateNewRoom(const NewRoom& request, const RoomLimits& limits) {
  auto invalid = [](std::string message) { return Error{ErrorCode::ValidationFailed, std::move(message)}; };
  if (!isValidUtf8(request.title) || !isValidUtf8(request.topic))
    return Error{ErrorCode::InvalidUtf8, "title and topic must be valid UTF-8"};
  if (request.title.find_first_not_of(" \t") == std::string::npos)
    return invalid("title must not be empty");
  if (request.title.size() > limits.maxTitleBytes)
    return invalid("title is longer than " + std::to_string(limits.maxTitleBytes) + " bytes");
  if (request.topic.size() > limits.maxTopicBytes)
    return invalid("topic is longer than " + std::to_string(limits.maxTopicBytes) + " bytes");
  if (hasControlCharacters(request.title, false) || hasControlCharacters(request.topic, true))
    return invalid("title and topic must not contain control characters");
  return Ok{};
}

RoomManager::RoomManager(MediaBackend& media, RoomEventSink& events, Environment env, RoomLimits limits)
    : media_(media), events_(events), env_(std::move(env)), limits_(limits) {
  media_.setObserver(this);
}

RoomManager::~RoomManager() { media_.setObserver(nullptr); }

Result<RoomInfo> RoomManager::createRoom(const NewRoom& request) {
  if (auto valid = validateNewRoom(request, limits_); !valid) return valid.error();
  if (rooms_.size() >= limits_.maxRooms)
    return Error{ErrorCode::Conflict, "this server already runs its maximum of " +
                                          std::to_string(limits_.maxRooms) + " rooms"};
  RoomInfo info;
  do info.id = env_.newRoomId(); while (rooms_.count(info.id));
  info.title = request.title;
  info.topic = request.topic;
  info.record = request.record;
  info.hostIdentity = "host-" + info.id;
  info.createdAtUnixMs = env_.nowUnixMs();

  if (auto started = media_.startRoom({info.id, info.record}); !started) return started.error();
  rooms_[info.id] = Room{info, {}};
  if (env_.roomCreated) env_.roomCreated(info);
  return info;
}

Status RoomManager::endRoom(const std::string& roomId, const std::string& reason, RoomEndedCallback done) {
  auto it = rooms_.find(roomId);
  if (it == rooms_.end()) return notFound(roomId);
  events_.broadcast(roomId, RoomEnded{reason});
  RoomInfo info = it->second.info;
  rooms_.erase(it);
  media_.stopRoom(roomId, [info, finished = env_.roomFinished, done = std::move(done)](RoomMediaSummary summary) {
    if (finished) finished(info, summary);
    if (done) done(info, summary);
  });
  return Ok{};
}

void RoomManager::endAll(const std::string& reason) {
  std::vector<std::string> ids;
  for (const auto& [id, room] : rooms_) ids.push_back(id);
  for (const auto& id : ids) (void)endRoom(id, reason);
}

const Room* RoomManager::find(const std::string& roomId) const {
  auto it = rooms_.find(roomId);
  return it == rooms_.end() ? nullptr : &it->second;
}

Room* RoomManager::findMutable(const std::string& roomId) {
  auto it = rooms_.find(roomId);
  return it == rooms_.end() ? nullptr : &it->second;
}

Participant* RoomManager::findParticipant(const std::string& roomId, const std::string& identity) {
  Room* room = findMutable(roomId);
  if (!room) return nullptr;
  auto it = room->participants.find(identity);
  return it == room->participants.end() ? nullptr : &it->second;
}

std::vector<const Room*> RoomManager::rooms() const {
  std::vector<const Room*> out;
  for (const auto& [id, room] : rooms_) out.push_back(&room);
  return out;
}

Result<Participant> RoomManager::join(const std::string& roomId, const Identity& who) {
  Room* room = findMutable(roomId);
  if (!room) return notFound(roomId);
  if (room->participants.count(who.id))
    return Error{ErrorCode::Conflict, "identity '" + who.id + "' is already connected to this room"};
  if (room->participants.size() >= limits_.maxParticipants)
    return Error{ErrorCode::RoomFull, "the room is full"};
  if (isOnStage(who.role) && static_cast<size_t>(room->speakerCount()) >= limits_.maxSpeakers)
    return Error{ErrorCode::RoomFull, "the stage is full (" + std::to_string(limits_.maxSpeakers) + " speakers)"};

  Participant p{who.id, who.name, who.role, false};
  room->participants[who.id] = p;
  events_.broadcast(roomId, ParticipantJoined{p});
  return p;
}

void RoomManager::leave(const std::string& roomId, const std::string& identity, const std::string& reason) {
  Room* room = findMutable(roomId);
  if (!room) return;
  auto it = room->participants.find(identity);
  if (it == room->participants.end()) return;
  if (isOnStage(it->second.role)) media_.removePeer(roomId, identity);
  room->participants.erase(it);
  events_.broadcast(roomId, ParticipantLeft{identity, reason});
}

Status RoomManager::offer(const std::string& roomId, const std::string& identity, const std::string& sdp) {
  if (!findMutable(roomId)) return notFound(roomId);
  Participant* p = findParticipant(roomId, identity);
  if (!p) return Error{ErrorCode::Conflict, "join the room before sending an offer"};
  if (!isOnStage(p->role))
    return Error{ErrorCode::Forbidden, "only speakers send audio; listeners hear the HLS program"};
  return media_.acceptOffer(roomId, identity, sdp);
}

Status RoomManager::remoteCandidate(const std::string& roomId, const std::string& identity, unsigned mline,
                                    const std::string& candidate) {
  if (!findMutable(roomId)) return notFound(roomId);
  Participant* p = findParticipant(roomId, identity);
  if (!p) return Error{ErrorCode::Conflict, "join the room before sending candidates"};
  if (!isOnStage(p->role)) return Error{ErrorCode::Forbidden, "listeners have no WebRTC session"};
  return media_.addRemoteCandidate(roomId, identity, mline, candidate);
}

void RoomManager::onLocalAnswer(const std::string& roomId, const std::string& peerId, const std::string& sdp) {
  Participant* p = findParticipant(roomId, peerId);
  if (!p) return;  // left while the answer was being made
  p->mediaConnected = true;
  events_.sendTo(roomId, peerId, SdpAnswer{sdp});
}

void RoomManager::onLocalCandidate(const std::string& roomId, const std::string& peerId, unsigned mlineIndex,
                                   const std::string& candidate) {
  if (!findParticipant(roomId, peerId)) return;
  events_.sendTo(roomId, peerId, IceCandidate{mlineIndex, candidate});
}

void RoomManager::onPeerFailed(const std::string& roomId, const std::string& peerId, const std::string& reason) {
  Participant* p = findParticipant(roomId, peerId);
  if (!p) return;
  p->mediaConnected = false;
  events_.sendTo(roomId, peerId, ErrorEvent{{ErrorCode::MediaError, "media session failed: " + reason}});
}

void RoomManager::onRoomMediaFailed(const std::string& roomId, const std::string& reason) {
  (void)endRoom(roomId, "media_failed: " + reason);
}

}  // namespace roomcast::core
