// Serves /hls/<room>/... on libsoup, on the control thread: the
// connections that did not start with an HLS request (a browser's, say). The answers come from
// HlsResponder, the same as on the listener thread (ListenerHttp). A `session` query parameter
// on a media playlist request counts that listener (see ListenerCounting).
#pragma once

#include <libsoup/soup.h>

#include <string>
#include <string_view>

#include "hls/hls_responder.h"
#include "hls/owner_redirect.h"
#include "hls/listener_counting.h"

namespace roomcast::hls {

class HlsHandler {
 public:
  HlsHandler(HlsResponder& responder, ListenerCounting& listeners) : responder_(responder), listeners_(listeners) {}

  // `path` is the request path ("/hls/<room>/<file>").
  void handle(SoupServerMessage* msg, std::string_view path);
  // In a cluster: where a room not live here is owned (owner_redirect.h). None: a single box.
  void setOwnerOf(OwnerOf ownerOf) { ownerOf_ = std::move(ownerOf); }

 private:
  HlsRequest requestOf(SoupServerMessage* msg, std::string_view path) const;

  HlsResponder& responder_;
  ListenerCounting& listeners_;
  OwnerOf ownerOf_;
};

}  // namespace roomcast::hls
