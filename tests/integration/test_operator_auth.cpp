// The operator's authority on a real roomcastd ([auth], [archive], [room] timeouts):
//  - bound to 0.0.0.0 (not loopback; reached here over 127.0.0.1), rooms, the archive, its
//    search, recording files, /metrics and the admin API answer 401 `unauthorized` without an
//    admin token; with the right grant they work; a valid token without it gets 403
//    `forbidden`; expired tokens, tokens signed by another secret and tokens of an unknown
//    API key are refused. Recording files also play from the signed URL the archive lists.
//  - a loopback bind stays open (the quick start), unless the config closes it.
//  - an API secret under 32 bytes stops roomcastd at start with a clear message.
//  - a room with nobody on stage ends after [room] empty_timeout_s, and its recording is
//    finished, listed, and decodes (ffmpeg) with the speaker's tone.
// Admin tokens are made here with GLib's HMAC, independently of the server's code.
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "audio/wav.h"
#include "hand_made_jws.h"
#include "processes.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

const std::string kOpsSecret = "ops-secret-for-tests-0123456789abcdef-0123";
const std::string kCiSecret = "ci-secret-for-tests-0123456789abcdef-01234";

int64_t unixNow() { return g_get_real_time() / G_USEC_PER_SEC; }

struct Grants {
  bool roomCreate = false, roomAdmin = false, archive = false;
};
constexpr Grants kAll{true, true, true};

// An admin token: HS256, iss = the API key, exp, grants.
std::string adminToken(const std::string& iss, const std::string& secret, Grants g, int64_t expiresIn = 600) {
  auto b = [](bool v) { return v ? "true" : "false"; };
  const std::string payload = R"({"iss":")" + iss + R"(","iat":)" + std::to_string(unixNow()) + R"(,"exp":)" +
                              std::to_string(unixNow() + expiresIn) + R"(,"grants":{"room_create":)" + b(g.roomCreate) +
                              R"(,"room_admin":)" + b(g.roomAdmin) + R"(,"archive":)" + b(g.archive) + "}}";
  return handMadeJws(payload, secret);
}

Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

std::string writeConfig(const std::string& dir, const std::string& text) {
  const std::string path = dir + "/roomcast.conf";
  g_file_set_contents(path.c_str(), text.c_str(), -1, nullptr);
  return path;
}

// Two API keys: "ops" in the api_key/api_secret form, "ci" in the list form.
const std::string kTwoKeys = "[auth]\napi_key = ops\napi_secret = " + kOpsSecret + "\nkeys = ci:" + kCiSecret + "\n";

// roomcastd on 0.0.0.0 with no [auth] open_rooms / [archive] public: the defaults off loopback.
struct PublicDaemon {
  TempDir conf{"roomcast-auth-conf"};
  std::unique_ptr<Daemon> daemon;
  explicit PublicDaemon(const std::string& extraConfig = {}) {
    DaemonOptions options;
    options.listenHost = "0.0.0.0";
    options.args = {"--config", writeConfig(conf.path(), kTwoKeys + extraConfig)};
    daemon = std::make_unique<Daemon>(options);
  }
};

HttpResponse createRoomWith(const Daemon& daemon, const Headers& headers, bool record = false) {
  return http("POST", daemon.url() + "/api/v1/rooms",
              std::string(R"({"title":"Gated","record":)") + (record ? "true" : "false") + "}", headers);
}

// The stable error of a refused request.
void expectRefused(const HttpResponse& r, int status, const char* what) {
  EXPECT_EQ(r.status, status) << what << ": " << r.body;
  EXPECT_EQ(jsonString(r.body, "error.code"), status == 401 ? "unauthorized" : "forbidden") << what << ": " << r.body;
}

