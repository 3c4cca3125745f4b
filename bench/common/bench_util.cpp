#include "bench_util.h"

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace roomcast::bench {

double monotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double realtimeSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

std::string utcNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string loadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string one, five, fifteen;
  f >> one >> five >> fifteen;
  return one.empty() ? "?" : one + " " + five + " " + fifteen;
}

std::string cpuModel() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "?";
}

int onlineCpus() { return static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)); }

long clockTicks() {
  static long ticks = sysconf(_SC_CLK_TCK);
  return ticks > 0 ? ticks : 100;
}

long long processCpuTicks(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return -1;
  auto close = line.rfind(')');  // the command name may contain spaces and parentheses
  if (close == std::string::npos || close + 2 > line.size()) return -1;
  std::istringstream ss(line.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 0; i < 13 && ss >> field; i++) {  // field 3 (state) is index 0; 14 and 15 are 11, 12
    if (i == 11) utime = std::atoll(field.c_str());
    if (i == 12) stime = std::atoll(field.c_str());
  }
  return utime + stime;
}

long processStatusValue(pid_t pid, const char* key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  const size_t n = std::strlen(key);
  for (std::string line; std::getline(f, line);)
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') return std::atol(line.c_str() + n + 1);
  return -1;
}

ProcessStatus processStatus(pid_t pid) {
  return {static_cast<int>(std::max(0L, processStatusValue(pid, "Threads"))), std::max(0L, processStatusValue(pid, "VmRSS"))};
}

MachineTicks machineTicks() {
  MachineTicks m;
  std::ifstream f("/proc/stat");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("cpu", 0) != 0) break;
    std::istringstream ss(line);
    std::string name;
    long long v[10] = {0};
    ss >> name;
    for (long long& x : v) ss >> x;
    long long idle = v[3] + v[4];
    long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    if (name == "cpu") {
      m.busy = busy;
      m.total = busy + idle;
      m.steal = v[7];
    } else {
      m.cpuBusy.push_back(busy);
      m.cpuTotal.push_back(busy + idle);
    }
  }
  return m;
}

double machineBusySeconds() {
  MachineTicks m = machineTicks();
  if (m.total <= 0) return -1;
  return static_cast<double>(m.busy) / static_cast<double>(clockTicks());
}

SelfUsage selfUsage() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  SelfUsage u;
  u.userSeconds = static_cast<double>(r.ru_utime.tv_sec) + r.ru_utime.tv_usec / 1e6;
  u.sysSeconds = static_cast<double>(r.ru_stime.tv_sec) + r.ru_stime.tv_usec / 1e6;
  u.voluntarySwitches = r.ru_nvcsw;
  u.involuntarySwitches = r.ru_nivcsw;
  return u;
}

