// roomcast across networks (tests/integration/network_lab.h builds them): roomcastd and coturn
// in a "server" namespace behind a firewall that opens only docs/operating.md's Network table; a Chromium
// speaker in a "home" namespace behind a NAT opens the room page at the server's address (not
// localhost), gets the microphone (a 660 Hz WAV), and joins with the TURN credentials of its
// welcome; the host (roomcast speak in a "host" namespace, 440 Hz) hears it in their return; a
// listener in a third namespace decodes the HLS with ffmpeg and hears both.
//  - home's outbound UDP dropped: the only way in is TURN over TCP (the selected pair is relayed);
//  - UDP allowed: the same run uses a direct pair (no relay on either side).
// Needs root (network namespaces, nftables), coturn and Chromium; skipped otherwise.
//
// When roomcastd serves TLS (--tls-cert in its --help) everything goes over https with a CA the
// test makes (the CLI trusts it with --ca-file, Chromium through a certificate database of its
// own, as an operator's browser would trust a private CA; ffmpeg does not verify). Without it, plain HTTP, with Chromium told the origin is secure
// (--unsafely-treat-insecure-origin-as-secure), which getUserMedia needs off localhost.
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>

#include "audio/wav.h"
#include "network_lab.h"
#include "processes.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

#include <ctime>

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {

constexpr int kSpeakerHz = 660;  // the browser's microphone
constexpr int kHostHz = 440;     // the host's CLI
constexpr const char* kTurnSecret = "lab-turn-rest-secret-0123456789abcdef";

bool available(const char* program) {
  g_autofree char* path = g_find_program_in_path(program);
  return path != nullptr;
}

PcmAudio tone(int hz, double seconds) {
  PcmAudio a;
  a.samples.resize(static_cast<size_t>(a.sampleRate * seconds));
  for (size_t i = 0; i < a.samples.size(); i++)
    a.samples[i] = static_cast<int16_t>(0.3 * 32767 * std::sin(2 * M_PI * hz * static_cast<double>(i) / a.sampleRate));
  return a;
}

// Process reads a child's output only while one of its waits runs: read what is there now.
std::string logOf(Process& p) {
  p.waitForOutput("\x01never printed\x01", 0.5);
  return p.errors() + p.output();
}

// The JSON after "pair " in the browser's output: {"local":{...},"remote":{...}}.
std::string pairLine(const std::string& output) {
  const auto at = output.find("pair ");
  if (at == std::string::npos) return "";
  return output.substr(at + 5, output.find('\n', at) - at - 5);
}

// How clients reach the web port: https with a CA this test makes (openssl CLI) when roomcastd
// serves TLS (--tls-cert), else plain HTTP with the page's origin declared secure to Chromium.
struct WebAccess {
  std::string scheme = "http";
  std::string error;                     // set when the test CA could not be made
  std::vector<std::string> daemonArgs;   // --tls-cert, --tls-key
  std::vector<std::string> cliArgs;      // --ca-file: the CLI verifies the server
  std::vector<std::string> browserArgs;  // --home (its NSS database trusts the test CA), or --insecure-origin
};

bool servesTls() {
  const ProcessResult help = run({buildPath("src/app/roomcastd"), "--help"}, 20);
  return help.stdoutText.find("--tls-cert") != std::string::npos;
}

WebAccess webAccess(const std::string& dir, const std::string& address, int port) {
  WebAccess web;
  if (!servesTls()) {
    web.browserArgs = {"--insecure-origin", "http://" + address + ":" + std::to_string(port)};
    return web;
  }
  web.scheme = "https";
  const std::string ca = dir + "/ca.pem", cert = dir + "/server.pem", key = dir + "/server.key";
  const std::string script =
      "cd " + dir + "\n"
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 "
      "-subj /CN=roomcast-test-ca 2>/dev/null\n"
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr "
      "-subj /CN=" + address + " 2>/dev/null\n"
      "printf 'subjectAltName=IP:" + address + "\\nextendedKeyUsage=serverAuth\\n' > server.ext\n"
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext "
      "-out server.pem 2>/dev/null\n"
      // Chromium on Linux trusts the CAs of the NSS database in $HOME/.pki/nssdb: the test CA
      // goes into one under a HOME of the test's own.
      "mkdir -p browser-home/.pki/nssdb\n"
      "certutil -d sql:browser-home/.pki/nssdb -N --empty-password\n"
      "certutil -d sql:browser-home/.pki/nssdb -A -t C,, -n roomcast-test-ca -i ca.pem\n";
  const ProcessResult made = run({"sh", "-ec", script}, 60);
  if (made.exitStatus != 0) web.error = "cannot make the test CA: " + made.stderrText;
  web.daemonArgs = {"--tls-cert", cert, "--tls-key", key};
  web.cliArgs = {"--ca-file", ca};
  web.browserArgs = {"--home", dir + "/browser-home"};
  return web;
}

struct CrossNetworkRun {
  std::string pair;          // the browser's selected candidate pair (JSON)
  PcmAudio hostHeard;        // the host's return
  PcmAudio listenerHeard;    // the HLS, decoded in the listener namespace
};

class Networks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "network namespaces need root (CI runs as root)";
    for (const char* p : {"ip", "nft", "turnserver", "chromium", "ffmpeg", "node"})
      if (!available(p)) GTEST_SKIP() << p << " is not installed (scripts/setup.sh installs it)";
  }

  // One deployment, one speaker, one host, one listener; fails the test (and returns what it
  // has) at the first step that does not happen in time.
  // withTurn false: no [turn] at all (the welcome's ice_servers is empty). hostRelayOnly: the
  // host's CLI reaches the room only through the TURN relays of its welcome (--relay-only).
  void deployAndSpeak(bool udpBlocked, CrossNetworkRun& out, bool withTurn = true, LabPorts ports = {},
                      bool hostRelayOnly = false) {
    NetworkLab lab(udpBlocked, ports);
    ASSERT_TRUE(lab.ready()) << lab.error();
    const TempDir scratch("roomcast-networks");
    const std::string dir = scratch.path();
    const WebAccess web = webAccess(dir, NetworkLab::kServerAddress, ports.web);
    ASSERT_TRUE(web.error.empty()) << web.error;
    const std::string server = web.scheme + "://" + NetworkLab::kServerAddress + ":" + std::to_string(ports.web);
    std::printf("the web port: %s\n", server.c_str());

    // coturn with the TURN REST API secret, UDP and TCP on 3478.
    const std::string turnAt = std::string(NetworkLab::kServerAddress);
    std::vector<std::string> turnArgv = lab.in("server");
    for (const std::string& a :
         {std::string("turnserver"), std::string("-n"), "--listening-ip=" + turnAt,
          "--listening-port=" + std::to_string(ports.turn), "--relay-ip=" + turnAt, std::string("--use-auth-secret"),
          std::string("--static-auth-secret=") + kTurnSecret, std::string("--realm=roomcast.test"),
          std::string("--no-tls"), std::string("--no-dtls"), std::string("--no-cli"), std::string("--no-multicast-peers"),
          std::string("--min-port=49152"), std::string("--max-port=49407"), "--pidfile=" + dir + "/turnserver.pid",
          "--db=" + dir + "/turndb", std::string("--log-file=stdout"), std::string("--simple-log")})
      turnArgv.push_back(a);
    Process turn(turnArgv);

    const std::string config = dir + "/roomcast.conf";
    const std::string turnSection = "[turn]\nurls = turn:" + turnAt + ":" + std::to_string(ports.turn) +
                                    "?transport=udp, turn:" + turnAt + ":" + std::to_string(ports.turn) +
                                    "?transport=tcp\nsecret = " + kTurnSecret + "\nttl_s = 600\n";
    // Rooms open to anyone here: this test is about the network, not the operator's authority
    // (off loopback, creating a room otherwise needs an admin token).
    const std::string text = "[server]\nlisten = " + turnAt + ":" + std::to_string(ports.web) +
                             "\n[auth]\nopen_rooms = true\n" +
                             (withTurn ? turnSection : std::string()) + "[media]\nice_port_range = " +
                             std::to_string(ports.iceMin) + "-" + std::to_string(ports.iceMax) + "\n";
    ASSERT_TRUE(g_file_set_contents(config.c_str(), text.c_str(), -1, nullptr));
    std::vector<std::string> daemonArgv = lab.in("server");
    for (const std::string& a : {buildPath("src/app/roomcastd"), std::string("--config"), config,
                                 std::string("--data-dir"), dir + "/data"})
      daemonArgv.push_back(a);
    daemonArgv.insert(daemonArgv.end(), web.daemonArgs.begin(), web.daemonArgs.end());
    Process daemon(daemonArgv);
    ASSERT_TRUE(pollUntil([&] { return lab.listening("server", ports.web) && lab.listening("server", ports.turn); }, 30,
                          0.2))
        << "roomcastd or coturn did not listen\n" << logOf(daemon) << logOf(turn);

    // The host, on another network, opens the room and gives the browser a speaker token.
    // argv is the CLI's: it runs in the host namespace and trusts the test CA (with TLS).
    auto inHost = [&](std::vector<std::string> argv) {
      std::vector<std::string> full = lab.in("host");
      full.push_back(argv[0]);
      full.insert(full.end(), web.cliArgs.begin(), web.cliArgs.end());
      full.insert(full.end(), argv.begin() + 1, argv.end());
      return full;
    };
    const auto created = run(inHost({cli(), "--server", server, "create", "--title", "Across networks"}), 30);
    ASSERT_EQ(created.exitStatus, 0) << created.stderrText << logOf(daemon);
    const std::string roomId = jsonString(created.stdoutText, "id");
    const std::string hostToken = jsonString(created.stdoutText, "host_token");
    const std::string hlsUrl = jsonString(created.stdoutText, "hls_url");
    ASSERT_EQ(hlsUrl.rfind(server, 0), 0u) << "hls_url follows the address the client used: " << hlsUrl;
    const auto issued = run(inHost({cli(), "--server", server, "token", roomId, "--role", "speaker", "--name",
                                    "Browser", "--token", hostToken}),
                            30);
    ASSERT_EQ(issued.exitStatus, 0) << issued.stderrText;
    const std::string speakerToken = jsonString(issued.stdoutText, "token");
    ASSERT_FALSE(speakerToken.empty()) << issued.stdoutText;

    // The browser speaker at home: Chromium runs in the home namespace.
    const std::string wav = dir + "/speaker.wav";
    ASSERT_TRUE(roomcast::audio::writeWav(wav, tone(kSpeakerHz, 10)));
    const std::string wrapper = dir + "/chromium-at-home";
    const std::string script = "#!/bin/sh\nexec ip netns exec " + lab.ns("home") + " /usr/bin/chromium \"$@\"\n";
    ASSERT_TRUE(g_file_set_contents(wrapper.c_str(), script.c_str(), -1, nullptr));
    g_chmod(wrapper.c_str(), 0755);
    const std::string pageUrl = server + "/room/" + roomId;
    std::vector<std::string> browserArgv = {"env", "NODE_PATH=" + sourcePath("node_modules"), "node",
                                            sourcePath("tests/integration/network_browser_speaker.mjs"), "--url",
                                            pageUrl, "--room", roomId, "--token", speakerToken, "--wav", wav,
                                            "--netns-wrapper", wrapper, "--seconds", "150"};
    browserArgv.insert(browserArgv.end(), web.browserArgs.begin(), web.browserArgs.end());
    Process browser(browserArgv);
    ASSERT_TRUE(browser.waitForOutput("connected", 120))
        << "the browser speaker did not connect\n" << browser.output() << browser.errors() << "\nroomcastd:\n"
        << logOf(daemon) << "\ncoturn:\n" << logOf(turn);
    EXPECT_NE(browser.output().find("origin-secure true"), std::string::npos) << browser.output();
    out.pair = pairLine(browser.output());

    // The host hears the browser in their return (their own tone is the mix-minus's to drop).
    const std::string heard = dir + "/host-heard.wav";
    std::vector<std::string> speak = {cli(), "--server", server, "speak", roomId, "--token", hostToken, "--tone",
                                      std::to_string(kHostHz), "--seconds", "12", "--out", heard};
    if (hostRelayOnly) speak.push_back("--relay-only");
    Process host(inHost(speak));
    ASSERT_TRUE(host.waitForOutput("connected", 60)) << host.errors() << logOf(daemon);

    // A listener on a third network decodes the HLS (both voices in the program).
    const std::string listened = dir + "/listener.wav";
    std::vector<std::string> ffmpeg = lab.in("listener");
    for (const std::string& a : {std::string("ffmpeg"), std::string("-nostdin"), std::string("-loglevel"),
                                 std::string("error"), std::string("-i"), hlsUrl, std::string("-t"), std::string("8"),
                                 std::string("-ac"), std::string("1"), std::string("-ar"), std::string("48000"),
                                 std::string("-y"), listened})
      ffmpeg.push_back(a);
    const auto listener = run(ffmpeg, 90);
    EXPECT_EQ(listener.exitStatus, 0) << listener.stderrText;
    EXPECT_TRUE(roomcast::audio::readWav(listened, out.listenerHeard)) << "no WAV from ffmpeg";

    const auto hostDone = host.wait(90);
    ASSERT_EQ(hostDone.exitStatus, 0) << hostDone.stderrText;
    ASSERT_TRUE(roomcast::audio::readWav(heard, out.hostHeard));
  }

  // The server's end of the pair is its host candidate on a port of [media] ice_port_range.
  static void expectServerPortInRange(const std::string& pair) {
    const LabPorts ports;  // the range is the same in every run
    EXPECT_EQ(jsonString(pair, "remote.address"), NetworkLab::kServerAddress) << pair;
    const long long port = jsonInt(pair, "remote.port");
    EXPECT_GE(port, ports.iceMin) << pair;
    EXPECT_LE(port, ports.iceMax) << pair;
  }

  static void expectVoicesHeard(const CrossNetworkRun& r) {
    const double end = r.hostHeard.seconds();
    ASSERT_GT(end, 8) << "the host's return is too short";
    // The whole last 8 s of the host's return: the browser's tone, not the host's own.
    const double speaker = meanToneDb(r.hostHeard, kSpeakerHz, end - 8, end - 0.5);
    const double own = toneDb(r.hostHeard, kHostHz, end - 8, end - 0.5);
    EXPECT_GT(speaker, -30) << "the host should hear the browser's " << kSpeakerHz << " Hz";
    EXPECT_GE(fractionWithToneAbove(r.hostHeard, kSpeakerHz, end - 8, end - 0.5, -30), 0.8);
    EXPECT_GE(speaker - own, 20) << "the host's own tone stays out of their return";
    const double listened = r.listenerHeard.seconds();
    ASSERT_GT(listened, 4) << "the listener decoded too little HLS";
    EXPECT_GT(meanToneDb(r.listenerHeard, kSpeakerHz, 1, listened), -35) << "the browser's tone in the HLS";
    EXPECT_GT(meanToneDb(r.listenerHeard, kHostHz, 1, listened), -35) << "the host's tone in the HLS";
    ::testing::Test::RecordProperty("host_hears_speaker_db", std::to_string(speaker));
    std::printf("host hears the browser at %.1f dB (own tone %.1f dB); listener: %d Hz %.1f dB, %d Hz %.1f dB\n",
                speaker, own, kSpeakerHz, meanToneDb(r.listenerHeard, kSpeakerHz, 1, listened), kHostHz,
                meanToneDb(r.listenerHeard, kHostHz, 1, listened));
  }
};