TEST(OperatorAuth, OffLoopbackEverythingOperatorsOwnNeedsAnAdminToken) {
  PublicDaemon server;
  const Daemon& daemon = *server.daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const std::string base = daemon.url();

  expectRefused(createRoomWith(daemon, {}), 401, "create a room");
  expectRefused(http("GET", base + "/api/v1/recordings"), 401, "the archive");
  expectRefused(http("GET", base + "/api/v1/recordings?q=hello"), 401, "transcript search");
  expectRefused(http("GET", base + "/recordings/k3m9x2q7ab-20261201T215901Z-1.ogg"), 401, "a recording file");
  expectRefused(http("GET", base + "/metrics"), 401, "/metrics");
  expectRefused(http("GET", base + "/api/v1/admin/rooms"), 401, "the admin API");
  expectRefused(createRoomWith(daemon, {{"Authorization", "Basic b3BzOnNlY3JldA=="}}), 401, "not a Bearer token");
  EXPECT_EQ(http("GET", base + "/api/v1/health").status, 200) << "health stays open";
  EXPECT_EQ(http("GET", base + "/api/v1/rooms").status, 200) << "the list of live rooms stays open";

  // The right grant works, with either API key.
  const auto created = createRoomWith(daemon, bearer(adminToken("ops", kOpsSecret, {true, false, false})));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(createRoomWith(daemon, bearer(adminToken("ci", kCiSecret, {true, false, false}))).status, 201);
  const std::string archiveToken = adminToken("ci", kCiSecret, {false, false, true});
  const auto archive = http("GET", base + "/api/v1/recordings", {}, bearer(archiveToken));
  EXPECT_EQ(archive.status, 200) << archive.body;
  EXPECT_GE(jsonCount(archive.body, "recordings"), 0) << archive.body;
  EXPECT_EQ(http("GET", base + "/api/v1/recordings?q=hello", {}, bearer(archiveToken)).status, 200);
  const auto metrics = http("GET", base + "/metrics", {}, bearer(archiveToken));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("roomcast_rooms 2"), std::string::npos) << metrics.body;

  // A valid token without the grant: 403. room_create alone reads no archive, and so on.
  const std::string createOnly = adminToken("ops", kOpsSecret, {true, false, false});
  expectRefused(http("GET", base + "/api/v1/recordings", {}, bearer(createOnly)), 403, "archive with room_create");
  expectRefused(http("GET", base + "/metrics", {}, bearer(createOnly)), 403, "/metrics with room_create");
  expectRefused(http("GET", base + "/recordings/x.ogg", {}, bearer(createOnly)), 403, "a file with room_create");
  expectRefused(http("GET", base + "/api/v1/admin/rooms", {}, bearer(createOnly)), 403, "admin with room_create");
  expectRefused(createRoomWith(daemon, bearer(archiveToken)), 403, "create with archive");

  // Tokens that are not the operator's.
  const std::string expired = adminToken("ops", kOpsSecret, kAll, -3600);
  const std::string otherSecret = adminToken("ops", kCiSecret, kAll);  // iss ops, ci's secret
  const std::string strangerSecret = adminToken("ops", "a-secret-this-server-never-had-0123456789", kAll);
  const std::string unknownIss = adminToken("nobody", kOpsSecret, kAll);
  const std::string hostToken = jsonString(created.body, "host_token");  // a room token is no admin token
  for (const auto& [name, token] : std::vector<std::pair<std::string, std::string>>{
           {"expired", expired}, {"signed with another key's secret", otherSecret},
           {"signed with a foreign secret", strangerSecret}, {"unknown iss", unknownIss}, {"a room's host token", hostToken}}) {
    expectRefused(createRoomWith(daemon, bearer(token)), 401, ("create, " + name).c_str());
    expectRefused(http("GET", base + "/api/v1/recordings", {}, bearer(token)), 401, ("archive, " + name).c_str());
    expectRefused(http("GET", base + "/metrics", {}, bearer(token)), 401, ("/metrics, " + name).c_str());
    expectRefused(http("GET", base + "/api/v1/admin/rooms", {}, bearer(token)), 401, ("admin, " + name).c_str());
  }
  const auto why = http("GET", base + "/api/v1/recordings", {}, bearer(unknownIss));
  EXPECT_NE(jsonString(why.body, "error.message").find("unknown API key"), std::string::npos) << why.body;

  // Refusals cost the server nothing: it serves everyone else.
  EXPECT_EQ(http("GET", base + "/api/v1/recordings", {}, bearer(archiveToken)).status, 200);
}

