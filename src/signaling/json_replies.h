// JSON answers for the REST handlers (HttpServer, AdminApi): one shape for every reply and
// error, so a client reads `{"error":{"code":…}}` the same wherever it came from.
#pragma once

#include <libsoup/soup.h>

#include <string>

#include "core/result.h"
#include "core/room_manager.h"

namespace roomcast::signaling {

void sendJson(SoupServerMessage* msg, guint status, const std::string& body);
void sendError(SoupServerMessage* msg, const core::Error& error);
void sendMethodNotAllowed(SoupServerMessage* msg, const char* allow);

// Ends room `roomId` and answers once its outputs are finished, so "200" means ENDLIST and the
// recording are written. `reason` is what the room's participants are told.
void endRoomAndReply(SoupServerMessage* msg, core::RoomManager& rooms, const std::string& roomId,
                     const std::string& reason);

}  // namespace roomcast::signaling
