// A speaker's last words arrive after they have gone: the media backend flushes their
// recognizer after leave, removal, the grace timeout or the room's end, and reports the words
// then. RoomManager still credits them to the speaker (archive, moderation) until the backend
// says the peer is finished or the room's media is done. Pure logic, FakeMediaBackend.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/room_manager.h"
#include "fake_media_backend.h"

namespace roomcast::core {
namespace {

using unittest::FakeMediaBackend;
using unittest::RecordingEventSink;

struct Transcribed {
  std::string room;
  std::string identity;
  std::string name;
  std::string text;
};

class DepartedSpeakers : public ::testing::Test {
 protected:
  DepartedSpeakers() : manager(media, sink, environment(), RoomLimits{}) {}

  Environment environment() {
    Environment env;
    env.newRoomId = [] { return std::string("room"); };
    env.nowUnixMs = [] { return int64_t{1'800'000'000'000}; };
    env.transcribed = [this](const RoomInfo& room, const Participant& p, const std::string& text, int64_t, int64_t) {
      heard.push_back({room.id, p.identity, p.name, text});
    };
    return env;
  }

  void SetUp() override {
    ASSERT_TRUE(manager.createRoom({"Morning show", "", false}));
    ASSERT_TRUE(manager.join("room", {"grace", "Grace", Role::Speaker}, ""));
    ASSERT_TRUE(manager.offer("room", "grace", "v=0"));
  }

  FakeMediaBackend media;
  RecordingEventSink sink;
  std::vector<Transcribed> heard;
  RoomManager manager;
};

TEST_F(DepartedSpeakers, WordsFlushedAfterLeavingAreTheSpeakers) {
  manager.leave("room", "grace", "left");
  manager.onPeerTranscript("room", "grace", "good morning", 1, 2);
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0].name, "Grace");
  EXPECT_EQ(heard[0].text, "good morning");
  // Finished: nothing more can come from that session; a stray report is dropped.
  manager.onPeerFinished("room", "grace");
  manager.onPeerTranscript("room", "grace", "stray", 3, 4);
  EXPECT_EQ(heard.size(), 1u);
}

TEST_F(DepartedSpeakers, WordsFlushedAfterTheRoomEndedAreTheSpeakers) {
  ASSERT_TRUE(manager.endRoom("room", "host ended the room"));
  manager.onPeerTranscript("room", "grace", "last words", 1, 2);
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0].room, "room");
  EXPECT_EQ(heard[0].name, "Grace");
  // The room's media is done: every flush is over.
  media.completeStop("room");
  manager.onPeerTranscript("room", "grace", "stray", 3, 4);
  EXPECT_EQ(heard.size(), 1u);
}

TEST_F(DepartedSpeakers, WordsOfADemotedSpeakerWhoThenLeftAreTheirs) {
  ASSERT_TRUE(manager.join("room", {"alan", "Alan", Role::Host}, ""));
  ASSERT_TRUE(manager.demote("room", {"alan", Role::Host}, "grace"));
  // A client sent back to the audience may leave before its recognizer is flushed.
  manager.leave("room", "grace", "left");
  manager.onPeerTranscript("room", "grace", "cut off", 1, 2);
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0].name, "Grace");
}

TEST_F(DepartedSpeakers, ListenersWithoutMediaLeaveNothingBehind) {
  ASSERT_TRUE(manager.join("room", {"ada", "Ada", Role::Listener}, ""));
  manager.leave("room", "ada", "left");
  manager.onPeerTranscript("room", "ada", "never on stage", 1, 2);
  EXPECT_TRUE(heard.empty());
}

}  // namespace
}  // namespace roomcast::core
