#include "s3_server.h"

#include <glib.h>

namespace roomcast::testing {

S3Server::S3Server(std::string bucket) : bucket_(std::move(bucket)) {
  dir_ = makeTempDir("roomcast-s3");
  port_ = freeTcpPort();
  endpoint_ = "http://127.0.0.1:" + std::to_string(port_);
}

S3Server::~S3Server() {
  stop();
  if (!dir_.empty() && !g_getenv("ROOMCAST_KEEP_TEST_DATA")) {
    g_autofree char* quoted = g_shell_quote(dir_.c_str());
    (void)!system(("rm -rf " + std::string(quoted)).c_str());
  }
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

}  // namespace roomcast::testing