// Bad NAT-traversal settings stop roomcastd at start with a message naming the key: never a
// server that hands out TURN credentials no TURN server accepts. (No root needed.)
TEST(NetworkConfig, BadTurnOrPortRangeRefusesToStart) {
  const struct { const char* config; const char* says; } cases[] = {
      {"[turn]\nurls = turn:turn.example.org:3478\n", "secret is missing"},
      {"[turn]\nurls = https://turn.example.org\nsecret = s\n", "turn:HOST:PORT"},
      {"[turn]\nurls = turn:t:3478\nsecret = s\nttl_s = 5\n", "ttl_s"},
      {"[media]\nice_port_range = 40000\n", "ice_port_range"},
      {"[media]\nice_port_range = 50000-40000\n", "ice_port_range"},
  };
  const TempDir scratch("roomcast-netconfig");
  for (const auto& c : cases) {
    const std::string config = scratch.path() + "/roomcast.conf";
    ASSERT_TRUE(g_file_set_contents(config.c_str(), c.config, -1, nullptr));
    const auto r = run({buildPath("src/app/roomcastd"), "--listen", "127.0.0.1:0", "--data-dir",
                        scratch.path() + "/data", "--config", config},
                       30);
    EXPECT_TRUE(r.finished) << c.config << ": still running (a half-configured server)";
    EXPECT_NE(r.exitStatus, 0) << c.config;
    EXPECT_NE(r.stderrText.find(c.says), std::string::npos) << c.config << r.stderrText;
    EXPECT_EQ(r.stderrText.find("listening on"), std::string::npos) << c.config << r.stderrText;
  }
}

