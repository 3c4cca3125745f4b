// Issues and checks access tokens with the server's secret.
#pragma once

#include <string>

#include "core/result.h"
#include "hls/listener_counting.h"
#include "protocol/token.h"

namespace roomcast::core {
class RoomManager;
}

namespace roomcast::signaling {

class TokenAuthority {
 public:
  explicit TokenAuthority(std::string secret, int64_t ttlSeconds = 12 * 3600)
      : secret_(std::move(secret)), ttlSeconds_(ttlSeconds) {}

  // `issuedBy`: the participant who asked for this token ("" when the server issues it itself);
  // the room honours it only while that participant may issue it.
  std::string issue(const std::string& roomId, const std::string& identity, const std::string& name,
                    core::Role role, const std::string& issuedBy = {}) const;
  core::Result<protocol::TokenClaims> verify(const std::string& token, const std::string& roomId) const;
  // A new HLS listener session for the room (see protocol/token.h).
  std::string issueListenerSession(const std::string& roomId) const;
  bool verifyListenerSession(const std::string& session, const std::string& roomId) const;

 private:
  std::string secret_;
  int64_t ttlSeconds_;
};

// Whether `session` is a listening session of this room: counted already (it was verified when
// first seen, and sessions do not expire) or signed by this server. One HMAC per listener, not
// one per playlist request or edge log line.
bool isListenerSession(const TokenAuthority& auth, const core::RoomManager& rooms, const std::string& roomId,
                       const std::string& session);
// Counts a playlist request (or an edge log line) of `session` if it is one; false if not.
// On the control thread.
bool countListener(const TokenAuthority& auth, core::RoomManager& rooms, const std::string& roomId,
                   const std::string& session);

// Who counts as an HLS listener, for the HLS side: sessions this server signed, counted in
// their rooms.
class RoomListenerCounting final : public hls::ListenerCounting {
 public:
  RoomListenerCounting(const TokenAuthority& auth, core::RoomManager& rooms) : auth_(auth), rooms_(rooms) {}
  bool signedByThisServer(const std::string& session, const std::string& roomId) const override {
    return auth_.verifyListenerSession(session, roomId);
  }
  bool count(const std::string& roomId, const std::string& session) override {
    return countListener(auth_, rooms_, roomId, session);
  }

 private:
  const TokenAuthority& auth_;
  core::RoomManager& rooms_;
};

// Reads the secret from `path`, or creates one (256 random bits, mode 0600) at first start.
core::Result<std::string> loadOrCreateSecret(const std::string& path);

}  // namespace roomcast::signaling
