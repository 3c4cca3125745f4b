// Speakers' WebRTC sessions against a real roomcastd: whatever a session held (webrtcbin, its
// ICE agent's sockets and thread, DTLS, the speaker's branches) is given back when it ends,
// however it ends, and a session whose ICE/DTLS never completes ends at the deadline.
// Measured from outside, in /proc/<roomcastd>/fd and /proc/<roomcastd>/task (not counting
// the clients' own TCP connections to the daemon).
#include <glib.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "processes.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;

namespace {

int countEntries(const std::string& dir) {
  g_autoptr(GDir) d = g_dir_open(dir.c_str(), 0, nullptr);
  if (!d) return -1;
  int n = 0;
  while (g_dir_read_name(d)) n++;
  return n;
}

// The inodes of the daemon's TCP sockets on `port`: its clients' HTTP and WebSocket
// connections, which are not a session's to give back (their reaping is tested elsewhere).
std::set<std::string> clientConnections(int pid, int port) {
  std::set<std::string> inodes;
  for (const char* table : {"/net/tcp", "/net/tcp6"}) {
    g_autofree char* text = nullptr;
    if (!g_file_get_contents(("/proc/" + std::to_string(pid) + table).c_str(), &text, nullptr, nullptr)) continue;
    std::istringstream lines(text);
    std::string line;
    std::getline(lines, line);  // the header
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      const auto colon = local.rfind(':');
      if (colon != std::string::npos && std::stoi(local.substr(colon + 1), nullptr, 16) == port) inodes.insert(inode);
    }
  }
  return inodes;
}

struct Usage {
  int fds = 0;      // without the clients' connections
  int threads = 0;
};

Usage usageOf(const Daemon& daemon) {
  const int pid = daemon.pid();
  const int port = std::stoi(daemon.url().substr(daemon.url().rfind(':') + 1));
  const std::string proc = "/proc/" + std::to_string(pid);
  const auto connections = clientConnections(pid, port);
  Usage usage{0, countEntries(proc + "/task")};
  g_autoptr(GDir) d = g_dir_open((proc + "/fd").c_str(), 0, nullptr);
  while (const char* fd = d ? g_dir_read_name(d) : nullptr) {
    g_autofree char* target = g_file_read_link((proc + "/fd/" + fd).c_str(), nullptr);
    const std::string link = target ? target : "";
    const bool client = link.rfind("socket:[", 0) == 0 && connections.count(link.substr(8, link.size() - 9));
    if (!client) usage.fds++;
  }
  return usage;
}

std::string describe(const Usage& u) {
  return std::to_string(u.fds) + " fds, " + std::to_string(u.threads) + " threads";
}

// GStreamer's thread pools keep a few idle threads: a session's leak was ~16 fds and 2
// threads, 30 sessions' far more than this.
constexpr int kFdSlack = 6;
constexpr int kThreadSlack = 4;

bool backTo(const Daemon& daemon, const Usage& baseline, Usage& now, double timeout) {
  return pollUntil([&] {
    now = usageOf(daemon);
    return now.fds <= baseline.fds + kFdSlack && now.threads <= baseline.threads + kThreadSlack;
  }, timeout, 0.25);
}

// A browser-like offer: one audio m-line (Opus), ICE credentials and a DTLS fingerprint, but
// no candidates: the server answers and gathers its own, and ICE can never complete.
std::string offerSdp() {
  std::string fingerprint;
  for (int i = 0; i < 32; i++) fingerprint += (i ? ":" : "") + std::string("A") + std::to_string(i % 10);
  return "v=0\r\n"
         "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
         "s=-\r\n"
         "t=0 0\r\n"
         "a=group:BUNDLE 0\r\n"
         "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
         "c=IN IP4 0.0.0.0\r\n"
         "a=rtcp:9 IN IP4 0.0.0.0\r\n"
         "a=ice-ufrag:Wx3q\r\n"
         "a=ice-pwd:Ak2Hn3BqvK8o0W1lZ7pYc9Re\r\n"
         "a=fingerprint:sha-256 " + fingerprint + "\r\n"
         "a=setup:actpass\r\n"
         "a=mid:0\r\n"
         "a=sendrecv\r\n"
         "a=rtcp-mux\r\n"
         "a=rtpmap:111 opus/48000/2\r\n"
         "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
         "a=ssrc:1001 cname:lifecycle\r\n";
}

std::string escapeJson(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// Joins as `token`, offers, and waits for the answer and the server's first candidate (its
// ICE agent is then gathering: sockets open).
void joinAndOffer(WsClient& ws, const Daemon& daemon, const TestRoom& room, const std::string& token) {
  std::string msg;
  ASSERT_TRUE(ws.connect(wsUrl(daemon, room.id)));
  ws.send(R"({"type":"hello","version":1,"token":")" + token + "\"}");
  ASSERT_TRUE(ws.waitForType("welcome", msg)) << msg;
  ws.send(R"({"type":"offer","sdp":")" + escapeJson(offerSdp()) + "\"}");
  ASSERT_TRUE(ws.waitFor([](const std::string& m) {
    const std::string type = jsonString(m, "type");
    return type == "answer" || type == "error";
  }, msg, 30));
  ASSERT_EQ(jsonString(msg, "type"), "answer") << msg;
  ASSERT_TRUE(ws.waitForType("candidate", msg, 30)) << "the server gathers candidates";
}

