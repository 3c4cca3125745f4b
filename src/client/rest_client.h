// Blocking REST calls for the CLI (it has nothing else to do while it waits).
#pragma once

#include <libsoup/soup.h>

#include <string>

namespace roomcast::client {

struct HttpResult {
  int status = 0;        // 0: no response (connection refused, ...)
  std::string body;
  std::string transportError;
};

// The certificates the CLI trusts for https:// and wss:// servers: `caFile` (--ca-file), else
// $SSL_CERT_FILE, else the system's. Made GIO's default, so that every session and the HLS
// player's own downloads use it. An unreadable --ca-file is an error; an unreadable
// $SSL_CERT_FILE is told and the system's certificates are used.
bool setTrustedCaFile(const std::string& caFile);

HttpResult httpRequest(SoupSession* session, const char* method, const std::string& url,
                       const std::string& body = {}, const std::string& bearer = {});

// "Server said 404: no live room ..." from an error body, or the transport error.
std::string describeFailure(const HttpResult& result);

// http://host:port → ws://host:port (and https → wss).
std::string toWebSocketBase(const std::string& httpBase);

}  // namespace roomcast::client
