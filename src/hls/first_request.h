// Whether a new connection is a player's: its first bytes begin an HLS request (GET, HEAD or
// OPTIONS of /hls/...). The connection router (and the TLS terminator, after decrypting them)
// peeks at those bytes to hand the connection to the listener thread or to libsoup.
#pragma once

#include <cstddef>
#include <string_view>

namespace roomcast::hls {

enum class FirstRequest { Hls, Other, Undecided };

// The longest start of an HLS request ("OPTIONS /hls/"): more bytes never change the answer.
constexpr size_t kLongestHlsRequestStart = 13;

// What the first bytes of a connection say (Undecided: too few bytes yet).
FirstRequest classifyFirstRequest(std::string_view bytes);

}  // namespace roomcast::hls
