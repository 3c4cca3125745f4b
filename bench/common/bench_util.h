// Helpers every benchmark under bench/ shares: clocks, CPU time from /proc and getrusage,
// child processes pinned to a CPU, percentiles and medians, JSON scalars.
#pragma once

#include <sys/types.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace roomcast::bench {

// ---- clocks and machine facts
double monotonicSeconds();  // steady clock
double realtimeSeconds();   // CLOCK_REALTIME (the clock of SO_TIMESTAMPNS)
std::string utcNow();       // 2026-11-28T12:00:00Z
std::string loadAverage();  // "1.00 0.50 0.20" from /proc/loadavg
std::string cpuModel();     // first "model name" in /proc/cpuinfo
int onlineCpus();

// ---- CPU time
long clockTicks();  // sysconf(_SC_CLK_TCK)
// utime + stime of a process (all its threads) from /proc/PID/stat, in clock ticks; -1 if gone.
long long processCpuTicks(pid_t pid);
// The number after "key:" in /proc/PID/status ("VmRSS", "VmHWM" in kB, "Threads"); -1 if gone.
long processStatusValue(pid_t pid, const char* key);
// "Threads:" and "VmRSS:" (kB) from /proc/PID/status; zeros if gone.
struct ProcessStatus {
  int threads = 0;
  long rssKb = 0;
};
ProcessStatus processStatus(pid_t pid);

// Busy and total ticks of the whole machine and of each CPU, from /proc/stat.
// busy includes steal (time the hypervisor gave to someone else), which is also kept apart.
struct MachineTicks {
  long long busy = 0, total = 0, steal = 0;
  std::vector<long long> cpuBusy, cpuTotal;
};
MachineTicks machineTicks();
double machineBusySeconds();  // busy CPU seconds of all processes since boot; -1 if unknown

// This process (all threads), from getrusage(RUSAGE_SELF).
struct SelfUsage {
  double userSeconds = 0, sysSeconds = 0;
  long voluntarySwitches = 0, involuntarySwitches = 0;
};
SelfUsage selfUsage();

// ---- this process
bool pinToCpu(int cpu);  // sched_setaffinity(0); cpu < 0 does nothing
// Raises RLIMIT_NOFILE's soft limit towards `want` (beyond the hard limit only as root); never
// lowers it. Returns the soft limit.
long raiseFileLimit(long want);

// ---- child processes
// Starts args[0] (PATH lookup) pinned to `cpu` (as taskset: sched_setaffinity before exec;
// cpu < 0: not pinned). stdout goes to `stdoutFd` if >= 0, else to the log; stderr to the
// log file (appended); no core files (RLIMIT_CORE 0). Returns the PID, or -1 with *error set.
pid_t spawnPinned(const std::vector<std::string>& args, int cpu, int stdoutFd, const std::string& logPath,
                  std::string* error);

// A child started by spawnPinned; reaps it once and remembers how it ended.
class SpawnedChild {
 public:
  SpawnedChild() = default;
  explicit SpawnedChild(pid_t pid) : pid_(pid) {}
  pid_t pid() const { return pid_; }
  bool alive();          // false once it exited (then status() is its wait status)
  int status() const { return status_; }
  // SIGTERM, then SIGKILL after `grace` seconds. Before the SIGKILL, the threads'
  // backtraces go to `hangLog` when gdb is installed. Returns the wait status (-1: none).
  int stop(double grace, const std::string& hangLog, bool* killed);

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = -1;
};

// ---- statistics
// Linear interpolation between closest ranks; p in 0..100; NAN if empty.
double percentile(std::vector<double> v, double p);
double median(std::vector<double> v);  // of the finite values; NAN if none
struct Stat {
  double median = 0, min = 0, max = 0;
};
Stat stat(std::vector<double> v);  // zeros if empty

// ---- text
std::string fmt(const char* format, double v);
std::string strf(const char* format, ...) __attribute__((format(printf, 1, 2)));  // printf into a string
std::string jsonNumber(double v);  // "null" if not finite
std::string jsonString(const std::string& s);
std::string readFile(const std::string& path);
// The value of header `name` (any case) in an HTTP head, spaces around it trimmed; "" if absent.
std::string headerValue(const std::string& head, const char* name);
std::string tailOf(const std::string& path, size_t bytes);
void removeTree(const std::string& path);  // a folder and everything in it
// Writes `json` to `path` and says so on stdout; false (and nothing said) if it cannot.
bool writeJsonFile(const std::string& path, const std::string& json);

// "PROGRAM: what" on stderr, then exit(1).
[[noreturn]] void die(const std::string& what);

// A progress line on stderr (printf format, newline added, flushed at once).
void note(const char* format, ...) __attribute__((format(printf, 1, 2)));

// ---- command lines from a table: the flags are declared once, and --help is printed from it.
// A setter rejects a value by throwing std::invalid_argument (its what() is shown).
using FlagSetter = std::function<void(const std::string&)>;
struct Flag {
  std::string name;   // "--sizes"
  std::string value;  // "LIST" in --help; empty: a switch (its setter gets "")
  std::string help;   // "\n" continues on an indented line
  FlagSetter set;
};
// --help/-h prints `synopsis` and the table to stdout and exits 0; a missing, unknown or
// rejected value prints them to stderr with the reason and exits 1.
void parseFlags(int argc, char** argv, const std::string& synopsis, const std::vector<Flag>& flags);
FlagSetter setNumber(double& out, double lo, double hi, bool* given = nullptr);
FlagSetter setInt(int& out, int lo, int hi, bool* given = nullptr);
FlagSetter setText(std::string& out);
FlagSetter setSwitch(bool& out, bool to = true);
FlagSetter setList(std::vector<std::string>& out);  // "main,low" (empty items dropped)
std::vector<std::string> splitList(const std::string& value);
// "4,16,64" → {4, 16, 64}; every item a whole number in lo..hi, at least one.
std::vector<int> intList(const std::string& value, int lo, int hi);
FlagSetter setSortedInts(std::vector<int>& out, int lo, int hi);  // intList, sorted, each once
// Throws the setter's rejection unless `ok`.
void require(bool ok, const std::string& why);

}  // namespace roomcast::bench
