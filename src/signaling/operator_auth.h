// The operator's authority over the server ([auth], [archive]): who may create rooms, use the
// admin API, and read the archive, recording files and /metrics. Requests prove it with an
// admin token (protocol/admin_token.h) in "Authorization: Bearer"; recording files also with a
// signed URL that expires. On a loopback bind, rooms and the archive are open by default (the
// quick start); anywhere else they are not, unless the config says so.
#pragma once

#include <libsoup/soup.h>

#include <map>
#include <string>

#include "core/result.h"
#include "protocol/admin_token.h"

namespace roomcast::signaling {

struct OperatorPolicy {
  std::map<std::string, std::string> apiKeys;  // API key -> its secret (at least 32 bytes)
  bool openRooms = true;      // anyone may create a room (else: the room_create grant)
  bool archivePublic = true;  // anyone may read the archive (else: the archive grant or a signed URL)
  std::string urlSecret;      // signs recording URLs (the server's own secret)
  int64_t signedUrlTtlSeconds = 6 * 3600;  // how long a listed recording URL plays
};

class OperatorAuthority {
 public:
  explicit OperatorAuthority(OperatorPolicy policy) : policy_(std::move(policy)) {}

  // Ok when the request's admin token carries `grant`: Unauthorized (401) without a valid
  // token, Forbidden (403) for a valid token without the grant.
  core::Result<protocol::AdminClaims> require(SoupServerMessage* msg, protocol::Grant grant) const;
  core::Status requireRoomCreation(SoupServerMessage* msg) const;  // open rooms, or room_create
  core::Status requireArchive(SoupServerMessage* msg) const;       // public archive, or archive
  // A recording file: the public archive, the archive grant, or this file's unexpired signed URL.
  core::Status requireRecordingFile(SoupServerMessage* msg, const std::string& file) const;

  bool archivePublic() const { return policy_.archivePublic; }
  // "?exp=..&sig=.." for a recording URL listed to an operator (empty with a public archive).
  std::string signedQuery(const std::string& file) const;

 private:
  OperatorPolicy policy_;
};

}  // namespace roomcast::signaling