TEST(OperatorAuth, AdminApiListsAndEndsRoomsAndDeletesRecordingsWhichPlayFromSignedUrls) {
  PublicDaemon server;
  const Daemon& daemon = *server.daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const std::string base = daemon.url();
  const std::string admin = adminToken("ops", kOpsSecret, kAll);
  const auto created = createRoomWith(daemon, bearer(admin), true);
  ASSERT_EQ(created.status, 201) << created.body;
  const TestRoom room{jsonString(created.body, "id"), jsonString(created.body, "host_token")};
  Process speaker({cli(), "--server", base, "speak", room.id, "--token", room.hostToken, "--tone", "440", "--seconds",
                   "4"});
  ASSERT_TRUE(speaker.waitForOutput("connected", 60)) << speaker.errors() << daemon.log();

  // The admin list: every room with its numbers.
  const auto listed = http("GET", base + "/api/v1/admin/rooms", {}, bearer(adminToken("ci", kCiSecret, {false, true, false})));
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_EQ(jsonCount(listed.body, "rooms"), 1) << listed.body;
  EXPECT_EQ(jsonString(listed.body, "rooms.0.id"), room.id);
  EXPECT_EQ(jsonInt(listed.body, "rooms.0.speakers"), 1) << listed.body;
  EXPECT_TRUE(jsonBool(listed.body, "rooms.0.recording")) << listed.body;
  EXPECT_EQ(speaker.wait(60).exitStatus, 0) << speaker.errors();

  // The operator ends it; the answer comes with the recording finished.
  expectRefused(http("DELETE", base + "/api/v1/admin/rooms/" + room.id), 401, "end without a token");
  const auto ended = http("DELETE", base + "/api/v1/admin/rooms/" + room.id, {}, bearer(admin));
  ASSERT_EQ(ended.status, 200) << ended.body;
  const std::string path = jsonString(ended.body, "recording");
  ASSERT_FALSE(path.empty()) << ended.body;
  EXPECT_EQ(http("GET", base + "/api/v1/rooms/" + room.id).status, 404);

  // The archive lists it with a URL that plays without the token, for a while, and only as given.
  const auto archive = http("GET", base + "/api/v1/recordings", {}, bearer(admin));
  ASSERT_EQ(jsonCount(archive.body, "recordings"), 1) << archive.body;
  const std::string url = jsonString(archive.body, "recordings.0.url");
  const long long id = jsonInt(archive.body, "recordings.0.id");
  ASSERT_NE(url.find("?exp="), std::string::npos) << url;
  ASSERT_NE(url.find("&sig="), std::string::npos) << url;
  const auto played = http("GET", url);
  ASSERT_EQ(played.status, 200) << played.body.substr(0, 200);
  EXPECT_EQ(played.body.rfind("OggS", 0), 0u) << "an Ogg file";
  GStatBuf st;
  ASSERT_EQ(g_stat(path.c_str(), &st), 0);
  EXPECT_EQ(played.body.size(), static_cast<size_t>(st.st_size));
  const std::string bare = url.substr(0, url.find('?'));
  expectRefused(http("GET", bare), 401, "the file without the signature");
  EXPECT_EQ(http("GET", bare, {}, bearer(admin)).status, 200) << "or with the archive grant";
  std::string tampered = url;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  expectRefused(http("GET", tampered), 401, "a tampered signature");
  const std::string exp = url.substr(url.find("exp=") + 4, url.find('&') - url.find("exp=") - 4);
  std::string extended = url;
  extended.replace(url.find("exp=") + 4, exp.size(), std::to_string(std::stoll(exp) + 86400));
  expectRefused(http("GET", extended), 401, "a later expiry than signed");

  // Deleting: room_admin only, then gone from the archive and from disk.
  expectRefused(http("DELETE", base + "/api/v1/admin/recordings/" + std::to_string(id), {},
                     bearer(adminToken("ops", kOpsSecret, {true, false, true}))),
                403, "delete without room_admin");
  const auto deleted = http("DELETE", base + "/api/v1/admin/recordings/" + std::to_string(id), {}, bearer(admin));
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(jsonCount(http("GET", base + "/api/v1/recordings", {}, bearer(admin)).body, "recordings"), 0);
  EXPECT_FALSE(g_file_test(path.c_str(), G_FILE_TEST_EXISTS)) << path;
  EXPECT_EQ(http("GET", url).status, 404) << "its signed URL finds nothing";
  const auto again = http("DELETE", base + "/api/v1/admin/recordings/" + std::to_string(id), {}, bearer(admin));
  EXPECT_EQ(again.status, 404) << again.body;
  EXPECT_EQ(jsonString(again.body, "error.code"), "not_found");
}

