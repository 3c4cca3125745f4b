// Uploading recordings to S3 (store/s3_upload.h) against a real S3-compatible server on
// loopback: s3rver (npm) behind tests/support/s3_server.js, which checks every Signature V4
// with the secret (s3rver alone does not) and can inject 503s or a stalled PUT. Each test
// starts its own server on a free port and kills only that one, by its PID.
//
// Outages are made deterministic with events: the server is started only after the uploader
// has reported a failed attempt, or killed only once it has printed that it holds a PUT.
#include <curl/curl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "processes.h"
#include "s3_server.h"
#include "store/s3_upload.h"
#include "wait.h"

using namespace roomcast;
using namespace roomcast::store;
using namespace roomcast::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kBucket = "roomcast-recordings";

std::string readFile(const std::string& path) {
  g_autofree char* contents = nullptr;
  gsize length = 0;
  if (!g_file_get_contents(path.c_str(), &contents, &length, nullptr)) return {};
  return std::string(contents, length);
}

// A recording-sized file of pseudo-random bytes (an odd size, several read chunks).
std::string writeRecording(const std::string& dir, const char* name, size_t size, guint32 seed) {
  std::string bytes(size, '\0');
  g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
  for (auto& b : bytes) b = static_cast<char>(g_rand_int(rand) & 0xFF);
  const std::string path = dir + "/" + name;
  EXPECT_TRUE(g_file_set_contents(path.c_str(), bytes.data(), static_cast<gssize>(bytes.size()), nullptr));
  return path;
}

// The first word of `sha256sum FILE` / `md5sum FILE`: digests from outside this code base.
std::string coreutilsDigest(const char* tool, const std::string& path) {
  ProcessResult r = run({tool, path}, 30);
  return r.stdoutText.substr(0, r.stdoutText.find(' '));
}

int countLines(const std::string& log, const std::string& start) {
  int n = 0;
  size_t at = 0;
  while ((at = log.find(start, at)) != std::string::npos) {
    if (at == 0 || log[at - 1] == '\n') n++;
    at += start.size();
  }
  return n;
}

class S3UploadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(g_file_test(sourcePath("node_modules/s3rver/package.json").c_str(), G_FILE_TEST_EXISTS))
        << "npm package s3rver missing: run scripts/setup.sh (npm install)";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    server_ = std::make_unique<S3Server>(kBucket);
    dir_ = makeTempDir("roomcast-s3-local");
    context_ = g_main_context_new();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "--- s3 server log ---\n" << server_->log() << "---\n";
    server_.reset();
    removeTempDir(dir_);
    g_main_context_unref(context_);
  }

  S3Config config() const {
    S3Config c;
    c.endpoint = server_->endpoint();
    c.bucket = kBucket;
    c.accessKey = S3Server::kAccessKey;
    c.secretKey = S3Server::kSecretKey;
    c.prefix = "recordings/";
    c.retry.maxAttempts = 30;     // enough for a Node.js start while the uploader retries
    c.retry.initialBackoff = 100ms;
    c.retry.maxBackoff = 1s;
    c.connectTimeout = 5s;
    c.stallTimeout = 20s;
    return c;
  }

  // Starts the server, then uploads a small recording (`file`, bytes from `seed`) to `key` with
  // `settings` that the server refuses: the upload fails with `code`, its message naming each
  // of `reasons` (what the server said, that it was not retried).
  void expectRefusedAtOnce(const S3Config& settings, const char* file, guint32 seed, const char* key,
                           core::ErrorCode code, const std::vector<std::string>& reasons) {
    ASSERT_TRUE(server_->start()) << server_->log();
    const std::string path = writeRecording(dir_, file, 1000, seed);
    auto report = uploadFile(settings, path, key);
    ASSERT_FALSE(report.ok());
    std::cout << "refused (" << file << "): " << report.error().message << "\n";
    EXPECT_EQ(report.error().code, code);
    for (const auto& reason : reasons)
      EXPECT_NE(report.error().message.find(reason), std::string::npos) << report.error().message;
  }

  std::unique_ptr<S3Server> server_;
  std::string dir_;          // the local recordings
  GMainContext* context_ = nullptr;  // the "main loop" of the async tests
};

