// The rooms' REST API: create, list, read and end rooms, issue participant tokens, and the
// stage and the recording from outside the room (operators, the CLI). The server itself, its
// routing and the other endpoints are in http_server.cpp.
#include "signaling/http_server.h"

#include "protocol/json.h"
#include "protocol/bounds.h"
#include "protocol/messages.h"
#include "signaling/json_replies.h"

namespace roomcast::signaling {

using core::Error;
using core::ErrorCode;

void HttpServer::createRoom(SoupServerMessage* msg) {
  if (auto allowed = operators_.requireRoomCreation(msg); !allowed) return sendError(msg, allowed.error());
  if (auto allowed = spend(msg, &AddressLimits::rooms, "rooms from your address: 5, then one every 30 s"); !allowed)
    return sendError(msg, allowed.error());
  if (clustered(msg)) return placeRoom(msg);  // on the least loaded node
  createRoomHere(msg);
}

void HttpServer::createRoomHere(SoupServerMessage* msg) {
  auto root = parseJsonBody(msg);
  if (!root) return sendError(msg, root.error());
  protocol::FieldReader fields(json_node_get_object(root.value().get()));
  if (auto known = fields.onlyKnown({"title", "topic", "record", "host_name"}); !known)
    return sendError(msg, known.error());
  auto title = fields.requiredString("title", 4096);
  auto topic = fields.optionalString("topic", 4096);
  auto record = fields.optionalBool("record");
  auto hostName = fields.optionalString("host_name", 64);
  if (!title) return sendError(msg, title.error());
  if (!topic) return sendError(msg, topic.error());
  if (!record) return sendError(msg, record.error());
  if (!hostName) return sendError(msg, hostName.error());

  core::NewRoom request{title.value(), topic.value().value_or(""), record.value().value_or(false),
                        hostName.value().value_or("Host")};
  auto created = rooms_.createRoom(request);
  if (!created) return sendError(msg, created.error());
  const core::RoomInfo& info = created.value();
  const std::string token = auth_.issue(info.id, info.hostIdentity, info.hostName, core::Role::Host);
  const std::string location = "/api/v1/rooms/" + info.id;
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Location", location.c_str());
  sendJson(msg, 201, protocol::encodeCreatedRoom(info, token, urlsFor(msg, info.id)));
}

// This node's rooms, comma-separated ROOMs.
std::string HttpServer::localRoomsJson(SoupServerMessage* msg) const {
  std::string body;
  for (const core::Room* room : rooms_.rooms()) {
    if (!body.empty()) body += ",";
    body += protocol::encodeRoom(*room, urlsFor(msg, room->info.id));
  }
  return body;
}

void HttpServer::listRooms(SoupServerMessage* msg) {
  if (clustered(msg)) return listClusterRooms(msg);  // every node's
  sendJson(msg, 200, R"({"rooms":[)" + localRoomsJson(msg) + "]}");
}

void HttpServer::getRoom(SoupServerMessage* msg, const std::string& roomId) {
  const core::Room* room = rooms_.find(roomId);
  if (!room && clustered(msg)) return getDirectoryRoom(msg, roomId);  // another node's
  if (!room) return sendError(msg, {ErrorCode::NotFound, "no live room with id '" + roomId + "'"});
  sendJson(msg, 200, protocol::encodeRoom(*room, urlsFor(msg, roomId)));
}

core::Result<protocol::TokenClaims> HttpServer::bearerClaims(SoupServerMessage* msg, const std::string& roomId) {
  const char* header = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
  if (!header) return Error{ErrorCode::Unauthorized, "missing Authorization: Bearer <token>"};
  std::string_view value(header);
  if (value.rfind("Bearer ", 0) != 0) return Error{ErrorCode::Unauthorized, "Authorization must be a Bearer token"};
  return auth_.verify(std::string(value.substr(7)), roomId);
}

// The bearer as the room knows them now: their role, co-host status and ban are the room's
// (a demoted, revoked or removed participant's old token carries no more than that).
core::Result<core::Actor> HttpServer::bearerActor(SoupServerMessage* msg, const std::string& roomId) {
  auto claims = bearerClaims(msg, roomId);
  if (!claims) return claims.error();
  return rooms_.authorize(roomId, {claims->identity, claims->name, claims->role, claims->tokenId, claims->issuedBy});
}

void HttpServer::issueToken(SoupServerMessage* msg, const std::string& roomId) {
  if (!rooms_.find(roomId)) return sendError(msg, {ErrorCode::NotFound, "no live room with id '" + roomId + "'"});
  if (auto allowed = spend(msg, &AddressLimits::tokens, "tokens from your address: 30, then one a second"); !allowed)
    return sendError(msg, allowed.error());
  // Without Authorization: an anonymous listener's token (rooms let anyone listen).
  const bool anonymous =
      !soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
  core::Actor issuer;
  if (!anonymous) {
    auto actor = bearerActor(msg, roomId);
    if (!actor) return sendError(msg, actor.error());
    if (!core::permits(actor->role, core::Action::IssueTokens))
      return sendError(msg, {ErrorCode::Forbidden, "only the host and co-hosts issue tokens"});
    issuer = actor.value();
  }
  auto root = parseJsonBody(msg);
  if (!root) return sendError(msg, root.error());
  protocol::FieldReader fields(json_node_get_object(root.value().get()));
  if (auto known = fields.onlyKnown({"role", "name"}); !known) return sendError(msg, known.error());
  auto roleName = fields.requiredString("role", 16);
  auto name = fields.requiredString("name", 64);
  if (!roleName) return sendError(msg, roleName.error());
  if (!name) return sendError(msg, name.error());
  auto role = core::roleFromName(roleName.value());
  if (!role || *role == core::Role::Host)
    return sendError(msg, {ErrorCode::ValidationFailed, "role must be cohost, speaker or listener"});
  if (anonymous && *role != core::Role::Listener)
    return sendError(msg, {ErrorCode::Unauthorized, "a host token is required for stage roles"});
  if (*role == core::Role::CoHost && !core::permits(issuer.role, core::Action::AppointCohost))
    return sendError(msg, {ErrorCode::Forbidden, "only the host appoints co-hosts"});
  if (!core::isValidUtf8(name.value()) || name.value().find_first_not_of(" ") == std::string::npos)
    return sendError(msg, {ErrorCode::ValidationFailed, "name must be non-empty UTF-8"});
  for (unsigned char c : name.value())
    if (c < 0x20 || c == 0x7f) return sendError(msg, {ErrorCode::ValidationFailed, "name must not contain control characters"});
  if (auto free = rooms_.checkName(roomId, "", name.value()); !free) return sendError(msg, free.error());

  // Identities are opaque and unique; the display name is what people see.
  g_autofree char* uuid = g_uuid_string_random();
  const std::string identity = std::string("u-") + uuid;
  protocol::JsonWriter w;
  w.beginObject()
      .str("token", auth_.issue(roomId, identity, name.value(), *role, issuer.identity))
      .str("identity", identity)
      .str("name", name.value())
      .str("role", core::roleName(*role))
      .endObject();
  sendJson(msg, 201, w.finish());
}

// The stage from outside the room (operators, the CLI): the caller's token must be the
// host's or a co-host's; the action runs as that participant.
void HttpServer::moderate(SoupServerMessage* msg, const std::string& roomId) {
  if (!rooms_.find(roomId)) return sendError(msg, {ErrorCode::NotFound, "no live room with id '" + roomId + "'"});
  auto bearer = bearerActor(msg, roomId);
  if (!bearer) return sendError(msg, bearer.error());
  // Each action checks its own permission (core/permissions.h) as the bearer's current role.
  auto root = parseJsonBody(msg);
  if (!root) return sendError(msg, root.error());
  protocol::FieldReader fields(json_node_get_object(root.value().get()));
  if (auto known = fields.onlyKnown({"action", "identity", "name"}); !known) return sendError(msg, known.error());
  auto actionName = fields.requiredString("action", 16);
  auto identity = fields.optionalString("identity", 128);
  auto name = fields.optionalString("name", 64);
  if (!actionName) return sendError(msg, actionName.error());
  if (!identity) return sendError(msg, identity.error());
  if (!name) return sendError(msg, name.error());
  auto action = protocol::stageActionFromName(actionName.value());
  if (!action) return sendError(msg, {ErrorCode::ValidationFailed, "unknown action '" + actionName.value() + "'"});
  std::string target = identity.value().value_or("");
  if (target.empty()) {
    if (!name.value()) return sendError(msg, {ErrorCode::BadRequest, "give the target's identity or name"});
    auto byName = rooms_.identityByName(roomId, *name.value());
    if (!byName) return sendError(msg, byName.error());
    target = byName.value();
  }
  // The bearer acts, connected to the room or not.
  const core::Status status = rooms_.apply(roomId, bearer.value(), *action, target);
  if (!status) return sendError(msg, status.error());
  protocol::JsonWriter w;
  sendJson(msg, 200, w.beginObject().str("action", actionName.value()).str("identity", target).endObject().finish());
}

// The host starts or stops recording, as over the WebSocket: {"active": true|false}.
void HttpServer::setRecording(SoupServerMessage* msg, const std::string& roomId) {
  if (!rooms_.find(roomId)) return sendError(msg, {ErrorCode::NotFound, "no live room with id '" + roomId + "'"});
  auto actor = bearerActor(msg, roomId);
  if (!actor) return sendError(msg, actor.error());
  auto root = parseJsonBody(msg);
  if (!root) return sendError(msg, root.error());
  protocol::FieldReader fields(json_node_get_object(root.value().get()));
  if (auto known = fields.onlyKnown({"active"}); !known) return sendError(msg, known.error());
  auto active = fields.optionalBool("active");
  if (!active) return sendError(msg, active.error());
  if (!active.value()) return sendError(msg, {ErrorCode::BadRequest, "missing field 'active'"});
  if (auto status = rooms_.setRecording(roomId, actor.value(), *active.value()); !status)
    return sendError(msg, status.error());
  protocol::JsonWriter w;
  sendJson(msg, 200, w.beginObject().boolean("active", *active.value()).endObject().finish());
}

void HttpServer::deleteRoom(SoupServerMessage* msg, const std::string& roomId) {
  if (!rooms_.find(roomId)) return sendError(msg, {ErrorCode::NotFound, "no live room with id '" + roomId + "'"});
  auto actor = bearerActor(msg, roomId);
  if (!actor) return sendError(msg, actor.error());
  if (!core::permits(actor->role, core::Action::EndRoom))
    return sendError(msg, {ErrorCode::Forbidden, "only the host ends the room"});

  endRoomAndReply(msg, rooms_, roomId, "ended by host");
}

}  // namespace roomcast::signaling
