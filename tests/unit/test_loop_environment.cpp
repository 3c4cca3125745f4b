// app::loopEnvironment's timers, on the default main context: a timer that has run can be
// cancelled without touching any source (a GLib id would be removed again: a critical), a
// cancelled one never runs, and none outlives the environment it was scheduled on.
#include <glib.h>
#include <gtest/gtest.h>

#include <optional>

#include "app/loop_environment.h"
#include "wait.h"

using roomcast::testing::iterateUntil;

namespace {

unsigned criticals = 0;

void countCritical(const gchar*, GLogLevelFlags, const gchar*, gpointer) { criticals++; }

// Runs the default context until nothing is due any more.
void drain() {
  while (g_main_context_iteration(nullptr, FALSE)) {
  }
}

class LoopEnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    criticals = 0;
    handler_ = g_log_set_handler("GLib", G_LOG_LEVEL_CRITICAL, countCritical, nullptr);
  }
  void TearDown() override { g_log_remove_handler("GLib", handler_); }
  guint handler_ = 0;
};

TEST_F(LoopEnvironmentTest, CancellingATimerThatHasRunTouchesNothing) {
  auto env = roomcast::app::loopEnvironment();
  bool first = false, second = false;
  const uint64_t done = env.schedule(0, [&] { first = true; });
  ASSERT_TRUE(iterateUntil(nullptr, [&] { return first; }, 5));
  const uint64_t pending = env.schedule(0, [&] { second = true; });
  EXPECT_NE(pending, done) << "ids are not reused";
  env.cancel(done);
  EXPECT_EQ(criticals, 0u);
  EXPECT_TRUE(iterateUntil(nullptr, [&] { return second; }, 5)) << "the other timer still runs";
}

TEST_F(LoopEnvironmentTest, ACancelledTimerNeverRuns) {
  auto env = roomcast::app::loopEnvironment();
  bool ran = false, later = false;
  env.cancel(env.schedule(0, [&] { ran = true; }));
  env.schedule(1, [&] { later = true; });  // due after the cancelled one would have been
  ASSERT_TRUE(iterateUntil(nullptr, [&] { return later; }, 5));
  EXPECT_FALSE(ran);
  EXPECT_EQ(criticals, 0u);
}

TEST_F(LoopEnvironmentTest, TimersGoWithTheirEnvironment) {
  bool ran = false;
  {
    std::optional<roomcast::core::Environment> env = roomcast::app::loopEnvironment();
    auto copy = *env;  // the environment's copies share its timers
    env.reset();
    copy.schedule(0, [&] { ran = true; });
  }
  drain();
  EXPECT_FALSE(ran) << "a timer ran after its environment was gone";
}

}  // namespace
