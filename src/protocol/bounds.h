// Bounds on everything a client controls. Checked before parsing, so json-glib (which has
// no nesting limit in 1.6) never sees hostile input.
#pragma once

#include <cstddef>

namespace roomcast::protocol {

inline constexpr int kVersion = 1;
inline constexpr size_t kMaxMessageBytes = 64 * 1024;   // one WebSocket message
inline constexpr size_t kMaxRestBodyBytes = 16 * 1024;  // one REST request body
inline constexpr int kMaxJsonDepth = 8;
inline constexpr size_t kMaxSdpBytes = 32 * 1024;
inline constexpr size_t kMaxCandidateBytes = 1024;
inline constexpr size_t kMaxTokenBytes = 4096;
inline constexpr unsigned kMaxMlineIndex = 15;
inline constexpr unsigned kMaxTrickledCandidates = 64;  // per offer, on one connection
inline constexpr size_t kMaxTypeBytes = 32;             // a message's `type`
inline constexpr size_t kMaxRefBytes = 64;              // a message's `id` (errors echo it as `ref`)

}  // namespace roomcast::protocol
