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

core::Status applyNetworkConfig(GKeyFile* file, Options& out) {
  if (g_autofree char* urls = g_key_file_get_string(file, "turn", "urls", nullptr)) {
    out.turn.urls.clear();
    g_auto(GStrv) parts = g_strsplit(urls, ",", -1);
    for (char** p = parts; *p; p++)
      if (std::string url = g_strstrip(*p); !url.empty()) out.turn.urls.push_back(url);
  }
  if (g_autofree char* secret = g_key_file_get_string(file, "turn", "secret", nullptr)) out.turn.secret = secret;
  if (g_key_file_has_key(file, "turn", "ttl_s", nullptr))
    out.turn.ttlSeconds = g_key_file_get_int64(file, "turn", "ttl_s", nullptr);
  if (g_autofree char* range = g_key_file_get_string(file, "media", "ice_port_range", nullptr)) {
    const std::string text = g_strstrip(range);
    const auto dash = text.find('-');
    if (dash == std::string::npos || !parsePort(text.substr(0, dash), out.icePortMin) ||
        !parsePort(text.substr(dash + 1), out.icePortMax))
      return Error{ErrorCode::BadRequest, "ice_port_range wants MIN-MAX (UDP ports 1..65535), got " + text};
  }
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
  if (out.turn.ttlSeconds < 60 || out.turn.ttlSeconds > 7 * 86400)
    return Error{ErrorCode::BadRequest, "[turn] ttl_s must be 60..604800"};
  if (out.icePortMin || out.icePortMax) {
    // Each WebRTC session binds one UDP port per local address (bundled, RTCP muxed).
    if (out.icePortMin > out.icePortMax || out.icePortMax - out.icePortMin < 1)
      return Error{ErrorCode::BadRequest, "ice_port_range wants MIN-MAX with MIN < MAX, got " +
                                              std::to_string(out.icePortMin) + "-" + std::to_string(out.icePortMax)};
  }
  return core::Ok{};
}

}  // namespace roomcast::app
