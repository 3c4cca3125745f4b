// Tokens signed by hand, written apart from src/protocol/jws so that the tests check the
// product's JWS code against a second implementation rather than against itself.
#pragma once

#include <string>
#include <string_view>

namespace roomcast::testing {

std::string b64url(std::string_view bytes);
// base64url(HMAC-SHA256(secret, input)).
std::string hs256(std::string_view secret, std::string_view input);
// header.payload.signature, each part base64url.
std::string handMadeJws(std::string_view payloadJson, std::string_view secret,
                        std::string_view headerJson = R"({"alg":"HS256","typ":"JWT"})");

}  // namespace roomcast::testing
