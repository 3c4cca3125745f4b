// Room lifecycle and membership: the single owner of room state, on the control thread.
// It validates what clients ask for, drives the media backend and tells clients what
// happened through RoomEventSink. No GLib, no GStreamer, no locks.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/events.h"
#include "core/listener_sessions.h"
#include "core/media_backend.h"
#include "core/permissions.h"
#include "core/result.h"
#include "core/room.h"
#include "core/stage_action.h"

namespace roomcast::core {

struct RoomLimits {
  size_t maxTitleBytes = 120;
  size_t maxTopicBytes = 500;
  size_t maxRooms = 100;
  size_t maxSpeakers = 16;
  size_t maxParticipants = 20000;
  size_t maxRaisedHands = 100;     // hands up at once in a room (the queue a host can read)
  size_t maxPrewarmedPeers = 8;    // WebRTC sessions of listeners waiting to be promoted, per room
  unsigned reconnectGraceMs = 20000;   // a dropped speaker keeps role and slot this long
  double speakingThresholdDbfs = -45;  // active-speaker detection on decoded uplinks
  unsigned speakingHoldMs = 400;       // still "speaking" this long after the last loud frame
  unsigned activeSpeakersMinIntervalMs = 250;  // at most 4 active-speaker events a second
  bool allowPlainRtp = false;          // plain-RTP speakers (benchmarks, trusted SIP-like peers)
  unsigned listenerIdleMs = 10000;     // an HLS session not seen this long has stopped listening
  unsigned listenerSweepMs = 2000;     // how often counts are updated (and sent) while anyone listens
  // A room with nobody on stage (connected or reconnecting) this long ends, as if its host had
  // ended it (0: never; roomcastd sets [room] empty_timeout_s, 300 s by default). A room nobody
  // ever joined counts from its creation.
  unsigned emptyTimeoutMs = 0;
  unsigned maxDurationMs = 0;          // a room ends this long after its creation (0: no limit)
};

struct NewRoom {
  std::string title;
  std::string topic;
  bool record = false;
  std::string hostName = "Host";  // reserved in the room
};

// A room as another node of the cluster ran it, to be reopened here after that node died
// (failover): the same id, info, stage (roles and slots) and moderation state. The stage's
// participants are reconnecting: they keep their places for the grace period.
struct RoomSnapshot {
  struct StageEntry {
    std::string identity;
    std::string name;
    Role role = Role::Speaker;
    uint64_t slot = 0;  // joinOrder: the stage order
    bool recordingOptOut = false;
  };
  RoomInfo info;
  bool recording = false;  // it was being recorded: the recording goes on (a new file)
  std::vector<StageEntry> stage;
  std::set<std::string> banned;
  std::set<std::string> revokedTokens;
  // Where the old owner's playlists were, when: the reopened room's continue past it.
  std::optional<HlsPosition> hls;
};

// Who asks for a stage action: a participant, or an operator holding a host token.
struct Actor {
  std::string identity;
  Role role = Role::Listener;
};

// What a verified token says about its holder. Only `id` is trusted as is: the role is what
// the token was issued with, and the room has the last word on it (RoomManager::authorize).
struct Identity {
  std::string id;
  std::string name;
  Role role = Role::Listener;
  std::string tokenId;   // "jti"
  std::string issuedBy;  // the identity that issued the token ("" for the server itself)
};

// Told when a room has ended and its media is finished (for the store and for REST
// callers waiting on DELETE).
using RoomEndedCallback = std::function<void(const RoomInfo&, const RoomMediaSummary&)>;

// Things the room manager needs from its environment, so tests can pin them.
struct Environment {
  std::function<std::string()> newRoomId;
  std::function<int64_t()> nowUnixMs;
  // Optional: e.g. the store. A room it fails to keep is not created (the caller gets the error).
  std::function<Status(const RoomInfo&)> roomCreated;
  RoomEndedCallback roomFinished;                     // optional: runs for every room that ends
  // Optional: every recording file, as it starts and as it ends (the store indexes them).
  std::function<void(const RoomInfo&, const RecordingInfo&)> recordingStarted;
  std::function<void(const std::string& roomId, const RecordingInfo&)> recordingStopped;
  // Optional: a participant's recognized words (transcripts, moderation).
  std::function<void(const RoomInfo&, const Participant&, const std::string& text, int64_t startMs, int64_t endMs)>
      transcribed;
  // One-shot timers on the control thread (grace periods). Returns a non-zero id.
  std::function<uint64_t(unsigned ms, std::function<void()>)> schedule;
  std::function<void(uint64_t id)> cancel;
  std::function<std::string()> newResumeToken;
};

class RoomManager final : public MediaObserver {
 public:
  RoomManager(MediaBackend& media, RoomEventSink& events, Environment env, RoomLimits limits = {});
  ~RoomManager() override;
  RoomManager(const RoomManager&) = delete;
  RoomManager& operator=(const RoomManager&) = delete;

