#include "store/s3_upload.h"

#include <curl/curl.h>
#include <glib/gstdio.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

#include "glib_support/owned_data.h"

namespace roomcast::store {

using core::Error;
using core::ErrorCode;

// ---------------------------------------------------------------------------------------------
// The pure parts

namespace s3 {

namespace {

bool isUnreserved(unsigned char c) {
  return g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         g_ascii_strncasecmp(s.data() + s.size() - suffix.size(), suffix.data(), suffix.size()) == 0;
}

}  // namespace

std::string encodeKey(std::string_view key) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(key.size());
  for (unsigned char c : key) {
    if (isUnreserved(c) || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

core::Result<std::string> objectUrl(const S3Config& config, const std::string& objectName) {
  std::string endpoint = config.endpoint;
  if (!g_str_has_prefix(endpoint.c_str(), "http://") && !g_str_has_prefix(endpoint.c_str(), "https://"))
    return Error{ErrorCode::ValidationFailed, "s3 endpoint must start with http:// or https://: '" + endpoint + "'"};
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (endpoint.find_first_of("?#") != std::string::npos)
    return Error{ErrorCode::ValidationFailed, "s3 endpoint must not have a query or fragment: '" + endpoint + "'"};
  if (config.bucket.empty() || config.bucket.find('/') != std::string::npos)
    return Error{ErrorCode::ValidationFailed, "s3 bucket must be one non-empty name: '" + config.bucket + "'"};
  if (objectName.empty()) return Error{ErrorCode::ValidationFailed, "s3 object name is empty"};

  const std::string key = config.prefix + objectName;
  // "." and ".." segments would be resolved away by URL normalization (and could leave the
  // prefix): refuse them rather than upload somewhere else.
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    const std::string_view segment(key.data() + start, end - start);
    if (segment == "." || segment == "..")
      return Error{ErrorCode::ValidationFailed, "s3 object key has a '.' or '..' segment: '" + key + "'"};
    start = end + 1;
  }
  return endpoint + "/" + encodeKey(config.bucket) + "/" + encodeKey(key);
}

core::Result<FileDigest> digestFile(const std::string& path) {
  FILE* file = g_fopen(path.c_str(), "rb");
  if (!file) {
    const int err = errno;
    return Error{err == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
                 "cannot open " + path + ": " + g_strerror(err)};
  }
  g_autoptr(GChecksum) sha256 = g_checksum_new(G_CHECKSUM_SHA256);
  g_autoptr(GChecksum) md5 = g_checksum_new(G_CHECKSUM_MD5);
  FileDigest digest;
  std::vector<guchar> buffer(256 * 1024);
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), file)) > 0) {
    g_checksum_update(sha256, buffer.data(), static_cast<gssize>(n));
    g_checksum_update(md5, buffer.data(), static_cast<gssize>(n));
    digest.size += n;
  }
  const bool failed = ferror(file);
  const int err = errno;
  fclose(file);
  if (failed) return Error{ErrorCode::Internal, "cannot read " + path + ": " + g_strerror(err)};
  digest.sha256 = g_checksum_get_string(sha256);
  digest.md5 = g_checksum_get_string(md5);
  return digest;
}

namespace {

struct ErrorBodyParse {
  std::vector<std::string> path;  // open elements
  ErrorBody body;
};

void onStart(GMarkupParseContext*, const gchar* element, const gchar**, const gchar**, gpointer data, GError**) {
  static_cast<ErrorBodyParse*>(data)->path.emplace_back(element);
}

void onEnd(GMarkupParseContext*, const gchar*, gpointer data, GError**) {
  auto* parse = static_cast<ErrorBodyParse*>(data);
  if (!parse->path.empty()) parse->path.pop_back();
}

void onText(GMarkupParseContext*, const gchar* text, gsize length, gpointer data, GError**) {
  auto* parse = static_cast<ErrorBodyParse*>(data);
  if (parse->path.size() != 2 || parse->path[0] != "Error") return;
  if (parse->path[1] == "Code") parse->body.code.append(text, length);
  else if (parse->path[1] == "Message") parse->body.message.append(text, length);
}

std::string trimmed(std::string s) {
  g_strstrip(s.data());
  s.resize(strlen(s.c_str()));
  return s;
}

}  // namespace

