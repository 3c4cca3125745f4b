// Plain TCP sockets to a server on this machine, for tests that need to speak (or stall) below
// HTTP: half-sent requests, unfinished handshakes, counting what the server holds.
#pragma once

#include <string>

namespace roomcast::testing {

// The port of a url that ends in ":PORT" (http://127.0.0.1:PORT, as Daemon::url() gives).
int portOfUrl(const std::string& url);

// A blocking TCP connection to 127.0.0.1:port whose every receive waits at most
// `receiveTimeoutSeconds` (so a test that reads from it cannot hang); -1 if the connect fails.
int connectLoopback(int port, int receiveTimeoutSeconds);

}  // namespace roomcast::testing
