// Finished recordings to S3-compatible storage (AWS S3, MinIO, Ceph RGW, ...): one signed PUT
// per file with libcurl (path-style URL <endpoint>/<bucket>/<prefix><name>, AWS Signature V4,
// the payload's SHA-256 in x-amz-content-sha256 so the server checks the bytes), the file
// streamed from disk, retries with exponential backoff on network errors and 5xx answers,
// then a HEAD that proves the object is there with the file's size (and MD5 ETag) before
// success is reported.
//
// The caller's policy: the local copy is kept until an upload is verified. This module never
// deletes, moves or writes the local file; only after a successful Result may the caller
// remove it. A failed upload leaves the file as it was, to be retried later.
//
// Threads: uploadFile() blocks (use it from a worker). S3Uploader runs it on one worker
// thread and reports on a GMainContext, so the main loop never waits on the network.
#pragma once

#include <glib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace roomcast::store {

struct S3RetryPolicy {
  int maxAttempts = 5;                               // PUT attempts in all, the first included
  std::chrono::milliseconds initialBackoff{1000};    // wait after the first failed attempt
  std::chrono::milliseconds maxBackoff{60000};       // the doubling waits stop growing here
};

struct S3Config {
  std::string endpoint;             // scheme://host[:port][/path], e.g. http://127.0.0.1:4569
  std::string bucket;
  std::string region = "us-east-1";
  std::string accessKey;
  std::string secretKey;
  std::string prefix;               // put before every object name as is, e.g. "recordings/"
  S3RetryPolicy retry;
  std::chrono::seconds connectTimeout{10};
  // An attempt whose transfer moves under 1 KiB/s for this long is abandoned (and retried):
  // a stalled connection ends an attempt, a large file on a slow link does not.
  std::chrono::seconds stallTimeout{60};
  // Compare an ETag that looks like an MD5 (32 hex digits) with the file's MD5. Turn off for
  // buckets with SSE-KMS or SSE-C, whose ETags are not the MD5 of the object.
  bool verifyEtag = true;
};

struct UploadReport {
  std::string url;        // the object's URL
  uint64_t bytes = 0;     // the file's size, equal to the object's Content-Length
  int attempts = 0;       // PUT attempts it took: 1 when nothing was retried
  std::string sha256;     // hex, of the file (as sent in x-amz-content-sha256)
  std::string etag;       // as the HEAD answered, without quotes; empty if the server sent none
};

// One failed attempt that will be retried (after `retryIn`).
struct S3AttemptFailure {
  std::string request;    // "PUT" or "HEAD"
  int attempt = 0;        // 1-based, per request kind
  int httpStatus = 0;     // 0: no final HTTP answer (refused, timed out, dropped, ...)
  std::string message;
  std::chrono::milliseconds retryIn{0};
};

// Cancels an upload from another thread: the transfer is aborted within about a second and
// a backoff wait ends at once. Thread-safe.
class UploadCancel {
 public:
  void cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Waits up to `duration`; returns true (early) if cancelled.
  bool waitFor(std::chrono::milliseconds duration);

 private:
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
};

struct UploadHooks {
  // Called on the uploading thread before each backoff wait (logged with g_message too).
  std::function<void(const S3AttemptFailure&)> onRetry;
  UploadCancel* cancel = nullptr;   // optional, not owned
};

// Uploads `localPath` as <prefix><objectName> and verifies it. Errors:
//   NotFound         the local file cannot be opened
//   ValidationFailed the config or the object name is unusable (nothing was sent)
//   Forbidden        401/403 from the server (bad keys, signature, clock, policy), at once
//   Internal         other 4xx/3xx at once; network errors and 5xx once the attempts are
//                    used up; a verification mismatch; cancellation
// The message names the request, the HTTP status and the S3 error code and message from the
// answer's XML, e.g. "PUT http://.../b/recordings/x.ogg: HTTP 403 SignatureDoesNotMatch: The
// request signature we calculated does not match ... (attempt 1 of 5, not retried: a client
// error)". Final failures are not logged here: the caller decides what to say.
core::Result<UploadReport> uploadFile(const S3Config& config, const std::string& localPath,
                                      const std::string& objectName, const UploadHooks& hooks = {});

// Queues uploads on one worker thread (GThreadPool) and reports each on `context`, in the
// order they were queued. Create, use and destroy it on the thread that runs `context`.
class S3Uploader {
 public:
  using Completion = std::function<void(const core::Result<UploadReport>&)>;
  using RetryNotice = std::function<void(const S3AttemptFailure&)>;

  S3Uploader(S3Config config, GMainContext* context);  // not null; holds a reference to it
  // Cancels the running upload and drops the queue (their files stay as they are), waits for
  // the worker (about a second at most); no callback of this uploader runs afterwards.
  ~S3Uploader();
  S3Uploader(const S3Uploader&) = delete;
  S3Uploader& operator=(const S3Uploader&) = delete;

  // `done` runs once on the context; `onRetry` (optional) for each failed attempt that will
  // be retried, also on the context.
  void enqueue(std::string localPath, std::string objectName, Completion done, RetryNotice onRetry = {});

 private:
  struct Shared;
  struct Job;
  static void runJob(gpointer job, gpointer uploader);

  S3Config config_;
  std::shared_ptr<Shared> shared_;   // the alive flag, shared with posted callbacks
  GThreadPool* pool_ = nullptr;      // owned; 1 thread
  UploadCancel cancel_;
};

// The pure parts, exposed for tests.
namespace s3 {

// <endpoint>/<bucket>/<prefix><name>, the key percent-encoded as SigV4 wants it for S3
// (everything but A-Z a-z 0-9 - _ . ~ and '/'). Refuses an endpoint that is not http(s)://,
// an empty bucket or name, and keys with "." or ".." segments (a URL would normalize them away).
core::Result<std::string> objectUrl(const S3Config& config, const std::string& objectName);
std::string encodeKey(std::string_view key);

struct FileDigest {
  uint64_t size = 0;
  std::string sha256;  // lowercase hex
  std::string md5;     // lowercase hex
};
// Reads the file once, in chunks (never all of it in memory).
core::Result<FileDigest> digestFile(const std::string& path);

struct ErrorBody {
  std::string code;     // e.g. "SignatureDoesNotMatch"
  std::string message;
};
// <Error><Code>..</Code><Message>..</Message></Error>; nullopt when there is no Code. A body
// cut short or with an entity GMarkup does not know still yields what came before.
std::optional<ErrorBody> parseErrorBody(std::string_view xml);
// "HTTP 403 SignatureDoesNotMatch: message", or "HTTP 502: <start of a non-S3 body>".
std::string describeHttpFailure(int httpStatus, std::string_view body);

bool isRetryableStatus(int httpStatus);  // 5xx only
// The wait after failed attempt `failedAttempt` (1-based): initial * 2^(n-1), at most max.
std::chrono::milliseconds backoffAfter(const S3RetryPolicy& policy, int failedAttempt);
// By file extension (.ogg/.opus, .m4a/.mp4, .mp3, .wav, .flac), else application/octet-stream.
std::string contentTypeFor(std::string_view name);

}  // namespace s3
}  // namespace roomcast::store