  Result<RoomInfo> createRoom(const NewRoom& request);
  // Reopens a room another node ran (room_restore.cpp). Conflict when the id is live here or
  // the node is full; the snapshot's text is checked like a new room's.
  Result<RoomInfo> restoreRoom(const RoomSnapshot& snapshot);
  // Ends the room now for everyone; `done` runs when its media has finished writing.
  Status endRoom(const std::string& roomId, const std::string& reason, RoomEndedCallback done = {});
  void endAll(const std::string& reason);

  const Room* find(const std::string& roomId) const;
  std::vector<const Room*> rooms() const;
  const RoomLimits& limits() const { return limits_; }

  // A client connected with a verified identity for this room. A participant who is
  // reconnecting (or who presents their resume token) gets their place back.
  Result<Participant> join(const std::string& roomId, const Identity& who, const std::string& resumeToken = {});
  // The client said goodbye: gone at once.
  void leave(const std::string& roomId, const std::string& identity, const std::string& reason);
  // The client's connection dropped: participants with media keep their place for the grace
  // period (everyone is told they are reconnecting); others leave at once.
  void disconnected(const std::string& roomId, const std::string& identity);

  // The stage. `actor` is who asks; permissions are checked here.
  Status setHand(const std::string& roomId, const std::string& identity, bool raised);
  Status promote(const std::string& roomId, const Actor& actor, const std::string& target);
  Status demote(const std::string& roomId, const Actor& actor, const std::string& target);
  Status invite(const std::string& roomId, const Actor& actor, const std::string& target);
  Status answerInvite(const std::string& roomId, const std::string& identity, bool accept);
  Status setMuted(const std::string& roomId, const Actor& actor, const std::string& target, bool muted);
  Status remove(const std::string& roomId, const Actor& actor, const std::string& target);
  // The host starts and stops the recording, live; everyone is told.
  Status setRecording(const std::string& roomId, const Actor& actor, bool on);
  // A participant leaves their own voice out of the recording, or back in.
  Status setRecordingOptOut(const std::string& roomId, const std::string& identity, bool optOut);
  // The host appoints co-hosts (they join the stage) and revokes them (back to speaker).
  Status setCohost(const std::string& roomId, const Actor& actor, const std::string& target, bool cohost);
  // One stage action on `identity` as `actor` (promote, mute, ...), whether it came over REST or
  // the WebSocket: the calls above, chosen in one place.
  Status apply(const std::string& roomId, const Actor& actor, StageAction action, const std::string& identity);
  // The actor for a connected participant (their current role).
  Result<Actor> actorFor(const std::string& roomId, const std::string& identity) const;
  // Who a token's holder is in this room now, connected or not (REST calls, joins): the room's
  // role for the identity if it has one, else the token's; Forbidden if the identity was removed,
  // the token revoked, or its issuer removed or no longer allowed to issue it.
  Result<Actor> authorize(const std::string& roomId, const Identity& who) const;
  // Names of the host and co-hosts are theirs alone: Conflict when `identity` may not use `name`
  // in this room (compared without case and surrounding spaces).
  Status checkName(const std::string& roomId, const std::string& identity, const std::string& name) const;
  // Finds a participant by display name (for operators' CLI); Conflict if ambiguous.
  Result<std::string> identityByName(const std::string& roomId, const std::string& name) const;

  // An HLS playlist request carrying a valid listening session of this room.
  void listenerSeen(const std::string& roomId, const std::string& session);
  // Whether this session is counted in this room now (see signaling::isListenerSession).
  bool isCountedListener(const std::string& roomId, const std::string& session) const {
    return listeners_.contains(roomId, session);
  }
  size_t totalListeners() const { return listeners_.total(); }
  MediaBackend::UplinkLosses uplinkLosses() const { return media_.uplinkLosses(); }
  // Where the room's playlists are (for its record: a failover continues from there).
  std::optional<HlsPosition> hlsPosition(const std::string& roomId) const { return media_.hlsPosition(roomId); }
  MediaBackend::MixerStats mixerStats() const { return media_.mixerStats(); }
  MediaBackend::OutputStats outputStats() const { return media_.outputStats(); }

