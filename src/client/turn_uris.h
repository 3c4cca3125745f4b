// The welcome's ice_servers (RTCIceServer's shape: turn:HOST:PORT?transport=tcp URLs, a
// username, a credential) as the URIs webrtcbin's add-turn-server takes:
// turn(s)://USER:PASS@HOST:PORT?transport=..., user and password percent-escaped (a TURN REST
// username holds a ':' itself).
#pragma once

#include <json-glib/json-glib.h>

#include <string>
#include <vector>

namespace roomcast::client {

// One URI; "" for a URL that is not turn: or turns:.
std::string webrtcbinTurnUri(const std::string& url, const std::string& username, const std::string& credential);

// Every TURN URI in a welcome message's ice_servers (none when it has none).
std::vector<std::string> turnUrisFromWelcome(JsonObject* welcome);

}  // namespace roomcast::client
