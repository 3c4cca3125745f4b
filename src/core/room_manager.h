// Room lifecycle and membership: the single owner of room state, on the control thread.
// It validates what clients ask for, drives the media backend and tells clients what
// happened through RoomEventSink. No GLib, no GStreamer, no locks.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/events.h"
#include "core/media_backend.h"
#include "core/result.h"
#include "core/room.h"

namespace roomcast::core {

struct RoomLimits {
  size_t maxTitleBytes = 120;
  size_t maxTopicBytes = 500;
  size_t maxRooms = 100;
  size_t maxSpeakers = 16;
  size_t maxParticipants = 20000;
};

struct NewRoom {
  std::string title;
  std::string topic;
  bool record = false;
};

struct Identity {
  std::string id;
  std::string name;
  Role role = Role::Listener;
};

// Told when a room has ended and its media is finished (for the store and for REST
// callers waiting on DELETE).
using RoomEndedCallback = std::function<void(const RoomInfo&, const RoomMediaSummary&)>;

// Things the room manager needs from its environment, so tests can pin them.
struct Environment {
  std::function<std::string()> newRoomId;
  std::function<int64_t()> nowUnixMs;
  std::function<void(const RoomInfo&)> roomCreated;  // optional: e.g. the store
  RoomEndedCallback roomFinished;                     // optional: runs for every room that ends
};

class RoomManager final : public MediaObserver {
 public:
  RoomManager(MediaBackend& media, RoomEventSink& events, Environment env, RoomLimits limits = {});
  ~RoomManager() override;
  RoomManager(const RoomManager&) = delete;
  RoomManager& operator=(const RoomManager&) = delete;

  Result<RoomInfo> createRoom(const NewRoom& request);
  // Ends the room now for everyone; `done` runs when its media has finished writing.
  Status endRoom(const std::string& roomId, const std::string& reason, RoomEndedCallback done = {});
  void endAll(const std::string& reason);

  const Room* find(const std::string& roomId) const;
  std::vector<const Room*> rooms() const;
  const RoomLimits& limits() const { return limits_; }

  // A client connected with a verified identity for this room.
  Result<Participant> join(const std::string& roomId, const Identity& who);
  // The client's connection closed or it said goodbye.
  void leave(const std::string& roomId, const std::string& identity, const std::string& reason);

  Status offer(const std::string& roomId, const std::string& identity, const std::string& sdp);
  Status remoteCandidate(const std::string& roomId, const std::string& identity, unsigned mline,
                         const std::string& candidate);

  // MediaObserver
  void onLocalAnswer(const std::string& roomId, const std::string& peerId, const std::string& sdp) override;
  void onLocalCandidate(const std::string& roomId, const std::string& peerId, unsigned mlineIndex,
                        const std::string& candidate) override;
  void onPeerFailed(const std::string& roomId, const std::string& peerId, const std::string& reason) override;
  void onRoomMediaFailed(const std::string& roomId, const std::string& reason) override;

 private:
  Room* findMutable(const std::string& roomId);
  Participant* findParticipant(const std::string& roomId, const std::string& identity);

  MediaBackend& media_;
  RoomEventSink& events_;
  Environment env_;
  RoomLimits limits_;
  std::map<std::string, Room> rooms_;  // live rooms by id
};

// Validation shared with REST: non-empty title, byte limits, valid UTF-8, no control chars.
Status validateNewRoom(const NewRoom& request, const RoomLimits& limits);
bool isValidUtf8(std::string_view text);

}  // namespace roomcast::core
