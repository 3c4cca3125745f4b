// A room's chat history in Redis, so that no line is lost with the node that runs the room: a
// failover reopens the room elsewhere and reads the history back (load) to give late joiners the
// same `chat-history`. One stream per room, `roomcast:room:<id>:chat`, written by the room's
// owner only. Writes are fire-and-forget on the control loop (a lost write costs one line of
// history after a failover, never the live room); commands go out in order on one connection.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cluster/redis_connection.h"
#include "core/conversation.h"
#include "core/events.h"
#include "core/result.h"

namespace roomcast::cluster {

struct ChatLogLimits {
  size_t historyLength = core::ConversationLimits{}.historyLength;  // kept (about) and loaded (at most)
  size_t maxChatBytes = core::ConversationLimits{}.maxChatBytes;
};

// The stored form of a message: the fields of a `chat` event (message_id, identity, name, text,
// sent_at_ms, role) as a JSON object.
std::string encodeChatMessage(const core::ChatMessage& message);
// Back from the stored form; BadRequest for anything else (or larger than `maxBytes`).
core::Result<core::ChatMessage> decodeChatMessage(const std::string& json, size_t maxBytes);

class ChatLog {
 public:
  explicit ChatLog(RedisConnection& redis, ChatLogLimits limits = {}, std::string prefix = "roomcast:");
  ChatLog(const ChatLog&) = delete;
  ChatLog& operator=(const ChatLog&) = delete;

  // XADD with the message's id as the entry's id and MAXLEN ~ historyLength.
  void append(const std::string& roomId, uint64_t messageId, const std::string& messageJson);
  // A moderator deleted it: XDEL of its entry.
  void remove(const std::string& roomId, uint64_t messageId);
  // The last historyLength messages' stored JSON, oldest first; an entry that is not one of ours
  // or larger than a message can be is skipped (and logged), never passed on.
  void load(const std::string& roomId, std::function<void(core::Result<std::vector<std::string>>)> done);
  // The room ended: DEL.
  void drop(const std::string& roomId);

  std::string streamKey(const std::string& roomId) const { return prefix_ + "room:" + roomId + ":chat"; }
  // The most a stored message can take: the text JSON-escaped (at most doubled, since only
  // newline and tab among control characters pass validateText) plus the other fields, whose
  // names and identities are bounded by the protocol far below the allowance.
  size_t maxEntryBytes() const { return 2 * limits_.maxChatBytes + 2048; }

 private:
  RedisConnection& redis_;
  ChatLogLimits limits_;
  std::string prefix_;
};

}  // namespace roomcast::cluster
