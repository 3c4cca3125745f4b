#include "protocol/jws.h"

#include "protocol/bounds.h"
#include "protocol/json.h"

namespace roomcast::protocol {

std::string base64UrlEncode(const guchar* data, size_t len) {
  g_autofree char* b64 = g_base64_encode(data, len);
  std::string out(b64);
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

bool base64UrlDecode(std::string_view in, std::string& out) {
  std::string b64;
  b64.reserve(in.size() + 3);
  for (char c : in) {
    if (c == '-') b64 += '+';
    else if (c == '_') b64 += '/';
    else if (g_ascii_isalnum(c)) b64 += c;
    else return false;  // padding and anything else is not base64url
  }
  if (b64.size() % 4 == 1) return false;
  while (b64.size() % 4) b64 += '=';
  gsize len = 0;
  g_autofree guchar* raw = g_base64_decode(b64.c_str(), &len);
  out.assign(reinterpret_cast<const char*>(raw), len);
  return true;
}

std::vector<guint8> hmacSha256(std::string_view key, std::string_view data) {
  g_autoptr(GHmac) hmac = g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(key.data()), key.size());
  g_hmac_update(hmac, reinterpret_cast<const guchar*>(data.data()), static_cast<gssize>(data.size()));
  std::vector<guint8> digest(32);
  gsize len = digest.size();
  g_hmac_get_digest(hmac, digest.data(), &len);
  return digest;
}

bool constantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned diff = 0;
  for (size_t i = 0; i < a.size(); i++) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string hmacSha256Base64Url(std::string_view key, std::string_view data) {
  const std::vector<guint8> mac = hmacSha256(key, data);
  return base64UrlEncode(mac.data(), mac.size());
}

std::optional<Hs256Jws> parseHs256Jws(std::string_view token, std::string& why) {
  auto fail = [&why](const char* reason) {
    why = reason;
    return std::optional<Hs256Jws>{};
  };
  if (token.size() > kMaxTokenBytes) return fail("too long");
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return fail("not a JWS compact serialization");
  Hs256Jws jws;
  std::string headerJson;
  if (!base64UrlDecode(token.substr(0, dot1), headerJson) ||
      !base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1), jws.payloadJson))
    return fail("bad base64url");
  auto header = parseObject(headerJson, 1024, 2);
  if (!header) return fail("bad header");
  auto alg = FieldReader(json_node_get_object(header.value().get())).requiredString("alg", 16);
  if (!alg || alg.value() != "HS256") return fail("algorithm must be HS256");
  jws.signingInput = token.substr(0, dot2);
  jws.signature = token.substr(dot2 + 1);
  return jws;
}

bool hs256SignatureMatches(const Hs256Jws& jws, std::string_view secret) {
  return constantTimeEqual(jws.signature, hmacSha256Base64Url(secret, jws.signingInput));
}

}  // namespace roomcast::protocol
