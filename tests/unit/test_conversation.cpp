// Chat, reactions and reports (core/conversation.h) with pinned time and timers.
#include <gtest/gtest.h>

#include <map>

#include "core/conversation.h"
#include "core/room_manager.h"
#include "fake_media_backend.h"
#include "fake_timers.h"

using namespace roomcast::core;
using roomcast::unittest::FakeMediaBackend;
using roomcast::unittest::FakeTimers;
using roomcast::unittest::RecordingEventSink;

namespace {

class ConversationTest : public ::testing::Test {
 protected:
  ConversationTest() : rooms(media, sink, environment()), conversation(rooms, sink, talk(), smallLimits()) {
    room = rooms.createRoom({"Talk", "", false}).value().id;
    EXPECT_TRUE(rooms.join(room, {"h", "Hana", Role::Host}).ok());
    EXPECT_TRUE(rooms.join(room, {"l", "Lee", Role::Listener}).ok());
    sink.clear();
  }
  static ConversationLimits smallLimits() {
    ConversationLimits l;
    l.maxChatBytes = 20;
    l.historyLength = 3;
    return l;
  }
  Environment environment() {
    Environment env;
    env.newRoomId = [] { return std::string("room"); };
    env.nowUnixMs = [this] { return now; };
    timers.serve(env);
    env.newResumeToken = [] { return std::string("r"); };
    return env;
  }
  ConversationEnvironment talk() {
    ConversationEnvironment env;
    env.nowUnixMs = [this] { return now; };
    timers.serve(env);
    env.chatPosted = [this](const std::string&, const ChatMessage& m) { stored.push_back(m.text); };
    env.chatDeleted = [this](const std::string&, uint64_t id, int64_t) { deleted.push_back(id); };
    env.reportFiled = [this](const Report& r) {
      reports.push_back(r);
      return static_cast<uint64_t>(100 + reports.size());
    };
    return env;
  }

  int64_t now = 1700000000000;
  FakeMediaBackend media;
  RecordingEventSink sink;
  FakeTimers timers;
  std::vector<std::string> stored;
  std::vector<uint64_t> deleted;
  std::vector<Report> reports;
  RoomManager rooms;
  Conversation conversation;
  std::string room;
};

TEST_F(ConversationTest, ChatIsBroadcastStoredAndKeptForLateJoiners) {
  ASSERT_TRUE(conversation.chat(room, "l", "first").ok());
  ASSERT_TRUE(conversation.chat(room, "h", "second ✨").ok());
  auto posted = sink.broadcasts<ChatPosted>(room);
  ASSERT_EQ(posted.size(), 2u);
  EXPECT_EQ(posted[0].message.name, "Lee");
  EXPECT_EQ(posted[0].message.sentAtMs, now);
  EXPECT_LT(posted[0].message.id, posted[1].message.id);
  EXPECT_EQ(stored, (std::vector<std::string>{"first", "second ✨"}));
  for (const char* t : {"third", "fourth"}) ASSERT_TRUE(conversation.chat(room, "l", t).ok());
  auto history = conversation.history(room);
  ASSERT_EQ(history.size(), 3u) << "the last N only";
  EXPECT_EQ(history.front().text, "second ✨");
  EXPECT_EQ(history.back().text, "fourth");
}

// A failover hands the reopened room the old owner's history: late joiners get it, only the
// newest historyLength stay, and new messages (and deletions) continue after the seeded ids.
TEST_F(ConversationTest, SeededHistoryIsWhatLateJoinersGetAndIdsContinueAfterIt) {
  std::vector<ChatMessage> old;
  for (uint64_t id : {3, 7, 8, 12}) old.push_back({id, "l", "Lee", "line " + std::to_string(id), now - 1000, Role::Listener});
  conversation.seedHistory(room, old);
  auto history = conversation.history(room);
  ASSERT_EQ(history.size(), 3u) << "the newest historyLength only";
  EXPECT_EQ(history.front().id, 7u);
  EXPECT_EQ(history.back().text, "line 12");
  EXPECT_TRUE(sink.broadcasts<ChatPosted>(room).empty()) << "seeding says nothing to the room";
  ASSERT_TRUE(conversation.deleteMessage(room, {"h", Role::Host}, 8).ok()) << "a seeded message can be deleted";
  ASSERT_TRUE(conversation.chat(room, "h", "after").ok());
  auto posted = sink.broadcasts<ChatPosted>(room);
  ASSERT_EQ(posted.size(), 1u);
  EXPECT_EQ(posted[0].message.id, 13u) << "numbered after the largest seeded id";
  history = conversation.history(room);
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].id, 7u);
  EXPECT_EQ(history[1].id, 12u);
  EXPECT_EQ(history[2].text, "after");
}

