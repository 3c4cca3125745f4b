// Child processes for end-to-end tests: roomcastd on a free port with a temporary data dir,
// and CLI runs with deadlines.
#pragma once

#include <gio/gio.h>

#include <string>
#include <vector>

namespace roomcast::testing {

std::string buildPath(const std::string& relative);   // <build dir>/relative ($ROOMCAST_PROGRAMS_FROM first)
std::string sourcePath(const std::string& relative);  // <source dir>/relative
std::string makeTempDir(const char* prefix);
// Removes a test's directory and everything in it, unless ROOMCAST_KEEP_TEST_DATA is set.
void removeTempDir(const std::string& dir);

// A test's own directory, removed with what is in it when it goes out of scope.
class TempDir {
 public:
  explicit TempDir(const char* prefix) : path_(makeTempDir(prefix)) {}
  ~TempDir() { removeTempDir(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};
// roomcastd's `--config FILE` for a file holding `text`, written once per text and kept (in a
// directory removed at exit) for the whole test program, so daemons may share it.
std::vector<std::string> configFileArgs(const std::string& text);

int freeTcpPort();
int freeUdpPort();

struct ProcessResult {
  bool finished = false;  // false: killed at the deadline
  int exitStatus = -1;
  std::string stdoutText;
  std::string stderrText;
};

// Starts a process; stdout and stderr are read as they come (on the process's own context,
// while a wait runs).
class Process {
 public:
  explicit Process(const std::vector<std::string>& argv);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // Waits until stdout contains `text` (e.g. "connected") or the process ends.
  bool waitForOutput(const std::string& text, double timeoutSeconds);
  // The same, for `text` starting at or after `offset` in stdout (what came after a moment the
  // test marked with output().size()); its position, or std::string::npos.
  size_t waitForOutputAfter(size_t offset, const std::string& text, double timeoutSeconds);
  // Waits for exit up to the deadline (then kills it, by its own PID).
  ProcessResult wait(double timeoutSeconds);
  bool started() const { return process_ != nullptr; }
  const std::string& output() const { return out_.text; }  // stdout so far
  const std::string& errors() const { return err_.text; }  // stderr so far
  void kill();       // SIGKILL, by its own PID
  void terminate();  // SIGTERM, by its own PID
  void signal(int signum);  // any signal, by its own PID (while it runs)

 private:
  struct Pipe {
    GInputStream* stream = nullptr;
    std::string text;
    bool eof = false;
  };
  void readMore(Pipe& pipe);

  GSubprocess* process_ = nullptr;
  GMainContext* context_ = nullptr;
  Pipe out_, err_;
  bool exited_ = false;
};

ProcessResult run(const std::vector<std::string>& argv, double timeoutSeconds);

struct DaemonOptions {
  std::vector<std::string> args;    // more roomcastd options
  std::string dataDir;              // reuse this one (the caller owns it); default: a fresh one
  std::vector<std::string> prefix;  // run through this (e.g. unshare ... sh -c '...' --)
  std::string logSuffix;            // roomcastd<suffix>.log, to keep a previous run's log
  bool https = false;               // it serves TLS (--tls-cert/--tls-key in args): url() is https://
  // Where it listens (the port is picked); url() stays (http or https)://127.0.0.1:PORT. "0.0.0.0": a bind
  // that is not loopback, reached here over loopback.
  std::string listenHost = "127.0.0.1";
};

class Daemon {
 public:
  // Starts build/src/app/roomcastd on 127.0.0.1:<free port> with a fresh data dir and waits
  // until /api/v1/health answers.
  explicit Daemon(const std::vector<std::string>& extraArgs = {});
  explicit Daemon(const DaemonOptions& options);
  ~Daemon();  // SIGTERM, then waits (rooms finish their outputs), SIGKILL at a deadline
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  bool ready() const { return ready_; }
  const std::string& url() const { return url_; }  // http://127.0.0.1:PORT (https:// with TLS)
  const std::string& dataDir() const { return dataDir_; }
  std::string log() const;
  bool running();
  int pid() const;
  void kill();  // SIGKILL (a crash), by its own PID, and reaped

 private:
  GSubprocess* process_ = nullptr;
  std::string url_;
  std::string dataDir_;
  std::string logPath_;
  bool ownsDataDir_ = true;
  bool ready_ = false;
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string header(const char* name) const;
  std::vector<std::pair<std::string, std::string>> headers;
};

HttpResponse http(const char* method, const std::string& url, const std::string& body = {},
                  const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace roomcast::testing
