// The room directory: the owner of a room keeps `roomcast:room:<id>` (a JSON string: the room's
// public JSON, its owner's `node` URL and `owner_state`, what a failover needs to reopen it) and
// the set `roomcast:rooms`; any node reads them to answer the REST API for rooms it does not
// run. Writes are fire-and-forget on the control loop and coalesced per room: at most one in
// flight, and a newer state replaces the one queued behind it (an end replaces any state).
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/redis_connection.h"
#include "core/result.h"
#include "core/media_backend.h"
#include "core/room.h"

namespace roomcast::cluster {

// What a reader keeps of a record: bounded (kMaxRoomRecordBytes), parsed enough to route.
struct RoomRecord {
  std::string id;
  std::string node;  // the owner's node URL (the lease's when it is readable)
  std::string json;  // the whole record
};

// A record larger than this is not read (titles and topics are 4 KiB each, the stage is capped).
constexpr size_t kMaxRoomRecordBytes = 64 * 1024;
// At most this many rooms are listed from the directory (GET /api/v1/rooms).
constexpr size_t kMaxListedRooms = 5000;

// The record of `room` owned by `nodeUrl`: `publicJson` (the GET /rooms/{id} answer) plus
// `node` and `owner_state` {host_identity, host_name, recording, stage: [{identity, name, role,
// slot, recording_opt_out}]}.
std::string encodeRoomRecord(const core::Room& room, const std::string& publicJson, const std::string& nodeUrl,
                             const std::optional<core::HlsPosition>& hls = std::nullopt);
// The public JSON of a record as this node answers it: `owner_state` left out, its URLs
// replaced by this node's (`wsUrl`, `hlsUrl`), `node` the owner's (`node`: the lease's, which
// is newer than the record when another node took the room over). BadRequest for a record that
// is not an object or too large.
core::Result<std::string> publicRoomJson(const std::string& record, const std::string& node, const std::string& wsUrl,
                                         const std::string& hlsUrl);
// The `node` of a record ("" when it has none).
std::string recordNode(const std::string& record);

class RoomDirectory {
 public:
  RoomDirectory(RedisConnection& redis, std::string prefix = "roomcast:");
  RoomDirectory(const RoomDirectory&) = delete;
  RoomDirectory& operator=(const RoomDirectory&) = delete;

  // This node's room `roomId` is now `record`: SET the record and SADD the id.
  void publish(const std::string& roomId, std::string record);
  // The room ended here: DEL the record and SREM the id.
  void remove(const std::string& roomId);
  // Not this node's any more (another took it over): not republished, its record left alone.
  void forget(const std::string& roomId) { latest_.erase(roomId); }
  // Every room published here and not removed, again (Redis came back, maybe empty).
  void republishAll();

  // One room's record, with the lease's owner as `node`; nullopt when there is none or its
  // lease is gone (its owner died and nobody reopened it).
  void find(const std::string& roomId, std::function<void(core::Result<std::optional<RoomRecord>>)> done);
  // Every room in the directory whose lease is held, by id.
  void list(std::function<void(core::Result<std::vector<RoomRecord>>)> done);

  std::string recordKey(const std::string& roomId) const { return prefix_ + "room:" + roomId; }
  std::string ownerKey(const std::string& roomId) const { return prefix_ + "room:" + roomId + ":owner"; }
  std::string setKey() const { return prefix_ + "rooms"; }

 private:
  struct Slot {
    bool inFlight = false;
    bool queued = false;
    std::optional<std::string> next;  // queued: a record to SET, or nullopt to DEL
  };
  void enqueue(const std::string& roomId, std::optional<std::string> state);
  void send(const std::string& roomId, std::optional<std::string> state);
  void sent(const std::string& roomId);
  void readRecords(std::vector<std::string> ids, std::function<void(core::Result<std::vector<RoomRecord>>)> done);

  RedisConnection& redis_;
  std::string prefix_;
  std::map<std::string, Slot> slots_;          // rooms with a write in flight
  std::map<std::string, std::string> latest_;  // this node's rooms: their last record
  std::shared_ptr<RoomDirectory*> self_ = std::make_shared<RoomDirectory*>(this);
};

}  // namespace roomcast::cluster
