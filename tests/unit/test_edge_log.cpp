// The edge's listener log lines (nginx syslog over UDP, data/nginx/roomcast-edge.conf).
#include <gtest/gtest.h>

#include "hls/edge_log.h"

using roomcast::core::ErrorCode;
using roomcast::hls::parseEdgeLogLine;

TEST(EdgeLog, NginxSyslogLine) {
  // What nginx 1.22 sends with syslog:...,tag=roomcast,nohostname and '$roomcast_room $arg_session'.
  auto line = parseEdgeLogLine("<190>Dec  1 23:59:00 roomcast: k3m9x2q7ab hlCNiFIyAoOu.aYIiOqIylnw7sOQz");
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line.value().room, "k3m9x2q7ab");
  EXPECT_EQ(line.value().session, "hlCNiFIyAoOu.aYIiOqIylnw7sOQz");
  auto trailing = parseEdgeLogLine("<190>Dec  1 23:59:00 roomcast: room s.sig\n");
  ASSERT_TRUE(trailing.ok());
  EXPECT_EQ(trailing.value().session, "s.sig");
}

TEST(EdgeLog, AnythingElseIsRefused) {
  for (const char* bad : {"", "roomcast: room session", "<190>Dec  1 23:59:00 other: room session",
                          "<190>Dec  1 23:59:00 roomcast: room", "<190>Dec  1 23:59:00 roomcast:  session",
                          "<190>Dec  1 23:59:00 roomcast: room sess ion", "<190>Dec  1 23:59:00 roomcast: ro/om session",
                          "<190>Dec  1 23:59:00 roomcast: room sess\"ion", "<190>x roomcast: room \x01"}) {
    auto line = parseEdgeLogLine(bad);
    EXPECT_FALSE(line.ok()) << bad;
    if (!line.ok()) {
      EXPECT_EQ(line.error().code, ErrorCode::BadRequest) << bad;
    }
  }
  std::string huge = "<190>Dec  1 23:59:00 roomcast: room " + std::string(2000, 'a');
  auto line = parseEdgeLogLine(huge);
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.error().code, ErrorCode::TooLarge);
  std::string longSession = "<190>Dec  1 23:59:00 roomcast: room " + std::string(300, 'a');
  EXPECT_FALSE(parseEdgeLogLine(longSession).ok());
}
