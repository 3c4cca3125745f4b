#include "cluster/chat_log.h"

#include <glib.h>

#include <algorithm>
#include <utility>

#include "core/role.h"
#include "protocol/json.h"

namespace roomcast::cluster {

using core::Error;
using core::ErrorCode;

namespace {

constexpr int kMaxMessageDepth = 2;
const char kField[] = "message";

// Deletion: each entry's stream id is its message's id ("<id>-0"), so a deletion is one XDEL
// of a known id. That needs no id map (which a failover would lose with the node) and no
// tombstones for load() to filter; explicit ids must increase, and message ids do within a room
// (a Conversation seeded after a failover continues after the largest id it was given).
std::string entryId(uint64_t messageId) { return std::to_string(messageId) + "-0"; }

}  // namespace

std::string encodeChatMessage(const core::ChatMessage& m) {
  protocol::JsonWriter w;
  w.beginObject()
      .integer("message_id", static_cast<int64_t>(m.id))
      .str("identity", m.identity)
      .str("name", m.name)
      .str("text", m.text)
      .integer("sent_at_ms", m.sentAtMs)
      .str("role", core::roleName(m.role))
      .endObject();
  return w.finish();
}

core::Result<core::ChatMessage> decodeChatMessage(const std::string& json, size_t maxBytes) {
  auto root = protocol::parseObject(json, maxBytes, kMaxMessageDepth);
  if (!root) return root.error();
  protocol::FieldReader fields(json_node_get_object(root.value().get()));
  auto id = fields.requiredInt("message_id", 1, INT64_MAX);
  if (!id) return id.error();
  auto identity = fields.requiredString("identity", maxBytes);
  if (!identity) return identity.error();
  auto name = fields.requiredString("name", maxBytes);
  if (!name) return name.error();
  auto text = fields.requiredString("text", maxBytes);
  if (!text) return text.error();
  auto sentAt = fields.requiredInt("sent_at_ms", 0, INT64_MAX);
  if (!sentAt) return sentAt.error();
  auto role = fields.requiredString("role", 32);
  if (!role) return role.error();
  auto parsedRole = core::roleFromName(role.value());
  if (!parsedRole) return Error{ErrorCode::BadRequest, "a stored chat message has an unknown role"};
  return core::ChatMessage{static_cast<uint64_t>(id.value()), identity.value(), name.value(), text.value(),
                           sentAt.value(), *parsedRole};
}

ChatLog::ChatLog(RedisConnection& redis, ChatLogLimits limits, std::string prefix)
    : redis_(redis), limits_(limits), prefix_(std::move(prefix)) {}

void ChatLog::append(const std::string& roomId, uint64_t messageId, const std::string& messageJson) {
  redis_.command({"XADD", streamKey(roomId), "MAXLEN", "~", std::to_string(limits_.historyLength),
                  entryId(messageId), kField, messageJson},
                 [roomId, messageId](core::Result<RedisReply> reply) {
                   if (!reply || reply.value().isError())
                     g_warning("cluster: chat message %llu of room %s not kept in Redis: %s",
                               static_cast<unsigned long long>(messageId), roomId.c_str(),
                               reply ? reply.value().text.c_str() : reply.error().message.c_str());
                 });
}

void ChatLog::remove(const std::string& roomId, uint64_t messageId) {
  redis_.command({"XDEL", streamKey(roomId), entryId(messageId)}, [roomId](core::Result<RedisReply> reply) {
    if (!reply || reply.value().isError())
      g_warning("cluster: a chat deletion in room %s not kept in Redis: %s", roomId.c_str(),
                reply ? reply.value().text.c_str() : reply.error().message.c_str());
  });
}

void ChatLog::drop(const std::string& roomId) {
  redis_.command({"DEL", streamKey(roomId)}, [roomId](core::Result<RedisReply> reply) {
    if (!reply || reply.value().isError())
      g_warning("cluster: the chat of room %s left in Redis: %s", roomId.c_str(),
                reply ? reply.value().text.c_str() : reply.error().message.c_str());
  });
}

void ChatLog::load(const std::string& roomId, std::function<void(core::Result<std::vector<std::string>>)> done) {
  // MAXLEN ~ trims whole nodes only, so the stream may hold more than the history: the newest
  // historyLength, read newest first and turned around.
  const size_t maxBytes = maxEntryBytes();
  redis_.command({"XREVRANGE", streamKey(roomId), "+", "-", "COUNT", std::to_string(limits_.historyLength)},
                 [roomId, maxBytes, done = std::move(done)](core::Result<RedisReply> reply) {
                   if (!reply) return done(reply.error());
                   if (reply.value().isError())
                     return done(Error{ErrorCode::Internal, "Redis: " + reply.value().text});
                   std::vector<std::string> messages;
                   for (const RedisReply& entry : reply.value().elements) {
                     // [id, [field, value, ...]]: ours have exactly one field.
                     const bool ours = entry.elements.size() == 2 && entry.elements[1].elements.size() == 2 &&
                                       entry.elements[1].elements[0].text == kField &&
                                       entry.elements[1].elements[1].text.size() <= maxBytes;
                     if (!ours) {
                       g_warning("cluster: skipped a chat entry of room %s that is not a message", roomId.c_str());
                       continue;
                     }
                     messages.push_back(entry.elements[1].elements[1].text);
                   }
                   std::reverse(messages.begin(), messages.end());
                   done(std::move(messages));
                 });
}

}  // namespace roomcast::cluster
