// roomcastd's own TLS, and Caddy in front of it. A CA and server certificates made here with the
// openssl CLI; this process trusts only that CA (and, for the Caddy test, Caddy's own root):
// the API, a WebSocket hello over WSS, a real WebRTC speaker (the CLI over https/wss) heard in
// the HLS program fetched over HTTPS, the certificate reloaded on SIGHUP, the header deadline
// reaping a handshake that never ends, and bad certificates refused before listening.
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "audio/wav.h"
#include "hls_playlist.h"
#include "loopback_socket.h"
#include "nginx.h"
#include "processes.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;

namespace {

std::string readText(const std::string& path) {
  g_autofree char* contents = nullptr;
  g_file_get_contents(path.c_str(), &contents, nullptr, nullptr);
  return contents ? contents : "";
}

bool writeText(const std::string& path, const std::string& text) {
  return g_file_set_contents(path.c_str(), text.data(), static_cast<gssize>(text.size()), nullptr);
}

// This process (the http() helper, WebSocket clients) and the CLIs it starts trust exactly
// these certificates: GIO's default database for ourselves, SSL_CERT_FILE for the children.
void trustOnly(const std::string& bundle) {
  g_autoptr(GError) error = nullptr;
  g_autoptr(GTlsDatabase) database = g_tls_file_database_new(bundle.c_str(), &error);
  ASSERT_TRUE(database) << error->message;
  g_tls_backend_set_default_database(g_tls_backend_get_default(), database);
  g_setenv("SSL_CERT_FILE", bundle.c_str(), TRUE);
}

// A test CA and the server certificates it signs (EC P-256, for 127.0.0.1), with the openssl CLI.
class TestPki {
 public:
  TestPki() : dir_("roomcast-tls-") {
    ok_ = openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                   path("ca.key"), "-out", path("ca.pem"), "-days", "2", "-subj", "/CN=roomcast test CA", "-addext",
                   "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
    writeText(path("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                                  "basicConstraints=critical,CA:FALSE\n");
  }
  bool ok() const { return ok_; }
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }
  std::string ca() const { return path("ca.pem"); }
  // <name>.pem and <name>.key, signed by the CA with this serial (hex).
  bool issue(const std::string& name, const std::string& serialHex) const {
    return openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    path(name + ".key"), "-out", path(name + ".csr"), "-subj", "/CN=127.0.0.1"}) &&
           openssl({"x509", "-req", "-in", path(name + ".csr"), "-CA", ca(), "-CAkey", path("ca.key"), "-set_serial",
                    "0x" + serialHex, "-days", "2", "-extfile", path("server.ext"), "-out", path(name + ".pem")});
  }

 private:
  static bool openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    auto r = run(args, 60);
    if (r.exitStatus != 0) ADD_FAILURE() << "openssl failed: " << r.stderrText;
    return r.exitStatus == 0;
  }
  TempDir dir_;
  bool ok_ = false;
};

// The serial number (hex, as openssl prints it) of the certificate a new connection is shown,
// checked against `ca`; "" if the handshake or the check failed.
std::string servedSerial(int port, const std::string& ca) {
  auto r = run({"sh", "-c",
                "openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -CAfile '" + ca +
                    "' -verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -serial"},
               30);
  if (r.exitStatus != 0 || r.stdoutText.rfind("serial=", 0) != 0) return "";
  std::string serial = r.stdoutText.substr(7);
  while (!serial.empty() && (serial.back() == '\n' || serial.back() == '\r')) serial.pop_back();
  return serial;
}

std::vector<std::string> tlsArgs(const TestPki& pki, const std::string& name) {
  return {"--tls-cert", pki.path(name + ".pem"), "--tls-key", pki.path(name + ".key")};
}

std::unique_ptr<Daemon> startTlsDaemon(const std::vector<std::string>& args) {
  DaemonOptions options;
  options.args = args;
  options.https = true;
  return std::make_unique<Daemon>(options);
}