// The CLI's credentials come from the environment (nothing secret on its command line).
struct ScopedEnv {
  explicit ScopedEnv(std::vector<std::pair<const char*, std::string>> vars) {
    for (const auto& [name, value] : vars) {
      names.push_back(name);
      g_setenv(name, value.c_str(), TRUE);
    }
  }
  ~ScopedEnv() {
    for (const char* name : names) g_unsetenv(name);
  }
  std::vector<const char*> names;
};

TEST(OperatorAuth, CliMintsItsAdminTokenFromTheEnvironmentOrUsesRoomcastToken) {
  PublicDaemon server;
  const Daemon& daemon = *server.daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  auto cliRun = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {cli(), "--server", daemon.url()});
    return run(args, 60);
  };
  const auto refused = cliRun({"create", "--title", "No credentials"});
  EXPECT_EQ(refused.exitStatus, 1) << refused.stdoutText;
  EXPECT_NE(refused.stderrText.find("401"), std::string::npos) << refused.stderrText;

  std::string roomId;
  {
    ScopedEnv keys({{"ROOMCAST_API_KEY", "ci"}, {"ROOMCAST_API_SECRET", kCiSecret}});
    const auto created = cliRun({"create", "--title", "From the CLI"});
    ASSERT_EQ(created.exitStatus, 0) << created.stderrText;
    roomId = jsonString(created.stdoutText, "id");
    ASSERT_FALSE(roomId.empty()) << created.stdoutText;
    const auto rooms = cliRun({"rooms"});
    ASSERT_EQ(rooms.exitStatus, 0) << rooms.stderrText;
    EXPECT_EQ(jsonString(rooms.stdoutText, "rooms.0.id"), roomId) << rooms.stdoutText;
    const auto ended = cliRun({"end", roomId});
    ASSERT_EQ(ended.exitStatus, 0) << ended.stderrText;
    EXPECT_TRUE(jsonBool(ended.stdoutText, "ended")) << ended.stdoutText;
    EXPECT_EQ(http("GET", daemon.url() + "/api/v1/rooms/" + roomId).status, 404);
  }
  {
    // An admin token minted elsewhere, with the archive grant only.
    ScopedEnv token({{"ROOMCAST_TOKEN", adminToken("ops", kOpsSecret, {false, false, true})}});
    const auto archive = cliRun({"recordings"});
    EXPECT_EQ(archive.exitStatus, 0) << archive.stderrText;
    EXPECT_GE(jsonCount(archive.stdoutText, "recordings"), 0) << archive.stdoutText;
    const auto rooms = cliRun({"rooms"});
    EXPECT_EQ(rooms.exitStatus, 1);
    EXPECT_NE(rooms.stderrText.find("403"), std::string::npos) << rooms.stderrText;
  }
  {
    // ROOMCAST_TOKEN as a room token: the host's, for --token.
    ScopedEnv keys({{"ROOMCAST_API_KEY", "ops"}, {"ROOMCAST_API_SECRET", kOpsSecret}});
    const auto created = cliRun({"create", "--title", "Hosted"});
    ASSERT_EQ(created.exitStatus, 0) << created.stderrText;
    ScopedEnv host({{"ROOMCAST_TOKEN", jsonString(created.stdoutText, "host_token")}});
    const auto issued = cliRun({"token", jsonString(created.stdoutText, "id"), "--role", "speaker", "--name", "Grace"});
    EXPECT_EQ(issued.exitStatus, 0) << issued.stderrText;
    EXPECT_EQ(jsonString(issued.stdoutText, "role"), "speaker") << issued.stdoutText;
  }
}

TEST(OperatorAuth, LoopbackStaysOpenUnlessTheConfigClosesIt) {
  {
    Daemon open;
    ASSERT_TRUE(open.ready()) << open.log();
    EXPECT_EQ(createRoomWith(open, {}).status, 201);
    EXPECT_EQ(http("GET", open.url() + "/api/v1/recordings").status, 200);
    EXPECT_EQ(http("GET", open.url() + "/metrics").status, 200);
  }
  TempDir conf("roomcast-auth-conf");
  Daemon closed({"--config", writeConfig(conf.path(), kTwoKeys + "open_rooms = false\n[archive]\npublic = false\n")});
  ASSERT_TRUE(closed.ready()) << closed.log();
  expectRefused(createRoomWith(closed, {}), 401, "create on a closed loopback server");
  expectRefused(http("GET", closed.url() + "/metrics"), 401, "/metrics on a closed loopback server");
  EXPECT_EQ(createRoomWith(closed, bearer(adminToken("ops", kOpsSecret, {true, false, false}))).status, 201);
}