std::optional<ErrorBody> parseErrorBody(std::string_view xml) {
  static const GMarkupParser parser = {onStart, onEnd, onText, nullptr, nullptr};
  ErrorBodyParse parse;
  GMarkupParseContext* context = g_markup_parse_context_new(&parser, G_MARKUP_DEFAULT_FLAGS, &parse, nullptr);
  // Errors (a cut body, an HTML entity) end the parse; what was read before still counts.
  if (g_markup_parse_context_parse(context, xml.data(), static_cast<gssize>(xml.size()), nullptr))
    g_markup_parse_context_end_parse(context, nullptr);
  g_markup_parse_context_free(context);
  parse.body.code = trimmed(std::move(parse.body.code));
  parse.body.message = trimmed(std::move(parse.body.message));
  if (parse.body.code.empty()) return std::nullopt;
  return parse.body;
}

std::string describeHttpFailure(int httpStatus, std::string_view body) {
  std::string text = "HTTP " + std::to_string(httpStatus);
  if (auto parsed = parseErrorBody(body)) {
    text += " " + parsed->code;
    if (!parsed->message.empty()) text += ": " + parsed->message;
    return text;
  }
  if (body.empty()) return text + " (empty body)";
  // Not S3's XML (a proxy's HTML page, say): its start, on one line, printable only.
  std::string snippet;
  for (char c : body.substr(0, 200)) snippet.push_back(g_ascii_isprint(c) ? c : ' ');
  return text + ": " + trimmed(std::move(snippet));
}

bool isRetryableStatus(int httpStatus) { return httpStatus >= 500 && httpStatus <= 599; }

std::chrono::milliseconds backoffAfter(const S3RetryPolicy& policy, int failedAttempt) {
  auto wait = std::max(policy.initialBackoff, std::chrono::milliseconds(0));
  for (int i = 1; i < failedAttempt && wait < policy.maxBackoff; i++) wait *= 2;
  return std::min(wait, policy.maxBackoff);
}

std::string contentTypeFor(std::string_view name) {
  if (endsWith(name, ".ogg") || endsWith(name, ".opus") || endsWith(name, ".oga")) return "audio/ogg";
  if (endsWith(name, ".m4a") || endsWith(name, ".mp4")) return "audio/mp4";
  if (endsWith(name, ".mp3")) return "audio/mpeg";
  if (endsWith(name, ".wav")) return "audio/wav";
  if (endsWith(name, ".flac")) return "audio/flac";
  return "application/octet-stream";
}

}  // namespace s3

// ---------------------------------------------------------------------------------------------
// Cancellation

void UploadCancel::cancel() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
  }
  changed_.notify_all();
}

bool UploadCancel::waitFor(std::chrono::milliseconds duration) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, duration, [this] { return cancelled_.load(); });
}

// ---------------------------------------------------------------------------------------------
// One request with libcurl

namespace {

const char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr size_t kMaxErrorBody = 64 * 1024;

void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Easy {
  CURL* handle = curl_easy_init();
  curl_slist* headers = nullptr;
  char errorText[CURL_ERROR_SIZE] = {};
  ~Easy() {
    curl_slist_free_all(headers);
    if (handle) curl_easy_cleanup(handle);
  }
  void addHeader(const std::string& line) { headers = curl_slist_append(headers, line.c_str()); }
};

// How one attempt ended.
struct Outcome {
  bool ok = false;
  bool retryable = false;
  int httpStatus = 0;
  std::string message;          // when !ok
  curl_off_t contentLength = -1;
  std::string etag;
};

struct Response {
  std::string body;   // the first kMaxErrorBody bytes (error documents are small)
  std::string etag;
};

size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<Response*>(user);
  const size_t n = size * count;
  if (response->body.size() < kMaxErrorBody)
    response->body.append(data, std::min(n, kMaxErrorBody - response->body.size()));
  return n;
}

size_t onHeader(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<Response*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos && g_ascii_strncasecmp(line.data(), "etag", colon) == 0 && colon == 4) {
    std::string value(line.substr(colon + 1));
    g_strstrip(value.data());
    value.resize(strlen(value.c_str()));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    response->etag = value;
  }
  return n;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* cancel = static_cast<UploadCancel*>(user);
  return cancel && cancel->cancelled() ? 1 : 0;  // non-zero aborts the transfer
}

// The file, read as curl asks for it; never more than the size that was hashed.
struct Source {
  FILE* file = nullptr;
  uint64_t size = 0;
  uint64_t sent = 0;
  bool shortRead = false;  // the file ended before `size`: it changed under us
  ~Source() {
    if (file) fclose(file);
  }
};