bool pinToCpu(int cpu) {
  if (cpu < 0) return true;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

long raiseFileLimit(long want) {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return -1;
  if (r.rlim_cur == RLIM_INFINITY || r.rlim_cur >= static_cast<rlim_t>(want)) return static_cast<long>(r.rlim_cur);
  // As root the hard limit may rise too; otherwise the soft one goes as far as the hard one.
  rlimit w{static_cast<rlim_t>(want), std::max(r.rlim_max, static_cast<rlim_t>(want))};
  if (setrlimit(RLIMIT_NOFILE, &w) != 0) {
    w = {std::min(r.rlim_max, static_cast<rlim_t>(want)), r.rlim_max};
    setrlimit(RLIMIT_NOFILE, &w);
  }
  getrlimit(RLIMIT_NOFILE, &r);
  return static_cast<long>(r.rlim_cur);
}

pid_t spawnPinned(const std::vector<std::string>& args, int cpu, int stdoutFd, const std::string& logPath,
                  std::string* error) {
  if (args.empty()) {
    *error = "nothing to run";
    return -1;
  }
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int logFd = open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logFd < 0) {
    *error = "cannot open " + logPath;
    return -1;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= 0) CPU_SET(cpu, &set);
  pid_t pid = fork();
  if (pid < 0) {
    close(logFd);
    *error = "fork failed";
    return -1;
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    if (cpu >= 0) sched_setaffinity(0, sizeof set, &set);
    // No core files: a server with thousands of threads dumps gigabytes into the cwd.
    rlimit noCore{0, 0};
    setrlimit(RLIMIT_CORE, &noCore);
    dup2(stdoutFd >= 0 ? stdoutFd : logFd, 1);
    dup2(logFd, 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(logFd);
  return pid;
}

bool SpawnedChild::alive() {
  if (pid_ <= 0 || exited_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    exited_ = true;
    status_ = r == pid_ ? status : -1;
    return false;
  }
  return true;
}

int SpawnedChild::stop(double grace, const std::string& hangLog, bool* killed) {
  if (!alive()) return status_;
  kill(pid_, SIGTERM);
  const double until = monotonicSeconds() + grace;
  while (monotonicSeconds() < until) {
    if (!alive()) return status_;
    g_usleep(20000);
  }
  if (killed) *killed = true;
  gchar* gdb = g_find_program_in_path("gdb");
  if (gdb && !hangLog.empty()) {
    std::string cmd = std::string("timeout 60 ") + gdb + " -p " + std::to_string(pid_) +
                      " -batch -ex 'thread apply all bt' > '" + hangLog + "' 2>&1";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "  gdb could not attach to %d\n", static_cast<int>(pid_));
  }
  g_free(gdb);
  std::fprintf(stderr, "  process %d did not stop in %.0f s: SIGKILL%s%s\n", static_cast<int>(pid_), grace,
               hangLog.empty() ? "" : "; backtraces in ", hangLog.c_str());
  kill(pid_, SIGKILL);
  int status = 0;
  if (waitpid(pid_, &status, 0) == pid_) status_ = status;
  exited_ = true;
  return status_;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  double pos = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos)), hi = static_cast<size_t>(std::ceil(pos));
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  return percentile(std::move(v), 50);
}

Stat stat(std::vector<double> v) {
  Stat s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.median = percentile(v, 50);
  s.min = v.front();
  s.max = v.back();
  return s;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string strf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  g_autofree gchar* text = g_strdup_vprintf(format, args);
  va_end(args);
  return text;
}

std::string jsonNumber(double v) { return std::isfinite(v) ? fmt("%.6g", v) : "null"; }

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += strf("\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string headerValue(const std::string& head, const char* name) {
  const size_t n = strlen(name);
  for (size_t at = head.find("\r\n"); at != std::string::npos && at + 2 < head.size();) {
    const size_t start = at + 2, end = head.find("\r\n", start);
    const std::string line = head.substr(start, (end == std::string::npos ? head.size() : end) - start);
    if (line.size() > n && strncasecmp(line.c_str(), name, n) == 0 && line[n] == ':') {
      const size_t from = line.find_first_not_of(' ', n + 1), to = line.find_last_not_of(' ');
      return from == std::string::npos ? "" : line.substr(from, to - from + 1);
    }
    at = end;
  }
  return "";
}

std::string tailOf(const std::string& path, size_t bytes) {
  std::string s = readFile(path);
  return s.size() > bytes ? "..." + s.substr(s.size() - bytes) : s;
}

void removeTree(const std::string& path) {
  if (GDir* dir = g_dir_open(path.c_str(), 0, nullptr)) {
    while (const gchar* name = g_dir_read_name(dir)) {
      std::string child = path + "/" + name;
      if (g_file_test(child.c_str(), G_FILE_TEST_IS_DIR) && !g_file_test(child.c_str(), G_FILE_TEST_IS_SYMLINK))
        removeTree(child);
      else
        g_remove(child.c_str());
    }
    g_dir_close(dir);
  }
  g_rmdir(path.c_str());
}

void die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::exit(1);
}

