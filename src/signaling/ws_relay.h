// The WebSocket of a room another node owns. Browsers do not follow redirects on a WebSocket,
// so a client that opened /ws/<room> on this node is relayed: this node opens a WebSocket to the
// owner's /ws/<room> (libsoup client) and passes every text message both ways unchanged, hello
// included, so the owner verifies the token and runs the session as for a direct client. ICE and
// media go to the owner directly (its SDP names its addresses). Messages the client sends
// before the owner's socket is open are held, within bounds; a close on either side closes the
// other with the same code and reason. Everything runs on the control thread.
#pragma once

#include <libsoup/soup.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "glib_support/source.h"
#include "hls/owner_redirect.h"

namespace roomcast::signaling {

class WsRelay {
 public:
  // Who owns the room (hls::RoomOwner). Called on the control thread; may answer at once.
  using OwnerOf = hls::OwnerOf;

  static constexpr size_t kMaxHeldMessages = 32;         // sent before the owner's socket opened
  static constexpr size_t kMaxHeldBytes = 256 * 1024;
  static constexpr unsigned kConnectTimeoutMs = 5000;    // lookup and the owner's handshake
  // A room that is moving (its node died, another is reopening it: failover) is looked up again
  // every kMovingRetryMs for this long, the client's messages held meanwhile.
  static constexpr unsigned kMovingWaitMs = 15000;
  static constexpr unsigned kMovingRetryMs = 250;
  // Sent to a client whose room moved here while it waited: connect again (the room is live on
  // this node now). RFC 6455's registry: 1013 Try Again Later.
  static constexpr gushort kCloseTryAgain = 1013;
  static constexpr size_t kMaxOwnerMessageBytes = 1 << 20;  // what the owner sends (as the CLI takes)

  explicit WsRelay(OwnerOf ownerOf);
  ~WsRelay();  // every relayed socket is closed (going away)
  WsRelay(const WsRelay&) = delete;
  WsRelay& operator=(const WsRelay&) = delete;

  // Takes `client` (an accepted WebSocket for /ws/<roomId>[?query]) for a room not live here.
  // `address`: the client's, sent to the owner as X-Forwarded-For. When no other node owns the
  // room the client gets what a node answers for a room it does not know (not_found, closed).
  void take(SoupWebsocketConnection* client, const std::string& roomId, const std::string& query,
            const std::string& address);
  size_t relayCount() const { return links_.size(); }

 private:
  struct Link;
  void lookUp(uint64_t id);
  void ownerFound(uint64_t id, const hls::RoomOwner& owner);
  Link* find(uint64_t id);
  static void onUpstreamConnected(GObject* source, GAsyncResult* result, gpointer data);
  static void onClientMessage(SoupWebsocketConnection*, gint type, GBytes* message, gpointer data);
  static void onUpstreamMessage(SoupWebsocketConnection*, gint type, GBytes* message, gpointer data);
  static void onClientClosed(SoupWebsocketConnection*, gpointer data);
  static void onUpstreamClosed(SoupWebsocketConnection*, gpointer data);
  // Closes what is still open of `link` (with the code and reason given) and forgets it.
  void finish(Link& link, gushort code, const std::string& reason);

  OwnerOf ownerOf_;
  SoupSession* session_;
  std::map<uint64_t, std::unique_ptr<Link>> links_;  // by id: async answers name a link by it
  uint64_t nextId_ = 1;
  std::shared_ptr<WsRelay*> self_ = std::make_shared<WsRelay*>(this);
};

}  // namespace roomcast::signaling