// A WebSocket hello at `wsUrl` with a listener token: the welcome comes back.
void expectWelcome(const std::string& wsUrl, const std::string& token) {
  WsClient ws;
  ASSERT_TRUE(ws.connect(wsUrl, 30)) << wsUrl;
  ws.send(R"({"type":"hello","version":1,"token":")" + token + "\"}");
  std::string welcome;
  ASSERT_TRUE(ws.waitForType("welcome", welcome, 30)) << "no welcome over " << wsUrl;
  EXPECT_FALSE(jsonString(welcome, "you.identity").empty()) << welcome;
}

// The newest `count` segments of the room's main rendition, fetched over HTTPS from `base`
// (.../hls/<room>/) and decoded with ffmpeg: what a listener hears.
roomcast::audio::PcmAudio fetchProgram(const std::string& base, size_t count, const std::string& dir) {
  roomcast::audio::PcmAudio out;
  auto playlist = http("GET", base + "index.m3u8");
  EXPECT_EQ(playlist.status, 200) << playlist.body;
  auto listed = parsePlaylist(playlist.body);
  EXPECT_GE(listed.size(), count) << playlist.body;
  std::string ts;
  for (size_t i = listed.size() > count ? listed.size() - count : 0; i < listed.size(); i++) {
    auto segment = http("GET", base + listed[i].name);
    EXPECT_EQ(segment.status, 200) << listed[i].name;
    EXPECT_EQ(segment.body.substr(0, 1), "\x47") << "MPEG-TS sync byte";
    ts += segment.body;
  }
  writeText(dir + "/program.ts", ts);
  auto decoded = run({"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", dir + "/program.ts", "-ac", "1", "-ar", "48000",
                      dir + "/program.wav"},
                     60);
  EXPECT_EQ(decoded.exitStatus, 0) << decoded.stderrText;
  EXPECT_TRUE(roomcast::audio::readWav(dir + "/program.wav", out));
  return out;
}

// A speaker's 440 Hz, in `seconds` of the program fetched from `base`.
void expectToneInProgram(const std::string& base, const std::string& dir, const char* where) {
  ASSERT_TRUE(waitForSegments(base + "index.m3u8", 6, 30)) << where;
  const auto program = fetchProgram(base, 6, dir);
  const double seconds = static_cast<double>(program.samples.size()) / program.sampleRate;
  ASSERT_GT(seconds, 3.0) << where;
  // AAC's priming and the first segment's edge: the middle of it is measured.
  const double level = meanToneDb(program, 440, 0.3, seconds - 0.3);
  const double share = fractionWithToneAbove(program, 440, 0.3, seconds - 0.3, -20);
  EXPECT_GT(level, -20) << where << ": the speaker's 440 Hz in the HLS program";
  EXPECT_GE(share, 0.8) << where;
  ::testing::Test::RecordProperty(std::string(where) + "_tone_db", std::to_string(level));
}

class Tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TestPki();
    ASSERT_TRUE(pki_->ok());
    ASSERT_TRUE(pki_->issue("server", "1001"));
    ASSERT_TRUE(pki_->issue("renewed", "2002"));
    ASSERT_TRUE(pki_->issue("other", "3003"));
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  void SetUp() override { trustOnly(pki_->ca()); }
  // roomcastd serving TLS with the server's certificate, configured by `configText` (written
  // to `dir`/roomcast.conf).
  static std::unique_ptr<Daemon> startTlsDaemonWithConfig(const TempDir& dir, const std::string& configText) {
    const std::string config = dir.path() + "/roomcast.conf";
    EXPECT_TRUE(writeText(config, configText));
    auto args = tlsArgs(*pki_, "server");
    args.insert(args.end(), {"--config", config});
    return startTlsDaemon(args);
  }
  static TestPki* pki_;
};
TestPki* Tls::pki_ = nullptr;

