// WebSocket sessions: one per connected client. Decodes the live protocol, checks the token
// on hello, and delivers room events. Knows nothing of GStreamer.
#pragma once

#include <libsoup/soup.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "core/conversation.h"
#include "core/events.h"
#include "core/room_manager.h"
#include "glib_support/source.h"
#include "protocol/messages.h"
#include "signaling/auth.h"
#include "signaling/quotas.h"
#include "signaling/rate_limit.h"
#include "signaling/turn_credentials.h"
#include "signaling/ws_relay.h"

namespace roomcast::signaling {

class WsHub final : public core::RoomEventSink {
 public:
  explicit WsHub(const TokenAuthority& auth) : auth_(auth) {}
  ~WsHub() override;
  void setRoomManager(core::RoomManager* rooms) { rooms_ = rooms; }
  void setConversation(core::Conversation* conversation) { conversation_ = conversation; }
  // A WebSocket that has not said hello within this long is closed (policy violation).
  void setHelloTimeout(double seconds) { helloTimeoutSeconds_ = seconds; }

  // soup_server_add_websocket_handler callback target; `roomId` comes from the path, `address`
  // is the client's (see clientAddress(); "" for clients on this host, which no address quota counts).
  // `query`: the URL's, for a relay to the room's owner.
  void accept(SoupWebsocketConnection* connection, const std::string& roomId, const std::string& address = {},
              const std::string& query = {});
  // In a cluster: sockets for rooms not live here go to the relay (borrowed; null: none).
  void setRelay(WsRelay* relay) { relay_ = relay; }
  // TURN servers whose fresh credentials every welcome carries (borrowed; null: none).
  void setTurn(const TurnConfig* turn) { turn_ = turn; }
  // Per-address quotas shared with REST (owned by HttpServer); null: none.
  void setAddressQuotas(KeyedLimits<AddressLimits>* quotas) { addressQuotas_ = quotas; }

  // RoomEventSink
  void sendTo(const std::string& roomId, const std::string& identity, const core::Event& event) override;
  void broadcast(const std::string& roomId, const core::Event& event) override;
  void disconnect(const std::string& roomId, const std::string& identity, const std::string& reason) override;

  size_t sessionCount() const { return sessions_.size(); }

 private:
  struct Session {
    WsHub* hub;
    SoupWebsocketConnection* connection;  // strong ref
    std::string roomId;
    std::string identity;  // empty until hello succeeded
    bool closing = false;
    std::string address;   // the client's, for per-address quotas ("": not counted)
    ConnectionLimits limits;
    unsigned candidates = 0;  // trickled since the last offer
    glib_support::Source helloDeadline{};  // a socket that never says who it is is closed
  };

  static void onMessage(SoupWebsocketConnection*, gint type, GBytes* message, gpointer data);
  static void onClosed(SoupWebsocketConnection*, gpointer data);
  void handleText(Session& session, std::string_view text);
  void send(Session& session, const std::string& text);
  void sendError(Session& session, const core::Error& error, const std::optional<std::string>& ref = {});
  void closeSession(Session& session, gushort code, const char* reason);
  // One handler per ClientBody alternative, applied with std::visit (ws_hub.cpp): a message
  // type without a handler does not compile.
  struct MessageHandlers;
  // Per-connection rate limits; false (and an error sent, or the socket closed) when refused.
  bool admit(Session& session, const protocol::ClientBody& body);
  void setIdentity(Session& session, const std::string& identity);

  const TokenAuthority& auth_;
  double helloTimeoutSeconds_ = 10;
  core::RoomManager* rooms_ = nullptr;
  core::Conversation* conversation_ = nullptr;
  KeyedLimits<AddressLimits>* addressQuotas_ = nullptr;
  const TurnConfig* turn_ = nullptr;
  WsRelay* relay_ = nullptr;
  KeyedLimits<IdentityLimits> identityQuotas_;  // by room and identity, over all their sockets
  std::map<Session*, std::unique_ptr<Session>> sessions_;
  std::map<std::string, std::set<Session*>> byRoom_;
  // Joined sessions by room and identity, so one participant's events do not scan the room.
  std::map<std::string, std::map<std::string, std::set<Session*>>> byIdentity_;
};

}  // namespace roomcast::signaling
