#include "cluster/archive_log.h"

#include <glib.h>

#include <utility>

#include "protocol/json.h"

namespace roomcast::cluster {

using core::ArchiveFact;
using core::Error;
using core::ErrorCode;

namespace {

constexpr int kMaxFactDepth = 2;
const char kField[] = "fact";

const char* kindName(ArchiveFact::Kind kind) {
  switch (kind) {
    case ArchiveFact::Kind::Recording: return "recording";
    case ArchiveFact::Kind::RecordingDeleted: return "recording-deleted";
    case ArchiveFact::Kind::Transcript: return "transcript";
  }
  return "recording";
}

void warnFailed(const char* what, const core::Result<RedisReply>& reply) {
  g_warning("cluster: %s: %s", what, reply ? reply.value().text.c_str() : reply.error().message.c_str());
}

}  // namespace

std::string encodeArchiveFact(const ArchiveFact& f) {
  protocol::JsonWriter w;
  w.beginObject().str("kind", kindName(f.kind)).str("id", f.id).str("from", f.from);
  if (f.kind == ArchiveFact::Kind::Recording) {
    const auto& r = f.recording;
    w.str("node", r.node).str("room", r.roomId).str("title", r.title).str("path", r.path).str("session", r.session)
        .integer("started_at_ms", r.startedAtMs).integer("ended_at_ms", r.endedAtMs)
        .number("duration_s", r.durationSeconds).str("status", r.status).str("note", r.note)
        .str("storage_url", r.storageUrl).str("upload_error", r.uploadError).integer("revision", r.revision);
  } else if (f.kind == ArchiveFact::Kind::Transcript) {
    w.str("room", f.roomId).str("identity", f.identity).str("name", f.name).str("text", f.text)
        .integer("start_ms", f.startMs).integer("end_ms", f.endMs);
  }
  return w.endObject().finish();
}

core::Result<ArchiveFact> decodeArchiveFact(const std::string& json, size_t maxBytes) {
  auto root = protocol::parseObject(json, maxBytes, kMaxFactDepth);
  if (!root) return root.error();
  protocol::FieldReader fields(json_node_get_object(root.value().get()));
  ArchiveFact f;
  // Every string of a fact is bounded by the fact's own bound; the numbers are times in ms.
  auto text = [&](const char* name, std::string& out) -> core::Status {
    auto value = fields.requiredString(name, maxBytes);
    if (!value) return value.error();
    out = std::move(value.value());
    return core::Ok{};
  };
  auto number = [&](const char* name, int64_t& out) -> core::Status {
    auto value = fields.requiredInt(name, 0, INT64_MAX);
    if (!value) return value.error();
    out = value.value();
    return core::Ok{};
  };
  std::string kind;
  for (auto [name, out] : {std::pair{"kind", &kind}, {"id", &f.id}, {"from", &f.from}})
    if (auto s = text(name, *out); !s) return s.error();
  if (f.id.empty() || f.id.size() > 128) return Error{ErrorCode::BadRequest, "an archive fact needs an id of 1-128 bytes"};
  if (kind == "recording-deleted") {
    f.kind = ArchiveFact::Kind::RecordingDeleted;
  } else if (kind == "transcript") {
    f.kind = ArchiveFact::Kind::Transcript;
    for (auto [name, out] : {std::pair{"room", &f.roomId}, {"identity", &f.identity}, {"name", &f.name}, {"text", &f.text}})
      if (auto s = text(name, *out); !s) return s.error();
    for (auto [name, out] : {std::pair{"start_ms", &f.startMs}, {"end_ms", &f.endMs}})
      if (auto s = number(name, *out); !s) return s.error();
  } else if (kind == "recording") {
    auto& r = f.recording;
    r.archiveId = f.id;
    for (auto [name, out] : {std::pair{"node", &r.node}, {"room", &r.roomId}, {"title", &r.title}, {"path", &r.path},
                             {"session", &r.session}, {"status", &r.status}, {"note", &r.note},
                             {"storage_url", &r.storageUrl}, {"upload_error", &r.uploadError}})
      if (auto s = text(name, *out); !s) return s.error();
    for (auto [name, out] : {std::pair{"started_at_ms", &r.startedAtMs}, {"ended_at_ms", &r.endedAtMs},
                             {"revision", &r.revision}})
      if (auto s = number(name, *out); !s) return s.error();
    // The length as the holder measured it, to the last bit (every node lists the same number).
    JsonNode* duration = json_object_get_member(json_node_get_object(root.value().get()), "duration_s");
    const GType type = duration && JSON_NODE_HOLDS_VALUE(duration) ? json_node_get_value_type(duration) : G_TYPE_INVALID;
    if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64)
      return Error{ErrorCode::BadRequest, "a recording fact needs duration_s, a number"};
    r.durationSeconds = json_node_get_double(duration);
    if (!(r.durationSeconds >= 0 && r.durationSeconds < 1e9))
      return Error{ErrorCode::BadRequest, "a recording fact's duration_s is out of range"};
    if (r.roomId.empty() || r.path.empty() || r.status.empty())
      return Error{ErrorCode::BadRequest, "a recording fact needs a room, a path and a status"};
  } else {
    return Error{ErrorCode::BadRequest, "unknown archive fact kind"};
  }
  return f;
}