TEST_F(Tls, ApiWebSocketAndAWebRtcSpeakerHeardInHlsOverHttps) {
  auto daemon = startTlsDaemon(tlsArgs(*pki_, "server"));
  ASSERT_TRUE(daemon->ready()) << daemon->log();
  const std::string& url = daemon->url();
  ASSERT_EQ(url.rfind("https://127.0.0.1:", 0), 0u);
  EXPECT_NE(daemon->log().find("listening on https://127.0.0.1:"), std::string::npos) << daemon->log();

  auto health = http("GET", url + "/api/v1/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_NE(health.body.find("ok"), std::string::npos) << health.body;
  auto page = http("GET", url + "/");
  EXPECT_EQ(page.status, 200) << "the web page over HTTPS";
  EXPECT_NE(page.body.find("<html"), std::string::npos);
  // Plain HTTP on the TLS port gets no HTTP answer.
  EXPECT_EQ(http("GET", "http://127.0.0.1:" + std::to_string(portOfUrl(url)) + "/api/v1/health").status, 0);

  auto created = http("POST", url + "/api/v1/rooms", R"({"title":"over TLS"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = jsonString(created.body, "id");
  const std::string hostToken = jsonString(created.body, "host_token");
  const std::string origin = "127.0.0.1:" + std::to_string(portOfUrl(url));
  EXPECT_EQ(jsonString(created.body, "ws_url"), "wss://" + origin + "/ws/" + id);
  EXPECT_EQ(jsonString(created.body, "hls_url"), "https://" + origin + "/hls/" + id + "/master.m3u8");
  // The room as read back says the same.
  auto room = http("GET", url + "/api/v1/rooms/" + id);
  EXPECT_EQ(jsonString(room.body, "ws_url").rfind("wss://", 0), 0u) << room.body;

  auto token = http("POST", url + "/api/v1/rooms/" + id + "/tokens", R"({"role":"listener","name":"Lee"})");
  ASSERT_EQ(token.status, 201) << token.body;
  expectWelcome(jsonString(created.body, "ws_url"), jsonString(token.body, "token"));

  // A real speaker: the CLI over https:// and wss:// (trusting the test CA with --ca-file),
  // WebRTC to the room.
  Process speaker({cli(), "--server", url, "--ca-file", pki_->ca(), "speak", id, "--token", hostToken, "--tone", "440",
                   "--seconds", "20"});
  ASSERT_TRUE(speaker.waitForOutput("heard 6 s\n", 60)) << speaker.errors() << daemon->log();
  TempDir work("roomcast-tls-hls-");
  expectToneInProgram(url + "/hls/" + id + "/", work.path(), "roomcastd_tls");
  speaker.kill();
}

TEST_F(Tls, SighupServesTheRenewedCertificateAndKeepsItWhenTheNextIsBad) {
  // The files roomcastd reads, renewed in place as certbot does.
  const std::string cert = pki_->path("live.pem"), key = pki_->path("live.key");
  ASSERT_TRUE(writeText(cert, readText(pki_->path("server.pem"))));
  ASSERT_TRUE(writeText(key, readText(pki_->path("server.key"))));
  auto daemon = startTlsDaemon({"--tls-cert", cert, "--tls-key", key});
  ASSERT_TRUE(daemon->ready()) << daemon->log();
  const int port = portOfUrl(daemon->url());
  EXPECT_EQ(servedSerial(port, pki_->ca()), "1001");

  // Renewed: new connections get the new certificate.
  ASSERT_TRUE(writeText(cert, readText(pki_->path("renewed.pem"))));
  ASSERT_TRUE(writeText(key, readText(pki_->path("renewed.key"))));
  ASSERT_EQ(kill(daemon->pid(), SIGHUP), 0);
  std::string serial;
  EXPECT_TRUE(pollUntil([&] { return (serial = servedSerial(port, pki_->ca())) == "2002"; }, 30, 0.2))
      << "served " << serial << "\n" << daemon->log();
  EXPECT_NE(daemon->log().find("reloaded TLS certificate"), std::string::npos);

  // A bad renewal (a key of another certificate; then a truncated certificate): logged, and the
  // certificate in use stays.
  ASSERT_TRUE(writeText(cert, readText(pki_->path("other.pem"))));
  ASSERT_EQ(kill(daemon->pid(), SIGHUP), 0);
  EXPECT_TRUE(pollUntil([&] { return daemon->log().find("does not belong to the certificate") != std::string::npos; }, 30))
      << daemon->log();
  EXPECT_EQ(servedSerial(port, pki_->ca()), "2002");
  ASSERT_TRUE(writeText(cert, "-----BEGIN CERTIFICATE-----\nMIIB\n"));
  ASSERT_TRUE(writeText(key, readText(pki_->path("other.key"))));
  ASSERT_EQ(kill(daemon->pid(), SIGHUP), 0);
  EXPECT_TRUE(pollUntil([&] { return daemon->log().find("cannot parse TLS certificate") != std::string::npos; }, 30))
      << daemon->log();
  EXPECT_NE(daemon->log().find("still serving the previous certificate"), std::string::npos);
  EXPECT_EQ(servedSerial(port, pki_->ca()), "2002");
  EXPECT_EQ(http("GET", daemon->url() + "/api/v1/health").status, 200);
  EXPECT_TRUE(daemon->running());
}

// Whether process `pid` holds (has a descriptor for) the server side of the loopback TCP
// connection from `clientPort` to `serverPort`: the socket's inode in /proc/net/tcp, among
// the process's descriptors.
bool holdsConnection(int pid, int serverPort, int clientPort) {
  std::string inode;
  const std::string table = readText("/proc/net/tcp");
  g_auto(GStrv) lines = g_strsplit(table.c_str(), "\n", -1);
  for (char** line = lines; *line; line++) {
    unsigned localAddress, localPort, remoteAddress, remotePort, state;
    char node[32];
    if (std::sscanf(*line, " %*d: %8X:%4X %8X:%4X %2X %*s %*s %*s %*s %*s %31s", &localAddress, &localPort,
                    &remoteAddress, &remotePort, &state, node) == 6 &&
        static_cast<int>(localPort) == serverPort && static_cast<int>(remotePort) == clientPort)
      inode = node;
  }
  if (inode.empty() || inode == "0") return false;
  const std::string fdDir = "/proc/" + std::to_string(pid) + "/fd";
  g_autoptr(GDir) dir = g_dir_open(fdDir.c_str(), 0, nullptr);
  while (const char* name = dir ? g_dir_read_name(dir) : nullptr) {
    g_autofree char* target = g_file_read_link((fdDir + "/" + name).c_str(), nullptr);
    if (target && std::string(target) == "socket:[" + inode + "]") return true;
  }
  return false;
}

int localPort(int fd) {
  sockaddr_in a{};
  socklen_t length = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
  return ntohs(a.sin_port);
}

TEST_F(Tls, AHandshakeThatNeverEndsIsClosedAtTheHeaderDeadline) {
  TempDir dir("roomcast-tls-deadline-");
  auto daemon = startTlsDaemonWithConfig(dir, "[server]\nheader_timeout_s = 2\n");
  ASSERT_TRUE(daemon->ready()) << daemon->log();
  const int serverPort = portOfUrl(daemon->url());

  // Two clients: one sends nothing; one sends the start of a ClientHello and stops.
  std::vector<int> fds;
  for (int i = 0; i < 2; i++) {
    const int fd = connectLoopback(serverPort, 30);  // 30 s bounds every wait below
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  const char partialHello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};  // a record of 512 bytes, 1 sent
  ASSERT_EQ(send(fds[1], partialHello, sizeof partialHello, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof partialHello));
  auto holdsAny = [&] {
    for (int fd : fds)
      if (holdsConnection(daemon->pid(), serverPort, localPort(fd))) return true;
    return false;
  };
  auto holdsBoth = [&] {
    for (int fd : fds)
      if (!holdsConnection(daemon->pid(), serverPort, localPort(fd))) return false;
    return true;
  };
  EXPECT_TRUE(pollUntil(holdsBoth, 10, 0.05)) << "the daemon accepts both and holds them while they are in time";

  const double start = nowSeconds();
  for (int fd : fds) {
    char byte;
    const ssize_t n = recv(fd, &byte, 1, 0);  // end-of-file (or a reset) when the server closes it
    EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << "still open after 30 s (n=" << n << ")";
  }
  const double closedAfter = nowSeconds() - start;
  EXPECT_LT(closedAfter, 15) << "closed at the 2 s header deadline (not by the client, nor by a socket timeout)";
  RecordProperty("unfinished_handshake_closed_after_s", std::to_string(closedAfter));
  // The daemon let go of both sockets.
  EXPECT_TRUE(pollUntil([&] { return !holdsAny(); }, 10)) << "the daemon still holds a connection it closed";
  for (int fd : fds) close(fd);
  EXPECT_EQ(http("GET", daemon->url() + "/api/v1/health").status, 200) << "the server still serves everyone else";
}

// Clients that begin a handshake and stall cost the server a socket each until the header
// deadline, never the handshakes of everyone else (a thread pool doing blocking handshakes
// would be held by them).
TEST_F(Tls, StalledHandshakesDoNotHoldUpOtherClients) {
  TempDir dir("roomcast-tls-stalled-");
  auto daemon = startTlsDaemonWithConfig(dir, "[server]\nheader_timeout_s = 60\n");
  ASSERT_TRUE(daemon->ready()) << daemon->log();
  const int port = portOfUrl(daemon->url());
  constexpr int kStalled = 200;
  std::vector<int> stalled;
  const char partialHello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
  for (int i = 0; i < kStalled; i++) {
    const int fd = connectLoopback(port, 30);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(send(fd, partialHello, sizeof partialHello, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof partialHello));
    stalled.push_back(fd);
  }
  EXPECT_TRUE(pollUntil([&] { return holdsConnection(daemon->pid(), port, localPort(stalled.back())); }, 30, 0.05))
      << "the daemon took the stalled connections";
  // Another client's request is answered now, not when the stalled ones reach their deadline.
  const double start = nowSeconds();
  const auto health = http("GET", daemon->url() + "/api/v1/health");
  const double took = nowSeconds() - start;
  EXPECT_EQ(health.status, 200);
  EXPECT_LT(took, 15.0) << "with " << kStalled << " stalled handshakes (header deadline 60 s)";
  RecordProperty("health_with_stalled_handshakes_s", std::to_string(took));
  for (int fd : stalled) close(fd);
}

// One client's TLS connection (GIO's, trusting this process's default database: the test
// CA), for requests on a connection that stays open. Every blocking step has a 30 s timeout.
class TlsClient {
 public:
  explicit TlsClient(int port) {
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_socket_client_set_tls(client, TRUE);
    g_socket_client_set_timeout(client, 30);
    g_autoptr(GError) error = nullptr;
    connection_ = g_socket_client_connect_to_host(client, ("127.0.0.1:" + std::to_string(port)).c_str(), 0, nullptr, &error);
    if (!connection_) error_ = error->message;
  }
  const std::string& error() const { return error_; }
  ~TlsClient() { close(); }
  bool connected() const { return connection_ != nullptr; }
  int localPort() const {
    g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address(connection_, nullptr);
    return local ? g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local)) : 0;
  }
  // A GET on this connection (kept alive); the response's head and body.
  std::string get(const std::string& path) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    GOutputStream* out = g_io_stream_get_output_stream(G_IO_STREAM(connection_));
    if (!g_output_stream_write_all(out, request.data(), request.size(), nullptr, nullptr, nullptr)) return "";
    std::string data;
    for (;;) {
      const size_t headEnd = data.find("\r\n\r\n");
      if (headEnd != std::string::npos) {
        g_autofree char* lower = g_ascii_strdown(data.c_str(), static_cast<gssize>(headEnd));
        const char* length = std::strstr(lower, "content-length:");
        if (data.size() >= headEnd + 4 + (length ? std::strtoul(length + 15, nullptr, 10) : 0)) return data;
      }
      char buffer[4096];
      const gssize n = g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(connection_)), buffer, sizeof buffer,
                                           nullptr, nullptr);
      if (n <= 0) return data;
      data.append(buffer, static_cast<size_t>(n));
    }
  }
  // Whether the server closes the connection (end-of-file or a reset) within the 30 s timeout.
  bool closedByServer() {
    char byte;
    g_autoptr(GError) error = nullptr;
    const gssize n = g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(connection_)), &byte, 1, nullptr, &error);
    return n == 0 || (n < 0 && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
  }
  void close() {
    if (!connection_) return;
    g_io_stream_close(G_IO_STREAM(connection_), nullptr, nullptr);
    g_clear_object(&connection_);
  }

 private:
  GSocketConnection* connection_ = nullptr;
  std::string error_;
};

