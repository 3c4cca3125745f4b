// Who counts as a listener: an HLS request names the listening session roomcastd signed for
// it (?session=...), and an edge's log line does the same. The HLS side asks; signaling answers
// with the server's secret and the rooms (signaling::RoomListenerCounting).
#pragma once

#include <string>

namespace roomcast::hls {

class ListenerCounting {
 public:
  virtual ~ListenerCounting() = default;
  // Whether this server signed `session` for `roomId` (any thread).
  virtual bool signedByThisServer(const std::string& session, const std::string& roomId) const = 0;
  // Counts a playlist request (or an edge log line) of `session` if it is one of the room's
  // listening sessions; false if not. On the control thread.
  virtual bool count(const std::string& roomId, const std::string& session) = 0;
};

}  // namespace roomcast::hls
