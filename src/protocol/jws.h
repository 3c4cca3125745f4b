// The pieces of a compact HS256 JWS that both kinds of token share (room access tokens,
// operators' admin tokens): base64url without padding, HMAC-SHA256, a constant-time compare.
#pragma once

#include <glib.h>

#include <string>
#include <string_view>
#include <vector>

namespace roomcast::protocol {

std::string base64UrlEncode(const guchar* data, size_t len);
inline std::string base64UrlEncode(std::string_view bytes) {
  return base64UrlEncode(reinterpret_cast<const guchar*>(bytes.data()), bytes.size());
}
// False for anything that is not unpadded base64url.
bool base64UrlDecode(std::string_view in, std::string& out);
std::vector<guint8> hmacSha256(std::string_view key, std::string_view data);
// Compares without an early exit, so the time taken says nothing about where they differ.
bool constantTimeEqual(std::string_view a, std::string_view b);
// base64url(HMAC-SHA256(key, data)): the signature part of a JWS, and the MAC of signed URLs.
std::string hmacSha256Base64Url(std::string_view key, std::string_view data);

}  // namespace roomcast::protocol
