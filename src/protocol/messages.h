// The live protocol (version 1) on the WebSocket: what clients send, decoded and validated,
// and what the server sends, encoded. docs/protocol.md is the reference.
#pragma once

#include <optional>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/archive.h"
#include "core/events.h"
#include "core/result.h"
#include "core/room.h"
#include "core/stage_action.h"

namespace roomcast::protocol {

struct Hello { int version = 0; std::string token; std::string resume; };
struct Offer { std::string sdp; };
struct Candidate { unsigned mlineIndex = 0; std::string candidate; };
struct Leave {};
struct Ping {};
struct SetHand { bool raised = false; };                 // raise-hand, lower-hand
using core::StageAction;  // core applies them (RoomManager::apply); their names are the protocol's
struct Moderate { StageAction action; std::string identity; };  // promote, demote, ...
struct AnswerInvite { bool accept = false; };            // accept-invite, decline-invite
struct SelfMute { bool muted = false; };
struct RtpOffer { std::string host; int port = 0; int payloadType = 0; };  // plain RTP instead of WebRTC
struct Chat { std::string text; };
struct DeleteMessage { uint64_t messageId = 0; };
struct React { std::string reaction; };
struct ReportAbuse { std::string identity; uint64_t messageId = 0; std::string reason; };
struct SetRecording { bool on = false; };        // start-recording, stop-recording
struct RecordingOptOut { bool optOut = false; };

using ClientBody = std::variant<Hello, Offer, Candidate, Leave, Ping, SetHand, Moderate, AnswerInvite, SelfMute, RtpOffer,
                                Chat, DeleteMessage, React, ReportAbuse, SetRecording, RecordingOptOut>;

struct ClientMessage {
  std::optional<std::string> ref;  // the client's optional "id", echoed in errors
  ClientBody body;
};

// Decodes one text message by the message table (protocol/message_table.h). Errors carry a
// stable code and name the offending field.
// On failure `refOut` (if given) receives the message's "id" when it could be read.
core::Result<ClientMessage> decodeClientMessage(std::string_view text, std::string* refOut = nullptr);

// Parses a stage action name ("promote", "mute", ...), for REST and the socket alike.
std::optional<StageAction> stageActionFromName(std::string_view name);

// One entry of the welcome's ice_servers (RTCIceServer's shape): TURN URLs with the
// short-lived credentials this participant may use on them.
struct IceServer {
  std::vector<std::string> urls;
  std::string username;
  std::string credential;
};

// Server → client.
std::string encodeWelcome(const core::Room& room, const core::Participant& you,
                          const std::vector<IceServer>& iceServers = {});
std::string encodeEvent(const core::Event& event);
std::string encodeError(const core::Error& error, const std::optional<std::string>& ref = {});
std::string encodePong();
std::string encodeRtpAnswer(const std::string& host, int port);
std::string encodeReports(const std::vector<core::Report>& reports);  // REST
// GET /api/v1/recordings (`urlBase`: where /recordings/<file> is served from).
// What a recording file's URL gets appended (a signed "?exp=..&sig=.." when the archive is not
// public), given the file's name.
using RecordingUrlQuery = std::function<std::string(const std::string& file)>;
std::string encodeRecordings(const std::vector<core::RecordingRow>& rows, const std::string& urlBase,
                             const RecordingUrlQuery& urlQuery = {});
std::string encodeSearch(const std::string& query, const std::vector<core::TranscriptHit>& hits,
                         const std::string& urlBase,
                         const RecordingUrlQuery& urlQuery = {});

// REST bodies.
// `node`: the owner's node URL in a cluster ("" on a single box: no `node` field).
struct RoomUrls { std::string ws; std::string hls; std::string node = {}; };
std::string encodeRoom(const core::Room& room, const RoomUrls& urls);
std::string encodeCreatedRoom(const core::RoomInfo& info, const std::string& hostToken, const RoomUrls& urls);
std::string encodeRestError(const core::Error& error);

}  // namespace roomcast::protocol
