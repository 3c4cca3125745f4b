#include "protocol/message_table.h"

#include <algorithm>
#include <array>

#include "core/conversation.h"
#include "core/media_backend.h"
#include "protocol/bounds.h"
#include "protocol/json.h"

namespace roomcast::protocol {

using core::Error;
using core::ErrorCode;

namespace {

// The index of Body among ClientBody's alternatives.
template <typename Body, size_t I = 0>
constexpr size_t alternativeOf() {
  if constexpr (std::is_same_v<Body, std::variant_alternative_t<I, ClientBody>>) return I;
  else return alternativeOf<Body, I + 1>();
}

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();

// Field shapes that several messages share.
constexpr FieldSpec kTargetIdentity[] = {{.name = "identity", .maxBytes = 128}};

constexpr FieldSpec kHelloFields[] = {
    {.name = "version", .kind = FieldKind::Integer, .exactly = kVersion, .mismatch = ErrorCode::UnsupportedVersion,
     .mismatchMessage = "this server speaks protocol version 1"},
    {.name = "token", .maxBytes = kMaxTokenBytes},
    {.name = "resume", .required = false, .maxBytes = 128},
};
static_assert(kVersion == 1, "hello's mismatch message names the version");
constexpr FieldSpec kOfferFields[] = {{.name = "sdp",
                                       .maxBytes = kMaxSdpBytes,
                                       .maxCount = core::kMaxOfferCandidates,
                                       .counted = "ICE candidates in it",
                                       .note = "exactly one audio m-line, with Opus"}};
constexpr FieldSpec kCandidateFields[] = {
    {.name = "candidate", .maxBytes = kMaxCandidateBytes, .maxCount = kMaxTrickledCandidates,
     .counted = "trickled per offer", .note = "empty: the end of the list"},
    {.name = "sdpMLineIndex", .kind = FieldKind::Integer, .min = 0, .max = kMaxMlineIndex},
};
constexpr FieldSpec kRtpOfferFields[] = {
    {.name = "host", .maxBytes = 64, .note = "an IP address"},
    {.name = "port", .kind = FieldKind::Integer, .min = 1, .max = 65535},
    {.name = "payload_type", .kind = FieldKind::Integer, .min = 96, .max = 127},
};
// Chat text and report reasons are limited by the room (Conversation, with its own error
// message); the decoder's bound only keeps what reaches the room sane.
constexpr core::ConversationLimits kRoomLimits{};
constexpr std::string_view kRoomText = "UTF-8, not blank, no control characters but newline and tab";
constexpr FieldSpec kChatFields[] = {
    {.name = "text", .maxBytes = 4096, .roomMaxBytes = kRoomLimits.maxChatBytes, .note = kRoomText}};
constexpr FieldSpec kDeleteMessageFields[] = {
    {.name = "message_id", .kind = FieldKind::Integer, .min = 1, .max = kMaxInt}};
constexpr FieldSpec kReactFields[] = {{.name = "reaction", .maxBytes = 32, .oneOf = core::reactionNames}};
constexpr FieldSpec kReportFields[] = {
    {.name = "identity", .required = false, .maxBytes = 128},
    {.name = "message_id", .kind = FieldKind::Integer, .required = false, .min = 1, .max = kMaxInt},
    {.name = "reason", .maxBytes = 4096, .roomMaxBytes = kRoomLimits.maxReasonBytes, .note = kRoomText},
};
constexpr FieldSpec kSelfMuteFields[] = {{.name = "muted", .kind = FieldKind::Boolean}};
constexpr FieldSpec kOptOutFields[] = {{.name = "opt_out", .kind = FieldKind::Boolean}};

ClientBody stageAction(std::string_view type, const FieldValues& v) {
  return Moderate{*stageActionFromName(type), v.text(0)};
}

// Every client message, once. A message type sharing its body with another (raise-hand and
// lower-hand) tells them apart by its wire name.
constexpr ClientMessageSpec kClientMessages[] = {
    {"hello", kHelloFields, alternativeOf<Hello>(),
     [](std::string_view, const FieldValues& v) -> ClientBody {
       return Hello{static_cast<int>(v.integer(0)), v.text(1), v.text(2)};
     }},
    {"offer", kOfferFields, alternativeOf<Offer>(),
     [](std::string_view, const FieldValues& v) -> ClientBody { return Offer{v.text(0)}; }},
    {"candidate", kCandidateFields, alternativeOf<Candidate>(),
     [](std::string_view, const FieldValues& v) -> ClientBody {
       return Candidate{static_cast<unsigned>(v.integer(1)), v.text(0)};
     }},
    {"leave", {}, alternativeOf<Leave>(), [](std::string_view, const FieldValues&) -> ClientBody { return Leave{}; }},
    {"ping", {}, alternativeOf<Ping>(), [](std::string_view, const FieldValues&) -> ClientBody { return Ping{}; }},
    {"raise-hand", {}, alternativeOf<SetHand>(),
     [](std::string_view, const FieldValues&) -> ClientBody { return SetHand{true}; }},
    {"lower-hand", {}, alternativeOf<SetHand>(),
     [](std::string_view, const FieldValues&) -> ClientBody { return SetHand{false}; }},
    {"promote", kTargetIdentity, alternativeOf<Moderate>(), stageAction},
    {"demote", kTargetIdentity, alternativeOf<Moderate>(), stageAction},
    {"invite", kTargetIdentity, alternativeOf<Moderate>(), stageAction},
    {"mute", kTargetIdentity, alternativeOf<Moderate>(), stageAction},
    {"unmute", kTargetIdentity, alternativeOf<Moderate>(), stageAction},
    {"remove", kTargetIdentity, alternativeOf<Moderate>(), stageAction},
    {"appoint-cohost", kTargetIdentity, alternativeOf<Moderate>(), stageAction},
    {"revoke-cohost", kTargetIdentity, alternativeOf<Moderate>(), stageAction},
    {"accept-invite", {}, alternativeOf<AnswerInvite>(),
     [](std::string_view, const FieldValues&) -> ClientBody { return AnswerInvite{true}; }},
    {"decline-invite", {}, alternativeOf<AnswerInvite>(),
     [](std::string_view, const FieldValues&) -> ClientBody { return AnswerInvite{false}; }},
    {"self-mute", kSelfMuteFields, alternativeOf<SelfMute>(),
     [](std::string_view, const FieldValues& v) -> ClientBody { return SelfMute{v.boolean(0)}; }},
    {"rtp-offer", kRtpOfferFields, alternativeOf<RtpOffer>(),
     [](std::string_view, const FieldValues& v) -> ClientBody {
       return RtpOffer{v.text(0), static_cast<int>(v.integer(1)), static_cast<int>(v.integer(2))};
     }},
    {"chat", kChatFields, alternativeOf<Chat>(),
     [](std::string_view, const FieldValues& v) -> ClientBody { return Chat{v.text(0)}; }},
    {"delete-message", kDeleteMessageFields, alternativeOf<DeleteMessage>(),
     [](std::string_view, const FieldValues& v) -> ClientBody {
       return DeleteMessage{static_cast<uint64_t>(v.integer(0))};
     }},
    {"react", kReactFields, alternativeOf<React>(),
     [](std::string_view, const FieldValues& v) -> ClientBody { return React{v.text(0)}; }},
    {"report", kReportFields, alternativeOf<ReportAbuse>(),
     [](std::string_view, const FieldValues& v) -> ClientBody {
       return ReportAbuse{v.text(0), static_cast<uint64_t>(v.integer(1)), v.text(2)};
     }},
    {"start-recording", {}, alternativeOf<SetRecording>(),
     [](std::string_view, const FieldValues&) -> ClientBody { return SetRecording{true}; }},
    {"stop-recording", {}, alternativeOf<SetRecording>(),
     [](std::string_view, const FieldValues&) -> ClientBody { return SetRecording{false}; }},
    {"recording-opt-out", kOptOutFields, alternativeOf<RecordingOptOut>(),
     [](std::string_view, const FieldValues& v) -> ClientBody { return RecordingOptOut{v.boolean(0)}; }},
};

// Every ClientBody alternative is some message's: a new alternative without a row fails here.
constexpr bool everyAlternativeDecoded() {
  for (size_t i = 0; i < std::variant_size_v<ClientBody>; ++i)
    if (std::none_of(std::begin(kClientMessages), std::end(kClientMessages),
                     [i](const ClientMessageSpec& m) { return m.alternative == i; }))
      return false;
  return true;
}
static_assert(everyAlternativeDecoded(), "a ClientBody alternative has no row in kClientMessages");

// A room's limit under the decoder's bound: otherwise the decoder refuses first and the
// documented (room's) limit is never the one a client meets.
constexpr bool roomLimitsWithinBounds() {
  for (const ClientMessageSpec& message : kClientMessages)
    for (const FieldSpec& field : message.fields)
      if (field.roomMaxBytes > field.maxBytes) return false;
  return true;
}
static_assert(roomLimitsWithinBounds(), "a field's roomMaxBytes is over its maxBytes");

// The stage actions by wire name: the rows of kClientMessages that decode to Moderate.
struct StageActionName {
  core::StageAction action;
  std::string_view name;
};
constexpr StageActionName kStageActionNames[] = {
    {core::StageAction::Promote, "promote"},       {core::StageAction::Demote, "demote"},
    {core::StageAction::Invite, "invite"},         {core::StageAction::Mute, "mute"},
    {core::StageAction::Unmute, "unmute"},         {core::StageAction::Remove, "remove"},
    {core::StageAction::AppointCohost, "appoint-cohost"}, {core::StageAction::RevokeCohost, "revoke-cohost"},
};

constexpr bool stageActionsAreMessages() {
  for (const StageActionName& entry : kStageActionNames)
    if (std::none_of(std::begin(kClientMessages), std::end(kClientMessages), [&entry](const ClientMessageSpec& m) {
          return m.type == entry.name && m.alternative == alternativeOf<Moderate>();
        }))
      return false;
  return true;
}
static_assert(stageActionsAreMessages(), "every stage action is a client message decoding to Moderate");

// Server messages and their top-level fields (what encodeWelcome, encodeEvent, encodeError,
// encodePong and encodeRtpAnswer write; test_protocol_table encodes each and compares).
constexpr ServerFieldSpec kWelcome[] = {{"version"},          {"room"},           {"you"},
                                        {"resume_token"},     {"participants"},   {"active_speakers"},
                                        {"hands", true},      {"ice_servers"}};
constexpr ServerFieldSpec kSdp[] = {{"sdp"}};
constexpr ServerFieldSpec kServerCandidate[] = {{"candidate"}, {"sdpMLineIndex"}};
constexpr ServerFieldSpec kRtpAnswer[] = {{"host"}, {"port"}};
constexpr ServerFieldSpec kParticipant[] = {{"participant"}};
constexpr ServerFieldSpec kIdentityReason[] = {{"identity"}, {"reason"}};
constexpr ServerFieldSpec kReason[] = {{"reason"}};
constexpr ServerFieldSpec kError[] = {{"error"}, {"ref", true}};
constexpr ServerFieldSpec kIdentityName[] = {{"identity"}, {"name"}};
constexpr ServerFieldSpec kRoleChanged[] = {{"identity"}, {"role"}, {"participant", true}};
constexpr ServerFieldSpec kBy[] = {{"by"}};
constexpr ServerFieldSpec kInviteAnswered[] = {{"identity"}, {"accepted"}};
constexpr ServerFieldSpec kMuteChanged[] = {{"identity"}, {"muted"}, {"by"}};
constexpr ServerFieldSpec kIdentity[] = {{"identity"}};
constexpr ServerFieldSpec kIdentities[] = {{"identities"}};
constexpr ServerFieldSpec kCount[] = {{"count"}};
constexpr ServerFieldSpec kChat[] = {{"message_id"}, {"identity"},   {"name"},
                                     {"text"},       {"sent_at_ms"}, {"role"}};
constexpr ServerFieldSpec kMessages[] = {{"messages"}};
constexpr ServerFieldSpec kChatDeleted[] = {{"message_id"}, {"by"}};
constexpr ServerFieldSpec kCounts[] = {{"counts"}};
constexpr ServerFieldSpec kReport[] = {{"report"}};
constexpr ServerFieldSpec kRecording[] = {{"active"}, {"reason", true}};
constexpr ServerFieldSpec kRecordingNotice[] = {{"recording"}};
constexpr ServerFieldSpec kOptOut[] = {{"identity"}, {"opt_out"}};
constexpr ServerFieldSpec kModeration[] = {{"identity"},      {"name"},        {"category"},
                                           {"severity"},      {"action"},      {"snippet"},
                                           {"span_start_ms"}, {"span_end_ms"}, {"evidence", true}};

constexpr ServerMessageSpec kServerMessages[] = {
    {"welcome", kWelcome},
    {"answer", kSdp},
    {"candidate", kServerCandidate},
    {"rtp-answer", kRtpAnswer},
    {"participant-joined", kParticipant},
    {"participant-left", kIdentityReason},
    {"room-ended", kReason},
    {"error", kError},
    {"pong", {}},
    {"hand-raised", kIdentityName},
    {"hand-lowered", kIdentityName},
    {"role-changed", kRoleChanged},
    {"invited", kBy},
    {"invite-answered", kInviteAnswered},
    {"mute-changed", kMuteChanged},
    {"removed", kReason},
    {"reconnecting", kIdentity},
    {"reconnected", kIdentity},
    {"active-speakers", kIdentities},
    {"listener-count", kCount},
    {"chat", kChat},
    {"chat-history", kMessages},
    {"chat-deleted", kChatDeleted},
    {"reactions", kCounts},
    {"report", kReport},
    {"recording", kRecording},
    {"recording-notice", kRecordingNotice},
    {"recording-opt-out", kOptOut},
    {"moderation", kModeration},
};

// One field's value by its spec: monostate when an optional field is absent.
core::Result<FieldValues::Value> readField(const FieldSpec& spec, const FieldReader& fields) {
  const std::string name(spec.name);
  switch (spec.kind) {
    case FieldKind::String: {
      auto value = fields.optionalString(name.c_str(), spec.maxBytes);
      if (!value) return value.error();
      if (value.value()) return FieldValues::Value{std::move(*value.value())};
      break;
    }
    case FieldKind::Integer: {
      auto value = fields.optionalInt(name.c_str(), spec.min, spec.max);
      if (!value) return value.error();
      if (value.value() && spec.exactly && *value.value() != *spec.exactly)
        return Error{spec.mismatch, std::string(spec.mismatchMessage)};
      if (value.value()) return FieldValues::Value{*value.value()};
      break;
    }
    case FieldKind::Boolean: {
      auto value = fields.optionalBool(name.c_str());
      if (!value) return value.error();
      if (value.value()) return FieldValues::Value{*value.value()};
      break;
    }
  }
  if (spec.required) return Error{ErrorCode::BadRequest, "missing field '" + name + "'"};
  return FieldValues::Value{};
}

}  // namespace

std::string FieldValues::text(size_t index) const {
  const auto* value = std::get_if<std::string>(&values_.at(index));
  return value ? *value : std::string();
}
int64_t FieldValues::integer(size_t index) const {
  const auto* value = std::get_if<int64_t>(&values_.at(index));
  return value ? *value : 0;
}
bool FieldValues::boolean(size_t index) const {
  const auto* value = std::get_if<bool>(&values_.at(index));
  return value && *value;
}

std::span<const ClientMessageSpec> clientMessages() { return kClientMessages; }
std::span<const ServerMessageSpec> serverMessages() { return kServerMessages; }

const ClientMessageSpec* findClientMessage(std::string_view type) {
  for (const ClientMessageSpec& spec : kClientMessages)
    if (spec.type == type) return &spec;
  return nullptr;
}

const ServerMessageSpec* findServerMessage(std::string_view type) {
  for (const ServerMessageSpec& spec : kServerMessages)
    if (spec.type == type) return &spec;
  return nullptr;
}

core::Result<FieldValues> readFields(const ClientMessageSpec& spec, const FieldReader& fields) {
  std::vector<std::string_view> known{"type", "id"};
  for (const FieldSpec& field : spec.fields) known.push_back(field.name);
  if (auto onlyKnown = fields.onlyKnown(known); !onlyKnown) return onlyKnown.error();
  std::vector<FieldValues::Value> values;
  for (const FieldSpec& field : spec.fields) {
    auto value = readField(field, fields);
    if (!value) return value.error();
    values.push_back(std::move(value.value()));
  }
  return FieldValues(std::move(values));
}

std::optional<core::StageAction> stageActionFromName(std::string_view name) {
  for (const auto& [action, actionName] : kStageActionNames)
    if (actionName == name) return action;
  return std::nullopt;
}

std::string_view stageActionName(core::StageAction action) {
  for (const auto& [candidate, name] : kStageActionNames)
    if (candidate == action) return name;
  return {};
}

}  // namespace roomcast::protocol
