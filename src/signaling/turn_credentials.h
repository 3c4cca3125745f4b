// TURN REST API credentials (coturn's use-auth-secret scheme): the TURN server and roomcastd
// share a secret; each WebRTC client gets a username that carries its own expiry and a
// password the TURN server can recompute, so no per-user state lives in the TURN server and a
// leaked credential stops working after ttl_s.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/messages.h"

namespace roomcast::signaling {

struct TurnConfig {
  std::vector<std::string> urls;  // turn:/turns: URLs, as browsers take them
  std::string secret;             // coturn's static-auth-secret
  int64_t ttlSeconds = 3600;
  bool enabled() const { return !urls.empty(); }
};

struct TurnCredential {
  std::string username;    // "<unix expiry>:<identity>"
  std::string credential;  // base64(HMAC-SHA1(secret, username))
};

// The credential for `identity`, valid until nowUnixSeconds + ttlSeconds.
TurnCredential mintTurnCredential(const std::string& secret, const std::string& identity, int64_t nowUnixSeconds,
                                  int64_t ttlSeconds);

// The welcome's ice_servers for one participant: all the TURN URLs with one fresh credential;
// empty when TURN is not configured.
std::vector<protocol::IceServer> iceServersFor(const TurnConfig& turn, const std::string& identity,
                                               int64_t nowUnixSeconds);

}  // namespace roomcast::signaling
