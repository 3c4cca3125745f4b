// A CLI speaker whose connection to the room breaks comes back by itself (issue 22: "speakers'
// clients reconnect by themselves with their resume token and are live again"). The speaker
// (440 Hz) reaches roomcastd through loopback TCP forwarders the test cuts (every connection
// closed both ways at once, as a dead link or a dying node would); the host (660 Hz, connected
// directly) records what it hears. Proved by tone analysis of the host's recording over time:
// the 440 Hz is there before each cut, gone for a gap (measured and printed), and there again
// after, without a restart of the speaker's process.
#include <glib.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "audio/continuity.h"
#include "audio/tone.h"
#include "audio/wav.h"
#include "loopback_socket.h"
#include "processes.h"
#include "room_helpers.h"
#include "tcp_forwarder.h"
#include "ws_client.h"

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {

constexpr double kSpeakerHz = 440;
constexpr double kToneDb = -30;  // the tone counts as there above this (its level is about -10 dB)

// The host's "heard N s" clock: whole seconds of the room it has heard, which are seconds of
// its --out file (its one session is never interrupted).
int heardSeconds(const Process& host) {
  const std::string& out = host.output();
  const size_t at = out.rfind("heard ");
  return at == std::string::npos ? 0 : std::atoi(out.c_str() + at + 6);
}

// Waits until the host has heard `seconds` more of the room; the host's time then.
int waitHeard(Process& host, int seconds) {
  const int target = heardSeconds(host) + seconds;
  host.waitForOutput("heard " + std::to_string(target) + " s\n", seconds + 20);
  return heardSeconds(host);
}

// The longest stretch of [from, to) in which the speaker's tone is missing from the host's
// recording, in 20 ms windows (seconds).
double longestGap(const PcmAudio& heard, double from, double to) {
  double longest = 0, run = 0;
  for (double t = std::max(0.0, from); t + 0.02 <= to; t += 0.02) {
    const double db = toneDb(heard, kSpeakerHz, t, t + 0.02);
    run = std::isnan(db) || db < kToneDb ? run + 0.02 : 0;
    longest = std::max(longest, run);
  }
  return longest;
}

struct Cut {
  int heardAtCut = 0;        // the host's clock when the connection was cut
  int heardWhenBack = 0;     // ... when the speaker's audio flowed again
  int heardAfter = 0;        // ... a few seconds later, when the test moved on
  std::string speakerSaid;   // the speaker's output from the cut on
};

// Cuts (with `cut`) the speaker's connection and waits until it is back: it prints
// "reconnecting: ...", "reconnected" and, once its new WebRTC session carries audio, "connected".
template <class CutFn>
Cut cutAndWait(Process& speaker, Process& host, CutFn cut) {
  Cut result;
  const size_t mark = speaker.output().size();
  result.heardAtCut = heardSeconds(host);
  cut();
  const size_t back = speaker.waitForOutputAfter(mark, "reconnected\n", 30);
  if (back != std::string::npos) speaker.waitForOutputAfter(back, "\nconnected\n", 30);
  result.heardWhenBack = heardSeconds(host);
  result.heardAfter = waitHeard(host, 4);
  result.speakerSaid = speaker.output().substr(mark);
  return result;
}

// What the host heard around a cut: the speaker's tone before, the gap, the tone after.
void expectToneAroundCut(const PcmAudio& heard, const Cut& cut, const char* name) {
  const double before = fractionWithToneAbove(heard, kSpeakerHz, cut.heardAtCut - 2.5, cut.heardAtCut - 0.5, kToneDb);
  EXPECT_GE(before, 0.8) << name << ": the host should hear the speaker before the cut";
  // From a second after the speaker said it was connected again (the host's clock has a
  // second's resolution) to the end of what the test waited for.
  const double from = cut.heardWhenBack + 1.5, to = cut.heardAfter;
  ASSERT_GT(to - from, 1.5) << name;
  const double after = fractionWithToneAbove(heard, kSpeakerHz, from, to, kToneDb);
  EXPECT_GE(after, 0.8) << name << ": the host should hear the speaker again after the reconnect";
  std::vector<float> mono = roomcast::audio::toMonoFloat(heard);
  const auto continuity = roomcast::audio::measureContinuity(mono, heard.sampleRate, from, to);
  EXPECT_GE(continuity.continuous, 0.8) << name << ": the speaker's audio after the reconnect";
  const double gap = longestGap(heard, cut.heardAtCut - 1, cut.heardWhenBack + 2);
  printf("%s: the speaker's tone was missing for %.2f s (cut at %d s of the host's recording, back by %d s); "
         "%.0f %% of the %.1f s after it continuous\n",
         name, gap, cut.heardAtCut, cut.heardWhenBack + 1, continuity.continuous * 100, to - from);
  ::testing::Test::RecordProperty(std::string(name) + "_gap_s", std::to_string(gap));
}

// The room of each test: roomcastd, a room, a guest's speaker token, and the host on stage
// (660 Hz, connected directly, never cut), recording what it hears.
class SpeakerReconnect : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon_.ready()) << daemon_.log();
    room_ = createRoom(daemon_, "Reconnects");
    ASSERT_FALSE(room_.id.empty());
    guestToken_ = issueToken(daemon_, room_, "speaker", "Guest");
    ASSERT_FALSE(guestToken_.empty());
    host_ = std::make_unique<Process>(std::vector<std::string>{cli(), "--server", daemon_.url(), "speak", room_.id,
                                                               "--token", room_.hostToken, "--tone", "660",
                                                               "--seconds", "120", "--out", heardPath()});
    ASSERT_TRUE(host_->waitForOutput("connected", 30)) << host_->errors() << daemon_.log();
  }

  // The guest's 440 Hz speaker through `servers`, connected, and the host hearing it a while.
  std::unique_ptr<Process> startSpeaker(const std::string& servers, const std::vector<std::string>& more = {}) {
    std::vector<std::string> argv{cli(), "--server", servers, "speak", room_.id, "--token", guestToken_, "--tone",
                                  "440", "--seconds", "120"};
    argv.insert(argv.end(), more.begin(), more.end());
    auto speaker = std::make_unique<Process>(argv);
    EXPECT_TRUE(speaker->waitForOutput("connected", 30)) << speaker->errors() << daemon_.log();
    waitHeard(*host_, 4);
    return speaker;
  }

  // Ends the room as its host; the host's run must end well.
  void endRoom() {
    const auto ended = http("DELETE", daemon_.url() + "/api/v1/rooms/" + room_.id, {},
                            {{"Authorization", "Bearer " + room_.hostToken}});
    ASSERT_EQ(ended.status, 200) << ended.body;
    const auto hostRun = host_->wait(30);
    ASSERT_EQ(hostRun.exitStatus, 0) << hostRun.stderrText;
  }

  std::string heardPath() const { return daemon_.dataDir() + "/host.wav"; }

  Daemon daemon_;
  TestRoom room_;
  std::string guestToken_;
  std::unique_ptr<Process> host_;
};

}  // namespace

