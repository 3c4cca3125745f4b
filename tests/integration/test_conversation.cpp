// Around the audio, over the real protocol: chat reaches everyone (listeners included) and
// late joiners get the history; moderators delete; reactions from many clients arrive as a
// few summed messages; reports reach moderators live and over REST; rate limits answer with
// an error, then close an abusive socket with 1008 while the others keep being served; the
// WebSocket Origin allow-list; co-host appointment; the CLI.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

#include "processes.h"
#include "roomcast-config.h"
#include "room_helpers.h"
#include "ws_client.h"

using namespace roomcast::testing;

namespace {

// A joined WebSocket client.
struct Client {
  WsClient ws;
  std::string identity;
  bool join(const Daemon& daemon, const TestRoom& room, const std::string& token) {
    if (!ws.connect(wsUrl(daemon, room.id))) return false;
    ws.send(R"({"type":"hello","version":1,"token":")" + token + "\"}");
    std::string welcome;
    if (!ws.waitForType("welcome", welcome)) return false;
    identity = jsonString(welcome, "you.identity");
    return true;
  }
  bool waitFor(const std::string& type, std::string& out, double timeout = 10) { return ws.waitForType(type, out, timeout); }
};

std::string listenerToken(const Daemon& daemon, const TestRoom& room, const std::string& name) {
  auto r = http("POST", daemon.url() + "/api/v1/rooms/" + room.id + "/tokens", R"({"role":"listener","name":")" + name + "\"}");
  return jsonString(r.body, "token");
}

class Conversation : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon.ready()) << daemon.log();
    room = createRoom(daemon, "Talk");
    ASSERT_TRUE(host.join(daemon, room, room.hostToken));
  }
  Daemon daemon;
  TestRoom room;
  Client host;
};

TEST_F(Conversation, ChatReachesEveryoneLateJoinersGetHistoryModeratorsDelete) {
  Client lee;
  ASSERT_TRUE(lee.join(daemon, room, listenerToken(daemon, room, "Lee")));
  lee.ws.send(R"({"type":"chat","text":"hello, room"})");
  std::string msg;
  ASSERT_TRUE(host.waitFor("chat", msg));
  EXPECT_EQ(jsonString(msg, "text"), "hello, room");
  EXPECT_EQ(jsonString(msg, "name"), "Lee");
  const long long first = jsonInt(msg, "message_id");
  ASSERT_TRUE(lee.waitFor("chat", msg)) << "the sender sees it too";
  host.ws.send(R"({"type":"chat","text":"welcome ✨"})");
  ASSERT_TRUE(lee.waitFor("chat", msg)) << "listeners get chat";

  Client late;
  ASSERT_TRUE(late.join(daemon, room, listenerToken(daemon, room, "Late")));
  ASSERT_TRUE(late.waitFor("chat-history", msg));
  EXPECT_NE(msg.find("hello, room"), std::string::npos) << msg;
  EXPECT_NE(msg.find("welcome ✨"), std::string::npos) << msg;

  // Only moderators delete; the deletion reaches everyone, and later joiners never see it.
  lee.ws.send(R"({"type":"delete-message","message_id":)" + std::to_string(first) + "}");
  ASSERT_TRUE(lee.waitFor("error", msg));
  EXPECT_EQ(jsonString(msg, "error.code"), "forbidden");
  host.ws.send(R"({"type":"delete-message","message_id":)" + std::to_string(first) + "}");
  ASSERT_TRUE(late.waitFor("chat-deleted", msg));
  EXPECT_EQ(jsonInt(msg, "message_id"), first);
  ASSERT_TRUE(lee.waitFor("chat-deleted", msg));
  Client later;
  ASSERT_TRUE(later.join(daemon, room, listenerToken(daemon, room, "Later")));
  ASSERT_TRUE(later.waitFor("chat-history", msg));
  EXPECT_EQ(msg.find("hello, room"), std::string::npos) << msg;
  EXPECT_NE(msg.find("welcome ✨"), std::string::npos);

  // The CLI: send, then print the history.
  auto sent = run({cli(), "--server", daemon.url(), "chat", room.id, "--send", "from the CLI"}, 30);
  EXPECT_EQ(sent.exitStatus, 0) << sent.stderrText;
  auto history = run({cli(), "--server", daemon.url(), "chat", room.id, "--history"}, 30);
  EXPECT_EQ(history.exitStatus, 0) << history.stderrText;
  EXPECT_EQ(history.stdoutText, "Host: welcome ✨\nroomcast chat: from the CLI\n");
}