// The limits of plain connections hold for TLS ones: an idle kept-alive connection is closed at
// keepalive_timeout_s, one its client closes is let go of at once, and an address over its
// connection cap is turned away without a handshake.
TEST_F(Tls, KeepAliveDeadlinesAndTheAddressCapHoldUnderTls) {
  TempDir dir("roomcast-tls-limits-");
  auto daemon = startTlsDaemonWithConfig(dir, "[server]\nkeepalive_timeout_s = 10\nheader_timeout_s = 60\n"
                                              "max_connections_per_address = 3\nuncapped_addresses =\n");
  ASSERT_TRUE(daemon->ready()) << daemon->log();
  const int port = portOfUrl(daemon->url());

  // Closed by its client after a request: let go of long before the keep-alive deadline.
  {
    TlsClient client(port);
    ASSERT_TRUE(client.connected()) << client.error();
    EXPECT_EQ(client.get("/api/v1/health").rfind("HTTP/1.1 200", 0), 0u);
    const int clientPort = client.localPort();
    ASSERT_TRUE(holdsConnection(daemon->pid(), port, clientPort)) << "kept alive";
    client.close();
    const double start = nowSeconds();
    EXPECT_TRUE(pollUntil([&] { return !holdsConnection(daemon->pid(), port, clientPort); }, 30, 0.05));
    const double reaped = nowSeconds() - start;
    EXPECT_LT(reaped, 8.0) << "a closed TLS connection is reaped at once, not at the 10 s keep-alive deadline";
    RecordProperty("closed_tls_keepalive_reaped_after_s", std::to_string(reaped));
  }
  // Left idle after a request: closed by the server at the keep-alive deadline.
  {
    TlsClient client(port);
    ASSERT_TRUE(client.connected()) << client.error();
    EXPECT_EQ(client.get("/api/v1/health").rfind("HTTP/1.1 200", 0), 0u);
    EXPECT_EQ(client.get("/api/v1/health").rfind("HTTP/1.1 200", 0), 0u) << "a second request on the same connection";
    const double start = nowSeconds();
    EXPECT_TRUE(client.closedByServer()) << "an idle kept-alive TLS connection stays open";
    const double closedAfter = nowSeconds() - start;
    EXPECT_GT(closedAfter, 5.0) << "not before the 10 s deadline";
    RecordProperty("idle_tls_keepalive_closed_after_s", std::to_string(closedAfter));
  }
  // Three connections from 127.0.0.1 are all it may hold; the fourth is closed at once.
  EXPECT_TRUE(pollUntil([&] { return http("GET", daemon->url() + "/api/v1/health").status == 200; }, 10));
  std::vector<std::unique_ptr<TlsClient>> held;
  for (int i = 0; i < 3; i++) {
    held.push_back(std::make_unique<TlsClient>(port));
    ASSERT_TRUE(held.back()->connected()) << held.back()->error();
  }
  TlsClient over(port);
  EXPECT_FALSE(over.connected()) << "a fourth TLS connection from one address";
  RecordProperty("over_cap_tls_client_saw", over.error());
  held.clear();
  EXPECT_TRUE(pollUntil([&] { return http("GET", daemon->url() + "/api/v1/health").status == 200; }, 10))
      << "the address is served again once its connections close";
  EXPECT_NE(daemon->log().find("max_connections_per_address"), std::string::npos) << daemon->log();
}