// Every welcome carries the TURN URLs and a credential of coturn's REST scheme for this
// participant: username "<expiry>:<identity>", expiring ttl_s from now.
TEST(NetworkConfig, WelcomeCarriesTurnCredentials) {
  const TempDir scratch("roomcast-netwelcome");
  const std::string config = scratch.path() + "/roomcast.conf";
  ASSERT_TRUE(g_file_set_contents(config.c_str(),
                                  "[turn]\nurls = turn:127.0.0.1:3478?transport=udp, turns:127.0.0.1:5349\n"
                                  "secret = welcome-secret\nttl_s = 900\n",
                                  -1, nullptr));
  Daemon daemon({"--config", config});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const TestRoom room = createRoom(daemon);
  WsClient ws;
  ASSERT_TRUE(ws.connect(wsUrl(daemon, room.id)));
  ws.send(R"({"type":"hello","version":1,"token":")" + room.hostToken + R"("})");
  std::string welcome;
  ASSERT_TRUE(ws.waitForType("welcome", welcome, 20)) << daemon.log();
  EXPECT_EQ(jsonString(welcome, "ice_servers.0.urls.0"), "turn:127.0.0.1:3478?transport=udp") << welcome;
  EXPECT_EQ(jsonString(welcome, "ice_servers.0.urls.1"), "turns:127.0.0.1:5349") << welcome;
  const std::string username = jsonString(welcome, "ice_servers.0.username");
  const std::string identity = jsonString(welcome, "you.identity");
  const auto colon = username.find(':');
  ASSERT_NE(colon, std::string::npos) << welcome;
  EXPECT_EQ(username.substr(colon + 1), identity);
  const long long expiry = std::stoll(username.substr(0, colon));
  EXPECT_NEAR(static_cast<double>(expiry - std::time(nullptr)), 900, 60) << welcome;
  EXPECT_EQ(jsonString(welcome, "ice_servers.0.credential").size(), 28u) << "base64 of a 20-byte HMAC-SHA1";
}

