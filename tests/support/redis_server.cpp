#include "redis_server.h"

#include <glib.h>
#include <signal.h>

#include <utility>

namespace roomcast::testing {

RedisServer::RedisServer(std::string extraBind) : extraBind_(std::move(extraBind)) {
  dir_ = makeTempDir("roomcast-redis");
  port_ = freeTcpPort();
}

RedisServer::~RedisServer() {
  stop();
  removeTempDir(dir_);
}

bool RedisServer::start(double timeoutSeconds) {
  if (process_) return true;
  std::vector<std::string> argv{"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1"};
  // Redis 7 takes the addresses as separate arguments. Its protected mode (no password) refuses
  // every client that is not on loopback: off for a server a test runs in a namespace of its own.
  if (!extraBind_.empty()) argv.insert(argv.end(), {extraBind_, "--protected-mode", "no"});
  for (const char* a : {"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "notice", "--dir"})
    argv.push_back(a);
  argv.push_back(dir_);
  process_ = std::make_unique<Process>(argv);
  if (!process_->started()) return false;
  // Its log says when it accepts connections; then one PING through redis-cli to be sure.
  if (process_->waitForOutput("Ready to accept connections", timeoutSeconds) && cli({"PING"}) == "PONG") return true;
  stop();  // it exited (port taken) or hung: log() says why
  return false;
}

void RedisServer::end(int signum) {
  if (!process_) return;
  resume();  // a stopped process is killed all the same, but reaped sooner
  process_->signal(signum);
  ProcessResult ended = process_->wait(10);
  pastLog_ += ended.stdoutText + ended.stderrText;
  process_.reset();
}

void RedisServer::pause() {
  if (process_) process_->signal(SIGSTOP);
}

void RedisServer::resume() {
  if (process_) process_->signal(SIGCONT);
}

std::string RedisServer::cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port_)};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult result = run(argv, 10);
  std::string out = result.stdoutText;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string RedisServer::log() const {
  if (!process_) return pastLog_;
  return pastLog_ + process_->output() + process_->errors();
}

}  // namespace roomcast::testing