size_t onRead(char* buffer, size_t size, size_t count, void* user) {
  auto* source = static_cast<Source*>(user);
  const uint64_t left = source->size - source->sent;
  if (left == 0) return 0;
  const size_t want = static_cast<size_t>(std::min<uint64_t>(left, size * count));
  const size_t n = fread(buffer, 1, want, source->file);
  if (n == 0) {
    source->shortRead = true;
    return CURL_READFUNC_ABORT;
  }
  source->sent += n;
  return n;
}

int onSeek(void* user, curl_off_t offset, int origin) {
  auto* source = static_cast<Source*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > source->size) return CURL_SEEKFUNC_FAIL;
  if (fseeko(source->file, static_cast<off_t>(offset), SEEK_SET) != 0) return CURL_SEEKFUNC_FAIL;
  source->sent = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

bool isRetryableCurlCode(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_UPLOAD_FAILED:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

// Signing, timeouts and cancellation common to PUT and HEAD.
void configure(Easy& easy, const S3Config& config, const std::string& url, const std::string& sigv4,
               UploadCancel* cancel, Response& response) {
  CURL* h = easy.handle;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // a worker thread: no SIGALRM for timeouts
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, easy.errorText);
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
  // Separately rather than "access:secret" in CURLOPT_USERPWD: nothing to split on.
  curl_easy_setopt(h, CURLOPT_USERNAME, config.accessKey.c_str());
  curl_easy_setopt(h, CURLOPT_PASSWORD, config.secretKey.c_str());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(config.connectTimeout.count()));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(config.stallTimeout.count()));
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, onProgress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, cancel);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &response);
}

Outcome finish(Easy& easy, CURLcode code, const char* method, const std::string& url, const Response& response,
               UploadCancel* cancel) {
  Outcome outcome;
  long status = 0;
  curl_easy_getinfo(easy.handle, CURLINFO_RESPONSE_CODE, &status);
  // Only a final answer counts: "100 Continue" then a dropped connection is a network error.
  outcome.httpStatus = status >= 200 ? static_cast<int>(status) : 0;
  const std::string what = std::string(method) + " " + url + ": ";
  if (cancel && cancel->cancelled()) {
    outcome.message = what + "cancelled";
    return outcome;
  }
  // An answer of 300 and up decides, even if curl then failed to send the rest of the body
  // (a server may refuse early and close).
  if (outcome.httpStatus >= 300) {
    outcome.retryable = s3::isRetryableStatus(outcome.httpStatus);
    outcome.message = what + s3::describeHttpFailure(outcome.httpStatus, response.body);
    return outcome;
  }
  if (code != CURLE_OK) {
    outcome.retryable = isRetryableCurlCode(code);
    outcome.message = what + "network error: " + curl_easy_strerror(code);
    if (easy.errorText[0]) outcome.message += std::string(" (") + easy.errorText + ")";
    return outcome;
  }
  if (outcome.httpStatus == 0) {
    outcome.retryable = true;
    outcome.message = what + "no final HTTP answer";
    return outcome;
  }
  outcome.ok = true;
  curl_easy_getinfo(easy.handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &outcome.contentLength);
  outcome.etag = response.etag;
  return outcome;
}

Outcome putOnce(const S3Config& config, const std::string& url, const std::string& sigv4, const std::string& path,
                const s3::FileDigest& digest, const std::string& contentType, UploadCancel* cancel) {
  Source source;
  source.size = digest.size;
  source.file = g_fopen(path.c_str(), "rb");
  if (!source.file) {
    Outcome outcome;
    outcome.message = "cannot open " + path + ": " + g_strerror(errno);
    return outcome;
  }
  Easy easy;
  Response response;
  configure(easy, config, url, sigv4, cancel, response);
  CURL* h = easy.handle;
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);  // PUT
  curl_easy_setopt(h, CURLOPT_READFUNCTION, onRead);
  curl_easy_setopt(h, CURLOPT_READDATA, &source);
  curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, onSeek);
  curl_easy_setopt(h, CURLOPT_SEEKDATA, &source);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(digest.size));
  // curl signs the payload with this value (instead of the hash of an empty body).
  easy.addHeader("x-amz-content-sha256: " + digest.sha256);
  easy.addHeader("Content-Type: " + contentType);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, easy.headers);
  const CURLcode code = curl_easy_perform(h);
  Outcome outcome = finish(easy, code, "PUT", url, response, cancel);
  if (source.shortRead) {
    outcome.ok = false;
    outcome.retryable = false;
    outcome.message = "PUT " + url + ": " + path + " ended after " + std::to_string(source.sent) + " of " +
                      std::to_string(digest.size) + " bytes: the file changed while it was uploaded";
  }
  return outcome;
}