// Home drops every outbound UDP datagram: the browser can only reach the room through TURN
// over TCP, with the credentials the welcome gave it. The host's CLI goes through TURN too
// (--relay-only: webrtcbin's add-turn-server with its welcome's credentials).
TEST_F(Networks, SpeakerWhoseUdpIsBlockedJoinsThroughTurnOverTcp) {
  CrossNetworkRun r;
  deployAndSpeak(true, r, true, {}, true);
  if (HasFatalFailure()) return;
  std::printf("selected pair (UDP blocked): %s\n", r.pair.c_str());
  EXPECT_EQ(jsonString(r.pair, "local.candidateType"), "relay") << r.pair;
  EXPECT_EQ(jsonString(r.pair, "local.relayProtocol"), "tcp") << r.pair;
  expectServerPortInRange(r.pair);
  expectVoicesHeard(r);
}

// The same deployment with UDP allowed: no relay, a direct pair through the home NAT.
TEST_F(Networks, SpeakerWithUdpUsesADirectPair) {
  CrossNetworkRun r;
  deployAndSpeak(false, r);
  if (HasFatalFailure()) return;
  std::printf("selected pair (UDP allowed): %s\n", r.pair.c_str());
  EXPECT_NE(jsonString(r.pair, "local.candidateType"), "relay") << r.pair;
  EXPECT_NE(jsonString(r.pair, "remote.candidateType"), "relay") << r.pair;
  EXPECT_EQ(jsonString(r.pair, "local.protocol"), "udp") << r.pair;
  expectServerPortInRange(r.pair);
  expectVoicesHeard(r);
}

// ICE-TCP, without TURN: home's UDP dropped, no [turn], and the server's firewall opens the ICE
// range for TCP too. The browser's active TCP candidate reaches the passive one libnice offers
// (webrtcbin 1.22 gathers them by default, from the same port range).
TEST_F(Networks, SpeakerWhoseUdpIsBlockedJoinsOverIceTcpWhenTheRangeIsOpenForTcp) {
  CrossNetworkRun r;
  LabPorts ports;
  ports.iceTcpOpen = true;
  deployAndSpeak(true, r, false, ports);
  if (HasFatalFailure()) return;
  std::printf("selected pair (UDP blocked, no TURN, ICE-TCP open): %s\n", r.pair.c_str());
  EXPECT_EQ(jsonString(r.pair, "local.protocol"), "tcp") << r.pair;
  EXPECT_NE(jsonString(r.pair, "local.candidateType"), "relay") << r.pair;
  expectServerPortInRange(r.pair);
  expectVoicesHeard(r);
}

}  // namespace
