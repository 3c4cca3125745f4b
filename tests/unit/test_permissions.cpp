// The permission model, cell by cell: for every role and every action, the server's room logic
// (RoomManager, Conversation) either does it or refuses it, exactly as the specification below
// says. The specification is written out here on its own, not read from core/permissions.cpp,
// so a change to the table there must be made twice, on purpose.
#include <gtest/gtest.h>

#include <map>

#include "core/conversation.h"
#include "core/permissions.h"
#include "core/room_manager.h"
#include "fake_media_backend.h"
#include "fake_timers.h"

using namespace roomcast::core;
using roomcast::unittest::FakeMediaBackend;
using roomcast::unittest::FakeTimers;
using roomcast::unittest::RecordingEventSink;

namespace {

// The specification (docs/protocol.md, Permissions): host, co-host, speaker, listener.
struct Spec {
  Action action;
  bool host, cohost, speaker, listener;
};
const Spec kSpec[] = {
    {Action::Chat, 1, 1, 1, 1},          {Action::React, 1, 1, 1, 1},
    {Action::Report, 1, 1, 1, 1},        {Action::RaiseHand, 0, 0, 0, 1},
    {Action::AnswerInvite, 0, 0, 0, 1},  {Action::SendAudio, 1, 1, 1, 0},
    {Action::SelfMute, 1, 1, 1, 0},      {Action::SeeHands, 1, 1, 0, 0},
    {Action::Promote, 1, 1, 0, 0},       {Action::Demote, 1, 1, 0, 0},
    {Action::Invite, 1, 1, 0, 0},        {Action::Mute, 1, 1, 0, 0},
    {Action::Remove, 1, 1, 0, 0},        {Action::AppointCohost, 1, 0, 0, 0},
    {Action::RevokeCohost, 1, 0, 0, 0},  {Action::DeleteMessage, 1, 1, 0, 0},
    {Action::ReadReports, 1, 1, 0, 0},   {Action::IssueTokens, 1, 1, 0, 0},
    {Action::EndRoom, 1, 0, 0, 0},        {Action::Record, 1, 0, 0, 0},
    {Action::OptOutOfRecording, 1, 1, 1, 1},
};
const Role kRoles[] = {Role::Host, Role::CoHost, Role::Speaker, Role::Listener};

bool expected(Role role, Action action) {
  for (const Spec& s : kSpec) {
    if (s.action != action) continue;
    switch (role) {
      case Role::Host: return s.host;
      case Role::CoHost: return s.cohost;
      case Role::Speaker: return s.speaker;
      case Role::Listener: return s.listener;
    }
  }
  ADD_FAILURE() << "no specification for " << actionName(action);
  return false;
}

TEST(Permissions, TableMatchesTheSpecificationCellByCell) {
  EXPECT_EQ(std::size(kSpec), std::size(kAllActions)) << "every action is specified";
  for (Action action : kAllActions)
    for (Role role : kRoles)
      EXPECT_EQ(permits(role, action), expected(role, action)) << roleName(role) << " × " << actionName(action);
}

TEST(Permissions, NobodyActsOnTheHostAndOnlyTheHostOnCohosts) {
  for (Role actor : kRoles) {
    EXPECT_FALSE(mayActOn(actor, Role::Host)) << roleName(actor);
    EXPECT_EQ(mayActOn(actor, Role::CoHost), actor == Role::Host) << roleName(actor);
    const bool moderator = actor == Role::Host || actor == Role::CoHost;
    EXPECT_EQ(mayActOn(actor, Role::Speaker), moderator) << roleName(actor);
    EXPECT_EQ(mayActOn(actor, Role::Listener), moderator) << roleName(actor);
  }
}

// A room with one participant of each role, plus targets for every action:
//   h host, c co-host, s speaker, t a second speaker, l a listener with a raised hand,
//   m a second listener. The actor of each role: h, c, s, m.
class Enforcement : public ::testing::Test {
 public:
  Enforcement()
      : rooms(media, sink, environment(), limits()),
        conversation(rooms, sink, talk()) {
    room = rooms.createRoom({"Matrix", "", false}).value().id;
    for (auto [id, role] : {std::pair{"h", Role::Host}, {"c", Role::CoHost}, {"s", Role::Speaker},
                            {"t", Role::Speaker}, {"l", Role::Listener}, {"m", Role::Listener}})
      EXPECT_TRUE(rooms.join(room, {id, id, role}).ok());
    EXPECT_TRUE(rooms.setHand(room, "l", true).ok());
    EXPECT_TRUE(conversation.chat(room, "t", "a message to delete or report").ok());
    sink.clear();
  }