void offerAndLeave(const Daemon& daemon, const TestRoom& room, const std::string& token) {
  WsClient ws;
  joinAndOffer(ws, daemon, room, token);
  ws.send(R"({"type":"leave"})");
  EXPECT_TRUE(ws.waitClosed(10));
}

TEST(PeerLifecycle, SessionsGiveBackEverythingOnLeaveAndRoomEnd) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();

  // Warm up what stays for the process's life (the DTLS certificate, plugins, thread pools)
  // in a room that then ends: the baseline is a warm daemon without rooms.
  {
    const TestRoom warm = createRoom(daemon, "warm-up");
    const std::string token = issueToken(daemon, warm, "speaker", "Warm");
    for (int i = 0; i < 2; i++) offerAndLeave(daemon, warm, token);
    auto ran = run({cli(), "--server", daemon.url(), "speak", warm.id, "--token", token, "--tone", "440", "--seconds", "1"},
                   60);
    ASSERT_EQ(ran.exitStatus, 0) << ran.stderrText;
    ASSERT_EQ(http("DELETE", daemon.url() + "/api/v1/rooms/" + warm.id, {},
                   {{"Authorization", "Bearer " + warm.hostToken}}).status, 200);
  }
  Usage noRooms = usageOf(daemon), now;
  // Settled: the warm-up room's threads have ended (a bounded wait for a steady reading).
  pollUntil([&] {
    now = usageOf(daemon);
    const bool steady = now.fds == noRooms.fds && now.threads == noRooms.threads;
    noRooms = now;
    return steady;
  }, 10, 0.5);

  const TestRoom room = createRoom(daemon, "lifecycle");
  const std::string token = issueToken(daemon, room, "speaker", "Grace");
  Usage idleRoom = usageOf(daemon);
  for (int i = 0; i < 30; i++) {
    offerAndLeave(daemon, room, token);
    if (HasFatalFailure()) return;
  }
  // Real sessions (ICE, DTLS, audio both ways), ending with the CLI's leave.
  for (int i = 0; i < 3; i++) {
    auto ran = run({cli(), "--server", daemon.url(), "speak", room.id, "--token", token, "--tone", "440", "--seconds", "1"},
                   60);
    ASSERT_EQ(ran.exitStatus, 0) << ran.stderrText;
  }
  const bool leftNothing = backTo(daemon, idleRoom, now, 30);
  printf("idle room: %s; after 30 offers and 3 sessions: %s\n", describe(idleRoom).c_str(), describe(now).c_str());
  EXPECT_TRUE(leftNothing)
      << "after 30 offers and 3 sessions that left: " << describe(now) << ", the idle room had " << describe(idleRoom);

  // Sessions still open when the room ends go with it.
  WsClient a, b;
  joinAndOffer(a, daemon, room, token);
  joinAndOffer(b, daemon, room, issueToken(daemon, room, "speaker", "Ada"));
  ASSERT_EQ(http("DELETE", daemon.url() + "/api/v1/rooms/" + room.id, {},
                 {{"Authorization", "Bearer " + room.hostToken}}).status, 200);
  const bool roomLeftNothing = backTo(daemon, noRooms, now, 30);
  printf("no rooms: %s; after the room ended: %s\n", describe(noRooms).c_str(), describe(now).c_str());
  EXPECT_TRUE(roomLeftNothing)
      << "after the room ended: " << describe(now) << ", before it started " << describe(noRooms);
}

std::string writeConfig(const std::string& dir, const std::string& text) {
  const std::string path = dir + "/roomcast.conf";
  g_file_set_contents(path.c_str(), text.c_str(), -1, nullptr);
  return path;
}

TEST(PeerLifecycle, HandshakeThatNeverCompletesIsClosedAtTheDeadline) {
  const TempDir scratch("roomcast-ice-deadline-");
  Daemon daemon({"--config", writeConfig(scratch.path(), "[media]\nice_deadline_s = 3\n")});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const TestRoom room = createRoom(daemon);
  const std::string token = issueToken(daemon, room, "speaker", "Grace");
  offerAndLeave(daemon, room, token);  // warm-up: the DTLS certificate
  Usage idleRoom = usageOf(daemon), now;

  WsClient ws;
  joinAndOffer(ws, daemon, room, token);
  const double offered = nowSeconds();
  // No candidate is ever sent: ICE cannot complete. The client is told, with a stable code.
  std::string msg;
  ASSERT_TRUE(ws.waitForType("error", msg, 30)) << "no error after the ICE deadline\n" << daemon.log();
  EXPECT_EQ(jsonString(msg, "error.code"), "ice_failed") << msg;
  EXPECT_NE(jsonString(msg, "error.message").find("ICE"), std::string::npos) << msg;
  EXPECT_GE(nowSeconds() - offered, 2.0) << "not before the deadline: " << msg;
  // Its sockets and threads are gone while its WebSocket stays open; it may offer again.
  EXPECT_TRUE(backTo(daemon, idleRoom, now, 20)) << describe(now) << " against " << describe(idleRoom);
  EXPECT_TRUE(ws.isOpen());
  ws.send(R"({"type":"ping"})");
  EXPECT_TRUE(ws.waitForType("pong", msg));
}

}  // namespace
