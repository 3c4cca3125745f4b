// A local S3-compatible server for the upload tests: tests/support/s3_server.js (s3rver from
// npm behind a Signature V4 check) run with Node.js on a loopback port, its objects in a
// temporary directory that outlives a stop, so the server can go down and come back on the
// same port with the same bucket. Stopped by its own PID.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "processes.h"

namespace roomcast::testing {

class S3Server {
 public:
  static constexpr const char* kAccessKey = "S3RVER";  // the keys the server accepts
  static constexpr const char* kSecretKey = "S3RVER";

  // Picks a free port and a data directory; does not start.
  explicit S3Server(std::string bucket);
  ~S3Server();  // stops it, removes the directory (unless ROOMCAST_KEEP_TEST_DATA)
  S3Server(const S3Server&) = delete;
  S3Server& operator=(const S3Server&) = delete;

  // Starts the server and waits (bounded) until it prints that it listens. False with the
  // reason in log() when it did not come up. `faults`: options of s3_server.js for this run
  // only, e.g. {"--fail-first", "2"}.
  bool start(const std::vector<std::string>& faults = {}, double timeoutSeconds = 30);
  // Waits (bounded) until this run's output contains `text`, e.g. "stalling PUT".
  bool waitForOutput(const std::string& text, double timeoutSeconds);
  void stop();  // SIGKILL by its PID (an outage, not a shutdown), then reaps it

  bool running() const { return process_ != nullptr; }
  const std::string& endpoint() const { return endpoint_; }  // http://127.0.0.1:PORT
  const std::string& bucket() const { return bucket_; }
  const std::string& dataDir() const { return dir_; }
  std::string log() const;  // the output of every run so far

 private:
  std::string bucket_;
  std::string dir_;
  int port_ = 0;
  std::string endpoint_;
  std::unique_ptr<Process> process_;
  std::string pastLog_;
};

// GETs an object back, signed as the uploader signs (the server refuses anonymous reads).
struct S3Object {
  long status = 0;  // 0: no answer
  std::string body;
};
S3Object signedGet(const std::string& accessKey, const std::string& secretKey, const std::string& url,
                   const std::string& region = "us-east-1");

}  // namespace roomcast::testing