TEST_F(S3UploadTest, GoodUploadIsStoredByteForByteInOneAttempt) {
  ASSERT_TRUE(server_->start()) << server_->log();
  const std::string path = writeRecording(dir_, "recording.ogg", 3 * 1024 * 1024 + 321, 1);
  const std::string original = readFile(path);
  int retries = 0;
  UploadHooks hooks;
  hooks.onRetry = [&](const S3AttemptFailure&) { retries++; };

  auto report = uploadFile(config(), path, "room-a/2024-05-01T10-00-00.ogg", hooks);
  ASSERT_TRUE(report.ok()) << report.error().message;
  std::cout << "good upload: " << report->url << ", " << report->bytes << " bytes, attempts " << report->attempts
            << ", sha256 " << report->sha256 << ", etag " << report->etag << "\n";
  EXPECT_EQ(report->attempts, 1);
  EXPECT_EQ(retries, 0);
  EXPECT_EQ(report->url, server_->endpoint() + "/" + kBucket + "/recordings/room-a/2024-05-01T10-00-00.ogg");
  EXPECT_EQ(report->bytes, original.size());
  EXPECT_EQ(report->sha256, coreutilsDigest("sha256sum", path));
  EXPECT_EQ(report->etag, coreutilsDigest("md5sum", path));

  S3Object back = signedGet(S3Server::kAccessKey, S3Server::kSecretKey, report->url);
  EXPECT_EQ(back.status, 200);
  EXPECT_EQ(back.body.size(), original.size());
  EXPECT_TRUE(back.body == original) << "the object differs from the file";
  EXPECT_EQ(readFile(path), original) << "the local copy must stay as it was";

  // A name that needs percent-encoding: the server recomputes the signature over the path.
  const std::string small = writeRecording(dir_, "small.ogg", 1000, 2);
  auto odd = uploadFile(config(), small, "Talk #2 (Q&A) + caf\xc3\xa9.ogg");
  ASSERT_TRUE(odd.ok()) << odd.error().message;
  EXPECT_EQ(odd->url, server_->endpoint() + "/" + kBucket + "/recordings/Talk%20%232%20%28Q%26A%29%20%2B%20caf%C3%A9.ogg");
  EXPECT_TRUE(signedGet(S3Server::kAccessKey, S3Server::kSecretKey, odd->url).body == readFile(small));

  server_->stop();
  const std::string log = server_->log();
  EXPECT_EQ(countLines(log, "PUT /roomcast-recordings/recordings/room-a/2024-05-01T10-00-00.ogg 200"), 1) << log;
  EXPECT_EQ(countLines(log, "HEAD /roomcast-recordings/recordings/room-a/2024-05-01T10-00-00.ogg 200"), 1) << log;
}

TEST_F(S3UploadTest, ServerDownAtTheStartThenBackWhileRetrying) {
  // Not started: connections are refused until the uploader has said it failed once.
  const std::string path = writeRecording(dir_, "outage.ogg", 1024 * 1024 + 7, 3);
  std::vector<S3AttemptFailure> failures;
  std::optional<core::Result<UploadReport>> result;
  S3Uploader uploader(config(), context_);
  uploader.enqueue(path, "room-b/outage.ogg", [&](const core::Result<UploadReport>& r) { result = r; },
                   [&](const S3AttemptFailure& f) { failures.push_back(f); });

  ASSERT_TRUE(iterateUntil(context_, [&] { return !failures.empty() || result; }, 20)) << "no failed attempt reported";
  ASSERT_FALSE(result) << "finished while the server was down: " << (result->ok() ? "ok" : result->error().message);
  EXPECT_EQ(failures[0].request, "PUT");
  EXPECT_EQ(failures[0].attempt, 1);
  EXPECT_EQ(failures[0].httpStatus, 0);
  EXPECT_NE(failures[0].message.find("network error"), std::string::npos) << failures[0].message;
  std::cout << "first failure: " << failures[0].message << ", retry in " << failures[0].retryIn.count() << " ms\n";

  ASSERT_TRUE(server_->start()) << server_->log();
  ASSERT_TRUE(iterateUntil(context_, [&] { return result.has_value(); }, 60)) << "no completion";
  ASSERT_TRUE(result->ok()) << result->error().message;
  const UploadReport& report = result->value();
  std::cout << "after the outage: attempts " << report.attempts << ", failures reported " << failures.size() << "\n";
  EXPECT_GT(report.attempts, 1);
  int putFailures = 0;
  for (const auto& f : failures) putFailures += f.request == "PUT";
  EXPECT_EQ(report.attempts, putFailures + 1);
  EXPECT_TRUE(signedGet(S3Server::kAccessKey, S3Server::kSecretKey, report.url).body == readFile(path));
}

