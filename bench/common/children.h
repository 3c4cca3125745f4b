// Children that a benchmark owns and reads: a process started by fork/exec with a CPU affinity
// and timestamped stdout lines (Child), roomcastd on a free port, a private nginx edge; and the
// /proc readings the HLS and soak benchmarks take of them. Every wait has a deadline; children
// are stopped by their own PID only. Clocks, statistics and JSON text are in bench_util.h.
#pragma once

#include <sys/types.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "metrics_text.h"  // parseMetrics
#include "rest_client.h"   // jsonMember

namespace roomcast::bench {

void sleepFor(double seconds);

// A child process: fork + exec, optionally pinned to one CPU before exec. Its stdout is read by
// a thread that stamps every line with the wall clock when it arrives; its stderr goes to a file.
class Child {
 public:
  struct Line {
    double wall;  // realtimeSeconds() when the line was read
    std::string text;
  };
  Child(const std::vector<std::string>& argv, int cpu = -1, const std::string& stderrPath = "/dev/null",
        const std::vector<std::string>& env = {});
  ~Child();  // SIGTERM, then SIGKILL after 10 s, if still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  bool running();
  // Waits until a stdout line contains `text`; returns that line's time, or -1 (timeout / exit).
  double waitForLine(const std::string& text, double timeoutSeconds);
  std::vector<Line> lines();
  void signal(int sig);
  // Waits for exit up to the deadline; returns the exit status, -1 if it had to be killed.
  int wait(double timeoutSeconds);
  // SIGTERM, wait, then SIGKILL.
  int stop(double timeoutSeconds = 10);

 private:
  void reap(bool block);
  pid_t pid_ = -1;
  int outFd_ = -1;
  bool exited_ = false;
  int status_ = -1;
  std::thread reader_;
  std::mutex mutex_;
  std::vector<Line> lines_;
  bool eof_ = false;
};

bool writeFile(const std::string& path, const std::string& text);

// roomcastd on 127.0.0.1:<free port>, its stderr in <dataDir>/roomcastd.log. `program`: the
// build's roomcastd unless given.
class Roomcastd {
 public:
  Roomcastd(const std::string& dataDir, const std::vector<std::string>& extraArgs = {}, int cpu = -1,
            const std::string& program = "");
  bool ready() const { return !url_.empty(); }
  const std::string& url() const { return url_; }  // http://127.0.0.1:PORT
  std::string hostPort() const { return url_.substr(7); }
  pid_t pid() const { return child_->pid(); }
  Child& child() { return *child_; }
  std::string log() const { return readFile(logPath_); }
  const std::string& logPath() const { return logPath_; }
  int stop() { return child_->stop(15); }

 private:
  std::string logPath_;
  std::string url_;
  std::unique_ptr<Child> child_;
};

// Debian's nginx with data/nginx/roomcast-edge.conf, as tests/support/nginx.cpp starts it (the
// three EDIT values substituted), and a main nginx.conf of our own in `dir`.
struct NginxOptions {
  int workerProcesses = 1;  // 0 = auto
  int workerConnections = 4096;
  int rlimitNofile = 0;     // worker_rlimit_nofile, 0 = not set
  bool accessLog = true;
  std::string errorLogLevel = "info";
  int edgeLogPort = 5514;   // roomcastd's --edge-log UDP port (listener counting)
};
class Nginx {
 public:
  Nginx(const std::string& dir, const std::string& originHostPort, int port, const NginxOptions& options, int cpu = -1);
  bool ready() const { return ready_; }
  const std::string& url() const { return url_; }
  pid_t pid() const { return child_->pid(); }  // the master
  std::vector<pid_t> workers() const;
  std::string errorLog() const { return readFile(dir_ + "/error.log"); }
  int stop() { return child_->stop(15); }

 private:
  std::string dir_;
  std::string url_;
  std::unique_ptr<Child> child_;
  bool ready_ = false;
};

// utime + stime of a process (all its threads), seconds; -1 if it is gone.
double processCpuSeconds(pid_t pid);
// Resident set size in kB (VmRSS), -1 if gone.
long processRssKb(pid_t pid);
int processThreads(pid_t pid);
int processOpenFds(pid_t pid);     // entries in /proc/PID/fd, -1 if gone
int processOpenFdLimit(pid_t pid);  // soft "Max open files"
std::string processOpenFdLimits(pid_t pid);  // "soft/hard", "?" if gone
std::vector<pid_t> childPids(pid_t parent);
// Busy and total jiffies of one CPU (cpuN line of /proc/stat); cpu < 0: all CPUs.
struct CpuTimes {
  double busy = 0, total = 0;  // jiffies; busy = total - idle - iowait
  double softirq = 0, irq = 0, steal = 0;
};
CpuTimes cpuTimes(int cpu);
double selfCpuSeconds();  // getrusage(RUSAGE_SELF), user + sys
// Nice value for this process (its current and future threads) and every Child started after
// this call; 0 leaves priorities alone. For a machine that other work shares (as root, a
// negative value keeps the benchmark's processes ahead of it).
void setNice(int nice);
int niceValue();

// Nearest rank, p in 0..1, NAN if empty (bench_util's percentile() interpolates, p in 0..100).
double nearestRankPercentile(std::vector<double> values, double p);

// A few facts about the machine for the JSON and the table's header.
std::string machineSummary();
std::string gstVersion();
std::string nginxVersion();

// Blocking REST helper (libsoup, 30 s timeout), re-exported from the tests' support code.
struct Reply {
  int status = 0;
  std::string body;
};
Reply httpRequest(const char* method, const std::string& url, const std::string& body = {},
                  const std::string& bearer = {});

}  // namespace roomcast::bench
