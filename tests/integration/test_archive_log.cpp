// cluster::ArchiveLog against a real redis-server, driven from a private main context the way the
// control loop drives it: facts are appended in order and every reader gets each once, in order,
// in batches (a reader from 0 catches up on a log longer than a batch), entries that are not facts
// are skipped, a batch not applied is read again; while Redis is down facts wait (bounded) and go
// out in order when it is back.
#include <glib.h>
#include <gtest/gtest.h>

#include "cluster/archive_log.h"
#include "cluster/redis_connection.h"
#include "redis_server.h"
#include "wait.h"

using namespace roomcast;
using namespace roomcast::testing;

namespace {

core::ArchiveFact segment(int i) {
  core::ArchiveFact f;
  f.kind = core::ArchiveFact::Kind::Transcript;
  f.id = "s" + std::to_string(i);
  f.from = "http://127.0.0.1:1";
  f.roomId = "r1";
  f.identity = "g";
  f.name = "Grace";
  f.text = "words " + std::to_string(i);
  f.startMs = 1000 + i;
  f.endMs = 2000 + i;
  return f;
}

class ArchiveLogTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.start()) << redis_.log(); }
  void TearDown() override {
    logs_.clear();
    connections_.clear();
    g_main_context_unref(context_);
  }
  cluster::ArchiveLog& newLog(size_t maxQueued = 10000) {
    cluster::RedisSettings settings;
    settings.url = cluster::parseRedisUrl(redis_.url()).value();
    settings.backoffMaxMs = 200;
    connections_.push_back(std::make_unique<cluster::RedisConnection>(context_, settings));
    connections_.back()->start();
    EXPECT_TRUE(iterateUntil(context_, [&] { return connections_.back()->up(); }, 5.0));
    cluster::ArchiveLogLimits limits;
    limits.pollMs = 50;
    limits.maxQueued = maxQueued;
    logs_.push_back(std::make_unique<cluster::ArchiveLog>(*connections_.back(), context_, limits));
    return *logs_.back();
  }

  GMainContext* context_ = g_main_context_new();
  RedisServer redis_;
  std::vector<std::unique_ptr<cluster::RedisConnection>> connections_;
  std::vector<std::unique_ptr<cluster::ArchiveLog>> logs_;
};

TEST_F(ArchiveLogTest, EveryReaderGetsEveryFactOnceInOrderAndSkipsWhatIsNotAFact) {
  cluster::ArchiveLog& writer = newLog();
  for (int i = 0; i < 250; i++) writer.append(segment(i));
  ASSERT_NE(redis_.cli({"XADD", "roomcast:archive", "*", "other", "not a fact"}), "");
  ASSERT_TRUE(iterateUntil(context_, [&] { return writer.queued() == 0; }, 10.0));
  for (int i = 250; i < 450; i++) writer.append(segment(i));
  ASSERT_TRUE(iterateUntil(context_, [&] { return writer.queued() == 0; }, 10.0));
  EXPECT_EQ(redis_.cli({"XLEN", "roomcast:archive"}), "451");

  cluster::ArchiveLog& reader = newLog();
  std::vector<std::string> ids;
  bool refusedOnce = false;
  reader.startReading("0", [&](const std::vector<core::ArchiveFact>& facts, const std::string&) {
    if (!refusedOnce) {  // the store could not take the first batch: it comes again
      refusedOnce = true;
      return false;
    }
    for (const auto& f : facts) ids.push_back(f.id);
    return true;
  });
  ASSERT_TRUE(iterateUntil(context_, [&] { return ids.size() >= 450; }, 10.0)) << ids.size();
  ASSERT_EQ(ids.size(), 450u);
  for (int i = 0; i < 450; i++) ASSERT_EQ(ids[i], "s" + std::to_string(i));
  // The last entry read is the log's last (the skipped one before the second run counts too).
  const std::string newest = redis_.cli({"XREVRANGE", "roomcast:archive", "+", "-", "COUNT", "1"});
  EXPECT_EQ(reader.lastRead(), newest.substr(0, newest.find('\n')));
}

TEST_F(ArchiveLogTest, FactsWaitWhileRedisIsDownAndGoOutInOrderWhenItIsBack) {
  cluster::ArchiveLog& writer = newLog(/*maxQueued=*/3);
  redis_.stop();
  ASSERT_TRUE(iterateUntil(context_, [&] { return !connections_.back()->up(); }, 5.0));
  for (int i = 0; i < 5; i++) writer.append(segment(i));
  EXPECT_EQ(writer.queued(), 3u) << "bounded: the newest beyond the bound are dropped";
  ASSERT_TRUE(redis_.start()) << redis_.log();
  ASSERT_TRUE(iterateUntil(context_, [&] { return writer.queued() == 0; }, 10.0));
  EXPECT_EQ(redis_.cli({"XLEN", "roomcast:archive"}), "3");
  cluster::ArchiveLog& reader = newLog();
  std::vector<std::string> ids;
  reader.startReading("0", [&](const std::vector<core::ArchiveFact>& facts, const std::string&) {
    for (const auto& f : facts) ids.push_back(f.id);
    return true;
  });
  ASSERT_TRUE(iterateUntil(context_, [&] { return ids.size() == 3; }, 5.0));
  EXPECT_EQ(ids, (std::vector<std::string>{"s0", "s1", "s2"}));
}

}  // namespace
