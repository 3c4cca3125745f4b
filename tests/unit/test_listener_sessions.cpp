// HLS listener counting (core/listener_sessions.h) with a pinned clock.
#include <gtest/gtest.h>

#include "core/listener_sessions.h"

using roomcast::core::ListenerSessions;

TEST(ListenerSessions, CountsDistinctSessionsUntilTheyGoIdle) {
  ListenerSessions s(10000);
  s.touch("r", "a", 0);
  s.touch("r", "b", 500);
  s.touch("r", "a", 1000);  // the same listener again
  s.touch("q", "a", 1000);  // another room
  EXPECT_EQ(s.count("r"), 2u);
  EXPECT_EQ(s.total(), 3u);
  auto changed = s.sweep(2000);
  EXPECT_EQ(changed.size(), 2u) << "both rooms' counts are news";
  EXPECT_TRUE(s.sweep(3000).empty()) << "no change, nothing to send";
  s.touch("r", "a", 10000);
  changed = s.sweep(10600);  // b last seen at 500: idle 10.1 s; q's a only 9.6 s
  ASSERT_EQ(changed, std::vector<std::string>{"r"});
  EXPECT_EQ(s.count("r"), 1u);
  EXPECT_EQ(s.count("q"), 1u);
  EXPECT_EQ(s.sweep(11100), std::vector<std::string>{"q"});
  EXPECT_EQ(s.count("q"), 0u);
}

TEST(ListenerSessions, RoomCapBoundsMemory) {
  ListenerSessions s(10000, 3);
  for (int i = 0; i < 5; i++) s.touch("r", std::to_string(i), 0);
  EXPECT_EQ(s.count("r"), 3u);
  EXPECT_TRUE(s.touch("r", "0", 1)) << "known sessions still refresh";
  EXPECT_FALSE(s.touch("r", "9", 1));
}

TEST(ListenerSessions, ForgettingARoomDropsItsSessions) {
  ListenerSessions s;
  s.touch("r", "a", 0);
  s.forgetRoom("r");
  EXPECT_EQ(s.count("r"), 0u);
  EXPECT_TRUE(s.sweep(1).empty());
}

// What lets a playlist request or edge log line skip the HMAC: counted in that room, now.
TEST(ListenerSessions, ContainsOnlyCountedSessionsOfThatRoom) {
  ListenerSessions s(10000, 2);
  s.touch("r", "a", 0);
  EXPECT_TRUE(s.contains("r", "a"));
  EXPECT_FALSE(s.contains("q", "a")) << "a session is signed for one room";
  EXPECT_FALSE(s.contains("r", "b"));
  s.touch("r", "b", 0);
  s.touch("r", "c", 0);  // over the cap: not counted
  EXPECT_FALSE(s.contains("r", "c"));
  s.sweep(10001);
  EXPECT_FALSE(s.contains("r", "a")) << "gone idle: verified again when it comes back";
}
