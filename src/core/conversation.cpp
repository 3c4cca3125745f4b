#include "core/conversation.h"

#include <algorithm>

#include "core/permissions.h"

namespace roomcast::core {

const std::vector<std::string>& reactionNames() {
  static const std::vector<std::string> names{"clap", "heart", "laugh", "fire", "hundred", "thumbs-up", "party",
                                              "raised-hands"};
  return names;
}

Status validateText(const std::string& text, size_t maxBytes, const char* what) {
  if (text.size() > maxBytes)
    return Error{ErrorCode::TooLarge, std::string(what) + " is limited to " + std::to_string(maxBytes) + " bytes"};
  if (!isValidUtf8(text)) return Error{ErrorCode::InvalidUtf8, std::string(what) + " must be UTF-8"};
  bool visible = false;
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
      return Error{ErrorCode::ValidationFailed, std::string(what) + " must not contain control characters"};
    if (c != ' ' && c != '\n' && c != '\t') visible = true;
  }
  if (!visible) return Error{ErrorCode::ValidationFailed, std::string(what) + " must not be empty"};
  return Ok{};
}

Conversation::Conversation(RoomManager& rooms, RoomEventSink& events, ConversationEnvironment env,
                           ConversationLimits limits)
    : rooms_(rooms), events_(events), env_(std::move(env)), limits_(limits) {}

Conversation::~Conversation() {
  for (auto& [id, state] : rooms_state_)
    if (state.flushTimer && env_.cancel) env_.cancel(state.flushTimer);
}

Result<const Participant*> Conversation::member(const std::string& roomId, const std::string& identity) const {
  const Room* room = rooms_.find(roomId);
  if (!room) return Error{ErrorCode::NotFound, "no live room with id '" + roomId + "'"};
  auto it = room->participants.find(identity);
  if (it == room->participants.end()) return Error{ErrorCode::Conflict, "join the room first"};
  return &it->second;
}

Status Conversation::chat(const std::string& roomId, const std::string& identity, const std::string& text) {
  auto who = member(roomId, identity);
  if (!who) return who.error();
  if (!permits(who.value()->role, Action::Chat)) return Error{ErrorCode::Forbidden, "you may not chat here"};
  if (auto valid = validateText(text, limits_.maxChatBytes, "a chat message"); !valid) return valid;
  RoomState& state = rooms_state_[roomId];
  ChatMessage message{state.nextMessageId++, identity, who.value()->name, text, env_.nowUnixMs(), who.value()->role};
  if (env_.chatPosted) env_.chatPosted(roomId, message);
  state.recent.push_back(message);
  while (state.recent.size() > limits_.historyLength) state.recent.pop_front();
  events_.broadcast(roomId, ChatPosted{std::move(message)});
  return Ok{};
}

Status Conversation::deleteMessage(const std::string& roomId, const Actor& actor, uint64_t messageId) {
  if (!rooms_.find(roomId)) return Error{ErrorCode::NotFound, "no live room with id '" + roomId + "'"};
  if (!permits(actor.role, Action::DeleteMessage))
    return Error{ErrorCode::Forbidden, "only the host and co-hosts delete messages"};
  RoomState& state = rooms_state_[roomId];
  if (messageId == 0 || messageId >= state.nextMessageId)
    return Error{ErrorCode::NotFound, "no message " + std::to_string(messageId) + " in this room"};
  for (auto it = state.recent.begin(); it != state.recent.end(); ++it) {
    if (it->id == messageId) {
      state.recent.erase(it);
      break;
    }
  }
  if (env_.chatDeleted) env_.chatDeleted(roomId, messageId, env_.nowUnixMs());
  events_.broadcast(roomId, ChatDeleted{messageId, actor.identity});
  return Ok{};
}

