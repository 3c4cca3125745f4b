// roomcastd's NAT-traversal settings: [turn] (TURN REST credentials handed to clients) and
// [media] ice_port_range (the UDP ports the server's ICE agents bind, for a firewall rule).
#pragma once

#include <glib.h>

#include "app/options.h"

namespace roomcast::app {

// [media] ice_port_range = MIN-MAX.
core::Status parseIcePortRange(const std::string& value, Options& out);

// After the config file and the environment (ROOMCAST_TURN_SECRET): a TURN URL without a
// secret, a malformed URL or port range is an error at start, not a client that cannot relay.
core::Status checkNetworkOptions(Options& out);

}  // namespace roomcast::app