TEST_F(Conversation, ReactionsFromManyClientsArriveAsAFewSummedMessages) {
  constexpr int kClients = 30, kEach = 5;
  std::vector<std::unique_ptr<Client>> crowd;
  for (int i = 0; i < kClients; i++) {
    crowd.push_back(std::make_unique<Client>());
    ASSERT_TRUE(crowd.back()->join(daemon, room, listenerToken(daemon, room, "c" + std::to_string(i))));
  }
  const double start = nowSeconds();
  for (int round = 0; round < kEach; round++)
    for (auto& c : crowd) c->ws.send(R"({"type":"react","reaction":"clap"})");
  // The host counts every clap; one client's view: how many messages carried them.
  long long hostTotal = 0;
  std::string msg;
  while (hostTotal < kClients * kEach && host.waitFor("reactions", msg, 10)) hostTotal += jsonInt(msg, "counts.clap", 0);
  EXPECT_EQ(hostTotal, kClients * kEach);
  const double elapsed = nowSeconds() - start;
  long long seen = 0;
  int messages = 0;
  while (seen < kClients * kEach && crowd[0]->waitFor("reactions", msg, 5)) {
    seen += jsonInt(msg, "counts.clap", 0);
    messages++;
  }
  EXPECT_EQ(seen, kClients * kEach);
  // 150 reactions: at most one message per 200 ms window (and one to close the last).
  EXPECT_LE(messages, static_cast<int>(elapsed / 0.2) + 2) << "over " << elapsed << " s";
  RecordProperty("reaction_messages_per_client", messages);
}

TEST_F(Conversation, ReportsReachModeratorsLiveAndOverRest) {
  Client lee;
  ASSERT_TRUE(lee.join(daemon, room, listenerToken(daemon, room, "Lee")));
  host.ws.send(R"({"type":"chat","text":"something controversial"})");
  std::string msg;
  ASSERT_TRUE(lee.waitFor("chat", msg));
  const std::string id = std::to_string(jsonInt(msg, "message_id"));
  lee.ws.send(R"({"type":"report","message_id":)" + id + R"(,"reason":"rude"})");
  ASSERT_TRUE(host.waitFor("report", msg));
  EXPECT_EQ(jsonString(msg, "report.reason"), "rude");
  EXPECT_EQ(jsonString(msg, "report.message_text"), "something controversial");
  lee.ws.send(R"({"type":"report","identity":")" + host.identity + R"(","reason":"spam"})");
  ASSERT_TRUE(host.waitFor("report", msg));

  auto reports = http("GET", daemon.url() + "/api/v1/rooms/" + room.id + "/reports", "",
                      {{"Authorization", "Bearer " + room.hostToken}});
  ASSERT_EQ(reports.status, 200) << reports.body;
  EXPECT_NE(reports.body.find("\"reason\":\"spam\""), std::string::npos);
  EXPECT_NE(reports.body.find("\"reason\":\"rude\""), std::string::npos);
  auto denied = http("GET", daemon.url() + "/api/v1/rooms/" + room.id + "/reports", "",
                     {{"Authorization", "Bearer " + listenerToken(daemon, room, "x")}});
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(http("GET", daemon.url() + "/api/v1/rooms/" + room.id + "/reports").status, 401);
}

// The byte limit docs/protocol.md gives a message's string field (its generated field
// limits), or 0 when it gives none.
size_t documentedBytes(const std::string& type, const std::string& field) {
  std::ifstream in(std::string(ROOMCAST_SOURCE_DIR) + "/docs/protocol.md");
  std::stringstream doc;
  doc << in.rdbuf();
  const std::string text = doc.str();
  std::smatch m;
  const std::regex row("\\| `" + type + "` \\| `" + field + "` \\| string, ≤ ([0-9]+) (bytes|KiB)");
  if (!std::regex_search(text, m, row)) return 0;
  return std::stoul(m[1]) * (m[2] == "KiB" ? 1024 : 1);
}

