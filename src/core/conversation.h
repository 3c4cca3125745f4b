// Around the audio: chat, reactions and reports of the live rooms. Plain C++ on the control
// thread, beside RoomManager (which it asks who is in a room and with what role). Messages
// are validated here, permissions come from core/permissions.h, storage and timers from the
// environment, so tests pin them.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/events.h"
#include "core/result.h"
#include "core/room_manager.h"

namespace roomcast::core {

struct ConversationLimits {
  size_t maxChatBytes = 500;
  size_t historyLength = 50;        // what a late joiner gets
  size_t maxReasonBytes = 300;
  unsigned reactionWindowMs = 200;  // reactions are summed over this window, then sent once
};

struct ConversationEnvironment {
  std::function<int64_t()> nowUnixMs;
  std::function<uint64_t(unsigned ms, std::function<void()>)> schedule;  // one-shot
  std::function<void(uint64_t)> cancel;
  // Storage (optional): SQLite in roomcastd.
  std::function<void(const std::string& roomId, const ChatMessage&)> chatPosted;
  std::function<void(const std::string& roomId, uint64_t id, int64_t atMs)> chatDeleted;
  std::function<uint64_t(const Report&)> reportFiled;  // returns the report's id
  // Keeps the room's last minutes of audio (a report's evidence); returns the file or "".
  std::function<std::string(const std::string& roomId, const std::string& label)> keepEvidence;
};

// The fixed reaction set (names on the wire; clients draw them).
const std::vector<std::string>& reactionNames();

class Conversation {
 public:
  Conversation(RoomManager& rooms, RoomEventSink& events, ConversationEnvironment env,
               ConversationLimits limits = {});
  ~Conversation();
  Conversation(const Conversation&) = delete;
  Conversation& operator=(const Conversation&) = delete;

  Status chat(const std::string& roomId, const std::string& identity, const std::string& text);
  Status deleteMessage(const std::string& roomId, const Actor& actor, uint64_t messageId);
  Status react(const std::string& roomId, const std::string& identity, const std::string& reaction);
  // Reports a participant (by identity) or a chat message (by id, then its author).
  Status report(const std::string& roomId, const std::string& identity, const std::string& targetIdentity,
                uint64_t messageId, const std::string& reason);

  // A room reopened here after its node died (failover): its chat history as the old owner kept
  // it (cluster::ChatLog), oldest first. Replaces what the room has; at most historyLength are
  // kept (the newest); new messages are numbered after the largest seeded id, so ids stay unique
  // and increasing across the move (the chat log's entry ids rely on it).
  void seedHistory(const std::string& roomId, std::vector<ChatMessage> messages);
  // The recent chat, oldest first (what a late joiner is sent).
  std::vector<ChatMessage> history(const std::string& roomId) const;
  // The room is gone: drop its state and pending timers.
  void forgetRoom(const std::string& roomId);
  const ConversationLimits& limits() const { return limits_; }

 private:
  struct RoomState {
    std::deque<ChatMessage> recent;
    uint64_t nextMessageId = 1;
    std::map<std::string, uint32_t> pendingReactions;
    uint64_t flushTimer = 0;
  };
  Result<const Participant*> member(const std::string& roomId, const std::string& identity) const;
  void flushReactions(const std::string& roomId);

  RoomManager& rooms_;
  RoomEventSink& events_;
  ConversationEnvironment env_;
  ConversationLimits limits_;
  std::map<std::string, RoomState> rooms_state_;
  uint64_t nextReportId_ = 1;
};

// Chat text and report reasons: UTF-8, no control characters other than newline and tab,
// something other than spaces, within `maxBytes`.
Status validateText(const std::string& text, size_t maxBytes, const char* what);

}  // namespace roomcast::core
