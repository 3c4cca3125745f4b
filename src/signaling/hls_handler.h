// Serves /hls/<room>/... on libsoup, on the control thread: the
// connections that did not start with an HLS request (a browser's, say). The answers come from
// HlsResponder, the same as on the listener thread (ListenerHttp). A `session` query parameter
// on a media playlist request counts that listener (see ListenerSessions).
#pragma once

#include <libsoup/soup.h>

#include <string>
#include <string_view>

#include "core/room_manager.h"
#include "signaling/auth.h"
#include "signaling/hls_responder.h"

namespace roomcast::signaling {

class HlsHandler {
 public:
  HlsHandler(HlsResponder& responder, core::RoomManager& rooms, const TokenAuthority& auth)
      : responder_(responder), rooms_(rooms), auth_(auth) {}

  // `path` is the request path ("/hls/<room>/<file>").
  void handle(SoupServerMessage* msg, std::string_view path);

 private:
  HlsRequest requestOf(SoupServerMessage* msg, std::string_view path) const;

  HlsResponder& responder_;
  core::RoomManager& rooms_;
  const TokenAuthority& auth_;
};

}  // namespace roomcast::signaling