  static RoomLimits limits() {
    RoomLimits l;
    l.maxSpeakers = 10;
    return l;
  }
  Environment environment() {
    Environment env;
    env.newRoomId = [] { return std::string("room"); };
    env.nowUnixMs = [] { return int64_t{1700000000000}; };
    timers.serve(env);
    env.newResumeToken = [] { return std::string("resume"); };
    return env;
  }
  ConversationEnvironment talk() {
    ConversationEnvironment env;
    env.nowUnixMs = [] { return int64_t{1700000000000}; };
    timers.serve(env);
    return env;
  }

  static std::string actorOf(Role role) {
    switch (role) {
      case Role::Host: return "h";
      case Role::CoHost: return "c";
      case Role::Speaker: return "s";
      case Role::Listener: return "m";
    }
    return "";
  }

  // Takes `action` as `role` on suitable targets; returns whether the server did it.
  bool attempt(Role role, Action action) {
    const std::string me = actorOf(role);
    const Actor actor{me, role};
    switch (action) {
      case Action::Chat: return conversation.chat(room, me, "hello").ok();
      case Action::React: return conversation.react(room, me, "clap").ok();
      case Action::Report: return conversation.report(room, me, "t", 0, "spam").ok();
      case Action::RaiseHand: return rooms.setHand(room, me, true).ok();
      case Action::AnswerInvite: {
        // Invited by the host first, when the actor can be invited at all.
        (void)rooms.invite(room, {"h", Role::Host}, me);
        return rooms.answerInvite(room, me, true).ok();
      }
      case Action::SendAudio: return rooms.offer(room, me, "v=0").ok();
      case Action::SelfMute: return rooms.setMuted(room, actor, me, true).ok();
      case Action::SeeHands: {
        sink.clear();
        EXPECT_TRUE(rooms.setHand(room, "l", false).ok());
        return !sink.sentTo<HandChanged>(room, me).empty();
      }
      case Action::Promote: return rooms.promote(room, actor, "l").ok();
      case Action::Demote: return rooms.demote(room, actor, "t").ok();
      case Action::Invite: return rooms.invite(room, actor, "l").ok();
      case Action::Mute: return rooms.setMuted(room, actor, "t", true).ok();
      case Action::Remove: return rooms.remove(room, actor, "l").ok();
      case Action::AppointCohost: return rooms.setCohost(room, actor, "t", true).ok();
      case Action::RevokeCohost: return rooms.setCohost(room, actor, "c", false).ok();
      case Action::DeleteMessage: return conversation.deleteMessage(room, actor, 1).ok();
      case Action::ReadReports: {
        sink.clear();
        EXPECT_TRUE(conversation.report(room, "l", "t", 0, "rude").ok());
        return !sink.sentTo<ReportFiled>(room, me).empty();
      }
      case Action::Record: return rooms.setRecording(room, actor, true).ok();
      case Action::OptOutOfRecording: return rooms.setRecordingOptOut(room, me, true).ok();
      case Action::IssueTokens:
      case Action::EndRoom:
        return permits(role, action);  // REST only: the HTTP layer asks the same table (integration tests)
    }
    return false;
  }

  FakeMediaBackend media;
  RecordingEventSink sink;
  FakeTimers timers;  // scheduled, never fired: these tests take no time
  RoomManager rooms;
  Conversation conversation;
  std::string room;
};

TEST_F(Enforcement, EveryRoleAndActionIsDoneOrRefusedAsSpecified) {
  for (Action action : kAllActions) {
    for (Role role : kRoles) {
      // A fresh room for every cell: an action must not see the effects of another.
      struct Fresh : Enforcement {
        void TestBody() override {}
      } cell;
      EXPECT_EQ(cell.attempt(role, action), expected(role, action))
          << "a " << roleName(role) << " trying to " << actionName(action);
    }
  }
}

TEST_F(Enforcement, CohostsCannotTouchTheHostOrEachOther) {
  EXPECT_TRUE(rooms.join(room, {"c2", "c2", Role::CoHost}).ok());
  const Actor cohost{"c", Role::CoHost};
  EXPECT_EQ(rooms.setMuted(room, cohost, "h", true).error().code, ErrorCode::Forbidden);
  EXPECT_EQ(rooms.remove(room, cohost, "h").error().code, ErrorCode::Forbidden);
  EXPECT_EQ(rooms.demote(room, cohost, "c2").error().code, ErrorCode::Forbidden);
  EXPECT_EQ(rooms.remove(room, cohost, "c2").error().code, ErrorCode::Forbidden);
  EXPECT_TRUE(rooms.setMuted(room, {"h", Role::Host}, "c2", true).ok()) << "the host does";
}

}  // namespace
