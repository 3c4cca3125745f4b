// A speaker on a lossy link (issue 20): the CLI speaker in the lab's "host" namespace loses a
// random share of its RTP both ways (nftables in that namespace: output for the uplink, input
// for the downlink; STUN, DTLS and RTCP pass, so this is about recovery, not about ICE). A
// second speaker on a clean link (the "listener" namespace, out of the recording) sends the
// tone the lossy one hears back. Measured with measureContinuity, issue 20's measure:
//  - uplink: the room's recording (the lossy speaker's 440 Hz alone);
//  - downlink: the lossy speaker's own --out (the clean speaker's 660 Hz, through the lossy link).
// Issue 20's targets (>= 99 % continuous at 5 % random loss, >= 97 % at 10 %) are measured by
// bench/loss; this test holds the line the code keeps on a loaded machine at 5 %: the code
// before in-band FEC worked measured 94.2 % continuous and 87.7 % within 1 dB on the uplink
// (96.1 % and 91.8 % down); the FEC path measured 97.6-99.9 % and 95.9-98.8 % in five runs
// at load averages of 7 to 9.5 on two cores.
// Needs root (network namespaces, nftables); skipped otherwise.
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <regex>

#include "audio/continuity.h"
#include "audio/wav.h"
#include "network_lab.h"
#include "processes.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;
using roomcast::audio::Continuity;
using roomcast::audio::PcmAudio;

namespace {

constexpr int kLossyHz = 440;  // the speaker on the lossy link
constexpr int kCleanHz = 660;  // the one on a clean link, heard through the lossy downlink
constexpr int kLossySeconds = 20;

bool available(const char* program) {
  g_autofree char* path = g_find_program_in_path(program);
  return path != nullptr;
}

std::vector<float> toFloat(const PcmAudio& a) {
  std::vector<float> out(a.samples.size());
  for (size_t i = 0; i < out.size(); i++) out[i] = a.samples[i] / 32768.0f;
  return out;
}

// Random loss of RTP only, both ways, on the host namespace's link to the server. RTP: version
// 2 in the first byte, and a second byte that is not an RTCP packet type (200-207) (RFC 5761).
// The first rules count what would be eligible, the drop rules what went.
std::string lossRules(int percent) {
  const std::string rtp = "@th,64,8 & 0xc0 == 0x80 @th,72,8 != 200-207";
  const std::string p = std::to_string(percent);
  return "table inet roomcast_loss {\n"
         " chain output {\n  type filter hook output priority 0; policy accept\n"
         "  ip daddr " + std::string(NetworkLab::kServerAddress) + " udp dport 1024-65535 " + rtp + " counter\n"
         "  ip daddr " + std::string(NetworkLab::kServerAddress) + " udp dport 1024-65535 " + rtp +
         " numgen random mod 100 < " + p + " counter drop\n }\n"
         " chain input {\n  type filter hook input priority 0; policy accept\n"
         "  ip saddr " + std::string(NetworkLab::kServerAddress) + " udp sport 1024-65535 " + rtp + " counter\n"
         "  ip saddr " + std::string(NetworkLab::kServerAddress) + " udp sport 1024-65535 " + rtp +
         " numgen random mod 100 < " + p + " counter drop\n }\n}\n";
}

// The packet counters of one chain, in rule order: {seen, dropped}.
std::pair<long long, long long> counters(const std::string& ruleset, const std::string& chain) {
  const auto at = ruleset.find("chain " + chain);
  if (at == std::string::npos) return {-1, -1};
  const std::string body = ruleset.substr(at, ruleset.find('}', at) - at);
  std::vector<long long> packets;
  const std::regex counter("counter packets ([0-9]+)");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), counter); it != std::sregex_iterator(); ++it)
    packets.push_back(std::stoll((*it)[1]));
  if (packets.size() != 2) return {-1, -1};
  return {packets[0], packets[1]};
}

std::string logOf(Process& p) {
  p.waitForOutput("\x01never printed\x01", 0.2);
  return p.errors() + p.output();
}

