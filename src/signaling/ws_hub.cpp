#include "signaling/ws_hub.h"

#include <vector>

#include "protocol/bounds.h"
#include "protocol/messages.h"

namespace roomcast::signaling {

using core::Error;
using core::ErrorCode;

WsHub::~WsHub() {
  for (auto& [ptr, session] : sessions_) {
    session->helloDeadline.reset();
    g_signal_handlers_disconnect_by_data(session->connection, session.get());
    if (soup_websocket_connection_get_state(session->connection) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close(session->connection, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "server shutting down");
    g_object_unref(session->connection);
  }
}

void WsHub::accept(SoupWebsocketConnection* connection, const std::string& roomId, const std::string& address,
                   const std::string& query) {
  // Another node's room (or none): the relay finds its owner, or answers as below.
  if (relay_ && (!rooms_ || !rooms_->find(roomId))) return relay_->take(connection, roomId, query, address);
  // Bound what one client can make us buffer; libsoup's default is 128 KiB, 0 is unlimited.
  soup_websocket_connection_set_max_incoming_payload_size(connection, protocol::kMaxMessageBytes);
  // Pings keep idle connections open through proxies and NATs (load balancers commonly cut
  // at 60 s). Every pong wakes the control loop, which then visits every descriptor, so not
  // more often than that needs.
  soup_websocket_connection_set_keepalive_interval(connection, 30);
  auto session = std::make_unique<Session>(Session{this, static_cast<SoupWebsocketConnection*>(g_object_ref(connection)),
                                                   roomId, {}, false, address, {}});
  Session* raw = session.get();
  sessions_[raw] = std::move(session);
  byRoom_[roomId].insert(raw);
  g_signal_connect(connection, "message", G_CALLBACK(&WsHub::onMessage), raw);
  g_signal_connect(connection, "closed", G_CALLBACK(&WsHub::onClosed), raw);
  if (!rooms_ || !rooms_->find(roomId)) {
    sendError(*raw, {ErrorCode::NotFound, "no live room with id '" + roomId + "'"});
    closeSession(*raw, SOUP_WEBSOCKET_CLOSE_NORMAL, "no such room");
    return;
  }
  // A socket that never says who it is holds a descriptor and memory for nothing.
  const auto helloMs = static_cast<guint>(helloTimeoutSeconds_ * 1000);
  auto onHelloDeadline = [](gpointer data) -> gboolean {
    auto* session = static_cast<Session*>(data);
    if (session->identity.empty() && !session->closing)
      session->hub->closeSession(*session, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "no hello in time");
    return G_SOURCE_REMOVE;
  };
  raw->helloDeadline = glib_support::Source::timeout(g_main_context_get_thread_default(), helloMs, onHelloDeadline, raw);
}

void WsHub::onMessage(SoupWebsocketConnection*, gint type, GBytes* message, gpointer data) {
  auto* session = static_cast<Session*>(data);
  if (session->closing) return;
  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    session->hub->sendError(*session, {ErrorCode::BadRequest, "binary messages are not part of the protocol"});
    return;
  }
  gsize size = 0;
  const char* bytes = static_cast<const char*>(g_bytes_get_data(message, &size));
  session->hub->handleText(*session, std::string_view(bytes ? bytes : "", size));
}

void WsHub::onClosed(SoupWebsocketConnection*, gpointer data) {
  auto* session = static_cast<Session*>(data);
  WsHub* hub = session->hub;
  // A dropped socket is not a goodbye: speakers get the grace period to come back.
  if (hub->rooms_ && !session->identity.empty()) hub->rooms_->disconnected(session->roomId, session->identity);
  auto room = hub->byRoom_.find(session->roomId);
  if (room != hub->byRoom_.end()) {
    room->second.erase(session);
    if (room->second.empty()) hub->byRoom_.erase(room);
  }
  hub->setIdentity(*session, "");
  session->helloDeadline.reset();
  g_signal_handlers_disconnect_by_data(session->connection, session);
  g_object_unref(session->connection);
  hub->sessions_.erase(session);  // frees session
}

void WsHub::setIdentity(Session& session, const std::string& identity) {
  if (!session.identity.empty()) {
    auto room = byIdentity_.find(session.roomId);
    if (room != byIdentity_.end()) {
      auto who = room->second.find(session.identity);
      if (who != room->second.end()) {
        who->second.erase(&session);
        if (who->second.empty()) room->second.erase(who);
      }
      if (room->second.empty()) byIdentity_.erase(room);
    }
  }
  session.identity = identity;
  if (!identity.empty()) byIdentity_[session.roomId][identity].insert(&session);
}

// Each message counts against its socket; chat, reactions, hands and reports also against the
// participant (all their sockets) and the client's address (all their identities).
bool WsHub::admit(Session& session, const protocol::ClientBody& body) {
  const int64_t now = g_get_monotonic_time();
  ConnectionLimits& limits = session.limits;
  const char* what = nullptr;
  if (!limits.messages.take(now)) what = "messages: at most 50 a second";
  const bool chat = std::holds_alternative<protocol::Chat>(body);
  const bool react = std::holds_alternative<protocol::React>(body);
  const bool hand = std::holds_alternative<protocol::SetHand>(body);
  const bool report = std::holds_alternative<protocol::ReportAbuse>(body);
  if (!what && !session.identity.empty() && (chat || react || hand || report)) {
    IdentityLimits& mine = identityQuotas_.at(session.roomId + '\n' + session.identity, now);
    if (chat && !mine.chat.take(now)) what = "chat messages: a burst of 5, then one every 2 s";
    else if (react && !mine.reactions.take(now)) what = "reactions: 10 a second";
    else if (hand && !mine.hands.take(now)) what = "raising and lowering the hand: once every 2 s";
    else if (report && !mine.reports.take(now)) what = "reports: one every 10 s";
  }
  if (!what && addressQuotas_ && !session.address.empty() && (chat || react || hand || report)) {
    AddressLimits& theirs = addressQuotas_->at(session.address, now);
    if (chat && !theirs.chat.take(now)) what = "chat messages from your address: 2 a second";
    else if (react && !theirs.reactions.take(now)) what = "reactions from your address: 20 a second";
    else if (hand && !theirs.hands.take(now)) what = "hands from your address: one a second";
    else if (report && !theirs.reports.take(now)) what = "reports from your address: one every 10 s";
  }
  if (!what) return true;
  if (limits.refuse(now)) {
    // Sustained abuse: the connection goes, the room goes on.
    closeSession(session, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "rate limits exceeded");
    return false;
  }
  sendError(session, {ErrorCode::RateLimited, std::string("slow down: ") + what});
  return false;
}

// What each client message does, for a session that passed the rate limits. Errors go back
// to the client with the message's ref (handleText).
struct WsHub::MessageHandlers {
  WsHub& hub;
  Session& session;
  core::RoomManager& rooms;