// The chat and report limits the docs state are the ones the live server applies: that many
// bytes go through, one more is refused with too_large.
TEST_F(Conversation, TheDocumentedChatAndReportLimitsAreTheServers) {
  const size_t chatBytes = documentedBytes("chat", "text");
  const size_t reasonBytes = documentedBytes("report", "reason");
  ASSERT_GT(chatBytes, 0u) << "docs/protocol.md gives chat text no limit in its field limits";
  ASSERT_GT(reasonBytes, 0u) << "docs/protocol.md gives a report's reason no limit in its field limits";
  Client lee;
  ASSERT_TRUE(lee.join(daemon, room, listenerToken(daemon, room, "Lee")));
  std::string msg;
  lee.ws.send(R"({"type":"chat","text":")" + std::string(chatBytes + 1, 'x') + "\"}");
  ASSERT_TRUE(lee.waitFor("error", msg));
  EXPECT_EQ(jsonString(msg, "error.code"), "too_large") << msg;
  lee.ws.send(R"({"type":"chat","text":")" + std::string(chatBytes, 'x') + "\"}");
  ASSERT_TRUE(host.waitFor("chat", msg)) << "a chat message of the documented limit is delivered";
  EXPECT_EQ(jsonString(msg, "text").size(), chatBytes);

  lee.ws.send(R"({"type":"report","identity":")" + host.identity + R"(","reason":")" +
              std::string(reasonBytes + 1, 'r') + "\"}");
  ASSERT_TRUE(lee.waitFor("error", msg));
  EXPECT_EQ(jsonString(msg, "error.code"), "too_large") << msg;
  lee.ws.send(R"({"type":"report","identity":")" + host.identity + R"(","reason":")" + std::string(reasonBytes, 'r') +
              "\"}");
  ASSERT_TRUE(host.waitFor("report", msg)) << "a report of the documented limit reaches the host";
  EXPECT_EQ(jsonString(msg, "report.reason").size(), reasonBytes);
}

TEST_F(Conversation, RateLimitsAnswerThenCloseTheAbuserWhileOthersAreServed) {
  Client abuser, bystander;
  ASSERT_TRUE(abuser.join(daemon, room, listenerToken(daemon, room, "Spam")));
  ASSERT_TRUE(bystander.join(daemon, room, listenerToken(daemon, room, "Calm")));
  for (int i = 0; i < 6; i++) abuser.ws.send(R"({"type":"chat","text":"buy now )" + std::to_string(i) + "\"}");
  std::string msg;
  ASSERT_TRUE(abuser.waitFor("error", msg));
  EXPECT_EQ(jsonString(msg, "error.code"), "rate_limited") << "the 6th chat in a burst";
  // Keep going: the socket is closed as a policy violation.
  for (int i = 0; i < 200 && abuser.ws.isOpen(); i++) abuser.ws.send(R"({"type":"react","reaction":"fire"})");
  ASSERT_TRUE(abuser.ws.waitClosed(10));
  EXPECT_EQ(abuser.ws.closeCode(), 1008);
  // Everyone else is still served.
  host.ws.send(R"({"type":"chat","text":"still here"})");
  ASSERT_TRUE(bystander.ws.waitFor([](const std::string& m) { return m.find("still here") != std::string::npos; }, msg));
}

TEST_F(Conversation, HostAppointsAndRevokesCohostsWhoModerateButNotTheHost) {
  Client sam;
  auto token = http("POST", daemon.url() + "/api/v1/rooms/" + room.id + "/tokens", R"({"role":"speaker","name":"Sam"})",
                    {{"Authorization", "Bearer " + room.hostToken}});
  ASSERT_TRUE(sam.join(daemon, room, jsonString(token.body, "token")));
  host.ws.send(R"({"type":"appoint-cohost","identity":")" + sam.identity + "\"}");
  std::string msg;
  ASSERT_TRUE(sam.ws.waitFor([&](const std::string& m) {
    return jsonString(m, "type") == "role-changed" && jsonString(m, "role") == "cohost";
  }, msg));
  sam.ws.send(R"({"type":"mute","identity":")" + host.identity + "\"}");
  ASSERT_TRUE(sam.waitFor("error", msg));
  EXPECT_EQ(jsonString(msg, "error.code"), "forbidden") << "co-hosts never act on the host";
  host.ws.send(R"({"type":"revoke-cohost","identity":")" + sam.identity + "\"}");
  ASSERT_TRUE(sam.ws.waitFor([&](const std::string& m) {
    return jsonString(m, "type") == "role-changed" && jsonString(m, "role") == "speaker";
  }, msg));
}

TEST(ConversationOrigin, BrowserPagesFromOtherOriginsAreRefused) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready());
  TestRoom room = createRoom(daemon);
  const std::string url = wsUrl(daemon, room.id);
  auto evil = http("GET", daemon.url() + "/ws/" + room.id, "",
                   {{"Origin", "https://evil.example"}, {"Connection", "Upgrade"}, {"Upgrade", "websocket"},
                    {"Sec-WebSocket-Version", "13"}, {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}});
  EXPECT_EQ(evil.status, 403) << evil.body;
  EXPECT_EQ(jsonString(evil.body, "error.code"), "forbidden");
  WsClient foreign, own, cli;
  EXPECT_FALSE(foreign.connect(url, 10, "https://evil.example"));
  EXPECT_TRUE(own.connect(url, 10, daemon.url())) << "the page the server itself serves may connect";
  EXPECT_TRUE(cli.connect(url)) << "no Origin: not a browser";
}

}  // namespace