struct BadStart {
  const char* what;
  std::vector<std::string> args;
  const char* says;
};

TEST_F(Tls, BadCertificatesOrKeysStopRoomcastdBeforeItListens) {
  TempDir dir("roomcast-tls-bad-");
  const std::string garbage = dir.path() + "/garbage.pem";
  ASSERT_TRUE(writeText(garbage, "not a certificate\n"));
  // A key file roomcastd's user cannot read: root-owned, 0600, roomcastd run as nobody.
  // (The certificate next to it is readable by all, so that the key is what fails.)
  const std::string privateKey = dir.path() + "/private.key", publicCert = dir.path() + "/public.pem";
  ASSERT_TRUE(writeText(privateKey, readText(pki_->path("server.key"))));
  ASSERT_TRUE(writeText(publicCert, readText(pki_->path("server.pem"))));
  g_chmod(privateKey.c_str(), 0600);
  g_chmod(publicCert.c_str(), 0644);
  g_chmod(dir.path().c_str(), 0755);
  const std::string cert = pki_->path("server.pem"), key = pki_->path("server.key");
  const std::vector<BadStart> cases = {
      {"a missing certificate", {"--tls-cert", dir.path() + "/missing.pem", "--tls-key", key}, "cannot read TLS certificate"},
      {"a key that is a directory", {"--tls-cert", cert, "--tls-key", dir.path()}, "cannot read TLS key"},
      {"a mismatched pair", {"--tls-cert", cert, "--tls-key", pki_->path("other.key")}, "does not belong to the certificate"},
      {"a file that is no certificate", {"--tls-cert", garbage, "--tls-key", key}, "cannot parse TLS certificate"},
      {"a certificate without its key", {"--tls-cert", cert}, "needs both a certificate and its key"},
      {"a key without its certificate", {"--tls-key", key}, "needs both a certificate and its key"},
  };
  auto expectRefused = [&](const std::string& what, std::vector<std::string> prefix, const std::vector<std::string>& args,
                           const char* says) {
    const int port = freeTcpPort();
    std::vector<std::string> argv = std::move(prefix);
    for (const std::string& a : {buildPath("src/app/roomcastd"), std::string("--listen"),
                                 "127.0.0.1:" + std::to_string(port), std::string("--data-dir"), dir.path() + "/data"})
      argv.push_back(a);
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv, 60);
    EXPECT_TRUE(r.finished) << what << ": still running";
    EXPECT_NE(r.exitStatus, 0) << what;
    EXPECT_NE(r.stderrText.find(says), std::string::npos) << what << ": " << r.stderrText;
    EXPECT_EQ(r.stderrText.find("listening on"), std::string::npos) << what << ": " << r.stderrText;
  };
  for (const auto& c : cases) expectRefused(c.what, {}, c.args, c.says);
  // Unreadable for the user roomcastd runs as (root reads anything: run it as nobody).
  if (geteuid() == 0 && g_find_program_in_path("setpriv"))
    expectRefused("an unreadable key", {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"},
                  {"--tls-cert", publicCert, "--tls-key", privateKey}, "cannot read TLS key");
  else
    expectRefused("an unreadable key", {}, {"--tls-cert", cert, "--tls-key", privateKey}, "");
}

