#include "cluster/room_snapshot.h"

#include <algorithm>
#include <vector>

#include "cluster/room_directory.h"
#include "core/role.h"
#include "protocol/json.h"

namespace roomcast::cluster {

using core::Error;
using core::ErrorCode;

namespace {

constexpr int kMaxRecordDepth = 8;

JsonArray* stringArray(const std::set<std::string>& values) {
  JsonArray* array = json_array_new();
  size_t n = 0;
  for (const std::string& value : values) {
    if (n++ == kMaxOwnerStateEntries) break;
    json_array_add_string_element(array, value.c_str());
  }
  return array;
}

// The array `member` of `object`; null when it is missing or something else.
JsonArray* arrayMember(JsonObject* object, const char* member) {
  JsonNode* node = json_object_get_member(object, member);
  return node && JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : nullptr;
}

std::set<std::string> stringSet(JsonObject* object, const char* member) {
  std::set<std::string> out;
  JsonArray* array = arrayMember(object, member);
  const guint n = array ? std::min<guint>(json_array_get_length(array), kMaxOwnerStateEntries) : 0;
  for (guint i = 0; i < n; i++) {
    JsonNode* node = json_array_get_element(array, i);
    if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)
      out.insert(json_node_get_string(node));
  }
  return out;
}

std::string text(JsonObject* object, const char* member) {
  return json_object_get_string_member_with_default(object, member, "");
}

Error bad(const std::string& what) { return Error{ErrorCode::BadRequest, "room record: " + what}; }

core::Result<core::RoomSnapshot::StageEntry> stageEntry(JsonNode* node) {
  if (!JSON_NODE_HOLDS_OBJECT(node)) return bad("a stage entry is not an object");
  JsonObject* entry = json_node_get_object(node);
  core::RoomSnapshot::StageEntry out;
  out.identity = text(entry, "identity");
  out.name = text(entry, "name");
  auto role = core::roleFromName(text(entry, "role"));
  if (out.identity.empty() || !role || !core::isOnStage(*role)) return bad("a stage entry has no identity or stage role");
  out.role = *role;
  const gint64 slot = json_object_get_int_member_with_default(entry, "slot", 0);
  out.slot = slot > 0 ? static_cast<uint64_t>(slot) : 0;
  out.recordingOptOut = json_object_get_boolean_member_with_default(entry, "recording_opt_out", FALSE);
  return out;
}

// owner_state.hls, when it is there and sane (non-negative numbers, a segment length).
std::optional<core::HlsPosition> hlsPosition(JsonObject* state) {
  JsonNode* node = json_object_get_member(state, "hls");
  if (!node || !JSON_NODE_HOLDS_OBJECT(node)) return std::nullopt;
  JsonObject* hls = json_node_get_object(node);
  const gint64 next = json_object_get_int_member_with_default(hls, "next_sequence", -1);
  const gint64 discontinuities = json_object_get_int_member_with_default(hls, "discontinuity_sequence", -1);
  const gint64 segmentMs = json_object_get_int_member_with_default(hls, "segment_ms", 0);
  const gint64 atMs = json_object_get_int_member_with_default(hls, "at_ms", 0);
  if (next < 0 || discontinuities < 0 || segmentMs <= 0 || segmentMs > 60000 || atMs <= 0) return std::nullopt;
  return core::HlsPosition{static_cast<uint64_t>(next), static_cast<uint64_t>(discontinuities),
                           static_cast<unsigned>(segmentMs), atMs};
}

}  // namespace

void addOwnerState(JsonObject* record, const core::Room& room, const std::optional<core::HlsPosition>& hls) {
  std::vector<const core::Participant*> stage;
  for (const auto& [identity, p] : room.participants)
    if (core::isOnStage(p.role)) stage.push_back(&p);
  std::sort(stage.begin(), stage.end(), [](auto* a, auto* b) { return a->joinOrder < b->joinOrder; });
  if (stage.size() > kMaxOwnerStateEntries) stage.resize(kMaxOwnerStateEntries);
  JsonObject* state = json_object_new();
  json_object_set_string_member(state, "host_identity", room.info.hostIdentity.c_str());
  json_object_set_string_member(state, "host_name", room.info.hostName.c_str());
  json_object_set_boolean_member(state, "recording", room.recording);
  JsonArray* entries = json_array_new();
  for (const core::Participant* p : stage) {
    JsonObject* entry = json_object_new();
    json_object_set_string_member(entry, "identity", p->identity.c_str());
    json_object_set_string_member(entry, "name", p->name.c_str());
    json_object_set_string_member(entry, "role", std::string(core::roleName(p->role)).c_str());
    json_object_set_int_member(entry, "slot", static_cast<gint64>(p->joinOrder));
    json_object_set_boolean_member(entry, "recording_opt_out", p->recordingOptOut);
    json_array_add_object_element(entries, entry);
  }
  json_object_set_array_member(state, "stage", entries);
  // Who the host removed stays removed on the next owner.
  json_object_set_array_member(state, "banned", stringArray(room.banned));
  json_object_set_array_member(state, "revoked_tokens", stringArray(room.revokedTokens));
  if (hls) {
    JsonObject* position = json_object_new();
    json_object_set_int_member(position, "next_sequence", static_cast<gint64>(hls->nextSequence));
    json_object_set_int_member(position, "discontinuity_sequence", static_cast<gint64>(hls->discontinuitySequence));
    json_object_set_int_member(position, "segment_ms", hls->segmentMs);
    json_object_set_int_member(position, "at_ms", hls->atUnixMs);
    json_object_set_object_member(state, "hls", position);
  }
  json_object_set_object_member(record, "owner_state", state);
}

core::Result<core::RoomSnapshot> decodeRoomSnapshot(const std::string& record) {
  auto root = protocol::parseObject(record, kMaxRoomRecordBytes, kMaxRecordDepth);
  if (!root) return root.error();
  JsonObject* object = json_node_get_object(root.value().get());
  if (!json_object_has_member(object, "owner_state") ||
      !JSON_NODE_HOLDS_OBJECT(json_object_get_member(object, "owner_state")))
    return bad("no owner_state");
  JsonObject* state = json_object_get_object_member(object, "owner_state");
  core::RoomSnapshot snapshot;
  snapshot.info.id = text(object, "id");
  snapshot.info.title = text(object, "title");
  snapshot.info.topic = text(object, "topic");
  snapshot.info.record = json_object_get_boolean_member_with_default(object, "record", FALSE);
  snapshot.info.createdAtUnixMs = json_object_get_int_member_with_default(object, "created_at_ms", 0);
  snapshot.info.hostIdentity = text(state, "host_identity");
  snapshot.info.hostName = text(state, "host_name");
  if (snapshot.info.id.empty() || snapshot.info.hostIdentity.empty()) return bad("no id or host");
  snapshot.recording = json_object_get_boolean_member_with_default(state, "recording", FALSE);
  JsonArray* stage = arrayMember(state, "stage");
  const guint n = stage ? std::min<guint>(json_array_get_length(stage), kMaxOwnerStateEntries) : 0;
  for (guint i = 0; i < n; i++) {
    auto entry = stageEntry(json_array_get_element(stage, i));
    if (!entry) return entry.error();
    snapshot.stage.push_back(std::move(entry.value()));
  }
  snapshot.hls = hlsPosition(state);
  snapshot.banned = stringSet(state, "banned");
  snapshot.revokedTokens = stringSet(state, "revoked_tokens");
  return snapshot;
}

}  // namespace roomcast::cluster