Status Conversation::react(const std::string& roomId, const std::string& identity, const std::string& reaction) {
  auto who = member(roomId, identity);
  if (!who) return who.error();
  if (!permits(who.value()->role, Action::React)) return Error{ErrorCode::Forbidden, "you may not react here"};
  const auto& names = reactionNames();
  if (std::find(names.begin(), names.end(), reaction) == names.end())
    return Error{ErrorCode::ValidationFailed, "unknown reaction '" + reaction.substr(0, 32) + "'"};
  RoomState& state = rooms_state_[roomId];
  state.pendingReactions[reaction]++;
  // One message per window for the whole room, however many react: the first reaction of a
  // window arms the timer; nothing ticks while nobody reacts.
  if (!state.flushTimer && env_.schedule)
    state.flushTimer = env_.schedule(limits_.reactionWindowMs, [this, roomId] { flushReactions(roomId); });
  return Ok{};
}

void Conversation::flushReactions(const std::string& roomId) {
  auto it = rooms_state_.find(roomId);
  if (it == rooms_state_.end()) return;
  it->second.flushTimer = 0;
  Reactions totals;
  for (const auto& [name, count] : it->second.pendingReactions) totals.counts.emplace_back(name, count);
  it->second.pendingReactions.clear();
  if (!totals.counts.empty() && rooms_.find(roomId)) events_.broadcast(roomId, totals);
}

Status Conversation::report(const std::string& roomId, const std::string& identity, const std::string& targetIdentity,
                            uint64_t messageId, const std::string& reason) {
  auto who = member(roomId, identity);
  if (!who) return who.error();
  if (!permits(who.value()->role, Action::Report)) return Error{ErrorCode::Forbidden, "you may not report here"};
  if (auto valid = validateText(reason, limits_.maxReasonBytes, "a report's reason"); !valid) return valid;
  if ((messageId == 0) == targetIdentity.empty())
    return Error{ErrorCode::BadRequest, "report either a participant (identity) or a message (message_id)"};
  Report entry;
  entry.roomId = roomId;
  entry.reporter = identity;
  entry.reason = reason;
  entry.createdAtMs = env_.nowUnixMs();
  if (messageId) {
    const RoomState& state = rooms_state_[roomId];
    const ChatMessage* found = nullptr;
    for (const auto& m : state.recent)
      if (m.id == messageId) found = &m;
    if (!found) return Error{ErrorCode::NotFound, "no recent message " + std::to_string(messageId) + " in this room"};
    entry.messageId = messageId;
    entry.targetIdentity = found->identity;
    entry.messageText = found->text;
  } else {
    const Room* room = rooms_.find(roomId);
    if (!room->participants.count(targetIdentity))
      return Error{ErrorCode::NotFound, "no participant '" + targetIdentity.substr(0, 128) + "' in this room"};
    if (targetIdentity == identity) return Error{ErrorCode::Conflict, "you cannot report yourself"};
    entry.targetIdentity = targetIdentity;
  }
  // Evidence even when the room is not recorded: what the room heard in the last minutes.
  if (env_.keepEvidence) entry.evidencePath = env_.keepEvidence(roomId, "report");
  entry.id = env_.reportFiled ? env_.reportFiled(entry) : nextReportId_++;
  const Room* room = rooms_.find(roomId);
  for (const auto& [id, p] : room->participants)
    if (permits(p.role, Action::ReadReports)) events_.sendTo(roomId, id, ReportFiled{entry});
  return Ok{};
}

void Conversation::seedHistory(const std::string& roomId, std::vector<ChatMessage> messages) {
  RoomState& state = rooms_state_[roomId];
  if (messages.size() > limits_.historyLength)
    messages.erase(messages.begin(), messages.end() - static_cast<std::ptrdiff_t>(limits_.historyLength));
  state.recent.assign(messages.begin(), messages.end());
  for (const ChatMessage& m : state.recent) state.nextMessageId = std::max(state.nextMessageId, m.id + 1);
}

std::vector<ChatMessage> Conversation::history(const std::string& roomId) const {
  auto it = rooms_state_.find(roomId);
  if (it == rooms_state_.end()) return {};
  return {it->second.recent.begin(), it->second.recent.end()};
}

void Conversation::forgetRoom(const std::string& roomId) {
  auto it = rooms_state_.find(roomId);
  if (it == rooms_state_.end()) return;
  if (it->second.flushTimer && env_.cancel) env_.cancel(it->second.flushTimer);
  rooms_state_.erase(it);
}

}  // namespace roomcast::core