std::string describe(const Continuity& c) {
  char text[160];
  std::snprintf(text, sizeof text, "%.1f %% continuous, %.1f %% within 1 dB, %d quiet of %d windows (median %.1f dBFS)",
                100 * c.continuous, 100 * c.intact, c.quiet, c.windows, c.medianDbfs);
  return text;
}

class LossyLinks : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "network namespaces need root (CI runs as root)";
    for (const char* p : {"ip", "nft", "ffmpeg"})
      if (!available(p)) GTEST_SKIP() << p << " is not installed (scripts/setup.sh installs it)";
  }
};

TEST_P(LossyLinks, SpeakerLosingPacketsIsHeardAndHearsContinuously) {
  const int percent = GetParam();
  LabPorts ports;
  NetworkLab lab(false, ports);
  ASSERT_TRUE(lab.ready()) << lab.error();
  const TempDir scratch("roomcast-lossy");
  const std::string dir = scratch.path();
  const std::string server = "http://" + std::string(NetworkLab::kServerAddress) + ":" + std::to_string(ports.web);

  const std::string config = dir + "/roomcast.conf";
  const std::string text = "[server]\nlisten = " + std::string(NetworkLab::kServerAddress) + ":" +
                           std::to_string(ports.web) + "\n[auth]\nopen_rooms = true\n[media]\nice_port_range = " +
                           std::to_string(ports.iceMin) + "-" + std::to_string(ports.iceMax) + "\n";
  ASSERT_TRUE(g_file_set_contents(config.c_str(), text.c_str(), -1, nullptr));
  std::vector<std::string> daemonArgv = lab.in("server");
  for (const std::string& a :
       {buildPath("src/app/roomcastd"), std::string("--config"), config, std::string("--data-dir"), dir + "/data"})
    daemonArgv.push_back(a);
  Process daemon(daemonArgv);
  ASSERT_TRUE(pollUntil([&] { return lab.listening("server", ports.web); }, 30, 0.2)) << logOf(daemon);

  auto in = [&](const char* role, std::vector<std::string> argv) {
    std::vector<std::string> full = lab.in(role);
    full.insert(full.end(), argv.begin(), argv.end());
    return full;
  };
  const auto created = run(in("host", {cli(), "--server", server, "create", "--title", "Lossy", "--record"}), 30);
  ASSERT_EQ(created.exitStatus, 0) << created.stderrText << logOf(daemon);
  const std::string roomId = jsonString(created.stdoutText, "id");
  const std::string hostToken = jsonString(created.stdoutText, "host_token");
  const auto issued = run(
      in("host", {cli(), "--server", server, "token", roomId, "--role", "speaker", "--name", "Clean", "--token", hostToken}),
      30);
  ASSERT_EQ(issued.exitStatus, 0) << issued.stderrText;
  const std::string cleanToken = jsonString(issued.stdoutText, "token");

  const std::string rules = dir + "/loss.nft";
  ASSERT_TRUE(g_file_set_contents(rules.c_str(), lossRules(percent).c_str(), -1, nullptr));
  const auto loaded = run(in("host", {"nft", "-f", rules}), 20);
  ASSERT_EQ(loaded.exitStatus, 0) << loaded.stderrText;

  // The clean speaker talks first and until the room ends, so the lossy one hears it throughout;
  // it is not in the recording, which keeps the lossy speaker's uplink alone.
  const std::string cleanHeard = dir + "/clean-heard.wav", lossyHeard = dir + "/lossy-heard.wav";
  Process clean(in("listener", {cli(), "--server", server, "speak", roomId, "--token", cleanToken, "--tone",
                                std::to_string(kCleanHz), "--seconds", "300", "--recording-opt-out", "--out", cleanHeard}));
  ASSERT_TRUE(clean.waitForOutput("connected", 60)) << logOf(clean) << logOf(daemon);
  Process lossy(in("host", {cli(), "--server", server, "speak", roomId, "--token", hostToken, "--tone",
                            std::to_string(kLossyHz), "--seconds", std::to_string(kLossySeconds), "--out", lossyHeard}));
  ASSERT_TRUE(lossy.waitForOutput("connected", 60)) << logOf(lossy) << logOf(daemon);
  const auto lossyRun = lossy.wait(kLossySeconds + 120);
  ASSERT_EQ(lossyRun.exitStatus, 0) << lossyRun.stderrText;
  const auto ruleset = run(in("host", {"nft", "list", "table", "inet", "roomcast_loss"}), 20);

  const auto ended = run(in("host", {cli(), "--server", server, "end", roomId, "--token", hostToken}), 30);
  ASSERT_EQ(ended.exitStatus, 0) << ended.stderrText;
  EXPECT_EQ(clean.wait(60).exitStatus, 0);
  std::string recording;
  ASSERT_TRUE(pollUntil(
      [&] {
        g_autoptr(GDir) d = g_dir_open((dir + "/data/recordings").c_str(), 0, nullptr);
        while (const char* name = d ? g_dir_read_name(d) : nullptr)
          if (g_str_has_suffix(name, ".ogg")) recording = dir + "/data/recordings/" + name;
        return !recording.empty();
      },
      30, 0.2))
      << logOf(daemon);
  daemon.terminate();
  daemon.wait(60);

  const auto [upSeen, upDropped] = counters(ruleset.stdoutText, "output");
  const auto [downSeen, downDropped] = counters(ruleset.stdoutText, "input");
  ASSERT_GT(upSeen, 0) << ruleset.stdoutText;
  ASSERT_GT(downSeen, 0) << ruleset.stdoutText;
  std::printf("loss made: uplink %lld of %lld RTP packets (%.1f %%), downlink %lld of %lld (%.1f %%)\n", upDropped,
              upSeen, 100.0 * upDropped / upSeen, downDropped, downSeen, 100.0 * downDropped / downSeen);

  // Uplink: the recording holds the lossy speaker alone; its first and last second (joining,
  // leaving) are left out.
  PcmAudio recorded;
  const std::string recordedWav = dir + "/recording.wav";
  const auto decoded =
      run({"ffmpeg", "-nostdin", "-v", "error", "-i", recording, "-ac", "1", "-ar", "48000", "-y", recordedWav}, 60);
  ASSERT_EQ(decoded.exitStatus, 0) << decoded.stderrText;
  ASSERT_TRUE(roomcast::audio::readWav(recordedWav, recorded));
  const double onset = toneOnset(recorded, kLossyHz, -30);
  ASSERT_FALSE(std::isnan(onset)) << "the lossy speaker is not in the recording";
  const Continuity up = roomcast::audio::measureContinuity(toFloat(recorded), recorded.sampleRate, onset + 1,
                                                           onset + kLossySeconds - 1);
  // Downlink: what the lossy speaker heard (the clean speaker's tone), past its first second.
  PcmAudio heard;
  ASSERT_TRUE(roomcast::audio::readWav(lossyHeard, heard));
  const Continuity down =
      roomcast::audio::measureContinuity(toFloat(heard), heard.sampleRate, 1, heard.seconds() - 1);
  std::printf("%d %% loss, uplink (recording): %s\n", percent, describe(up).c_str());
  std::printf("%d %% loss, downlink (--out): %s\n", percent, describe(down).c_str());
  RecordProperty("uplink_continuity", std::to_string(up.continuous));
  RecordProperty("downlink_continuity", std::to_string(down.continuous));

  const double continuousAtLeast = 0.97, intactAtLeast = 0.93;
  EXPECT_GE(up.windows, (kLossySeconds - 4) * 50) << "the recording should hold the lossy speaker's tone";
  EXPECT_GE(down.windows, (kLossySeconds - 4) * 50) << "the lossy speaker should hear the other throughout";
  EXPECT_GE(up.continuous, continuousAtLeast) << "uplink: " << describe(up);
  EXPECT_GE(down.continuous, continuousAtLeast) << "downlink: " << describe(down);
  EXPECT_GE(up.intact, intactAtLeast) << "uplink: " << describe(up);
  EXPECT_GE(down.intact, intactAtLeast) << "downlink: " << describe(down);
}

INSTANTIATE_TEST_SUITE_P(RandomLoss, LossyLinks, ::testing::Values(5),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param) + "Percent";
                         });

}  // namespace