Outcome headOnce(const S3Config& config, const std::string& url, const std::string& sigv4, UploadCancel* cancel) {
  Easy easy;
  Response response;
  configure(easy, config, url, sigv4, cancel, response);
  curl_easy_setopt(easy.handle, CURLOPT_NOBODY, 1L);  // HEAD
  easy.addHeader(std::string("x-amz-content-sha256: ") + kEmptySha256);
  curl_easy_setopt(easy.handle, CURLOPT_HTTPHEADER, easy.headers);
  const CURLcode code = curl_easy_perform(easy.handle);
  return finish(easy, code, "HEAD", url, response, cancel);
}

ErrorCode codeFor(const Outcome& outcome) {
  return outcome.httpStatus == 401 || outcome.httpStatus == 403 ? ErrorCode::Forbidden : ErrorCode::Internal;
}

std::string attemptsText(int attempt, int maxAttempts) {
  return "attempt " + std::to_string(attempt) + " of " + std::to_string(maxAttempts);
}

// Runs `once` until it succeeds, fails for good, or the attempts are used up.
template <typename Once>
core::Result<Outcome> withRetries(const char* request, const S3Config& config, const UploadHooks& hooks,
                                  UploadCancel& cancel, int& attempts, Once once) {
  const int maxAttempts = std::max(1, config.retry.maxAttempts);
  for (int attempt = 1;; attempt++) {
    attempts = attempt;
    Outcome outcome = once();
    if (outcome.ok) return outcome;
    if (cancel.cancelled()) return Error{ErrorCode::Internal, outcome.message};
    if (!outcome.retryable)
      return Error{codeFor(outcome), outcome.message + " (" + attemptsText(attempt, maxAttempts) + ", not retried: " +
                                         (outcome.httpStatus >= 300 ? "a client error" : "not a transient failure") + ")"};
    if (attempt >= maxAttempts)
      return Error{codeFor(outcome), outcome.message + " (gave up after " + std::to_string(attempt) + " attempt" +
                                         (attempt == 1 ? "" : "s") + ")"};
    S3AttemptFailure failure{request, attempt, outcome.httpStatus, outcome.message,
                             s3::backoffAfter(config.retry, attempt)};
    g_message("s3: %s (%s), retrying in %lld ms", outcome.message.c_str(), attemptsText(attempt, maxAttempts).c_str(),
              static_cast<long long>(failure.retryIn.count()));
    if (hooks.onRetry) hooks.onRetry(failure);
    if (cancel.waitFor(failure.retryIn)) return Error{ErrorCode::Internal, std::string(request) + " cancelled"};
  }
}

}  // namespace

core::Result<UploadReport> uploadFile(const S3Config& config, const std::string& localPath,
                                      const std::string& objectName, const UploadHooks& hooks) {
  initCurlOnce();
  auto url = s3::objectUrl(config, objectName);
  if (!url) return url.error();
  if (config.accessKey.empty() || config.secretKey.empty())
    return Error{ErrorCode::ValidationFailed, "s3 access_key and secret_key are required"};
  if (config.region.empty() || config.region.find(':') != std::string::npos)
    return Error{ErrorCode::ValidationFailed, "s3 region is empty or has a ':': '" + config.region + "'"};
  auto digest = s3::digestFile(localPath);
  if (!digest) return digest.error();

  UploadCancel neverCancelled;
  UploadCancel& cancel = hooks.cancel ? *hooks.cancel : neverCancelled;
  const std::string sigv4 = "aws:amz:" + config.region + ":s3";
  const std::string contentType = s3::contentTypeFor(objectName);
  const std::string uploadOf = "s3 upload of " + localPath + ": ";

  int putAttempts = 0;
  auto put = withRetries("PUT", config, hooks, cancel, putAttempts, [&] {
    return putOnce(config, url.value(), sigv4, localPath, digest.value(), contentType, &cancel);
  });
  if (!put) return Error{put.error().code, uploadOf + put.error().message};

  // Verify: the object is there with our size (and our MD5, where the ETag is one).
  int headAttempts = 0;
  auto head = withRetries("HEAD", config, hooks, cancel, headAttempts,
                          [&] { return headOnce(config, url.value(), sigv4, &cancel); });
  if (!head) return Error{head.error().code, uploadOf + "uploaded, but the check failed: " + head.error().message};
  const Outcome& answer = head.value();
  if (answer.contentLength < 0)
    return Error{ErrorCode::Internal, uploadOf + "HEAD " + url.value() + " answered without a Content-Length"};
  if (static_cast<uint64_t>(answer.contentLength) != digest->size)
    return Error{ErrorCode::Internal, uploadOf + "HEAD " + url.value() + " says " +
                                          std::to_string(answer.contentLength) + " bytes, the file has " +
                                          std::to_string(digest->size)};
  const bool etagIsMd5 = answer.etag.size() == 32 &&
                         std::all_of(answer.etag.begin(), answer.etag.end(), [](char c) { return g_ascii_isxdigit(c); });
  if (config.verifyEtag && etagIsMd5 && g_ascii_strcasecmp(answer.etag.c_str(), digest->md5.c_str()) != 0)
    return Error{ErrorCode::Internal, uploadOf + "HEAD " + url.value() + " has ETag " + answer.etag +
                                          ", the file's MD5 is " + digest->md5};

  UploadReport report;
  report.url = url.value();
  report.bytes = digest->size;
  report.attempts = putAttempts;
  report.sha256 = digest->sha256;
  report.etag = answer.etag;
  return report;
}

