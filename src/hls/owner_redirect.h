// HLS of a room another node of the cluster owns. A request for /hls/<room>/... of a room not
// live here (HlsResponse::unknownRoom) asks the owner lookup (on the control thread) and is
// answered with the way to the owner:
// - through the edge (nginx sets `X-Roomcast-Edge: 1`): `X-Accel-Redirect:
//   /_roomcast_owner/<host:port>/hls/<room>/<file>`, an empty 200 that nginx replaces by the
//   owner's answer, fetched from its internal location and cached under the original path;
// - directly: 307 to `<owner node URL>/hls/<room>/<file>` (hls.js and ffmpeg follow it).
// Local rooms never get here: they are answered from memory as before.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "hls/hls_responder.h"

namespace roomcast::hls {

// Who owns a room not live here, as the cluster sees it.
struct RoomOwner {
  std::optional<std::string> nodeUrl;  // another node (its URL, http://HOST:PORT)
  // Nobody right now, but the room is in the directory: its node died and another is about to
  // reopen it (failover), or is reopening it here. Worth asking again in a moment.
  bool moving = false;
  bool here = false;  // this node: it reopened the room after the request was taken as another's
};

// Asked on the control thread; answers there (maybe at once).
using OwnerOf = std::function<void(const std::string& roomId, std::function<void(RoomOwner owner)> done)>;

inline constexpr const char* kEdgeHeader = "X-Roomcast-Edge";
inline constexpr std::string_view kOwnerLocation = "/_roomcast_owner/";

// The answer sending the request (`path` "/hls/<room>/<file>", already checked by
// HlsResponder; `session`, the listener's, or "") to `nodeUrl` (http://HOST:PORT). Only the
// session goes along from the query, escaped: nothing else of the client's reaches a header. None when the URL is not one nginx may proxy to without a
// resolver (an https node, a host name) and the request came through the edge: the caller
// keeps its 404.
// What to answer for a room not live here: ownerRedirect for another node's, 503 with
// Retry-After for one that is moving (players retry: hls.js and ffmpeg keep the stream through a
// failover's gap); none when nobody owns it (the caller keeps its 404).
std::optional<HlsResponse> ownerAnswer(const RoomOwner& owner, std::string_view path, std::string_view session,
                                       bool viaEdge);
std::optional<HlsResponse> ownerRedirect(const std::string& nodeUrl, std::string_view path, std::string_view session,
                                         bool viaEdge);

}  // namespace roomcast::hls
