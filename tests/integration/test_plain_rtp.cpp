// Plain-RTP speakers (no ICE, no DTLS), for benchmarks and SIP-like peers: refused unless the
// operator allows it; where allowed, a plain-RTP speaker and a WebRTC speaker hear each other
// and never themselves, a plain-RTP raised hand is pre-warmed, then heard once promoted, and
// while a plain-RTP speaker is not mixed the kernel drops their packets (nothing wakes for them).
#include <arpa/inet.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>

#include "audio/wav.h"
#include "processes.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {

// roomcastd with [media] plain_rtp = true.
std::vector<std::string> plainRtpConfig() { return configFileArgs("[media]\nplain_rtp = true\n"); }

// One UDP socket of this network namespace, from /proc/net/udp: how many datagrams wait in
// its receive queue, and how many the kernel dropped (a socket filter's drops count here).
struct UdpSocketStats {
  bool found = false;
  unsigned long rxQueue = 0, drops = 0;
};
UdpSocketStats udpSocketStats(int port) {
  std::ifstream table("/proc/net/udp");
  std::string line;
  std::getline(table, line);  // the header
  char local[32];
  snprintf(local, sizeof local, "0100007F:%04X", port);
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, localAddress, remote, state, queues, timer, retransmits, uid, timeout, inode, refs, pointer;
    unsigned long drops = 0;
    fields >> slot >> localAddress >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode >>
        refs >> pointer >> drops;
    if (localAddress != local) continue;
    UdpSocketStats stats{true, std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16), drops};
    return stats;
  }
  return {};
}

TEST(PlainRtp, RefusedUnlessTheOperatorAllowsIt) {
  Daemon daemon;  // defaults: plain_rtp = false
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  WsClient ws;
  ASSERT_TRUE(ws.connect(wsUrl(daemon, room.id)));
  ws.send(R"({"type":"hello","version":1,"token":")" + room.hostToken + "\"}");
  std::string msg;
  ASSERT_TRUE(ws.waitForType("welcome", msg));
  ws.send(R"({"type":"rtp-offer","id":"r1","host":"127.0.0.1","port":40000,"payload_type":111})");
  ASSERT_TRUE(ws.waitForType("error", msg));
  EXPECT_EQ(jsonString(msg, "error.code"), "forbidden") << msg;
  EXPECT_EQ(jsonString(msg, "ref"), "r1");
  // Bad values are refused by the protocol before any policy.
  ws.send(R"({"type":"rtp-offer","host":"127.0.0.1","port":0,"payload_type":111})");
  ASSERT_TRUE(ws.waitForType("error", msg));
  EXPECT_EQ(jsonString(msg, "error.code"), "bad_request") << msg;
}

