#include "hls/owner_redirect.h"

#include <glib.h>

namespace roomcast::hls {

namespace {

// host:port of an http:// URL whose host is an IPv4 address or a bracketed IPv6 one: nginx's
// proxy_pass to a variable needs a resolver for anything else, and the edge config has none.
std::optional<std::string> literalAuthority(const std::string& nodeUrl) {
  constexpr std::string_view scheme = "http://";
  if (nodeUrl.compare(0, scheme.size(), scheme) != 0) return std::nullopt;
  std::string authority = nodeUrl.substr(scheme.size());
  if (const size_t slash = authority.find('/'); slash != std::string::npos) authority.resize(slash);
  const size_t colon = authority.rfind(':');
  if (authority.empty() || colon == std::string::npos || colon + 1 == authority.size()) return std::nullopt;
  std::string host = authority.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  for (size_t i = colon + 1; i < authority.size(); i++)
    if (!g_ascii_isdigit(authority[i])) return std::nullopt;
  if (!g_hostname_is_ip_address(host.c_str())) return std::nullopt;
  return authority;
}

}  // namespace

std::optional<HlsResponse> ownerAnswer(const RoomOwner& owner, std::string_view path, std::string_view session,
                                       bool viaEdge) {
  if (owner.nodeUrl) return ownerRedirect(*owner.nodeUrl, path, session, viaEdge);
  if (!owner.moving && !owner.here) return std::nullopt;  // here: the next request finds it
  HlsResponse r;
  r.status = 503;
  r.headers = {{"Access-Control-Allow-Origin", "*"}, {"Cache-Control", "no-store"}, {"Retry-After", "1"}};
  return r;
}

std::optional<HlsResponse> ownerRedirect(const std::string& nodeUrl, std::string_view path, std::string_view session,
                                         bool viaEdge) {
  std::string tail(path);
  if (!session.empty()) {
    g_autofree char* escaped = g_uri_escape_string(std::string(session).c_str(), nullptr, FALSE);
    tail += std::string("?session=") + escaped;
  }
  HlsResponse r;
  // Never cached by anyone: the owner changes on a failover.
  r.headers = {{"Access-Control-Allow-Origin", "*"}, {"Cache-Control", "no-store"}};
  if (viaEdge) {
    auto authority = literalAuthority(nodeUrl);
    if (!authority) return std::nullopt;
    r.status = 200;
    r.headers.emplace_back("X-Accel-Redirect", std::string(kOwnerLocation) + *authority + tail);
    return r;
  }
  std::string base = nodeUrl;
  while (!base.empty() && base.back() == '/') base.pop_back();
  r.status = 307;
  r.headers.emplace_back("Location", base + tail);
  return r;
}

}  // namespace roomcast::hls
