#include "core/permissions.h"

namespace roomcast::core {

namespace {

// Rows: actions. Columns: host, co-host, speaker, listener.
struct Row {
  Action action;
  bool host, cohost, speaker, listener;
};

constexpr Row kTable[] = {
    {Action::Chat, true, true, true, true},
    {Action::React, true, true, true, true},
    {Action::Report, true, true, true, true},
    {Action::RaiseHand, false, false, false, true},
    {Action::AnswerInvite, false, false, false, true},
    {Action::SendAudio, true, true, true, false},  // listeners: only with a hand up or an invitation
    {Action::SelfMute, true, true, true, false},
    {Action::SeeHands, true, true, false, false},
    {Action::Promote, true, true, false, false},
    {Action::Demote, true, true, false, false},
    {Action::Invite, true, true, false, false},
    {Action::Mute, true, true, false, false},
    {Action::Remove, true, true, false, false},
    {Action::AppointCohost, true, false, false, false},
    {Action::RevokeCohost, true, false, false, false},
    {Action::DeleteMessage, true, true, false, false},
    {Action::ReadReports, true, true, false, false},
    {Action::IssueTokens, true, true, false, false},
    {Action::EndRoom, true, false, false, false},
    {Action::Record, true, false, false, false},
    {Action::OptOutOfRecording, true, true, true, true},  // anyone; it matters once on stage
};

}  // namespace

std::string_view actionName(Action action) {
  switch (action) {
    case Action::Chat: return "chat";
    case Action::React: return "react";
    case Action::Report: return "report";
    case Action::RaiseHand: return "raise-hand";
    case Action::AnswerInvite: return "answer-invite";
    case Action::SendAudio: return "send-audio";
    case Action::SelfMute: return "self-mute";
    case Action::SeeHands: return "see-hands";
    case Action::Promote: return "promote";
    case Action::Demote: return "demote";
    case Action::Invite: return "invite";
    case Action::Mute: return "mute";
    case Action::Remove: return "remove";
    case Action::AppointCohost: return "appoint-cohost";
    case Action::RevokeCohost: return "revoke-cohost";
    case Action::DeleteMessage: return "delete-message";
    case Action::ReadReports: return "read-reports";
    case Action::IssueTokens: return "issue-tokens";
    case Action::EndRoom: return "end-room";
    case Action::Record: return "record";
    case Action::OptOutOfRecording: return "opt-out-of-recording";
  }
  return "?";
}

bool permits(Role role, Action action) {
  for (const Row& row : kTable) {
    if (row.action != action) continue;
    switch (role) {
      case Role::Host: return row.host;
      case Role::CoHost: return row.cohost;
      case Role::Speaker: return row.speaker;
      case Role::Listener: return row.listener;
    }
  }
  return false;
}

bool mayActOn(Role actor, Role target) {
  if (target == Role::Host) return false;
  if (target == Role::CoHost) return actor == Role::Host;
  return actor == Role::Host || actor == Role::CoHost;
}

}  // namespace roomcast::core
