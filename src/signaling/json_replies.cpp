#include "signaling/json_replies.h"

#include "protocol/json.h"
#include "protocol/messages.h"

namespace roomcast::signaling {

void sendJson(SoupServerMessage* msg, guint status, const std::string& body) {
  soup_server_message_set_status(msg, status, nullptr);
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control", "no-store");
  soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_COPY, body.data(), body.size());
}

void sendError(SoupServerMessage* msg, const core::Error& error) {
  sendJson(msg, static_cast<guint>(core::httpStatusFor(error.code)), protocol::encodeRestError(error));
}

void sendMethodNotAllowed(SoupServerMessage* msg, const char* allow) {
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow", allow);
  sendJson(msg, 405,
           R"({"error":{"code":"method_not_allowed","message":"allowed methods: )" + std::string(allow) + "\"}}");
}

void endRoomAndReply(SoupServerMessage* msg, core::RoomManager& rooms, const std::string& roomId,
                     const std::string& reason) {
  soup_server_message_pause(msg);
  g_object_ref(msg);
  auto status = rooms.endRoom(roomId, reason, [msg](const core::RoomInfo& info, const core::RoomMediaSummary& summary) {
    protocol::JsonWriter w;
    w.beginObject().str("id", info.id).boolean("ended", true).boolean("clean", summary.cleanEnd);
    if (!summary.recordingPath.empty()) w.str("recording", summary.recordingPath);
    sendJson(msg, 200, w.endObject().finish());
    soup_server_message_unpause(msg);
    g_object_unref(msg);
  });
  if (!status) {
    sendError(msg, status.error());
    soup_server_message_unpause(msg);
    g_object_unref(msg);
  }
}

}  // namespace roomcast::signaling