TEST(PlainRtp, PlainRtpAndWebRtcSpeakersHearEachOtherNeverThemselves) {
  Daemon daemon(plainRtpConfig());
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  const std::string guestToken = issueToken(daemon, room, "speaker", "Grace");
  ASSERT_FALSE(guestToken.empty());
  const std::string dir = daemon.dataDir();

  // The host stays on stage until the room ends: the guest's whole 6 s overlap with them
  // however long the guest takes to join on a loaded machine.
  Process host({cli(), "--server", daemon.url(), "speak", room.id, "--token", room.hostToken, "--tone", "440",
                "--seconds", "60", "--out", dir + "/host.wav"});
  ASSERT_TRUE(host.waitForOutput("connected", 30)) << daemon.log();
  Process guest({cli(), "--server", daemon.url(), "speak", room.id, "--token", guestToken, "--plain-rtp", "--tone",
                 "660", "--seconds", "6", "--out", dir + "/guest.wav"});
  ASSERT_TRUE(guest.waitForOutput("connected", 30)) << daemon.log();
  const auto guestRun = guest.wait(60);
  ASSERT_EQ(guestRun.exitStatus, 0) << guestRun.stderrText << daemon.log();
  const auto ended = http("DELETE", daemon.url() + "/api/v1/rooms/" + room.id, {}, {{"Authorization", "Bearer " + room.hostToken}});
  ASSERT_EQ(ended.status, 200) << ended.body;
  const auto hostRun = host.wait(60);
  ASSERT_EQ(hostRun.exitStatus, 0) << hostRun.stderrText;

  PcmAudio hostHeard, guestHeard;
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/host.wav", hostHeard));
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/guest.wav", guestHeard));
  // Each file starts when its own speaker first heard the room: the guest hears the host from
  // its first moment, the host hears the guest from wherever the guest joined (found, not
  // assumed). Levels are means over short pieces; own voices are measured narrowly.
  const double from = 0.5, to = guestHeard.seconds() - 0.5;
  ASSERT_GT(to - from, 4.0) << "the plain-RTP speaker should hear its 6 s of the room";
  const double guestHearsHost = meanToneDb(guestHeard, 440, from, to);
  const double guestHearsSelf = toneDb(guestHeard, 660, 0, guestHeard.seconds());
  EXPECT_GT(guestHearsHost, -20) << "plain RTP → WebRTC: the guest hears the host";
  EXPECT_GE(fractionWithToneAbove(guestHeard, 440, from, to, -20), 0.8);
  EXPECT_GE(guestHearsHost - guestHearsSelf, 30) << "own voice ≥ 30 dB below the other";
  const double joined = toneOnset(hostHeard, 660, -30);
  ASSERT_FALSE(std::isnan(joined)) << "the host never heard the guest";
  ASSERT_GE(hostHeard.seconds(), joined + 5.0) << "the host should hear the room until it ends";
  const double hostHearsGuest = meanToneDb(hostHeard, 660, joined + 0.5, joined + 5.0);
  const double hostHearsSelf = toneDb(hostHeard, 440, 0, hostHeard.seconds());
  EXPECT_GT(hostHearsGuest, -20) << "WebRTC ← plain RTP: the host hears the guest";
  EXPECT_GE(fractionWithToneAbove(hostHeard, 660, joined + 0.5, joined + 5.0, -20), 0.8);
  EXPECT_GE(hostHearsGuest - hostHearsSelf, 30);
}

TEST(PlainRtp, RaisedHandIsPrewarmedThenHeardOncePromoted) {
  Daemon daemon(plainRtpConfig());
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  const std::string dir = daemon.dataDir();

  Process host({cli(), "--server", daemon.url(), "speak", room.id, "--token", room.hostToken, "--tone", "440",
                "--seconds", "15", "--out", dir + "/host.wav"});
  ASSERT_TRUE(host.waitForOutput("speaking", 30)) << daemon.log();
  const double t0 = nowSeconds();  // ≈ the first sample of host.wav
  Process ann({cli(), "--server", daemon.url(), "speak", room.id, "--raise-hand", "--name", "Ann", "--plain-rtp",
               "--tone", "660", "--seconds", "4", "--out", dir + "/ann.wav"});
  ASSERT_TRUE(ann.waitForOutput("connected", 30)) << "pre-warm over plain RTP: Ann hears the room first";
  ASSERT_TRUE(ann.waitForOutput("heard 2 s\n", 10));
  const double promoteAt = nowSeconds() - t0;
  auto promoted = run({cli(), "--server", daemon.url(), "promote", room.id, "Ann", "--token", room.hostToken}, 30);
  ASSERT_EQ(promoted.exitStatus, 0) << promoted.stderrText;
  ASSERT_TRUE(ann.waitForOutput("promoted", 10));
  const auto annRun = ann.wait(30);
  ASSERT_EQ(annRun.exitStatus, 0) << annRun.stderrText;
  const double annLeftAt = nowSeconds() - t0;
  const auto hostRun = host.wait(30);
  ASSERT_EQ(hostRun.exitStatus, 0) << hostRun.stderrText;
  ASSERT_GT(15.0, annLeftAt) << "the host must outlast Ann's turn";

  PcmAudio heard;
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/host.wav", heard));
  const double before = toneDb(heard, 660, 0.5, promoteAt - 0.05);
  const double after = meanToneDb(heard, 660, promoteAt + 0.6, annLeftAt - 0.3);
  EXPECT_LT(before, -60) << "a pre-warming hand is not mixed";
  EXPECT_GT(after, -20) << "promoted, Ann is heard";
}