TEST_F(ConversationTest, ChatTextIsValidated) {
  EXPECT_EQ(conversation.chat(room, "l", std::string(21, 'x')).error().code, ErrorCode::TooLarge);
  EXPECT_EQ(conversation.chat(room, "l", "   \n ").error().code, ErrorCode::ValidationFailed);
  EXPECT_EQ(conversation.chat(room, "l", "bell\x07").error().code, ErrorCode::ValidationFailed);
  EXPECT_EQ(conversation.chat(room, "l", "bad \xc3\x28").error().code, ErrorCode::InvalidUtf8);
  EXPECT_EQ(conversation.chat(room, "nobody", "hi").error().code, ErrorCode::Conflict);
  EXPECT_EQ(conversation.chat("gone", "l", "hi").error().code, ErrorCode::NotFound);
  EXPECT_TRUE(conversation.chat(room, "l", "two\nlines\tok").ok());
  EXPECT_EQ(sink.count<ChatPosted>(), 1u);
}

TEST_F(ConversationTest, ModeratorsDeleteMessagesAndEveryoneIsTold) {
  ASSERT_TRUE(conversation.chat(room, "l", "oops").ok());
  const uint64_t id = conversation.history(room).back().id;
  EXPECT_EQ(conversation.deleteMessage(room, {"l", Role::Listener}, id).error().code, ErrorCode::Forbidden);
  EXPECT_EQ(conversation.deleteMessage(room, {"h", Role::Host}, 999).error().code, ErrorCode::NotFound);
  ASSERT_TRUE(conversation.deleteMessage(room, {"h", Role::Host}, id).ok());
  auto gone = sink.broadcasts<ChatDeleted>(room);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].id, id);
  EXPECT_EQ(gone[0].by, "h");
  EXPECT_TRUE(conversation.history(room).empty()) << "late joiners do not get it";
  EXPECT_EQ(deleted, std::vector<uint64_t>{id});
}

TEST_F(ConversationTest, ReactionsAreSummedOverAWindowAndSentOnce) {
  for (int i = 0; i < 1000; i++) ASSERT_TRUE(conversation.react(room, i % 2 ? "l" : "h", i % 3 ? "clap" : "heart").ok());
  EXPECT_EQ(sink.count<Reactions>(), 0u) << "nothing until the window closes";
  ASSERT_EQ(timers.pending.size(), 1u) << "one timer for the window, not one per reaction";
  EXPECT_EQ(timers.pending.begin()->second.ms, 200u);
  timers.fireAll();
  auto sent = sink.broadcasts<Reactions>(room);
  ASSERT_EQ(sent.size(), 1u);
  std::map<std::string, uint32_t> counts(sent[0].counts.begin(), sent[0].counts.end());
  EXPECT_EQ(counts["clap"], 666u);
  EXPECT_EQ(counts["heart"], 334u);
  EXPECT_TRUE(timers.pending.empty()) << "nothing ticks while nobody reacts";
  EXPECT_EQ(conversation.react(room, "l", "pineapple").error().code, ErrorCode::ValidationFailed);
}

TEST_F(ConversationTest, ReportsReachModeratorsWithTheMessageAsItWas) {
  ASSERT_TRUE(conversation.chat(room, "h", "hello").ok());
  const uint64_t id = conversation.history(room).back().id;
  ASSERT_TRUE(conversation.report(room, "l", "", id, "off topic").ok());
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].targetIdentity, "h") << "a message's author";
  EXPECT_EQ(reports[0].messageText, "hello");
  auto live = sink.sentTo<ReportFiled>(room, "h");
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].report.id, 101u);
  EXPECT_TRUE(sink.sentTo<ReportFiled>(room, "l").empty()) << "listeners do not see reports";
  EXPECT_EQ(conversation.report(room, "l", "l", 0, "me").error().code, ErrorCode::Conflict);
  EXPECT_EQ(conversation.report(room, "l", "h", id, "both").error().code, ErrorCode::BadRequest);
  EXPECT_EQ(conversation.report(room, "l", "", 0, "neither").error().code, ErrorCode::BadRequest);
  EXPECT_EQ(conversation.report(room, "l", "ghost", 0, "who").error().code, ErrorCode::NotFound);
  EXPECT_EQ(conversation.report(room, "l", "h", 0, "").error().code, ErrorCode::ValidationFailed);
}

TEST_F(ConversationTest, ForgettingARoomCancelsItsWindow) {
  ASSERT_TRUE(conversation.react(room, "l", "fire").ok());
  conversation.forgetRoom(room);
  EXPECT_TRUE(timers.pending.empty());
  EXPECT_TRUE(conversation.history(room).empty());
}

}  // namespace
