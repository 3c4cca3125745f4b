#include "s3_server.h"

#include <curl/curl.h>
#include <glib.h>

namespace roomcast::testing {

S3Server::S3Server(std::string bucket) : bucket_(std::move(bucket)) {
  dir_ = makeTempDir("roomcast-s3");
  port_ = freeTcpPort();
  endpoint_ = "http://127.0.0.1:" + std::to_string(port_);
}

S3Server::~S3Server() {
  stop();
  removeTempDir(dir_);
}

bool S3Server::start(const std::vector<std::string>& faults, double timeoutSeconds) {
  if (process_) return true;
  std::vector<std::string> argv{"node", sourcePath("tests/support/s3_server.js"), "--directory", dir_ + "/objects",
                                "--port", std::to_string(port_), "--bucket", bucket_, "--access-key", kAccessKey,
                                "--secret-key", kSecretKey};
  argv.insert(argv.end(), faults.begin(), faults.end());
  process_ = std::make_unique<Process>(argv);
  if (!process_->started()) return false;
  if (process_->waitForOutput("s3 server listening on 127.0.0.1:" + std::to_string(port_), timeoutSeconds)) return true;
  stop();  // it exited (port taken, node_modules missing) or hung: its output says why
  return false;
}

bool S3Server::waitForOutput(const std::string& text, double timeoutSeconds) {
  return process_ && process_->waitForOutput(text, timeoutSeconds);
}

void S3Server::stop() {
  if (!process_) return;
  process_->kill();
  ProcessResult ended = process_->wait(10);
  pastLog_ += ended.stdoutText + ended.stderrText;
  process_.reset();
}

std::string S3Server::log() const {
  if (!process_) return pastLog_;
  return pastLog_ + process_->output() + process_->errors();
}

namespace {
size_t appendTo(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}
}  // namespace

S3Object signedGet(const std::string& accessKey, const std::string& secretKey, const std::string& url,
                   const std::string& region) {
  S3Object got;
  CURL* h = curl_easy_init();
  // The SHA-256 of an empty body.
  curl_slist* headers = curl_slist_append(
      nullptr, "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string sigv4 = "aws:amz:" + region + ":s3";
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(h, CURLOPT_USERNAME, accessKey.c_str());
  curl_easy_setopt(h, CURLOPT_PASSWORD, secretKey.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, appendTo);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &got.body);
  if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &got.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  return got;
}

}  // namespace roomcast::testing