  Status offer(const std::string& roomId, const std::string& identity, const std::string& sdp);
  // A speaker over plain RTP instead of WebRTC (only where the operator allows it). Returns
  // the server's address for the speaker's RTP.
  Result<MediaBackend::RtpAddress> plainRtpOffer(const std::string& roomId, const std::string& identity,
                                                 const MediaBackend::RtpAddress& remote, int payloadType);
  Status remoteCandidate(const std::string& roomId, const std::string& identity, unsigned mline,
                         const std::string& candidate);

  // MediaObserver
  void onLocalAnswer(const std::string& roomId, const std::string& peerId, const std::string& sdp) override;
  void onLocalCandidate(const std::string& roomId, const std::string& peerId, unsigned mlineIndex,
                        const std::string& candidate) override;
  void onPeerLevels(const std::string& roomId, const std::vector<PeerLevel>& levels) override;
  void onPeerFailed(const std::string& roomId, const std::string& peerId, const std::string& reason) override;
  void onPeerTransportFailed(const std::string& roomId, const std::string& peerId, const std::string& reason) override;
  void onPeerFinished(const std::string& roomId, const std::string& peerId) override;
  void onRoomMediaFailed(const std::string& roomId, const std::string& reason) override;
  void onPeerTranscript(const std::string& roomId, const std::string& peerId, const std::string& text, int64_t startMs,
                        int64_t endMs) override;
  void onRecordingStarted(const std::string& roomId, const RecordingInfo& info) override;
  void onRecordingStopped(const std::string& roomId, const RecordingInfo& info) override;

 private:
  Room* findMutable(const std::string& roomId);
  // Starts a new room's media, has the store keep it and adds it, with its host, to the live
  // rooms (createRoom, restoreRoom).
  Result<Room*> openRoom(const RoomInfo& info, const RoomMediaConfig& media);
  Participant* findParticipant(const std::string& roomId, const std::string& identity);
  // Common checks for moderation: room exists, actor may moderate, target exists.
  // The live room and `identity` in it: NotFound without the room, Conflict ("join the room
  // first") without them.
  Result<std::pair<Room*, Participant*>> memberOf(const std::string& roomId, const std::string& identity);
  Result<std::pair<Room*, Participant*>> moderation(const std::string& roomId, const Actor& actor,
                                                    const std::string& target, Action action);
  void changeRole(Room& room, Participant& p, Role role);
  // Before someone goes on stage in a recorded room: tell them (consent).
  void noticeRecording(const Room& room, const Participant& p);
  void syncMixing(const Room& room, const Participant& p, bool wasMixed);
  Status admitPrewarm(const Room& room, const Participant& p) const;
  void graceExpired(const std::string& roomId, const std::string& identity, uint64_t timer);
  // Keeps `p`'s place for the grace period (they are reconnecting).
  void startGrace(const std::string& roomId, Participant& p);
  void cancelGrace(Participant& p);
  void updateActiveSpeakers(Room& room, int64_t nowMs);
  void sweepListeners();
  // Starts or stops the empty-stage countdown after the stage may have changed.
  void stageChanged(Room& room);
  void scheduleRoomEnd(Room& room, unsigned ms, uint64_t Room::*timer, std::string reason);
  void cancelRoomTimers(Room& room);

  MediaBackend& media_;
  RoomEventSink& events_;
  Environment env_;
  RoomLimits limits_;
  std::map<std::string, Room> rooms_;  // live rooms by id
  // Last loud uplink frame per room and peer, for active-speaker detection.
  std::map<std::string, std::map<std::string, int64_t>> lastLoudMs_;
  ListenerSessions listeners_;
  uint64_t listenerSweep_ = 0;  // the pending sweep timer (0: none; nobody listens)
  // Speakers who left, or whose room ended, while their recognizer commits their last words:
  // those words are still theirs (archive, moderation). By room, then identity; dropped when
  // the media says the peer is finished, or when the room's media is.
  struct Departed {
    RoomInfo room;
    Participant participant;
  };
  std::map<std::string, std::map<std::string, Departed>> departed_;
  // Media may finish a room after this manager is gone (shutdown): its callbacks check this first.
  std::shared_ptr<int> lifetime_ = std::make_shared<int>(0);
};

// Validation shared with REST: non-empty title, byte limits, valid UTF-8, no control chars.
Status validateNewRoom(const NewRoom& request, const RoomLimits& limits);
bool isValidUtf8(std::string_view text);

}  // namespace roomcast::core
