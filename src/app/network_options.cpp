#include "app/network_options.h"

#include <cstdlib>

namespace roomcast::app {

using core::Error;
using core::ErrorCode;

namespace {

constexpr size_t kMaxTurnUrls = 8;
constexpr size_t kMaxTurnUrlBytes = 256;

bool parsePort(const std::string& text, unsigned& port) {
  char* end = nullptr;
  const long value = strtol(text.c_str(), &end, 10);
  if (text.empty() || !end || *end || value < 1 || value > 65535) return false;
  port = static_cast<unsigned>(value);
  return true;
}

}  // namespace

core::Status parseIcePortRange(const std::string& value, Options& out) {
  const std::string& text = value;
  const auto dash = text.find('-');
  if (dash == std::string::npos || !parsePort(text.substr(0, dash), out.icePortMin) ||
      !parsePort(text.substr(dash + 1), out.icePortMax))
    return Error{ErrorCode::BadRequest, "ice_port_range wants MIN-MAX (UDP ports 1..65535), got " + text};
  return core::Ok{};
}

core::Status checkNetworkOptions(Options& out) {
  // The secret may stay out of the config file, as the S3 one may.
  if (const char* secret = g_getenv("ROOMCAST_TURN_SECRET"); secret && *secret) out.turn.secret = secret;
  if (out.turn.urls.size() > kMaxTurnUrls)
    return Error{ErrorCode::BadRequest, "[turn] urls: at most " + std::to_string(kMaxTurnUrls) + " URLs"};
  for (const auto& url : out.turn.urls)
    if ((url.rfind("turn:", 0) != 0 && url.rfind("turns:", 0) != 0) || url.size() > kMaxTurnUrlBytes ||
        url.find_first_of(" \t\"\\") != std::string::npos)
      return Error{ErrorCode::BadRequest, "[turn] urls wants turn:HOST:PORT or turns:HOST:PORT URLs "
                                          "(?transport=udp|tcp allowed), got " + url};
  if (out.turn.enabled() && out.turn.secret.empty())
    return Error{ErrorCode::BadRequest, "[turn] urls is set but secret is missing (the TURN server's "
                                        "static-auth-secret; or ROOMCAST_TURN_SECRET): clients would get "
                                        "credentials no TURN server accepts"};
  if (out.icePortMin || out.icePortMax) {
    // Each WebRTC session binds one UDP port per local address (bundled, RTCP muxed).
    if (out.icePortMin > out.icePortMax || out.icePortMax - out.icePortMin < 1)
      return Error{ErrorCode::BadRequest, "ice_port_range wants MIN-MAX with MIN < MAX, got " +
                                              std::to_string(out.icePortMin) + "-" + std::to_string(out.icePortMax)};
  }
  return core::Ok{};
}

}  // namespace roomcast::app