void note(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

bool writeJsonFile(const std::string& path, const std::string& json) {
  std::ofstream out(path);
  out << json;
  out.close();
  if (!out) return false;
  std::printf("JSON written to %s\n", path.c_str());
  return true;
}

namespace {

void printFlags(FILE* out, const std::string& synopsis, const std::vector<Flag>& flags) {
  std::fprintf(out, "%s\n", synopsis.c_str());
  for (const Flag& f : flags) {
    const std::string left = f.value.empty() ? f.name : f.name + " " + f.value;
    std::string help = f.help;
    for (size_t nl = help.find('\n'); nl != std::string::npos; nl = help.find('\n', nl + 1))
      help.insert(nl + 1, std::string(27, ' '));
    std::fprintf(out, "  %-24s %s\n", left.c_str(), help.c_str());
  }
}

[[noreturn]] void rejectFlags(const std::string& synopsis, const std::vector<Flag>& flags, const std::string& why) {
  printFlags(stderr, synopsis, flags);
  std::fprintf(stderr, "%s\n", why.c_str());
  std::exit(1);
}

}  // namespace

void parseFlags(int argc, char** argv, const std::string& synopsis, const std::vector<Flag>& flags) {
  for (int i = 1; i < argc; i++) {
    std::string name = argv[i], value;
    if (name == "--help" || name == "-h") {
      printFlags(stdout, synopsis, flags);
      std::exit(0);
    }
    const bool inline_ = name.rfind("--", 0) == 0 && name.find('=') != std::string::npos;
    if (inline_) {
      value = name.substr(name.find('=') + 1);
      name.resize(name.find('='));
    }
    const auto flag = std::find_if(flags.begin(), flags.end(), [&](const Flag& f) { return f.name == name; });
    if (flag == flags.end()) rejectFlags(synopsis, flags, "unknown option " + name);
    if (!flag->value.empty() && !inline_) {
      if (i + 1 >= argc) rejectFlags(synopsis, flags, "missing value for " + name);
      value = argv[++i];
    }
    try {
      flag->set(value);
    } catch (const std::invalid_argument& e) {
      rejectFlags(synopsis, flags, name + ": " + e.what());
    }
  }
}

FlagSetter setSortedInts(std::vector<int>& out, int lo, int hi) {
  return [&out, lo, hi](const std::string& value) {
    out = intList(value, lo, hi);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  };
}

void require(bool ok, const std::string& why) {
  if (!ok) throw std::invalid_argument(why);
}

FlagSetter setNumber(double& out, double lo, double hi, bool* given) {
  return [&out, lo, hi, given](const std::string& value) {
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    require(!value.empty() && *end == '\0' && std::isfinite(v) && v >= lo && v <= hi,
            "bad value " + value + " (" + fmt("%g", lo) + " to " + fmt("%g", hi) + ")");
    out = v;
    if (given) *given = true;
  };
}

FlagSetter setInt(int& out, int lo, int hi, bool* given) {
  return [&out, lo, hi, given](const std::string& value) {
    out = intList(value, lo, hi).at(0);
    require(value.find(',') == std::string::npos, "one number, not a list");
    if (given) *given = true;
  };
}

FlagSetter setText(std::string& out) {
  return [&out](const std::string& value) { out = value; };
}

FlagSetter setSwitch(bool& out, bool to) {
  return [&out, to](const std::string&) { out = to; };
}

std::vector<std::string> splitList(const std::string& value) {
  std::vector<std::string> out;
  std::stringstream items(value);
  for (std::string item; std::getline(items, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

FlagSetter setList(std::vector<std::string>& out) {
  return [&out](const std::string& value) {
    out = splitList(value);
    require(!out.empty(), "no value");
  };
}

std::vector<int> intList(const std::string& value, int lo, int hi) {
  std::vector<int> out;
  std::stringstream items(value);
  for (std::string item; std::getline(items, item, ',');) {
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    require(!item.empty() && *end == '\0' && v >= lo && v <= hi,
            "bad value " + item + " (a whole number, " + std::to_string(lo) + " to " + std::to_string(hi) + ")");
    out.push_back(static_cast<int>(v));
  }
  require(!out.empty(), "no value");
  return out;
}

}  // namespace roomcast::bench
