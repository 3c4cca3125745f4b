#include <algorithm>
#include "protocol/messages.h"

#include "core/permissions.h"

#include "protocol/json.h"
#include "protocol/message_table.h"
#include "protocol/bounds.h"

namespace roomcast::protocol {

using core::Error;
using core::ErrorCode;

namespace {

// The body by the message table: its row for `type`, its fields checked in the row's order.
core::Result<ClientBody> decodeBody(const std::string& type, const FieldReader& fields) {
  const ClientMessageSpec* spec = findClientMessage(type);
  if (!spec) return Error{ErrorCode::UnknownType, "unknown message type '" + type + "'"};
  auto values = readFields(*spec, fields);
  if (!values) return values.error();
  return spec->build(spec->type, values.value());
}

void writeParticipant(JsonWriter& w, const core::Participant& p) {
  w.beginObject()
      .str("identity", p.identity)
      .str("name", p.name)
      .str("role", core::roleName(p.role))
      .boolean("muted", p.serverMuted || p.selfMuted)
      .boolean("recording_opt_out", p.recordingOptOut)
      .boolean("reconnecting", p.presence == core::Presence::Reconnecting)
      .integer("slot", static_cast<int64_t>(p.joinOrder))
      .endObject();
}

void writeChatFields(JsonWriter& w, const core::ChatMessage& m) {
  w.integer("message_id", static_cast<int64_t>(m.id))
      .str("identity", m.identity)
      .str("name", m.name)
      .str("text", m.text)
      .integer("sent_at_ms", m.sentAtMs)
      .str("role", core::roleName(m.role));
}

void writeReport(JsonWriter& w, const core::Report& r) {
  w.beginObject()
      .integer("id", static_cast<int64_t>(r.id))
      .str("room", r.roomId)
      .str("reporter", r.reporter)
      .str("identity", r.targetIdentity);
  if (r.messageId) w.integer("message_id", static_cast<int64_t>(r.messageId)).str("message_text", r.messageText);
  w.str("reason", r.reason).integer("created_at_ms", r.createdAtMs);
  if (!r.evidencePath.empty()) w.str("evidence", r.evidencePath);
  w.endObject();
}

void writeErrorObject(JsonWriter& w, const core::Error& error) {
  w.beginObject()
      .str("code", core::errorCodeName(error.code))
      .str("message", error.message)
      .endObject();
}

}  // namespace

core::Result<ClientMessage> decodeClientMessage(std::string_view text, std::string* refOut) {
  auto root = parseObject(text, kMaxMessageBytes, kMaxJsonDepth);
  if (!root) return root.error();
  FieldReader fields(json_node_get_object(root.value().get()));

  auto ref = fields.optionalString("id", kMaxRefBytes);
  if (!ref) return ref.error();
  if (refOut && ref.value()) *refOut = *ref.value();

  auto type = fields.requiredString("type", kMaxTypeBytes);
  if (!type) return type.error();
  auto body = decodeBody(type.value(), fields);
  if (!body) return body.error();
  return ClientMessage{ref.value(), std::move(body.value())};
}

std::string encodeReports(const std::vector<core::Report>& reports) {
  JsonWriter w;
  w.beginObject().beginArray("reports");
  for (const auto& r : reports) writeReport(w, r);
  w.endArray();
  return w.endObject().finish();
}

namespace {
std::string fileName(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
void writeRecording(JsonWriter& w, const core::RecordingRow& r, const std::string& urlBase,
                    const RecordingUrlQuery& urlQuery) {
  w.beginObject()
      .integer("id", r.id)
      .str("room", r.roomId)
      .str("title", r.title)
      .integer("started_at_ms", r.startedAtMs);
  if (r.endedAtMs) w.integer("ended_at_ms", r.endedAtMs);
  else w.null("ended_at_ms");
  w.number("duration_s", r.durationSeconds).str("status", r.status);
  if (!r.note.empty()) w.str("note", r.note);
  // Played from here while the data dir has it (or, on a cluster, from here by a 307 to the node
  // that has it), else from where it was uploaded.
  if (r.localFile || (!r.node.empty() && r.storageUrl.empty()))
    w.str("url", urlBase + "/recordings/" + fileName(r.path) + (urlQuery ? urlQuery(fileName(r.path)) : std::string()));
  else if (!r.storageUrl.empty()) w.str("url", r.storageUrl);
  else w.null("url");
  w.key("storage").beginObject();
  if (r.localFile) w.str("local", r.path);
  else w.null("local");
  if (!r.node.empty()) w.str("node", r.node);  // another node of the cluster holds the file
  if (!r.storageUrl.empty()) w.str("s3", r.storageUrl);
  if (!r.uploadError.empty()) w.str("upload_error", r.uploadError);
  w.endObject();
  w.beginArray("speakers");
  for (const auto& name : r.speakers) w.str(nullptr, name);
  w.endArray();
  // One session is one room's life; a failover continues it in a new part.
  w.str("archive_id", r.archiveId).str("session", r.session).integer("part", r.part).integer("parts", r.parts);
  w.endObject();
}
}  // namespace

std::string encodeRecordings(const std::vector<core::RecordingRow>& rows, const std::string& urlBase,
                             const RecordingUrlQuery& urlQuery) {
  JsonWriter w;
  w.beginObject().beginArray("recordings");
  for (const auto& r : rows) writeRecording(w, r, urlBase, urlQuery);
  w.endArray();
  return w.endObject().finish();
}

std::string encodeSearch(const std::string& query, const std::vector<core::TranscriptHit>& hits,
                         const std::string& urlBase, const RecordingUrlQuery& urlQuery) {
  JsonWriter w;
  w.beginObject().str("query", query).beginArray("hits");
  for (const auto& h : hits) {
    w.beginObject().str("speaker", h.speaker).str("snippet", h.snippet).number("offset_s", h.offsetSeconds);
    w.key("recording");
    writeRecording(w, h.recording, urlBase, urlQuery);
    w.endObject();
  }
  w.endArray();
  return w.endObject().finish();
}

std::string encodeRtpAnswer(const std::string& host, int port) {
  JsonWriter w;
  w.beginObject().str("type", "rtp-answer").str("host", host).integer("port", port).endObject();
  return w.finish();
}

std::string encodeWelcome(const core::Room& room, const core::Participant& you,
                          const std::vector<IceServer>& iceServers) {
  JsonWriter w;
  w.beginObject().str("type", "welcome").integer("version", kVersion);
  w.key("room").beginObject()
      .str("id", room.info.id)
      .str("title", room.info.title)
      .str("topic", room.info.topic)
      .boolean("record", room.info.record)
      .boolean("recording", room.recording)
      .integer("listener_count", static_cast<int64_t>(room.hlsListeners))
      .integer("connected_listeners", room.listenerCount())
      .endObject();
  w.key("you");
  writeParticipant(w, you);
  w.str("resume_token", you.resumeToken);
  // The stage and the raised hands; listeners are counted, not listed (a room may have
  // thousands, and every join would carry them all).
  w.beginArray("participants");
  for (const auto& [id, p] : room.participants)
    if (p.mayHaveMedia() || p.identity == you.identity) writeParticipant(w, p);
  w.endArray();
  w.beginArray("active_speakers");
  for (const auto& identity : room.activeSpeakers) w.str(nullptr, identity);
  w.endArray();
  // The hand queue, oldest first, for the people who run the stage.
  if (core::permits(you.role, core::Action::SeeHands)) {
    w.beginArray("hands");
    for (const core::Participant* p : room.handQueue())
      w.beginObject().str("identity", p->identity).str("name", p->name).endObject();
    w.endArray();
  }
  // Where to relay media from behind a NAT or a UDP-blocking firewall; always present (empty
  // without [turn]), so clients need no second code path.
  w.beginArray("ice_servers");
  for (const IceServer& server : iceServers) {
    w.beginObject().beginArray("urls");
    for (const auto& url : server.urls) w.str(nullptr, url);
    w.endArray().str("username", server.username).str("credential", server.credential).endObject();
  }
  w.endArray();
  return w.endObject().finish();
}

std::string encodeEvent(const core::Event& event) {
  JsonWriter w;
  w.beginObject();
  std::visit(
      [&w](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, core::ParticipantJoined>) {
          w.str("type", "participant-joined").key("participant");
          writeParticipant(w, e.participant);
        } else if constexpr (std::is_same_v<T, core::ParticipantLeft>) {
          w.str("type", "participant-left").str("identity", e.identity).str("reason", e.reason);
        } else if constexpr (std::is_same_v<T, core::SdpAnswer>) {
          w.str("type", "answer").str("sdp", e.sdp);
        } else if constexpr (std::is_same_v<T, core::IceCandidate>) {
          w.str("type", "candidate").str("candidate", e.candidate).integer("sdpMLineIndex", e.mlineIndex);
        } else if constexpr (std::is_same_v<T, core::RoomEnded>) {
          w.str("type", "room-ended").str("reason", e.reason);
        } else if constexpr (std::is_same_v<T, core::ErrorEvent>) {
          w.str("type", "error").key("error");
          writeErrorObject(w, e.error);
        } else if constexpr (std::is_same_v<T, core::HandChanged>) {
          w.str("type", e.raised ? "hand-raised" : "hand-lowered").str("identity", e.identity).str("name", e.name);
        } else if constexpr (std::is_same_v<T, core::RoleChanged>) {
          w.str("type", "role-changed").str("identity", e.identity).str("role", core::roleName(e.role));
          if (!e.participant.identity.empty()) {
            w.key("participant");
            writeParticipant(w, e.participant);
          }
        } else if constexpr (std::is_same_v<T, core::Invited>) {
          w.str("type", "invited").str("by", e.by);
        } else if constexpr (std::is_same_v<T, core::InviteAnswered>) {
          w.str("type", "invite-answered").str("identity", e.identity).boolean("accepted", e.accepted);
        } else if constexpr (std::is_same_v<T, core::MuteChanged>) {
          w.str("type", "mute-changed").str("identity", e.identity).boolean("muted", e.muted)
              .str("by", e.byHost ? "host" : "self");
        } else if constexpr (std::is_same_v<T, core::Removed>) {
          w.str("type", "removed").str("reason", e.reason);
        } else if constexpr (std::is_same_v<T, core::PresenceChanged>) {
          w.str("type", e.reconnecting ? "reconnecting" : "reconnected").str("identity", e.identity);
        } else if constexpr (std::is_same_v<T, core::ChatPosted>) {
          w.str("type", "chat");
          writeChatFields(w, e.message);
        } else if constexpr (std::is_same_v<T, core::ChatHistory>) {
          w.str("type", "chat-history").beginArray("messages");
          for (const auto& m : e.messages) {
            w.beginObject();
            writeChatFields(w, m);
            w.endObject();
          }
          w.endArray();
        } else if constexpr (std::is_same_v<T, core::ChatDeleted>) {
          w.str("type", "chat-deleted").integer("message_id", static_cast<int64_t>(e.id)).str("by", e.by);
        } else if constexpr (std::is_same_v<T, core::Reactions>) {
          w.str("type", "reactions").key("counts").beginObject();
          for (const auto& [name, count] : e.counts) w.integer(name.c_str(), count);
          w.endObject();
        } else if constexpr (std::is_same_v<T, core::ReportFiled>) {
          w.str("type", "report").key("report");
          writeReport(w, e.report);
        } else if constexpr (std::is_same_v<T, core::RecordingChanged>) {
          w.str("type", "recording").boolean("active", e.active);
          if (!e.reason.empty()) w.str("reason", e.reason);
        } else if constexpr (std::is_same_v<T, core::RecordingNotice>) {
          w.str("type", "recording-notice").boolean("recording", e.recording);
        } else if constexpr (std::is_same_v<T, core::RecordingOptOutChanged>) {
          w.str("type", "recording-opt-out").str("identity", e.identity).boolean("opt_out", e.optedOut);
        } else if constexpr (std::is_same_v<T, core::ModerationAlert>) {
          w.str("type", "moderation")
              .str("identity", e.identity)
              .str("name", e.name)
              .str("category", e.category)
              .str("severity", e.severity)
              .str("action", e.action)
              .str("snippet", e.snippet)
              .integer("span_start_ms", e.spanStartMs)
              .integer("span_end_ms", e.spanEndMs);
          if (!e.evidencePath.empty()) w.str("evidence", e.evidencePath);
        } else if constexpr (std::is_same_v<T, core::ListenerCount>) {
          w.str("type", "listener-count").integer("count", static_cast<int64_t>(e.count));
        } else if constexpr (std::is_same_v<T, core::ActiveSpeakers>) {
          w.str("type", "active-speakers").beginArray("identities");
          for (const auto& id : e.identities) w.str(nullptr, id);
          w.endArray();
        }
      },
      event);
  return w.endObject().finish();
}

std::string encodeError(const core::Error& error, const std::optional<std::string>& ref) {
  JsonWriter w;
  w.beginObject().str("type", "error");
  if (ref) w.str("ref", *ref);
  w.key("error");
  writeErrorObject(w, error);
  return w.endObject().finish();
}

std::string encodePong() { return R"({"type":"pong"})"; }

static void writeRoomFields(JsonWriter& w, const core::RoomInfo& info, const RoomUrls& urls) {
  w.str("id", info.id)
      .str("title", info.title)
      .str("topic", info.topic)
      .boolean("record", info.record)
      .integer("created_at_ms", info.createdAtUnixMs)
      .str("ws_url", urls.ws)
      .str("hls_url", urls.hls);
  if (!urls.node.empty()) w.str("node", urls.node);
}

std::string encodeRoom(const core::Room& room, const RoomUrls& urls) {
  JsonWriter w;
  w.beginObject();
  writeRoomFields(w, room.info, urls);
  // listener_count: people hearing the room over HLS (listening sessions); connected_listeners:
  // listeners with a WebSocket (chat, hands), most of whom also listen.
  w.integer("speaker_count", room.speakerCount())
      .integer("listener_count", static_cast<int64_t>(room.hlsListeners))
      .integer("connected_listeners", room.listenerCount());
  // Who is on stage, in stage order: what a list of live rooms shows.
  std::vector<const core::Participant*> stage;
  for (const auto& [identity, p] : room.participants)
    if (core::isOnStage(p.role)) stage.push_back(&p);
  std::sort(stage.begin(), stage.end(), [](auto* a, auto* b) { return a->joinOrder < b->joinOrder; });
  w.beginArray("speakers");
  for (const core::Participant* p : stage)
    w.beginObject().str("name", p->name).str("role", std::string(core::roleName(p->role))).endObject();
  w.endArray();
  return w.endObject().finish();
}

std::string encodeCreatedRoom(const core::RoomInfo& info, const std::string& hostToken, const RoomUrls& urls) {
  JsonWriter w;
  w.beginObject();
  writeRoomFields(w, info, urls);
  w.str("host_token", hostToken);
  return w.endObject().finish();
}

std::string encodeRestError(const core::Error& error) {
  JsonWriter w;
  w.beginObject().key("error");
  writeErrorObject(w, error);
  return w.endObject().finish();
}

}  // namespace roomcast::protocol
