#include "redis_server.h"

#include <glib.h>
#include <signal.h>

namespace roomcast::testing {

RedisServer::RedisServer() {
  dir_ = makeTempDir("roomcast-redis");
  port_ = freeTcpPort();
}

RedisServer::~RedisServer() {
  stop();
  removeTempDir(dir_);
}

bool RedisServer::start(double timeoutSeconds) {
  if (process_) return true;
  process_ = std::make_unique<Process>(std::vector<std::string>{
      "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
      "--dir", dir_, "--daemonize", "no", "--loglevel", "notice"});
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
