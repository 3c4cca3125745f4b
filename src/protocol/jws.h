// The pieces of a compact HS256 JWS that both kinds of token share (room access tokens,
// operators' admin tokens): base64url without padding, HMAC-SHA256, a constant-time compare.
#pragma once

#include <glib.h>

#include <optional>
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

// A compact JWS taken apart; the views point into the token given to parseHs256Jws.
struct Hs256Jws {
  std::string payloadJson;
  std::string_view signingInput;  // "header.payload", as signed
  std::string_view signature;     // base64url, as sent
};

// Splits and decodes a compact JWS and pins its algorithm to HS256 before anything else (no
// "none", no RS/ES confusion). The signature is not checked here: the caller may need the
// payload to know which secret to check it with. On failure, `why` says what was wrong.
std::optional<Hs256Jws> parseHs256Jws(std::string_view token, std::string& why);

// The signature is compared as text, not decoded: base64url's unused low bits in the last
// character would otherwise give one token several spellings (a denylist keyed on the token
// string could be dodged).
bool hs256SignatureMatches(const Hs256Jws& jws, std::string_view secret);

}  // namespace roomcast::protocol
