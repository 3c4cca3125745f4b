// cluster::ChatLog against a real redis-server, driven from a private main context the way the
// control loop drives it: load() gives the newest messages oldest first, bounded by the history
// length, without deleted or foreign entries; drop() deletes the stream.
#include <glib.h>
#include <gtest/gtest.h>

#include <optional>

#include "cluster/chat_log.h"
#include "cluster/redis_connection.h"
#include "redis_server.h"
#include "wait.h"

using namespace roomcast;
using namespace roomcast::testing;

namespace {

class ChatLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.start()) << redis_.log();
    cluster::RedisSettings settings;
    settings.url = cluster::parseRedisUrl(redis_.url()).value();
    connection_ = std::make_unique<cluster::RedisConnection>(context_, settings);
    connection_->start();
    ASSERT_TRUE(iterateUntil(context_, [&] { return connection_->up(); }, 5.0)) << connection_->lastError();
    cluster::ChatLogLimits limits;
    limits.historyLength = 3;
    log_ = std::make_unique<cluster::ChatLog>(*connection_, limits);
  }
  void TearDown() override {
    log_.reset();
    connection_.reset();
    g_main_context_unref(context_);
  }
  void append(uint64_t id, const std::string& text) {
    log_->append("r1", id, cluster::encodeChatMessage({id, "lee", "Lee", text, 1700000000000 + int64_t(id), core::Role::Listener}));
  }
  // load() and wait (bounded) for its answer: the texts, oldest first.
  std::vector<std::string> load() {
    std::optional<core::Result<std::vector<std::string>>> got;
    log_->load("r1", [&](core::Result<std::vector<std::string>> r) { got = std::move(r); });
    EXPECT_TRUE(iterateUntil(context_, [&] { return got.has_value(); }, 5.0));
    std::vector<std::string> texts;
    if (!got || !*got) return {"<error>"};
    for (const std::string& json : got->value()) {
      auto m = cluster::decodeChatMessage(json, log_->maxEntryBytes());
      texts.push_back(m ? std::to_string(m.value().id) + ":" + m.value().text : "<undecodable>");
    }
    return texts;
  }

  GMainContext* context_ = g_main_context_new();
  RedisServer redis_;
  std::unique_ptr<cluster::RedisConnection> connection_;
  std::unique_ptr<cluster::ChatLog> log_;
};

}  // namespace

TEST_F(ChatLogTest, LoadGivesTheNewestOldestFirstWithoutDeletedOrForeignEntries) {
  EXPECT_TRUE(load().empty()) << "no stream yet";
  append(1, "one");
  append(2, "two ✨");
  append(3, "three\nlines");
  EXPECT_EQ(load(), (std::vector<std::string>{"1:one", "2:two ✨", "3:three\nlines"}));
  log_->remove("r1", 2);
  EXPECT_EQ(load(), (std::vector<std::string>{"1:one", "3:three\nlines"}));
  for (uint64_t id = 4; id <= 8; id++) append(id, "n" + std::to_string(id));
  EXPECT_EQ(load(), (std::vector<std::string>{"6:n6", "7:n7", "8:n8"})) << "at most the history length";

  // Not ours (another field, or larger than a message can be): skipped, never passed on.
  redis_.cli({"XADD", log_->streamKey("r1"), "9-0", "other", "x"});
  redis_.cli({"XADD", log_->streamKey("r1"), "10-0", "message", std::string(log_->maxEntryBytes() + 1, 'x')});
  EXPECT_EQ(load(), (std::vector<std::string>{"8:n8"}));

  log_->drop("r1");
  EXPECT_TRUE(load().empty());
  EXPECT_EQ(redis_.cli({"EXISTS", log_->streamKey("r1")}), "0");
}

TEST(ChatMessageCodec, RoundTripsAndRefusesWhatIsNotOne) {
  const core::ChatMessage m{42, "id-1", "Ada \"A\"", "hi\tthere ✨", 1700000000123, core::Role::CoHost};
  auto back = cluster::decodeChatMessage(cluster::encodeChatMessage(m), 4096);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back.value().id, 42u);
  EXPECT_EQ(back.value().name, m.name);
  EXPECT_EQ(back.value().text, m.text);
  EXPECT_EQ(back.value().sentAtMs, m.sentAtMs);
  EXPECT_EQ(back.value().role, core::Role::CoHost);
  for (const char* bad : {"", "[]", "{\"message_id\":0}", "{\"message_id\":1,\"identity\":\"a\",\"name\":\"b\","
                                                            "\"text\":\"c\",\"sent_at_ms\":1,\"role\":\"king\"}"})
    EXPECT_FALSE(cluster::decodeChatMessage(bad, 4096)) << bad;
  EXPECT_FALSE(cluster::decodeChatMessage(cluster::encodeChatMessage(m), 16)) << "over the size bound";
}
