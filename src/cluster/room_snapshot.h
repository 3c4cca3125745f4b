// A room's `owner_state` in its directory record: what another node needs to reopen the room
// after its owner died (failover). Written by the owner with every record, read by the node
// that takes the room over.
#pragma once

#include <json-glib/json-glib.h>

#include <string>

#include "core/result.h"
#include "core/room.h"
#include "core/room_manager.h"

namespace roomcast::cluster {

// Stage entries, removed identities and revoked tokens kept for a failover (each): far above any
// stage ([room] max_speakers), and what keeps a record under kMaxRoomRecordBytes.
constexpr size_t kMaxOwnerStateEntries = 200;

// Adds `owner_state` {host_identity, host_name, recording, stage: [{identity, name, role, slot,
// recording_opt_out}], banned: [...], revoked_tokens: [...], hls: {next_sequence,
// discontinuity_sequence, segment_ms, at_ms}} to `record` (hls when `hls` is known).
void addOwnerState(JsonObject* record, const core::Room& room, const std::optional<core::HlsPosition>& hls);

// The room a record describes (its public fields and owner_state), to reopen it. BadRequest for
// a record without them.
core::Result<core::RoomSnapshot> decodeRoomSnapshot(const std::string& record);

}  // namespace roomcast::cluster