TEST_F(S3UploadTest, ServerKilledWhileHoldingThePutThenBack) {
  // The first run reads the whole PUT and never answers; we kill it right then.
  ASSERT_TRUE(server_->start({"--stall-first-put", "1"})) << server_->log();
  const std::string path = writeRecording(dir_, "midway.ogg", 2 * 1024 * 1024 + 5, 4);
  std::vector<S3AttemptFailure> failures;
  std::optional<core::Result<UploadReport>> result;
  S3Uploader uploader(config(), context_);
  uploader.enqueue(path, "room-c/midway.ogg", [&](const core::Result<UploadReport>& r) { result = r; },
                   [&](const S3AttemptFailure& f) { failures.push_back(f); });

  ASSERT_TRUE(server_->waitForOutput("stalling PUT /roomcast-recordings/recordings/room-c/midway.ogg", 30))
      << server_->log();
  server_->stop();  // the connection drops mid-request
  ASSERT_TRUE(iterateUntil(context_, [&] { return !failures.empty() || result; }, 20)) << "no failed attempt reported";
  ASSERT_FALSE(result);
  EXPECT_EQ(failures[0].httpStatus, 0);
  std::cout << "dropped mid-request: " << failures[0].message << "\n";

  ASSERT_TRUE(server_->start()) << server_->log();
  ASSERT_TRUE(iterateUntil(context_, [&] { return result.has_value(); }, 60)) << "no completion";
  ASSERT_TRUE(result->ok()) << result->error().message;
  std::cout << "after the drop: attempts " << result->value().attempts << "\n";
  EXPECT_GT(result->value().attempts, 1);
  EXPECT_TRUE(signedGet(S3Server::kAccessKey, S3Server::kSecretKey, result->value().url).body == readFile(path));
}

TEST_F(S3UploadTest, ServerErrorsAreRetriedWithBackoff) {
  ASSERT_TRUE(server_->start({"--fail-first", "2"})) << server_->log();
  const std::string path = writeRecording(dir_, "busy.ogg", 200 * 1000, 5);
  std::vector<S3AttemptFailure> failures;
  UploadHooks hooks;
  hooks.onRetry = [&](const S3AttemptFailure& f) { failures.push_back(f); };
  auto report = uploadFile(config(), path, "room-d/busy.ogg", hooks);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->attempts, 3);
  ASSERT_EQ(failures.size(), 2u);
  for (const auto& f : failures) {
    EXPECT_EQ(f.httpStatus, 503);
    EXPECT_NE(f.message.find("HTTP 503 SlowDown: Please reduce your request rate."), std::string::npos) << f.message;
  }
  EXPECT_EQ(failures[0].retryIn, 100ms);
  EXPECT_EQ(failures[1].retryIn, 200ms);
  std::cout << "503 then: " << failures[0].message << "; attempts " << report->attempts << "\n";
  EXPECT_TRUE(signedGet(S3Server::kAccessKey, S3Server::kSecretKey, report->url).body == readFile(path));
}

