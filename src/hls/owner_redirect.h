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

// Asked on the control thread; answers there (maybe at once) with the URL of the node that
// owns the room when that is another node, else none.
using OwnerOf =
    std::function<void(const std::string& roomId, std::function<void(std::optional<std::string> nodeUrl)> done)>;

inline constexpr const char* kEdgeHeader = "X-Roomcast-Edge";
inline constexpr std::string_view kOwnerLocation = "/_roomcast_owner/";

// The answer sending the request (`path` "/hls/<room>/<file>", already checked by
// HlsResponder; `session`, the listener's, or "") to `nodeUrl` (http://HOST:PORT). Only the
// session goes along from the query, escaped: nothing else of the client's reaches a header. None when the URL is not one nginx may proxy to without a
// resolver (an https node, a host name) and the request came through the edge: the caller
// keeps its 404.
std::optional<HlsResponse> ownerRedirect(const std::string& nodeUrl, std::string_view path, std::string_view session,
                                         bool viaEdge);

}  // namespace roomcast::hls