ArchiveLog::ArchiveLog(RedisConnection& redis, GMainContext* context, ArchiveLogLimits limits, std::string key)
    : redis_(redis), context_(context), limits_(limits), key_(std::move(key)) {
  tick_ = glib_support::Source::timeout(context_, limits_.pollMs, onTick, this);
}

gboolean ArchiveLog::onTick(gpointer self) {
  auto* log = static_cast<ArchiveLog*>(self);
  log->pump();
  log->read();
  return G_SOURCE_CONTINUE;
}

void ArchiveLog::append(const ArchiveFact& fact) {
  std::string encoded = encodeArchiveFact(fact);
  if (encoded.size() > limits_.maxFactBytes) {
    g_warning("cluster: archive fact %s is %zu bytes (over %zu); not shared", fact.id.c_str(), encoded.size(),
              limits_.maxFactBytes);
    return;
  }
  if (queue_.size() >= limits_.maxQueued) {
    g_warning("cluster: %zu archive facts wait for Redis already; %s dropped", queue_.size(), fact.id.c_str());
    return;
  }
  queue_.push_back(std::move(encoded));
  pump();
}

// One XADD at a time keeps the log in the order the facts were made (a recording's stop after
// its start) across failures; a fact whose reply was lost may be appended twice, which the
// readers' idempotent apply absorbs.
void ArchiveLog::pump() {
  if (appending_ || queue_.empty() || !redis_.up()) return;
  appending_ = true;
  redis_.command({"XADD", key_, "*", kField, queue_.front()}, [this](core::Result<RedisReply> reply) {
    appending_ = false;
    if (!reply || reply.value().isError()) {
      warnFailed("an archive fact waits for Redis", reply);
      return;  // the next tick sends it again
    }
    queue_.pop_front();
    pump();
  });
}

void ArchiveLog::startReading(std::string fromId, Apply apply) {
  lastId_ = fromId.empty() ? "0" : std::move(fromId);
  apply_ = std::move(apply);
  read();
}

void ArchiveLog::read() {
  if (!apply_ || reading_ || !redis_.up()) return;
  reading_ = true;
  redis_.command({"XREAD", "COUNT", std::to_string(limits_.readBatch), "STREAMS", key_, lastId_},
                 [this](core::Result<RedisReply> reply) {
                   reading_ = false;
                   if (!reply || reply.value().isError()) return warnFailed("reading the archive log", reply);
                   received(reply.value());
                 });
}

void ArchiveLog::received(const RedisReply& reply) {
  // Nil: nothing new. Else [[key, [[id, [field, value, ...]], ...]]].
  if (reply.isNil() || reply.elements.empty() || reply.elements[0].elements.size() != 2) return;
  const auto& entries = reply.elements[0].elements[1].elements;
  if (entries.empty()) return;
  std::vector<ArchiveFact> facts;
  std::string last;
  for (const RedisReply& entry : entries) {
    if (entry.elements.size() != 2) continue;
    last = entry.elements[0].text;
    const auto& kv = entry.elements[1].elements;
    const bool ours = kv.size() == 2 && kv[0].text == kField && kv[1].text.size() <= limits_.maxFactBytes;
    auto fact = ours ? decodeArchiveFact(kv[1].text, limits_.maxFactBytes)
                     : core::Result<ArchiveFact>(Error{ErrorCode::BadRequest, "not an archive fact"});
    if (!fact) {
      g_warning("cluster: archive log entry %s skipped: %s", last.c_str(), fact.error().message.c_str());
      continue;
    }
    facts.push_back(std::move(fact.value()));
  }
  if (last.empty() || !apply_(facts, last)) return;  // not applied: the same batch again at the next tick
  lastId_ = last;
  if (entries.size() >= limits_.readBatch) read();  // more behind it: catch up without waiting
}

}  // namespace roomcast::cluster
