#include "core/room_manager.h"

#include "core/permissions.h"

#include <cctype>
#include <memory>
#include <utility>

namespace roomcast::core {

namespace {

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
    : media_(media), events_(events), env_(std::move(env)), limits_(limits),
      listeners_(static_cast<int64_t>(limits.listenerIdleMs)) {
  media_.setObserver(this);
}

RoomManager::~RoomManager() {
  if (listenerSweep_ && env_.cancel) env_.cancel(listenerSweep_);
  for (auto& [id, room] : rooms_) cancelRoomTimers(room);
  media_.setObserver(nullptr);
}

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
  info.hostName = request.hostName;
  info.createdAtUnixMs = env_.nowUnixMs();

  auto opened = openRoom(info, {info.id, info.record});
  if (!opened) return opened.error();
  Room& stored = *opened.value();
  if (limits_.maxDurationMs)
    scheduleRoomEnd(stored, limits_.maxDurationMs, &Room::durationTimer,
                    "max_duration: the room reached its " + std::to_string(limits_.maxDurationMs / 1000) + " s limit");
  stageChanged(stored);  // nobody is on stage yet
  return info;
}

Result<Room*> RoomManager::openRoom(const RoomInfo& info, const RoomMediaConfig& media) {
  if (auto started = media_.startRoom(media); !started) return started.error();
  // A room the store did not keep would vanish from the archive: it is not created at all.
  if (auto stored = env_.roomCreated ? env_.roomCreated(info) : Status(Ok{}); !stored) {
    media_.stopRoom(info.id, nullptr);
    return stored.error();
  }
  Room room;
  room.info = info;
  room.roles[info.hostIdentity] = Role::Host;
  return &(rooms_[info.id] = std::move(room));
}

Status RoomManager::endRoom(const std::string& roomIdRef, const std::string& reason, RoomEndedCallback done) {
  const std::string roomId = roomIdRef;  // callers pass the room's own id, which erase() frees
  auto it = rooms_.find(roomId);
  if (it == rooms_.end()) return noLiveRoom(roomId);
  events_.broadcast(roomId, RoomEnded{reason});
  cancelRoomTimers(it->second);
  for (auto& [id, p] : it->second.participants) {
    cancelGrace(p);
    if (p.mayHaveMedia() || p.mediaConnected) departed_[roomId][id] = {it->second.info, p};
  }
  RoomInfo info = it->second.info;
  rooms_.erase(it);
  lastLoudMs_.erase(roomId);
  listeners_.forgetRoom(roomId);
  media_.stopRoom(roomId, [this, alive = std::weak_ptr<int>(lifetime_), info, finished = env_.roomFinished,
                           done = std::move(done)](RoomMediaSummary summary) {
    if (!alive.expired()) departed_.erase(info.id);  // every speaker's last words are in
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

Result<std::pair<Room*, Participant*>> RoomManager::memberOf(const std::string& roomId, const std::string& identity) {
  Room* room = findMutable(roomId);
  if (!room) return noLiveRoom(roomId);
  Participant* p = findParticipant(roomId, identity);
  if (!p) return Error{ErrorCode::Conflict, "join the room first"};
  return std::make_pair(room, p);
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

Result<Participant> RoomManager::join(const std::string& roomId, const Identity& who,
                                     const std::string& resumeToken) {
  Room* room = findMutable(roomId);
  if (!room) return noLiveRoom(roomId);
  auto actor = authorize(roomId, who);
  if (!actor) return actor.error();
  if (auto it = room->participants.find(who.id); it != room->participants.end()) {
    Participant& p = it->second;
    // Back within the grace period, or taking over from a connection the server has not yet
    // seen drop (that needs the resume token): same role, same slot, same hand.
    const bool resumable = p.presence == Presence::Reconnecting ||
                           (!resumeToken.empty() && resumeToken == p.resumeToken);
    if (!resumable)
      return Error{ErrorCode::Conflict, "identity '" + who.id + "' is already connected to this room"};
    cancelGrace(p);
    p.presence = Presence::Connected;
    p.resumeToken = env_.newResumeToken ? env_.newResumeToken() : p.resumeToken;
    events_.broadcast(roomId, PresenceChanged{p.identity, false});
    return p;
  }
  if (room->participants.size() >= limits_.maxParticipants)
    return Error{ErrorCode::RoomFull, "the room is full"};
  const Role role = actor->role;
  if (isOnStage(role) && static_cast<size_t>(room->speakerCount()) >= limits_.maxSpeakers)
    return Error{ErrorCode::RoomFull, "the stage is full (" + std::to_string(limits_.maxSpeakers) + " speakers)"};
  if (auto name = checkName(roomId, who.id, who.name); !name) return name.error();

  Participant p;
  p.identity = who.id;
  p.name = who.name;
  p.role = role;
  p.tokenId = who.tokenId;
  // Remembered past this connection (a listener's token says all there is to say, so the
  // audience does not grow the map; the room's changes to anyone are kept in changeRole).
  if (role != Role::Listener) room->roles[who.id] = role;
  p.joinOrder = room->nextOrder++;
  p.resumeToken = env_.newResumeToken ? env_.newResumeToken() : "";
  room->participants[who.id] = p;
  // Listeners are counted, not announced: announcing each of ten thousand to all the others
  // would cost N² messages while a room fills. The stage is announced to everyone.
  if (isOnStage(p.role)) events_.broadcast(roomId, ParticipantJoined{p});
  stageChanged(*room);
  return p;
}

void RoomManager::leave(const std::string& roomId, const std::string& identityRef, const std::string& reason) {
  const std::string identity = identityRef;  // may be the participant's own string, erased below
  Room* room = findMutable(roomId);
  if (!room) return;
  auto it = room->participants.find(identity);
  if (it == room->participants.end()) return;
  cancelGrace(it->second);
  if (it->second.mayHaveMedia() || it->second.mediaConnected) {
    departed_[roomId][identity] = {room->info, it->second};  // first: removePeer may finish at once
    media_.removePeer(roomId, identity);
  }
  // Announced only if others were shown this participant: on stage, or a hand in the queue.
  const bool shown = isOnStage(it->second.role) || it->second.handRaised || it->second.invited;
  room->participants.erase(it);
  lastLoudMs_[roomId].erase(identity);
  if (shown) events_.broadcast(roomId, ParticipantLeft{identity, reason});
  updateActiveSpeakers(*room, env_.nowUnixMs());
  stageChanged(*room);
}

void RoomManager::disconnected(const std::string& roomId, const std::string& identity) {
  Participant* p = findParticipant(roomId, identity);
  if (!p) return;
  if (!p->mayHaveMedia()) return leave(roomId, identity, "disconnected");
  if (p->presence == Presence::Reconnecting) return;
  p->presence = Presence::Reconnecting;
  events_.broadcast(roomId, PresenceChanged{identity, true});
  startGrace(roomId, *p);
}

void RoomManager::startGrace(const std::string& roomId, Participant& p) {
  if (!env_.schedule) return;
  auto timer = std::make_shared<uint64_t>(0);
  *timer = env_.schedule(limits_.reconnectGraceMs, [this, roomId, identity = p.identity, timer] {
    graceExpired(roomId, identity, *timer);
  });
  p.graceTimer = *timer;
}

void RoomManager::graceExpired(const std::string& roomId, const std::string& identity, uint64_t timer) {
  Participant* p = findParticipant(roomId, identity);
  if (!p || p->graceTimer != timer || p->presence != Presence::Reconnecting) return;
  p->graceTimer = 0;
  leave(roomId, identity, "timeout");
}

void RoomManager::cancelGrace(Participant& p) {
  if (p.graceTimer && env_.cancel) env_.cancel(p.graceTimer);
  p.graceTimer = 0;
}

Result<Actor> RoomManager::actorFor(const std::string& roomId, const std::string& identity) const {
  const Room* room = find(roomId);
  if (!room) return noLiveRoom(roomId);
  auto it = room->participants.find(identity);
  if (it == room->participants.end()) return Error{ErrorCode::Conflict, "join the room first"};
  return Actor{identity, it->second.role};
}

Result<Actor> RoomManager::authorize(const std::string& roomId, const Identity& who) const {
  const Room* room = find(roomId);
  if (!room) return noLiveRoom(roomId);
  if (room->banned.count(who.id) || (!who.tokenId.empty() && room->revokedTokens.count(who.tokenId)))
    return Error{ErrorCode::Forbidden, "you were removed from this room"};
  if (auto known = room->roles.find(who.id); known != room->roles.end()) return Actor{who.id, known->second};
  // First seen: the token's role stands if whoever issued it may still issue it.
  if (!who.issuedBy.empty()) {
    auto issuer = room->roles.find(who.issuedBy);
    const Role issuerRole = issuer == room->roles.end() ? Role::Listener : issuer->second;
    if (room->banned.count(who.issuedBy) || !permits(issuerRole, Action::IssueTokens) ||
        (who.role == Role::CoHost && !permits(issuerRole, Action::AppointCohost)))
      return Error{ErrorCode::Forbidden, "this token's issuer may no longer issue it"};
  }
  return Actor{who.id, who.role};
}

namespace {
std::string foldName(std::string_view name) {
  const size_t first = name.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const size_t last = name.find_last_not_of(" \t");
  std::string folded(name.substr(first, last - first + 1));
  for (char& c : folded) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return folded;
}
}  // namespace

Status RoomManager::checkName(const std::string& roomId, const std::string& identity, const std::string& name) const {
  const Room* room = find(roomId);
  if (!room) return noLiveRoom(roomId);
  const std::string wanted = foldName(name);
  auto taken = [&](const std::string& owner, const std::string& ownerName) {
    return owner != identity && foldName(ownerName) == wanted;
  };
  bool reserved = taken(room->info.hostIdentity, room->info.hostName);
  for (const auto& [id, p] : room->participants)
    if ((p.role == Role::Host || p.role == Role::CoHost) && taken(id, p.name)) reserved = true;
  if (reserved) return Error{ErrorCode::Conflict, "the name '" + name + "' belongs to this room's host or a co-host"};
  return Ok{};
}

Result<std::pair<Room*, Participant*>> RoomManager::moderation(const std::string& roomId, const Actor& actor,
                                                               const std::string& target, Action action) {
  Room* room = findMutable(roomId);
  if (!room) return noLiveRoom(roomId);
  if (!permits(actor.role, action))
    return Error{ErrorCode::Forbidden, "a " + std::string(roleName(actor.role)) + " may not " +
                                           std::string(actionName(action))};
  Participant* p = findParticipant(roomId, target);
  if (!p) return Error{ErrorCode::NotFound, "no participant '" + target + "' in this room"};
  if (!mayActOn(actor.role, p->role))
    return Error{ErrorCode::Forbidden, p->role == Role::Host ? "nobody acts on the host"
                                                             : "only the host acts on co-hosts"};
  return std::pair{room, p};
}

void RoomManager::syncMixing(const Room& room, const Participant& p, bool wasMixed) {
  if (p.mixed() != wasMixed && p.mediaConnected) media_.setPeerMixed(room.info.id, p.identity, p.mixed());
}

void RoomManager::noticeRecording(const Room& room, const Participant& p) {
  if (room.recording) events_.sendTo(room.info.id, p.identity, RecordingNotice{true});
}

void RoomManager::changeRole(Room& room, Participant& p, Role role) {
  const bool wasMixed = p.mixed();
  const bool hadMedia = p.mayHaveMedia();
  // Told before they go live: the room is recorded (they may opt out first).
  if (!isOnStage(p.role) && isOnStage(role)) noticeRecording(room, p);
  p.role = role;
  room.roles[p.identity] = role;
  p.handRaised = false;
  p.invited = false;
  if (isOnStage(role)) p.selfMuted = false;
  events_.broadcast(room.info.id, RoleChanged{p.identity, role, p});
  if (hadMedia && !p.mayHaveMedia()) {
    // Back to the audience: back to HLS. Their last words may come after they have left too.
    departed_[room.info.id][p.identity] = {room.info, p};
    media_.removePeer(room.info.id, p.identity);
    p.mediaConnected = false;
  } else {
    syncMixing(room, p, wasMixed);
  }
  stageChanged(room);
}

void RoomManager::stageChanged(Room& room) {
  if (!limits_.emptyTimeoutMs || !env_.schedule) return;
  if (room.speakerCount() > 0) {
    room.stageEmptySinceMs = 0;
    if (room.emptyTimer && env_.cancel) env_.cancel(room.emptyTimer);
    room.emptyTimer = 0;
    return;
  }
  if (room.emptyTimer) return;  // counting down already
  room.stageEmptySinceMs = env_.nowUnixMs();
  scheduleRoomEnd(room, limits_.emptyTimeoutMs, &Room::emptyTimer,
                  "empty: nobody on stage for " + std::to_string(limits_.emptyTimeoutMs / 1000) + " s");
}

// The room ends by the host's path (endRoom): everyone is told, HLS gets its ENDLIST and the
// recording is finished and indexed. A timer of a room that has ended, or been replaced by a
// newer timer, does nothing.
void RoomManager::scheduleRoomEnd(Room& room, unsigned ms, uint64_t Room::*timer, std::string reason) {
  if (!env_.schedule) return;
  auto id = std::make_shared<uint64_t>(0);
  *id = env_.schedule(ms, [this, roomId = room.info.id, id, timer, reason = std::move(reason)] {
    Room* r = findMutable(roomId);
    if (!r || r->*timer != *id) return;
    r->*timer = 0;
    (void)endRoom(roomId, reason);
  });
  room.*timer = *id;
}

void RoomManager::cancelRoomTimers(Room& room) {
  for (uint64_t Room::*timer : {&Room::emptyTimer, &Room::durationTimer}) {
    if (room.*timer && env_.cancel) env_.cancel(room.*timer);
    room.*timer = 0;
  }
}

// Each pre-warmed session is a WebRTC peer (threads, sockets, a decoder) for someone who is not
// on stage yet: a room holds a few. Beyond, the hand stays up and the session opens on promotion.
Status RoomManager::admitPrewarm(const Room& room, const Participant& p) const {
  if (isOnStage(p.role) || p.mediaConnected) return Ok{};
  size_t warm = 0;
  for (const auto& [id, other] : room.participants)
    if (!isOnStage(other.role) && other.mediaConnected) warm++;
  if (warm < limits_.maxPrewarmedPeers) return Ok{};
  return Error{ErrorCode::RoomFull, "enough listeners are pre-warmed in this room; your session opens when you are "
                                    "promoted"};
}

Status RoomManager::offer(const std::string& roomId, const std::string& identity, const std::string& sdp) {
  if (!findMutable(roomId)) return noLiveRoom(roomId);
  Participant* p = findParticipant(roomId, identity);
  if (!p) return Error{ErrorCode::Conflict, "join the room before sending an offer"};
  if (!p->mayHaveMedia())
    return Error{ErrorCode::Forbidden, "only speakers (or raised hands, pre-warming) open WebRTC; listeners hear HLS"};
  if (auto warm = admitPrewarm(*findMutable(roomId), *p); !warm) return warm;
  if (auto accepted = media_.acceptOffer(roomId, identity, sdp, p->mixed()); !accepted) return accepted;
  p->mediaConnected = true;
  if (p->recordingOptOut) media_.setPeerInRecording(roomId, identity, false);
  return Ok{};
}

void RoomManager::listenerSeen(const std::string& roomId, const std::string& session) {
  if (!findMutable(roomId)) return;
  listeners_.touch(roomId, session, env_.nowUnixMs());
  // Counting runs only while somebody listens: no timer ticks for rooms nobody hears.
  if (!listenerSweep_ && env_.schedule)
    listenerSweep_ = env_.schedule(limits_.listenerSweepMs, [this] { sweepListeners(); });
}

void RoomManager::sweepListeners() {
  listenerSweep_ = 0;
  for (const std::string& roomId : listeners_.sweep(env_.nowUnixMs())) {
    Room* room = findMutable(roomId);
    if (!room) continue;
    room->hlsListeners = listeners_.count(roomId);
    events_.broadcast(roomId, ListenerCount{room->hlsListeners});
  }
  if (listeners_.total() > 0 && env_.schedule)
    listenerSweep_ = env_.schedule(limits_.listenerSweepMs, [this] { sweepListeners(); });
}

Result<MediaBackend::RtpAddress> RoomManager::plainRtpOffer(const std::string& roomId, const std::string& identity,
                                                            const MediaBackend::RtpAddress& remote, int payloadType) {
  if (!limits_.allowPlainRtp)
    return Error{ErrorCode::Forbidden, "plain RTP is disabled on this server ([media] plain_rtp)"};
  if (!findMutable(roomId)) return noLiveRoom(roomId);
  Participant* p = findParticipant(roomId, identity);
  if (!p) return Error{ErrorCode::Conflict, "join the room before sending an offer"};
  if (!p->mayHaveMedia())
    return Error{ErrorCode::Forbidden, "only speakers (or raised hands, pre-warming) open a media session"};
  if (auto warm = admitPrewarm(*findMutable(roomId), *p); !warm) return warm.error();
  if (remote.port < 1 || remote.port > 65535) return Error{ErrorCode::ValidationFailed, "port must be 1..65535"};
  if (payloadType < 96 || payloadType > 127)
    return Error{ErrorCode::ValidationFailed, "payload_type must be a dynamic type (96..127)"};
  auto local = media_.acceptPlainRtp(roomId, identity, remote, payloadType, p->mixed());
  if (local) p->mediaConnected = true;
  if (local && p->recordingOptOut) media_.setPeerInRecording(roomId, identity, false);
  return local;
}

Status RoomManager::remoteCandidate(const std::string& roomId, const std::string& identity, unsigned mline,
                                    const std::string& candidate) {
  if (!findMutable(roomId)) return noLiveRoom(roomId);
  Participant* p = findParticipant(roomId, identity);
  if (!p) return Error{ErrorCode::Conflict, "join the room before sending candidates"};
  if (!p->mayHaveMedia()) return Error{ErrorCode::Forbidden, "listeners have no WebRTC session"};
  return media_.addRemoteCandidate(roomId, identity, mline, candidate);
}

}  // namespace roomcast::core