// Pre-warming, and later muted by the host: the server's port drops every packet in the
// kernel; promoted or unmuted, the server reads them again.
TEST(PlainRtp, PacketsOfASpeakerWhoIsNotMixedAreDroppedByTheKernel) {
  Daemon daemon(plainRtpConfig());
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  TestRoom room = createRoom(daemon);
  const std::string annToken = issueToken(daemon, room, "listener", "Ann");
  ASSERT_FALSE(annToken.empty());

  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  std::unique_ptr<int, void (*)(int*)> closeAtEnd(new int(fd), [](int* f) {
    close(*f);
    delete f;
  });
  sockaddr_in ours{};
  ours.sin_family = AF_INET;
  ours.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof ours;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&ours), sizeof ours), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&ours), &length), 0);

  WsClient ws;
  ASSERT_TRUE(ws.connect(wsUrl(daemon, room.id)));
  std::string msg;
  ws.send(R"({"type":"hello","version":1,"token":")" + annToken + "\"}");
  ASSERT_TRUE(ws.waitForType("welcome", msg));
  ws.send(R"({"type":"raise-hand"})");
  ws.send(R"({"type":"rtp-offer","host":"127.0.0.1","port":)" + std::to_string(ntohs(ours.sin_port)) +
          R"(,"payload_type":111})");
  ASSERT_TRUE(ws.waitForType("rtp-answer", msg)) << daemon.log();
  const int serverPort = std::stoi(msg.substr(msg.find("\"port\":") + 7));
  ASSERT_TRUE(udpSocketStats(serverPort).found) << msg;

  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  server.sin_port = htons(static_cast<uint16_t>(serverPort));
  uint16_t sequence = 0;
  // Ten RTP packets, pt 111, each a 20 ms CELT frame (TOC 0xF8) of 19 zero bytes.
  auto sendPackets = [&] {
    for (int i = 0; i < 10; i++, sequence++) {
      const uint32_t timestamp = sequence * 960u;
      unsigned char packet[32] = {0x80, 111, static_cast<unsigned char>(sequence >> 8),
                                  static_cast<unsigned char>(sequence), static_cast<unsigned char>(timestamp >> 24),
                                  static_cast<unsigned char>(timestamp >> 16), static_cast<unsigned char>(timestamp >> 8),
                                  static_cast<unsigned char>(timestamp), 0x12, 0x34, 0x56, 0x78, 0xF8};
      ASSERT_EQ(sendto(fd, packet, sizeof packet, 0, reinterpret_cast<sockaddr*>(&server), sizeof server),
                static_cast<ssize_t>(sizeof packet));
    }
  };
  auto dropsAfterSending = [&](unsigned long expectedDrops) {
    // Loopback delivers (or drops) within sendto, or soon after in a softirq: wait for the
    // drops we expect and an empty queue (the server read whatever it accepted).
    pollUntil([&] {
      auto s = udpSocketStats(serverPort);
      return s.drops >= expectedDrops && s.rxQueue == 0;
    }, 10);
    return udpSocketStats(serverPort).drops;
  };

  const unsigned long atStart = udpSocketStats(serverPort).drops;
  sendPackets();
  EXPECT_EQ(dropsAfterSending(atStart + 10), atStart + 10) << "a pre-warming hand's packets are dropped on arrival";

  auto promoted = run({cli(), "--server", daemon.url(), "promote", room.id, "Ann", "--token", room.hostToken}, 30);
  ASSERT_EQ(promoted.exitStatus, 0) << promoted.stderrText;
  ASSERT_TRUE(ws.waitFor([](const std::string& m) { return m.find("\"role-changed\"") != std::string::npos; }, msg));
  const unsigned long onStage = udpSocketStats(serverPort).drops;
  sendPackets();
  EXPECT_EQ(dropsAfterSending(onStage), onStage) << "a promoted speaker's packets are read";

  auto muted = run({cli(), "--server", daemon.url(), "mute", room.id, "Ann", "--token", room.hostToken}, 30);
  ASSERT_EQ(muted.exitStatus, 0) << muted.stderrText;
  ASSERT_TRUE(ws.waitForType("mute-changed", msg));
  sendPackets();
  EXPECT_EQ(dropsAfterSending(onStage + 10), onStage + 10) << "a muted speaker's packets are dropped on arrival";

  auto unmuted = run({cli(), "--server", daemon.url(), "unmute", room.id, "Ann", "--token", room.hostToken}, 30);
  ASSERT_EQ(unmuted.exitStatus, 0) << unmuted.stderrText;
  ASSERT_TRUE(ws.waitForType("mute-changed", msg));
  sendPackets();
  EXPECT_EQ(dropsAfterSending(onStage + 10), onStage + 10) << "unmuted, they are read again";
}

}  // namespace