// One forwarder, cut once: the speaker reconnects through it (the same server), says hello with
// its resume token, offers a new session and is heard again.
TEST_F(SpeakerReconnect, ComesBackAfterItsConnectionIsCut) {
  TcpForwarder link(portOfUrl(daemon_.url()));
  ASSERT_TRUE(link.ready());
  auto speaker = startSpeaker(link.url());

  const Cut cut = cutAndWait(*speaker, *host_, [&] { EXPECT_GE(link.cut(), 1); });
  EXPECT_NE(cut.speakerSaid.find("reconnecting: "), std::string::npos) << cut.speakerSaid;
  ASSERT_NE(cut.speakerSaid.find("reconnected\n"), std::string::npos)
      << "the speaker did not come back\n" << cut.speakerSaid << speaker->errors() << daemon_.log();
  EXPECT_GE(link.accepted(), 2) << "the speaker should have come back through the same server";
  // It resumed (the room kept its place), it did not join anew.
  EXPECT_NE(host_->output().find(R"("type":"reconnected")"), std::string::npos) << host_->output();

  ASSERT_NO_FATAL_FAILURE(endRoom());
  const auto speakerRun = speaker->wait(30);
  EXPECT_EQ(speakerRun.exitStatus, 0) << "the room's end is the speaker's end\n" << speakerRun.stderrText;
  PcmAudio heard;
  ASSERT_TRUE(roomcast::audio::readWav(heardPath(), heard));
  expectToneAroundCut(heard, cut, "cut");
}

// Two forwarders as two servers (the nodes of a cluster): the first stops taking connections
// and is cut; the speaker's next attempt there is refused and it moves on to the second. Then
// the second goes too: the speaker gives up after --reconnect-for and exits 1.
TEST_F(SpeakerReconnect, MovesOnToTheNextServerAndGivesUpInTime) {
  TcpForwarder first(portOfUrl(daemon_.url())), second(portOfUrl(daemon_.url()));
  ASSERT_TRUE(first.ready() && second.ready());
  auto speaker = startSpeaker(first.url() + "," + second.url(), {"--reconnect-for", "4"});

  const Cut cut = cutAndWait(*speaker, *host_, [&] { EXPECT_GE(first.shutDown(), 1); });
  ASSERT_NE(cut.speakerSaid.find("reconnected\n"), std::string::npos)
      << "the speaker did not come back through the second server\n" << cut.speakerSaid << speaker->errors();
  EXPECT_EQ(second.accepted(), 1) << cut.speakerSaid;
  // The loss, then the refused attempt on the first server.
  const size_t firstLine = cut.speakerSaid.find("reconnecting: ");
  ASSERT_NE(firstLine, std::string::npos);
  EXPECT_NE(cut.speakerSaid.find("reconnecting: ", firstLine + 1), std::string::npos) << cut.speakerSaid;

  // Nowhere left to go: every attempt is refused until --reconnect-for (4 s) runs out.
  const double lostAt = nowSeconds();
  EXPECT_GE(second.shutDown(), 1);
  const auto speakerRun = speaker->wait(30);
  const double gaveUpAfter = nowSeconds() - lostAt;
  EXPECT_TRUE(speakerRun.finished);
  EXPECT_EQ(speakerRun.exitStatus, 1) << speakerRun.stderrText;
  EXPECT_NE(speakerRun.stderrText.find("not back after 4 s"), std::string::npos) << speakerRun.stderrText;
  EXPECT_GE(gaveUpAfter, 3.0);
  EXPECT_LE(gaveUpAfter, 15.0);
  printf("with nowhere to reconnect the speaker gave up after %.1f s (--reconnect-for 4)\n", gaveUpAfter);

  ASSERT_NO_FATAL_FAILURE(endRoom());
  PcmAudio heard;
  ASSERT_TRUE(roomcast::audio::readWav(heardPath(), heard));
  expectToneAroundCut(heard, cut, "next_server");
}