TEST_F(S3UploadTest, WrongSecretFailsAtOnceAndLeavesTheFile) {
  ASSERT_TRUE(server_->start()) << server_->log();
  const std::string path = writeRecording(dir_, "secret.ogg", 512 * 1024, 6);
  const std::string original = readFile(path);
  GStatBuf before{};
  ASSERT_EQ(g_stat(path.c_str(), &before), 0);

  S3Config wrong = config();
  wrong.secretKey = "not-the-secret";
  wrong.retry.maxAttempts = 5;
  int retries = 0;
  UploadHooks hooks;
  hooks.onRetry = [&](const S3AttemptFailure&) { retries++; };
  auto report = uploadFile(wrong, path, "room-e/secret.ogg", hooks);
  ASSERT_FALSE(report.ok());
  const std::string& message = report.error().message;
  std::cout << "wrong secret: " << message << "\n";
  EXPECT_EQ(report.error().code, core::ErrorCode::Forbidden);
  EXPECT_NE(message.find("HTTP 403 SignatureDoesNotMatch"), std::string::npos) << message;
  EXPECT_NE(message.find("attempt 1 of 5, not retried"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_EQ(retries, 0);

  GStatBuf after{};
  ASSERT_EQ(g_stat(path.c_str(), &after), 0) << "the local file must stay";
  EXPECT_EQ(after.st_size, before.st_size);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  EXPECT_TRUE(readFile(path) == original);

  S3Object missing = signedGet(S3Server::kAccessKey, S3Server::kSecretKey, server_->endpoint() + "/" + kBucket + "/recordings/room-e/secret.ogg");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("NoSuchKey"), std::string::npos) << missing.body;

  server_->stop();
  EXPECT_EQ(countLines(server_->log(), "PUT /roomcast-recordings/recordings/room-e/secret.ogg"), 1) << server_->log();
}

TEST_F(S3UploadTest, UnknownAccessKeyFailsAtOnce) {
  S3Config wrong = config();
  wrong.accessKey = "AKIANOTKNOWN";
  expectRefusedAtOnce(wrong, "key.ogg", 7, "room-f/key.ogg", core::ErrorCode::Forbidden,
                      {"HTTP 403 InvalidAccessKeyId", "attempt 1 of 30, not retried"});
}

TEST_F(S3UploadTest, MissingBucketIsAClientErrorNotRetried) {
  S3Config wrong = config();
  wrong.bucket = "no-such-bucket";
  expectRefusedAtOnce(wrong, "bucket.ogg", 8, "x.ogg", core::ErrorCode::Internal, {"HTTP 404 NoSuchBucket", "not retried"});
}

TEST_F(S3UploadTest, GivesUpAfterMaxAttemptsWhileTheServerStaysDown) {
  const std::string path = writeRecording(dir_, "down.ogg", 1000, 9);
  S3Config c = config();
  c.retry.maxAttempts = 3;
  c.retry.initialBackoff = 10ms;
  int retries = 0;
  UploadHooks hooks;
  hooks.onRetry = [&](const S3AttemptFailure&) { retries++; };
  auto report = uploadFile(c, path, "down.ogg", hooks);
  ASSERT_FALSE(report.ok());
  std::cout << "server down: " << report.error().message << "\n";
  EXPECT_EQ(report.error().code, core::ErrorCode::Internal);
  EXPECT_NE(report.error().message.find("gave up after 3 attempts"), std::string::npos) << report.error().message;
  EXPECT_EQ(retries, 2);
  EXPECT_TRUE(g_file_test(path.c_str(), G_FILE_TEST_EXISTS));
}

TEST_F(S3UploadTest, DestroyingTheUploaderCancelsABackoffAtOnce) {
  const std::string path = writeRecording(dir_, "cancel.ogg", 1000, 10);
  S3Config c = config();
  c.retry.initialBackoff = 60s;  // would wait a minute
  c.retry.maxBackoff = 60s;
  bool retried = false, completed = false;
  auto uploader = std::make_unique<S3Uploader>(c, context_);
  uploader->enqueue(path, "cancel.ogg", [&](const core::Result<UploadReport>&) { completed = true; },
                    [&](const S3AttemptFailure&) { retried = true; });
  uploader->enqueue(path, "queued.ogg", [&](const core::Result<UploadReport>&) { completed = true; });
  ASSERT_TRUE(iterateUntil(context_, [&] { return retried; }, 20));
  const gint64 start = g_get_monotonic_time();
  uploader.reset();
  const double seconds = static_cast<double>(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
  std::cout << "destroyed during a 60 s backoff in " << seconds << " s\n";
  EXPECT_LT(seconds, 5.0);
  while (g_main_context_iteration(context_, FALSE)) {}
  EXPECT_FALSE(completed);
  EXPECT_TRUE(g_file_test(path.c_str(), G_FILE_TEST_EXISTS));
}

}  // namespace
