#include "signaling/admin_api.h"

#include <glib.h>

#include <cstring>

#include "protocol/json.h"
#include "protocol/messages.h"
#include "signaling/json_replies.h"

namespace roomcast::signaling {

using core::Error;
using core::ErrorCode;

namespace {

bool isRoomId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!g_ascii_isalnum(c) && c != '-' && c != '_') return false;
  return true;
}

}  // namespace

void AdminApi::addTo(SoupServer* server) {
  soup_server_add_handler(server, "/api/v1/admin", &AdminApi::handle, this, nullptr);
}

void AdminApi::handle(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable*, gpointer data) {
  auto* self = static_cast<AdminApi*>(data);
  if (soup_server_message_get_status(msg) != 0) return;  // refused in got-headers (too large)
  // The grant first: without it, not even which endpoints exist is told.
  if (auto claims = self->operators_.require(msg, protocol::Grant::RoomAdmin); !claims)
    return sendError(msg, claims.error());
  const std::string method = soup_server_message_get_method(msg);
  std::string_view rest(path);
  rest.remove_prefix(std::min(rest.size(), std::strlen("/api/v1/admin")));
  if (rest == "/rooms" || rest == "/rooms/") {
    if (method != "GET") return sendMethodNotAllowed(msg, "GET");
    return self->listRooms(msg);
  }
  if (rest.rfind("/rooms/", 0) == 0) {
    if (method != "DELETE") return sendMethodNotAllowed(msg, "DELETE");
    const std::string roomId(rest.substr(std::strlen("/rooms/")));
    if (!isRoomId(roomId)) return sendError(msg, {ErrorCode::NotFound, "no such room"});
    return self->endRoom(msg, roomId);
  }
  if (rest.rfind("/recordings/", 0) == 0) {
    if (method != "DELETE") return sendMethodNotAllowed(msg, "DELETE");
    return self->deleteRecording(msg, std::string(rest.substr(std::strlen("/recordings/"))));
  }
  sendError(msg, {ErrorCode::NotFound, "no such admin endpoint: " + std::string(path)});
}

void AdminApi::listRooms(SoupServerMessage* msg) {
  const int64_t nowMs = g_get_real_time() / 1000;
  protocol::JsonWriter w;
  w.beginObject().beginArray("rooms");
  for (const core::Room* room : rooms_.rooms()) {
    size_t reconnecting = 0;
    for (const auto& [id, p] : room->participants) reconnecting += p.presence == core::Presence::Reconnecting;
    w.beginObject()
        .str("id", room->info.id)
        .str("title", room->info.title)
        .str("topic", room->info.topic)
        .integer("created_at_ms", room->info.createdAtUnixMs)
        .number("age_s", static_cast<double>(nowMs - room->info.createdAtUnixMs) / 1000.0)
        .integer("speakers", room->speakerCount())
        .integer("connected_listeners", room->listenerCount())
        .integer("hls_listeners", static_cast<int64_t>(room->hlsListeners))
        .integer("reconnecting", static_cast<int64_t>(reconnecting))
        .integer("raised_hands", static_cast<int64_t>(room->handQueue().size()))
        .boolean("recording", room->recording);
    if (room->stageEmptySinceMs) w.integer("stage_empty_since_ms", room->stageEmptySinceMs);
    else w.null("stage_empty_since_ms");
    w.endObject();
  }
  w.endArray().integer("max_rooms", static_cast<int64_t>(rooms_.limits().maxRooms));
  sendJson(msg, 200, w.endObject().finish());
}

// As DELETE /api/v1/rooms/{id} by the host: the answer waits for ENDLIST and the recording.
void AdminApi::endRoom(SoupServerMessage* msg, const std::string& roomId) {
  endRoomAndReply(msg, rooms_, roomId, "ended by the operator");
}

void AdminApi::deleteRecording(SoupServerMessage* msg, const std::string& idText) {
  char* end = nullptr;
  const long long id = idText.empty() || idText.size() > 18 ? -1 : g_ascii_strtoll(idText.c_str(), &end, 10);
  if (id <= 0 || !end || *end) return sendError(msg, {ErrorCode::NotFound, "no recording with id '" + idText + "'"});
  if (!deleteRecording_) return sendError(msg, {ErrorCode::NotFound, "this server keeps no archive"});
  if (auto deleted = deleteRecording_(id); !deleted) return sendError(msg, deleted.error());
  protocol::JsonWriter w;
  sendJson(msg, 200, w.beginObject().integer("id", id).boolean("deleted", true).endObject().finish());
}

}  // namespace roomcast::signaling