// ---------------------------------------------------------------------------------------------
// The main-loop wrapper

struct S3Uploader::Shared {
  GMainContext* context = nullptr;  // owned reference
  bool alive = true;                // read and cleared on the context's thread only
  ~Shared() { g_main_context_unref(context); }
};

struct S3Uploader::Job {
  std::string localPath;
  std::string objectName;
  Completion done;
  RetryNotice onRetry;
};

namespace {

// Runs `fn` on the context of `shared` unless the uploader is gone by then.
template <typename Shared, typename Fn>
void post(const std::shared_ptr<Shared>& shared, Fn fn) {
  struct Delivery {
    std::shared_ptr<Shared> shared;
    Fn fn;
  };
  // A raw source on purpose, never cancelled: it runs once, and does nothing if the uploader
  // has gone by then (`alive`).
  GSource* source = g_idle_source_new();
  g_source_set_priority(source, G_PRIORITY_DEFAULT);
  auto delivery = glib_support::handOff(Delivery{shared, std::move(fn)});
  g_source_set_callback(
      source,
      [](gpointer data) -> gboolean {
        auto& delivery = glib_support::handedOff<Delivery>(data);
        if (delivery.shared->alive) delivery.fn();
        return G_SOURCE_REMOVE;
      },
      delivery.data, delivery.destroy);
  g_source_attach(source, shared->context);
  g_source_unref(source);
}

}  // namespace

S3Uploader::S3Uploader(S3Config config, GMainContext* context)
    : config_(std::move(config)), shared_(std::make_shared<Shared>()) {
  g_assert(context != nullptr);  // an explicit context, never the global default by accident
  shared_->context = g_main_context_ref(context);
  // One exclusive thread: uploads run one after the other, in queue order.
  pool_ = g_thread_pool_new(&S3Uploader::runJob, this, 1, TRUE, nullptr);
}

S3Uploader::~S3Uploader() {
  shared_->alive = false;  // nothing posted from now on reaches a callback
  cancel_.cancel();        // the running upload stops; queued ones end at once
  g_thread_pool_free(pool_, FALSE, TRUE);
}

void S3Uploader::enqueue(std::string localPath, std::string objectName, Completion done, RetryNotice onRetry) {
  // The pool's thread takes it back (runJob).
  auto job = std::make_unique<Job>(std::move(localPath), std::move(objectName), std::move(done), std::move(onRetry));
  g_thread_pool_push(pool_, job.release(), nullptr);
}

void S3Uploader::runJob(gpointer data, gpointer user) {
  auto job = glib_support::takeBack<Job>(data);
  auto* self = static_cast<S3Uploader*>(user);
  if (self->cancel_.cancelled()) return;  // being destroyed: no callback would run anyway
  UploadHooks hooks;
  hooks.cancel = &self->cancel_;
  if (job->onRetry) {
    hooks.onRetry = [shared = self->shared_, notice = job->onRetry](const S3AttemptFailure& failure) {
      post(shared, [notice, failure] { notice(failure); });
    };
  }
  auto result = uploadFile(self->config_, job->localPath, job->objectName, hooks);
  post(self->shared_, [done = std::move(job->done), result = std::move(result)] { done(result); });
}

}  // namespace roomcast::store
