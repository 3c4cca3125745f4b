// How streaming-thread callbacks reach the control thread: they copy plain data into a
// closure and post it; the control thread looks the room and peer up again by id and
// drops the event if either is gone.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace roomcast::media {

struct PeerKey {
  std::string roomId;
  std::string peerId;
  uint64_t serial = 0;  // distinguishes a peer from a later one with the same id
};

enum class PeerProblem { IceFailed, Disconnected };

class PeerEvents {
 public:
  virtual ~PeerEvents() = default;
  // Called from any thread; must only post.
  virtual void postAnswer(const PeerKey& key, std::string sdp) = 0;
  virtual void postCandidate(const PeerKey& key, unsigned mline, std::string candidate) = 0;
  virtual void postFailure(const PeerKey& key, std::string reason) = 0;
  // ICE or DTLS failed: the network, not the peer's media (reported as ice_failed).
  virtual void postTransportFailure(const PeerKey& key, std::string reason) = 0;
  // ICE and DTLS are done: the peer's media flows (its connection deadline no longer applies).
  virtual void postConnected(const PeerKey& key) = 0;
};

}  // namespace roomcast::media