// The CLI's trust: a --ca-file it cannot read stops it; an SSL_CERT_FILE it cannot read (set
// for other programs, as on a machine without ca-certificates) is told and does not stop a
// plain http:// command.
TEST(CliTrust, AnUnreadableCaFileStopsTheCliButAStraySslCertFileDoesNot) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const auto named = run({cli(), "--server", daemon.url(), "--ca-file", "/nonexistent/ca.pem", "create", "--title", "T"}, 30);
  EXPECT_NE(named.exitStatus, 0);
  EXPECT_NE(named.stderrText.find("cannot use CA file /nonexistent/ca.pem"), std::string::npos) << named.stderrText;
  const auto stray = run({"env", "SSL_CERT_FILE=/nonexistent/ca.pem", cli(), "--server", daemon.url(), "create",
                          "--title", "T"}, 30);
  EXPECT_EQ(stray.exitStatus, 0) << stray.stderrText;
  EXPECT_NE(stray.stderrText.find("ignoring SSL_CERT_FILE's CA file /nonexistent/ca.pem"), std::string::npos)
      << stray.stderrText;
  EXPECT_NE(stray.stdoutText.find("host_token"), std::string::npos) << stray.stdoutText;
}

// Caddy (Debian's) with `tls internal` in front of a plain roomcastd and the nginx edge, as
// data/caddy/Caddyfile ships: the API, the WebSocket and HLS through it over HTTPS.
TEST_F(Tls, CaddyInFrontOfRoomcastdAndTheEdge) {
  ASSERT_TRUE(g_find_program_in_path("caddy")) << "caddy is not installed (scripts/setup.sh)";
  TempDir dir("roomcast-caddy-");
  const int httpsPort = freeTcpPort(), httpPort = freeTcpPort();
  const std::string publicUrl = "https://127.0.0.1:" + std::to_string(httpsPort);
  Daemon daemon({"--public-url", publicUrl});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  Nginx edge(daemon.url(), freeUdpPort());
  ASSERT_TRUE(edge.ready()) << edge.log();

  // The shipped file, imported after the options a test needs: Caddy's own CA for every site
  // (no ACME, nothing installed into the system's trust), free ports, state in our directory.
  const std::string storage = dir.path() + "/caddy";
  const std::string caddyfile = "{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n\thttp_port " +
                                std::to_string(httpPort) + "\n\thttps_port " + std::to_string(httpsPort) +
                                "\n\tstorage file_system " + storage + "\n}\nimport " +
                                sourcePath("data/caddy/Caddyfile") + "\n";
  ASSERT_TRUE(writeText(dir.path() + "/Caddyfile", caddyfile));
  Process caddy({"env", "HOME=" + dir.path(), "XDG_DATA_HOME=" + dir.path() + "/data",
                 "XDG_CONFIG_HOME=" + dir.path() + "/config", "ROOMCAST_DOMAIN=127.0.0.1",
                 "ROOMCAST_ORIGIN=" + daemon.url().substr(7), "ROOMCAST_EDGE=" + edge.url().substr(7), "caddy", "run",
                 "--adapter", "caddyfile", "--config", dir.path() + "/Caddyfile"});
  ASSERT_TRUE(caddy.started());
  const std::string root = storage + "/pki/authorities/local/root.crt";
  ASSERT_TRUE(pollUntil([&] { return g_file_test(root.c_str(), G_FILE_TEST_EXISTS); }, 60))
      << "Caddy made no CA\n" << caddy.errors();
  trustOnly(root);  // Caddy's root only: roomcastd's own certificates play no part here
  ASSERT_TRUE(pollUntil([&] { return http("GET", publicUrl + "/api/v1/health").status == 200; }, 60, 0.2))
      << caddy.errors();

  auto created = http("POST", publicUrl + "/api/v1/rooms", R"({"title":"behind Caddy"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = jsonString(created.body, "id");
  EXPECT_EQ(jsonString(created.body, "ws_url"), "wss://127.0.0.1:" + std::to_string(httpsPort) + "/ws/" + id);
  EXPECT_EQ(jsonString(created.body, "hls_url"), publicUrl + "/hls/" + id + "/master.m3u8");
  auto token = http("POST", publicUrl + "/api/v1/rooms/" + id + "/tokens", R"({"role":"listener","name":"Lee"})");
  ASSERT_EQ(token.status, 201) << token.body;
  expectWelcome(jsonString(created.body, "ws_url"), jsonString(token.body, "token"));

  Process speaker({cli(), "--server", publicUrl, "--ca-file", root, "speak", id, "--token",
                   jsonString(created.body, "host_token"), "--tone", "440", "--seconds", "20"});
  ASSERT_TRUE(speaker.waitForOutput("heard 6 s\n", 60)) << speaker.errors() << daemon.log();
  TempDir work("roomcast-caddy-hls-");
  expectToneInProgram(publicUrl + "/hls/" + id + "/", work.path(), "caddy");
  // HLS came through the edge (its access log lists the segments; counted playlist requests go
  // to roomcastd's edge log instead); the rest straight from roomcastd.
  EXPECT_NE(edge.log().find("GET /hls/" + id + "/segment"), std::string::npos) << edge.log();
  EXPECT_EQ(edge.log().find("/api/v1/rooms"), std::string::npos) << edge.log();
  speaker.kill();
}

}  // namespace
