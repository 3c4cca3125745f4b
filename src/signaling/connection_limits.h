// What one client connection may cost us: how long it may take to send its request line and
// headers, its body, how long it may sit idle between requests, and how many connections one
// address and all clients together may hold. Pure logic (no sockets), shared by the connection
// router and the libsoup side (SoupConnections).
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "protocol/bounds.h"

namespace roomcast::signaling {

struct ConnectionPolicy {
  double headerTimeoutSeconds = 10;  // from the first byte (or accept) to the end of the headers
  double bodyTimeoutSeconds = 30;    // from the end of the headers to the end of the body
  double idleTimeoutSeconds = 30;    // a keep-alive connection between two requests
  double helloTimeoutSeconds = 10;   // a WebSocket until its hello (WsHub)
  unsigned maxPerAddress = 256;      // connections one client address may hold; 0: no cap
  unsigned maxTotal = 0;             // all client connections; 0: the fd limit less fdReserve
  unsigned fdReserve = 0;            // descriptors kept for the rooms; 0: a quarter of the limit (>= 256)
  // Addresses the per-address cap does not apply to: an edge or proxy on the same host carries
  // every listener's WebSocket from one address.
  std::vector<std::string> uncappedAddresses = {"127.0.0.1", "::1"};
  size_t maxBodyBytes = protocol::kMaxRestBodyBytes;  // request bodies on libsoup, counted as they arrive
};

// Descriptors the process may have open before it refuses new client connections: the soft
// RLIMIT_NOFILE less the rooms' reserve.
unsigned descriptorCeiling(unsigned long long fdLimit, unsigned fdReserve);
// The total connection cap the policy gives under the current fd limit.
unsigned totalConnectionCap(const ConnectionPolicy& policy, unsigned long long fdLimit);
// The soft RLIMIT_NOFILE (a large number when unlimited).
unsigned long long currentFdLimit();

// "192.0.2.1", "2001:db8::1"; an IPv4-mapped IPv6 address as its IPv4 form.
std::string addressKey(const sockaddr* address, socklen_t length);

// Open connections per client address and in total.
class AddressCounts {
 public:
  AddressCounts(unsigned maxPerAddress, unsigned maxTotal, std::vector<std::string> uncapped)
      : maxPerAddress_(maxPerAddress), maxTotal_(maxTotal), uncapped_(std::move(uncapped)) {}
  enum class Admit { Yes, AddressFull, TotalFull };
  // Counts one more connection from `address` unless a cap is reached.
  Admit add(const std::string& address);
  void remove(const std::string& address);
  size_t total() const { return total_; }
  size_t of(const std::string& address) const;

 private:
  unsigned maxPerAddress_;
  unsigned maxTotal_;
  std::vector<std::string> uncapped_;
  std::map<std::string, unsigned> byAddress_;
  size_t total_ = 0;
};

}  // namespace roomcast::signaling
