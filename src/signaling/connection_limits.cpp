#include "signaling/connection_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstring>

namespace roomcast::signaling {

unsigned descriptorCeiling(unsigned long long fdLimit, unsigned fdReserve) {
  const unsigned long long limit = std::min<unsigned long long>(fdLimit, 1u << 30);
  const unsigned long long reserve = fdReserve ? fdReserve : std::max<unsigned long long>(256, limit / 4);
  // Never less than a few connections, so that a tiny limit still serves someone.
  return static_cast<unsigned>(limit > reserve + 16 ? limit - reserve : 16);
}

unsigned totalConnectionCap(const ConnectionPolicy& policy, unsigned long long fdLimit) {
  const unsigned ceiling = descriptorCeiling(fdLimit, policy.fdReserve);
  return policy.maxTotal ? std::min(policy.maxTotal, ceiling) : ceiling;
}

unsigned long long currentFdLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  return limit.rlim_cur == RLIM_INFINITY ? (1ull << 30) : limit.rlim_cur;
}

std::string addressKey(const sockaddr* address, socklen_t length) {
  char text[INET6_ADDRSTRLEN] = "";
  if (address->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, text, sizeof text);
  } else if (address->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) inet_ntop(AF_INET, a.s6_addr + 12, text, sizeof text);
    else inet_ntop(AF_INET6, &a, text, sizeof text);
  }
  return text;
}

AddressCounts::Admit AddressCounts::add(const std::string& address) {
  if (maxTotal_ && total_ >= maxTotal_) return Admit::TotalFull;
  unsigned& n = byAddress_[address];
  const bool capped = std::find(uncapped_.begin(), uncapped_.end(), address) == uncapped_.end();
  if (capped && maxPerAddress_ && n >= maxPerAddress_) {
    if (n == 0) byAddress_.erase(address);
    return Admit::AddressFull;
  }
  n++;
  total_++;
  return Admit::Yes;
}

void AddressCounts::remove(const std::string& address) {
  auto it = byAddress_.find(address);
  if (it == byAddress_.end()) return;
  if (--it->second == 0) byAddress_.erase(it);
  total_--;
}

size_t AddressCounts::of(const std::string& address) const {
  auto it = byAddress_.find(address);
  return it == byAddress_.end() ? 0 : it->second;
}

}  // namespace roomcast::signaling
