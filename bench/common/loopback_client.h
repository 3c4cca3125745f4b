// The client side that every load generator here shares: many non-blocking TCP connections to
// roomcastd on loopback, spread over several source addresses (127.0.0.2 ...) so that tens of
// thousands of connections do not run out of local ports.
#pragma once

#include <string>

namespace roomcast::bench {

// A non-blocking connect to 127.0.0.1:port from 127.0.0.(2 + n % sourceAddresses), with
// TCP_NODELAY (and SO_TIMESTAMPNS if `timestamps`). Returns the fd, or -1 with `error` set
// ("socket: ...", "bind: ..." or "connect: ...") if it failed at once.
int startLoopbackConnect(int port, long n, int sourceAddresses, bool timestamps, std::string& error);

// Why a non-blocking connect failed ("connect: ..."), or "" if it succeeded.
std::string socketError(int fd);

}  // namespace roomcast::bench