TEST(OperatorAuth, ShortApiSecretStopsRoomcastdAtStart) {
  TempDir dir("roomcast-auth-short");
  const int port = freeTcpPort();
  for (const std::string& config :
       {std::string("[auth]\napi_key = ops\napi_secret = only-31-bytes-0123456789abcdefg\n"),
        std::string("[auth]\nkeys = ops:") + kOpsSecret + ", ci:short\n"}) {
    auto r = run({buildPath("src/app/roomcastd"), "--listen", "0.0.0.0:" + std::to_string(port), "--data-dir",
                  dir.path() + "/data", "--config", writeConfig(dir.path(), config)},
                 30);
    ASSERT_TRUE(r.finished) << "it must exit, not serve: " << r.stderrText;
    EXPECT_NE(r.exitStatus, 0);
    EXPECT_NE(r.stderrText.find("at least 32"), std::string::npos) << r.stderrText;
    EXPECT_EQ(r.stderrText.find("listening on"), std::string::npos) << "never a half-running server: " << r.stderrText;
  }
}

TEST(RoomTimeouts, AnEmptyRoomEndsAfterItsTimeoutWithItsRecordingFinishedAndListed) {
  constexpr double kTimeout = 8;
  TempDir conf("roomcast-timeout-conf");
  Daemon daemon({"--config", writeConfig(conf.path(), "[room]\nempty_timeout_s = 8\n")});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const auto created = createRoomWith(daemon, {}, true);
  ASSERT_EQ(created.status, 201) << created.body;
  const TestRoom room{jsonString(created.body, "id"), jsonString(created.body, "host_token")};
  // On stage longer than the timeout: the room stays while someone is there.
  Process speaker({cli(), "--server", daemon.url(), "speak", room.id, "--token", room.hostToken, "--tone", "440",
                   "--seconds", "10"});
  const auto spoke = speaker.wait(90);
  ASSERT_EQ(spoke.exitStatus, 0) << spoke.stderrText << daemon.log();
  ASSERT_NE(spoke.stdoutText.find("heard 10 s"), std::string::npos) << spoke.stdoutText;
  const double left = nowSeconds();

  // The stage is empty now: the room ends by itself, not before its time.
  ASSERT_TRUE(pollUntil([&] { return http("GET", daemon.url() + "/api/v1/rooms/" + room.id).status == 404; }, 60, 0.2))
      << daemon.log();
  const double after = nowSeconds() - left;
  EXPECT_GE(after, kTimeout - 0.5) << "ended " << after << " s after the stage emptied";
  std::printf("the room ended %.1f s after its speaker left (empty_timeout_s %.0f)\n", after, kTimeout);

  // Its recording is finished and listed, and decodes with the speaker's tone.
  std::string listing;
  ASSERT_TRUE(pollUntil([&] {
    listing = http("GET", daemon.url() + "/api/v1/recordings").body;
    return jsonString(listing, "recordings.0.status") == "finished";
  }, 30, 0.2)) << listing;
  EXPECT_EQ(jsonString(listing, "recordings.0.room"), room.id);
  EXPECT_FALSE(jsonIsNull(listing, "recordings.0.ended_at_ms"));
  const std::string path = jsonString(listing, "recordings.0.storage.local");
  ASSERT_FALSE(path.empty()) << listing;
  const std::string wav = conf.path() + "/recording.wav";
  const auto decoded = run({"ffmpeg", "-nostdin", "-v", "error", "-i", path, "-ac", "1", "-ar", "48000", "-y", wav}, 60);
  ASSERT_EQ(decoded.exitStatus, 0) << decoded.stderrText;
  roomcast::audio::PcmAudio audio;
  ASSERT_TRUE(roomcast::audio::readWav(wav, audio));
  EXPECT_GT(audio.seconds(), 8) << "the 10 s on stage and the empty wait";
  const double toneSeconds = fractionWithToneAbove(audio, 440, 0, audio.seconds(), -30) * audio.seconds();
  std::printf("recording: %.1f s, %.1f s of them with the 440 Hz tone\n", audio.seconds(), toneSeconds);
  EXPECT_GT(toneSeconds, 7) << "seconds of the speaker's tone in the recording";
  EXPECT_NE(daemon.log().find("ended"), std::string::npos);
}

}  // namespace