  core::Status operator()(const protocol::Hello& hello) const;
  core::Status operator()(const protocol::Ping&) const {
    hub.send(session, protocol::encodePong());
    return core::Ok{};
  }
  core::Status operator()(const protocol::Leave&) const {
    rooms.leave(session.roomId, session.identity, "left");
    hub.setIdentity(session, "");
    hub.closeSession(session, SOUP_WEBSOCKET_CLOSE_NORMAL, "bye");
    return core::Ok{};
  }
  core::Status operator()(const protocol::Offer& offer) const {
    session.candidates = 0;
    return rooms.offer(session.roomId, session.identity, offer.sdp);
  }
  core::Status operator()(const protocol::RtpOffer& rtp) const {
    auto local = rooms.plainRtpOffer(session.roomId, session.identity, {rtp.host, rtp.port}, rtp.payloadType);
    if (!local) return local.error();
    hub.send(session, protocol::encodeRtpAnswer(local->host, local->port));
    return core::Ok{};
  }
  core::Status operator()(const protocol::Candidate& candidate) const {
    if (++session.candidates > protocol::kMaxTrickledCandidates)
      return Error{ErrorCode::TooLarge,
                   "at most " + std::to_string(protocol::kMaxTrickledCandidates) + " ICE candidates per offer"};
    return rooms.remoteCandidate(session.roomId, session.identity, candidate.mlineIndex, candidate.candidate);
  }
  core::Status operator()(const protocol::SetHand& hand) const {
    return rooms.setHand(session.roomId, session.identity, hand.raised);
  }
  // The stage, as the sender's current role; REST lands in the same RoomManager::apply.
  core::Status operator()(const protocol::Moderate& request) const {
    auto actor = rooms.actorFor(session.roomId, session.identity);
    if (!actor) return actor.error();
    return rooms.apply(session.roomId, actor.value(), request.action, request.identity);
  }
  core::Status operator()(const protocol::AnswerInvite& answer) const {
    return rooms.answerInvite(session.roomId, session.identity, answer.accept);
  }
  core::Status operator()(const protocol::SelfMute& mute) const {
    return rooms.setMuted(session.roomId, {session.identity, core::Role::Listener}, session.identity, mute.muted);
  }
  core::Status operator()(const protocol::Chat& chat) const {
    if (!hub.conversation_) return core::Ok{};
    return hub.conversation_->chat(session.roomId, session.identity, chat.text);
  }
  core::Status operator()(const protocol::React& react) const {
    if (!hub.conversation_) return core::Ok{};
    return hub.conversation_->react(session.roomId, session.identity, react.reaction);
  }
  core::Status operator()(const protocol::DeleteMessage& deletion) const {
    auto actor = rooms.actorFor(session.roomId, session.identity);
    if (!actor) return actor.error();
    if (!hub.conversation_) return core::Ok{};
    return hub.conversation_->deleteMessage(session.roomId, actor.value(), deletion.messageId);
  }
  core::Status operator()(const protocol::ReportAbuse& report) const {
    if (!hub.conversation_) return core::Ok{};
    return hub.conversation_->report(session.roomId, session.identity, report.identity, report.messageId,
                                     report.reason);
  }
  core::Status operator()(const protocol::SetRecording& recording) const {
    auto actor = rooms.actorFor(session.roomId, session.identity);
    if (!actor) return actor.error();
    return rooms.setRecording(session.roomId, actor.value(), recording.on);
  }
  core::Status operator()(const protocol::RecordingOptOut& optOut) const {
    return rooms.setRecordingOptOut(session.roomId, session.identity, optOut.optOut);
  }
};

core::Status WsHub::MessageHandlers::operator()(const protocol::Hello& hello) const {
  if (!session.identity.empty()) return Error{ErrorCode::Conflict, "already joined"};
  auto claims = hub.auth_.verify(hello.token, session.roomId);
  if (!claims) return claims.error();
  auto joined = rooms.join(session.roomId,
                           {claims->identity, claims->name, claims->role, claims->tokenId, claims->issuedBy},
                           hello.resume);
  if (!joined) return joined.error();
  // Resuming replaces any older socket of the same participant.
  auto room = hub.byIdentity_.find(session.roomId);
  if (room != hub.byIdentity_.end() && room->second.count(claims->identity)) {
    const auto older = room->second[claims->identity];
    for (Session* other : older) {
      hub.setIdentity(*other, "");
      hub.closeSession(*other, SOUP_WEBSOCKET_CLOSE_NORMAL, "replaced by a newer connection");
    }
  }
  hub.setIdentity(session, claims->identity);
  // Every participant may come to speak (a raised hand pre-warms its session), so every
  // welcome carries TURN credentials, minted per identity and expiring on their own.
  if (const core::Room* joinedRoom = rooms.find(session.roomId))
    hub.send(session, protocol::encodeWelcome(
                          *joinedRoom, joined.value(),
                          hub.turn_ ? iceServersFor(*hub.turn_, claims->identity, g_get_real_time() / G_USEC_PER_SEC)
                                    : std::vector<protocol::IceServer>{}));
  // A late joiner gets the recent chat.
  if (hub.conversation_) {
    auto history = hub.conversation_->history(session.roomId);
    if (!history.empty()) hub.send(session, protocol::encodeEvent(core::ChatHistory{std::move(history)}));
  }
  return core::Ok{};
}

void WsHub::handleText(Session& session, std::string_view text) {
  std::string ref;
  auto decoded = protocol::decodeClientMessage(text, &ref);
  if (!decoded) {
    sendError(session, decoded.error(), ref.empty() ? std::nullopt : std::optional<std::string>(ref));
    return;
  }
  const auto& message = decoded.value();
  if (!admit(session, message.body)) return;
  // Only hello and ping come before hello.
  const bool beforeHello = std::holds_alternative<protocol::Hello>(message.body) ||
                           std::holds_alternative<protocol::Ping>(message.body);
  if (!beforeHello && session.identity.empty())
    return sendError(session, {ErrorCode::Unauthorized, "say hello with a token first"}, message.ref);
  const core::Status status = std::visit(MessageHandlers{*this, session, *rooms_}, message.body);
  if (!status) sendError(session, status.error(), message.ref);
}

void WsHub::disconnect(const std::string& roomId, const std::string& identity, const std::string& reason) {
  auto room = byRoom_.find(roomId);
  if (room == byRoom_.end()) return;
  auto byId = byIdentity_.find(roomId);
  if (byId == byIdentity_.end() || !byId->second.count(identity)) return;
  const auto sessions = byId->second[identity];
  for (Session* s : sessions) {
    setIdentity(*s, "");  // already gone from the room: closing must not report a drop
    closeSession(*s, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, reason.c_str());
  }
}

void WsHub::send(Session& session, const std::string& text) {
  if (session.closing || soup_websocket_connection_get_state(session.connection) != SOUP_WEBSOCKET_STATE_OPEN) return;
  soup_websocket_connection_send_text(session.connection, text.c_str());
}

void WsHub::sendError(Session& session, const Error& error, const std::optional<std::string>& ref) {
  send(session, protocol::encodeError(error, ref));
}

void WsHub::closeSession(Session& session, gushort code, const char* reason) {
  if (session.closing) return;
  session.closing = true;
  if (soup_websocket_connection_get_state(session.connection) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close(session.connection, code, reason);
}

void WsHub::sendTo(const std::string& roomId, const std::string& identity, const core::Event& event) {
  auto room = byIdentity_.find(roomId);
  if (room == byIdentity_.end()) return;
  auto who = room->second.find(identity);
  if (who == room->second.end()) return;
  const std::string text = protocol::encodeEvent(event);
  const std::vector<Session*> targets(who->second.begin(), who->second.end());
  for (Session* s : targets) send(*s, text);
}

void WsHub::broadcast(const std::string& roomId, const core::Event& event) {
  auto room = byRoom_.find(roomId);
  if (room == byRoom_.end()) return;
  const std::string text = protocol::encodeEvent(event);
  const bool ending = std::holds_alternative<core::RoomEnded>(event);
  const std::vector<Session*> targets(room->second.begin(), room->second.end());
  for (Session* s : targets) {
    if (s->identity.empty() && !ending) continue;  // not joined yet
    send(*s, text);
    if (ending) {
      setIdentity(*s, "");  // the room is gone; nothing to leave
      closeSession(*s, SOUP_WEBSOCKET_CLOSE_NORMAL, "room ended");
    }
  }
}

}  // namespace roomcast::signaling
