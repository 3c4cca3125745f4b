// EvidenceQuota: the total and per-room caps on report and moderation evidence.
#include <gtest/gtest.h>

#include "media/evidence_quota.h"

using roomcast::media::EvidenceQuota;

TEST(EvidenceQuota, ARoomStopsAtItsCapOthersGoOnUntilTheTotal) {
  EvidenceQuota quota(250, 100);
  EXPECT_TRUE(quota.reserve("a", 60).ok());
  EXPECT_TRUE(quota.reserve("a", 40).ok()) << "exactly the room's cap";
  auto over = quota.reserve("a", 1);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error().message.find("room's evidence quota"), std::string::npos);
  EXPECT_EQ(quota.usedBy("a"), 100u) << "a refused file reserves nothing";
  EXPECT_TRUE(quota.reserve("b", 100).ok());
  auto total = quota.reserve("c", 60);
  ASSERT_FALSE(total.ok());
  EXPECT_NE(total.error().message.find("the evidence quota is reached"), std::string::npos);
  EXPECT_TRUE(quota.reserve("c", 50).ok());
  EXPECT_EQ(quota.used(), 250u);
}

TEST(EvidenceQuota, FilesFoundAtStartCountAndFailedWritesGiveBack) {
  EvidenceQuota quota(1000, 100);
  quota.count("a", 90);
  EXPECT_FALSE(quota.reserve("a", 20).ok()) << "what is on disk already counts";
  EXPECT_TRUE(quota.reserve("b", 80).ok());
  quota.release("b", 80);  // the write failed: no file
  EXPECT_EQ(quota.usedBy("b"), 0u);
  EXPECT_EQ(quota.used(), 90u);
  EXPECT_TRUE(quota.reserve("b", 100).ok());
}
