// Who may do what: the whole policy in one table, checked by the server for every WebSocket
// message and REST call (RoomManager, Conversation and the REST layer ask here, nowhere
// else decides). docs/protocol.md prints the same table.
#pragma once

#include <string_view>

#include "core/role.h"

namespace roomcast::core {

enum class Action {
  Chat,            // send a chat message
  React,           // send a reaction
  Report,          // report a participant or a message
  RaiseHand,       // raise or lower one's own hand
  AnswerInvite,    // accept or decline an invitation to the stage
  SendAudio,       // open a media session (WebRTC or plain RTP) and be mixed
  SelfMute,        // mute or unmute oneself
  SeeHands,        // see the hand queue
  Promote,         // a hand to the stage
  Demote,          // a speaker back to listener
  Invite,          // invite a listener to the stage
  Mute,            // mute or unmute someone else
  Remove,          // remove (and ban) a participant
  AppointCohost,   // make a participant a co-host
  RevokeCohost,    // make a co-host a speaker again
  DeleteMessage,   // delete a chat message
  ReadReports,     // see reports, live and over REST
  IssueTokens,     // issue speaker and listener tokens over REST
  EndRoom,         // end the room for everyone
  Record,          // start and stop the recording
  OptOutOfRecording,  // leave one's own voice out of the recording
};

inline constexpr Action kAllActions[] = {
    Action::Chat,    Action::React,  Action::Report,        Action::RaiseHand,    Action::AnswerInvite,
    Action::SendAudio, Action::SelfMute, Action::SeeHands,  Action::Promote,      Action::Demote,
    Action::Invite,  Action::Mute,   Action::Remove,        Action::AppointCohost, Action::RevokeCohost,
    Action::DeleteMessage, Action::ReadReports, Action::IssueTokens, Action::EndRoom, Action::Record,
    Action::OptOutOfRecording};

std::string_view actionName(Action action);

// Whether `role` may take `action` at all.
bool permits(Role role, Action action);

// Whether an actor of `actor` role may take a moderation action on a participant of
// `target` role: nobody acts on the host; only the host acts on co-hosts.
bool mayActOn(Role actor, Role target);

// For hands, SendAudio and the like the role is not the whole story: a listener with a raised
// hand (or an invitation) may pre-warm a media session. RoomManager checks those states.

}  // namespace roomcast::core
