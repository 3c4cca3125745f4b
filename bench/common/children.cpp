#include "children.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <glib.h>
#include <gst/gst.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "processes.h"  // tests/support: buildPath, sourcePath, http

extern char** environ;

namespace roomcast::bench {

void sleepFor(double seconds) {
  if (seconds <= 0) return;
  timespec ts{static_cast<time_t>(seconds), static_cast<long>((seconds - std::floor(seconds)) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

Child::Child(const std::vector<std::string>& argv, int cpu, const std::string& stderrPath,
             const std::vector<std::string>& env) {
  int pipeFds[2];
  if (pipe2(pipeFds, O_CLOEXEC) != 0) return;
  // Everything the child needs is prepared before fork (only async-signal-safe calls after it).
  std::vector<std::string> envStrings;
  for (char** e = environ; *e; e++) {
    std::string entry = *e;
    bool overridden = false;
    for (const auto& add : env) {
      const auto eq = add.find('=');
      if (eq != std::string::npos && entry.compare(0, eq + 1, add, 0, eq + 1) == 0) overridden = true;
    }
    if (!overridden) envStrings.push_back(entry);
  }
  for (const auto& add : env) envStrings.push_back(add);
  std::vector<char*> envp, args;
  for (auto& e : envStrings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argvCopy = argv;
  for (auto& a : argvCopy) args.push_back(a.data());
  args.push_back(nullptr);
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= 0) CPU_SET(cpu, &set);
  const std::string errPath = stderrPath;

  const int nice = niceValue();
  pid_ = fork();
  if (pid_ == 0) {
    if (cpu >= 0) sched_setaffinity(0, sizeof set, &set);
    if (nice) setpriority(PRIO_PROCESS, 0, nice);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(pipeFds[1], 1);
    const int err = open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (err >= 0) dup2(err, 2);
    execve(args[0], args.data(), envp.data());
    if (!strchr(args[0], '/')) execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(pipeFds[1]);
  if (pid_ < 0) {
    close(pipeFds[0]);
    return;
  }
  outFd_ = pipeFds[0];
  reader_ = std::thread([this] {
    std::string pending;
    char buf[4096];
    for (;;) {
      const ssize_t n = read(outFd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      const double t = realtimeSeconds();
      pending.append(buf, static_cast<size_t>(n));
      size_t nl;
      std::lock_guard<std::mutex> lock(mutex_);
      while ((nl = pending.find('\n')) != std::string::npos) {
        lines_.push_back({t, pending.substr(0, nl)});
        pending.erase(0, nl + 1);
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (!pending.empty()) lines_.push_back({realtimeSeconds(), pending});
    eof_ = true;
  });
}

Child::~Child() {
  if (pid_ > 0 && !exited_) stop(10);
  if (reader_.joinable()) reader_.join();
  if (outFd_ >= 0) close(outFd_);
}

void Child::reap(bool block) {
  if (pid_ <= 0 || exited_) return;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (r == pid_) {
    exited_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  } else if (r < 0 && errno == ECHILD) {
    exited_ = true;
  }
}

bool Child::running() {
  reap(false);
  return pid_ > 0 && !exited_;
}

double Child::waitForLine(const std::string& text, double timeoutSeconds) {
  const double deadline = monotonicSeconds() + timeoutSeconds;
  size_t checked = 0;
  while (monotonicSeconds() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (; checked < lines_.size(); checked++)
        if (lines_[checked].text.find(text) != std::string::npos) return lines_[checked].wall;
      if (eof_) return -1;
    }
    sleepFor(0.005);  // a poll of our own line buffer, bounded by the deadline
  }
  return -1;
}

std::vector<Child::Line> Child::lines() {
  std::lock_guard<std::mutex> lock(mutex_);
  return lines_;
}

void Child::signal(int sig) {
  if (running()) kill(pid_, sig);
}

int Child::wait(double timeoutSeconds) {
  const double deadline = monotonicSeconds() + timeoutSeconds;
  while (running() && monotonicSeconds() < deadline) sleepFor(0.01);
  if (running()) {
    kill(pid_, SIGKILL);
    reap(true);
    return -1;
  }
  return status_;
}

int Child::stop(double timeoutSeconds) {
  if (!running()) return status_;
  kill(pid_, SIGTERM);
  return wait(timeoutSeconds);
}

bool writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

Roomcastd::Roomcastd(const std::string& dataDir, const std::vector<std::string>& extraArgs, int cpu,
                     const std::string& program) {
  g_mkdir_with_parents(dataDir.c_str(), 0700);
  logPath_ = dataDir + "/roomcastd.log";
  std::vector<std::string> argv{program.empty() ? testing::buildPath("src/app/roomcastd") : program, "--listen", "127.0.0.1:0", "--data-dir",
                                dataDir};
  argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
  child_ = std::make_unique<Child>(argv, cpu, logPath_);
  // "roomcastd 0.1.0: listening on http://127.0.0.1:PORT/ (...)" on stderr.
  const std::regex listening("listening on (http://127\\.0\\.0\\.1:[0-9]+)/");
  const double deadline = monotonicSeconds() + 20;
  while (monotonicSeconds() < deadline && child_->running()) {
    std::smatch m;
    const std::string log = readFile(logPath_);
    if (std::regex_search(log, m, listening)) {
      const std::string url = m[1];
      if (httpRequest("GET", url + "/api/v1/health").status == 200) {
        url_ = url;
        return;
      }
    }
    sleepFor(0.05);  // until the daemon has printed its address
  }
}

Nginx::Nginx(const std::string& dir, const std::string& originHostPort, int port, const NginxOptions& o, int cpu)
    : dir_(dir) {
  url_ = "http://127.0.0.1:" + std::to_string(port);
  std::string edge = readFile(testing::sourcePath("data/nginx/roomcast-edge.conf"));
  edge = std::regex_replace(edge, std::regex("/var/cache/nginx/roomcast"), dir_ + "/cache");
  edge = std::regex_replace(edge, std::regex("server 127\\.0\\.0\\.1:8080;"), "server " + originHostPort + ";");
  edge = std::regex_replace(edge, std::regex("listen 127\\.0\\.0\\.1:8081;"),
                            "listen 127.0.0.1:" + std::to_string(port) + ";");
  edge = std::regex_replace(edge, std::regex("server=127\\.0\\.0\\.1:5514,"),
                            "server=127.0.0.1:" + std::to_string(o.edgeLogPort) + ",");
  writeFile(dir_ + "/edge.conf", edge);
  std::ostringstream main;
  if (geteuid() == 0) main << "user root;\n";
  main << "worker_processes " << (o.workerProcesses > 0 ? std::to_string(o.workerProcesses) : "auto") << ";\n";
  if (o.rlimitNofile > 0) main << "worker_rlimit_nofile " << o.rlimitNofile << ";\n";
  main << "pid " << dir_ << "/nginx.pid;\nerror_log " << dir_ << "/error.log " << o.errorLogLevel << ";\ndaemon off;\n"
       << "events { worker_connections " << o.workerConnections << "; }\nhttp {\n"
       << "  access_log " << (o.accessLog ? dir_ + "/access.log" : std::string("off")) << ";\n"
       << "  client_body_temp_path " << dir_ << "/body;\n  proxy_temp_path " << dir_ << "/proxy;\n"
       << "  fastcgi_temp_path " << dir_ << "/fastcgi;\n  uwsgi_temp_path " << dir_ << "/uwsgi;\n"
       << "  scgi_temp_path " << dir_ << "/scgi;\n  include " << dir_ << "/edge.conf;\n}\n";
  writeFile(dir_ + "/nginx.conf", main.str());
  child_ = std::make_unique<Child>(std::vector<std::string>{"/usr/sbin/nginx", "-p", dir_, "-c", dir_ + "/nginx.conf"},
                                   cpu, dir_ + "/stderr.log");
  const double deadline = monotonicSeconds() + 10;
  while (monotonicSeconds() < deadline && child_->running()) {
    if (httpRequest("GET", url_ + "/api/v1/health").status == 200) {
      ready_ = true;
      return;
    }
    sleepFor(0.05);  // connection refused until nginx listens
  }
}

std::vector<pid_t> Nginx::workers() const { return childPids(child_->pid()); }

static bool readStat(pid_t pid, std::vector<std::string>& fields) {
  const std::string text = readFile("/proc/" + std::to_string(pid) + "/stat");
  const auto close = text.rfind(')');
  if (text.empty() || close == std::string::npos) return false;
  fields.clear();
  fields.push_back(std::to_string(pid));
  fields.push_back("comm");
  std::istringstream rest(text.substr(close + 2));
  std::string f;
  while (rest >> f) fields.push_back(f);
  return fields.size() > 20;
}

double processCpuSeconds(pid_t pid) {
  const long long ticks = processCpuTicks(pid);
  return ticks < 0 ? -1 : static_cast<double>(ticks) / static_cast<double>(clockTicks());
}

long processRssKb(pid_t pid) { return processStatusValue(pid, "VmRSS"); }

int processThreads(pid_t pid) { return static_cast<int>(processStatusValue(pid, "Threads")); }

int processOpenFds(pid_t pid) {
  DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return -1;
  int n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

std::string processOpenFdLimits(pid_t pid) {
  std::istringstream in(readFile("/proc/" + std::to_string(pid) + "/limits"));
  std::string line, soft, hard;
  while (std::getline(in, line))
    if (line.rfind("Max open files", 0) == 0 && std::istringstream(line.substr(14)) >> soft >> hard) return soft + "/" + hard;
  return "?";
}

int processOpenFdLimit(pid_t pid) {
  const std::string limits = processOpenFdLimits(pid);
  return limits == "?" ? -1 : std::atoi(limits.c_str());
}

std::vector<pid_t> childPids(pid_t parent) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (!isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    const pid_t pid = atoi(e->d_name);
    std::vector<std::string> f;
    if (readStat(pid, f) && std::atoi(f[3].c_str()) == parent) out.push_back(pid);
  }
  closedir(d);
  return out;
}

CpuTimes cpuTimes(int cpu) {
  std::istringstream in(readFile("/proc/stat"));
  const std::string want = cpu < 0 ? "cpu" : "cpu" + std::to_string(cpu);
  std::string line;
  CpuTimes t;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string name;
    l >> name;
    if (name != want) continue;
    double v[10] = {0};
    for (int i = 0; i < 10 && (l >> v[i]); i++) {}
    // user nice system idle iowait irq softirq steal guest guest_nice
    t.total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    t.busy = t.total - v[3] - v[4];
    t.irq = v[5];
    t.softirq = v[6];
    t.steal = v[7];
    break;
  }
  return t;
}

double selfCpuSeconds() {
  const SelfUsage u = selfUsage();
  return u.userSeconds + u.sysSeconds;
}

static int g_nice = 0;

void setNice(int nice) {
  g_nice = nice;
  if (nice) setpriority(PRIO_PROCESS, 0, nice);  // this thread; threads created later inherit it
}

int niceValue() { return g_nice; }

double nearestRankPercentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double rank = std::ceil(p * static_cast<double>(v.size()));
  const size_t i = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(v.size()))) - 1;
  return v[i];
}

std::string machineSummary() {
  utsname u{};
  uname(&u);
  return std::to_string(onlineCpus()) + " CPUs (" + cpuModel() + "), Linux " + u.release;
}

std::string gstVersion() {
  guint a, b, c, d;
  gst_version(&a, &b, &c, &d);
  return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c);
}

std::string nginxVersion() {
  std::string out;
  if (FILE* p = popen("/usr/sbin/nginx -v 2>&1", "r")) {
    char buf[256];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  const auto slash = out.find('/');
  out = slash == std::string::npos ? out : out.substr(slash + 1);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

Reply httpRequest(const char* method, const std::string& url, const std::string& body, const std::string& bearer) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!bearer.empty()) headers.emplace_back("Authorization", "Bearer " + bearer);
  auto r = testing::http(method, url, body, headers);
  return {r.status, r.body};
}

}  // namespace roomcast::bench
