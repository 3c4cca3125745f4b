#include "cluster/room_directory.h"

#include <algorithm>
#include <utility>

#include "cluster/room_snapshot.h"
#include "protocol/json.h"

namespace roomcast::cluster {

using core::Error;
using core::ErrorCode;

namespace {

constexpr int kMaxRecordDepth = 8;

core::Result<protocol::JsonNodePtr> parseRecord(const std::string& record) {
  return protocol::parseObject(record, kMaxRoomRecordBytes, kMaxRecordDepth);
}

// "<node_url> <epoch>" (the lease) to the URL.
std::string leaseNode(const std::string& lease) {
  const size_t space = lease.rfind(' ');
  return space == std::string::npos ? lease : lease.substr(0, space);
}

}  // namespace

std::string encodeRoomRecord(const core::Room& room, const std::string& publicJson, const std::string& nodeUrl,
                             const std::optional<core::HlsPosition>& hls) {
  auto root = protocol::parseObject(publicJson, kMaxRoomRecordBytes, kMaxRecordDepth);
  if (!root) return {};
  JsonObject* record = json_node_get_object(root.value().get());
  json_object_set_string_member(record, "node", nodeUrl.c_str());
  addOwnerState(record, room, hls);
  return protocol::toJson(root.value().get());
}

core::Result<std::string> publicRoomJson(const std::string& record, const std::string& node, const std::string& wsUrl,
                                         const std::string& hlsUrl) {
  auto root = parseRecord(record);
  if (!root) return root.error();
  JsonObject* object = json_node_get_object(root.value().get());
  if (json_object_has_member(object, "owner_state")) json_object_remove_member(object, "owner_state");
  json_object_set_string_member(object, "ws_url", wsUrl.c_str());
  json_object_set_string_member(object, "hls_url", hlsUrl.c_str());
  json_object_set_string_member(object, "node", node.c_str());
  return protocol::toJson(root.value().get());
}

std::string recordNode(const std::string& record) {
  auto root = parseRecord(record);
  if (!root) return {};
  return json_object_get_string_member_with_default(json_node_get_object(root.value().get()), "node", "");
}

RoomDirectory::RoomDirectory(RedisConnection& redis, std::string prefix) : redis_(redis), prefix_(std::move(prefix)) {}

void RoomDirectory::publish(const std::string& roomId, std::string record) {
  latest_[roomId] = record;
  enqueue(roomId, std::move(record));
}

void RoomDirectory::remove(const std::string& roomId) {
  latest_.erase(roomId);
  enqueue(roomId, std::nullopt);
}

void RoomDirectory::republishAll() {
  for (const auto& [roomId, record] : latest_) enqueue(roomId, record);
}

// One write per room at a time: a state that comes while one is in flight waits, replacing
// whatever waited before it (only the newest matters, and an end wins over any state).
void RoomDirectory::enqueue(const std::string& roomId, std::optional<std::string> state) {
  Slot& slot = slots_[roomId];
  if (slot.inFlight) {
    slot.queued = true;
    slot.next = std::move(state);
    return;
  }
  slot.inFlight = true;
  send(roomId, std::move(state));
}

// Two commands back to back on one socket (pipelined, applied in order); the second's answer
// ends the write. A failure (Redis down) is dropped: republishAll() runs when it is back.
void RoomDirectory::send(const std::string& roomId, std::optional<std::string> state) {
  std::weak_ptr<RoomDirectory*> weak = self_;
  auto done = [weak, roomId](core::Result<RedisReply>) {
    if (auto self = weak.lock()) (*self)->sent(roomId);
  };
  if (state) {
    redis_.command({"SET", recordKey(roomId), *state}, [](core::Result<RedisReply>) {});
    redis_.command({"SADD", setKey(), roomId}, done);
  } else {
    redis_.command({"DEL", recordKey(roomId)}, [](core::Result<RedisReply>) {});
    redis_.command({"SREM", setKey(), roomId}, done);
  }
}

void RoomDirectory::sent(const std::string& roomId) {
  auto it = slots_.find(roomId);
  if (it == slots_.end()) return;
  if (!it->second.queued) {
    slots_.erase(it);
    return;
  }
  std::optional<std::string> next = std::move(it->second.next);
  it->second.queued = false;
  it->second.next.reset();
  send(roomId, std::move(next));
}

void RoomDirectory::find(const std::string& roomId, std::function<void(core::Result<std::optional<RoomRecord>>)> done) {
  readRecords({roomId}, [done = std::move(done)](core::Result<std::vector<RoomRecord>> records) {
    if (!records) return done(records.error());
    if (records->empty()) return done(std::optional<RoomRecord>{});
    done(std::optional<RoomRecord>(std::move(records->front())));
  });
}

void RoomDirectory::list(std::function<void(core::Result<std::vector<RoomRecord>>)> done) {
  std::weak_ptr<RoomDirectory*> weak = self_;
  redis_.command({"SMEMBERS", setKey()}, [weak, done = std::move(done)](core::Result<RedisReply> reply) {
    auto self = weak.lock();
    if (!self) return;
    if (!reply) return done(reply.error());
    if (reply->type != RedisReply::Type::Array) return done(Error{ErrorCode::Internal, "SMEMBERS: " + reply->text});
    std::vector<std::string> ids;
    for (const RedisReply& member : reply->elements) {
      if (ids.size() == kMaxListedRooms) break;
      if (member.type == RedisReply::Type::String) ids.push_back(member.text);
    }
    std::sort(ids.begin(), ids.end());
    (*self)->readRecords(std::move(ids), std::move(done));
  });
}

// One MGET of every record and every lease: a room is listed while its lease is held (a dead
// owner's records linger until a failover reopens the room or someone ends it), under the
// lease's node.
void RoomDirectory::readRecords(std::vector<std::string> ids,
                                std::function<void(core::Result<std::vector<RoomRecord>>)> done) {
  if (ids.empty()) return done(std::vector<RoomRecord>{});
  std::vector<std::string> argv{"MGET"};
  for (const std::string& id : ids) argv.push_back(recordKey(id));
  for (const std::string& id : ids) argv.push_back(ownerKey(id));
  redis_.command(argv, [ids = std::move(ids), done = std::move(done)](core::Result<RedisReply> reply) {
    if (!reply) return done(reply.error());
    if (reply->type != RedisReply::Type::Array || reply->elements.size() != ids.size() * 2)
      return done(Error{ErrorCode::Internal, "MGET: " + reply->text});
    std::vector<RoomRecord> records;
    for (size_t i = 0; i < ids.size(); i++) {
      const RedisReply& record = reply->elements[i];
      const RedisReply& lease = reply->elements[ids.size() + i];
      if (record.type != RedisReply::Type::String || lease.type != RedisReply::Type::String) continue;
      if (record.text.size() > kMaxRoomRecordBytes) continue;
      records.push_back({ids[i], leaseNode(lease.text), record.text});
    }
    done(std::move(records));
  });
}

}  // namespace roomcast::cluster
