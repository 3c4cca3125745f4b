#include "processes.h"

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <signal.h>

#include <filesystem>
#include <map>

#include "roomcast-config.h"
#include "wait.h"

namespace roomcast::testing {

// ROOMCAST_PROGRAMS_FROM (a build directory) in the environment points the programs run
// (roomcastd, the CLI, the plugin) at another build tree: a benchmark built here measures an
// older commit side by side.
std::string buildPath(const std::string& relative) {
  const char* other = g_getenv("ROOMCAST_PROGRAMS_FROM");
  return std::string(other && *other ? other : ROOMCAST_BUILD_DIR) + "/" + relative;
}
std::string sourcePath(const std::string& relative) { return std::string(ROOMCAST_SOURCE_DIR) + "/" + relative; }

std::string makeTempDir(const char* prefix) {
  g_autofree char* dir = g_dir_make_tmp((std::string(prefix) + "-XXXXXX").c_str(), nullptr);
  return dir ? dir : "";
}

void removeTempDir(const std::string& dir) {
  if (dir.empty() || g_getenv("ROOMCAST_KEEP_TEST_DATA")) return;
  std::error_code ignored;  // a test's leftovers are not worth failing it
  std::filesystem::remove_all(dir, ignored);
}

std::vector<std::string> configFileArgs(const std::string& text) {
  static const TempDir dir("roomcast-config-");
  static std::map<std::string, std::string> pathOfText;
  std::string& path = pathOfText[text];
  if (path.empty()) {
    path = dir.path() + "/roomcast-" + std::to_string(pathOfText.size()) + ".conf";
    g_file_set_contents(path.c_str(), text.c_str(), -1, nullptr);
  }
  return {"--config", path};
}

// A port the kernel just handed out on 127.0.0.1 (free until someone else takes it).
static int freeLoopbackPort(GSocketType type, GSocketProtocol protocol) {
  g_autoptr(GSocket) socket = g_socket_new(G_SOCKET_FAMILY_IPV4, type, protocol, nullptr);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
  if (!socket || !g_socket_bind(socket, any, TRUE, nullptr)) return 0;
  g_autoptr(GSocketAddress) bound = g_socket_get_local_address(socket, nullptr);
  return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

int freeTcpPort() { return freeLoopbackPort(G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP); }
int freeUdpPort() { return freeLoopbackPort(G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP); }

static GSubprocess* spawn(const std::vector<std::string>& argv, GSubprocessFlags flags, const char* stderrPath = nullptr) {
  std::vector<const char*> args;
  for (const auto& a : argv) args.push_back(a.c_str());
  args.push_back(nullptr);
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(flags);
  if (stderrPath) g_subprocess_launcher_set_stderr_file_path(launcher, stderrPath);
  GError* error = nullptr;
  GSubprocess* p = g_subprocess_launcher_spawnv(launcher, args.data(), &error);
  if (!p) {
    g_printerr("cannot start %s: %s\n", argv[0].c_str(), error->message);
    g_error_free(error);
  }
  return p;
}

Process::Process(const std::vector<std::string>& argv) {
  context_ = g_main_context_new();
  g_main_context_push_thread_default(context_);
  process_ = spawn(argv, static_cast<GSubprocessFlags>(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE));
  if (process_) {
    out_.stream = g_subprocess_get_stdout_pipe(process_);
    err_.stream = g_subprocess_get_stderr_pipe(process_);
    readMore(out_);
    readMore(err_);
    g_subprocess_wait_async(process_, nullptr, [](GObject*, GAsyncResult*, gpointer self) {
      static_cast<Process*>(self)->exited_ = true;
    }, this);
  }
  g_main_context_pop_thread_default(context_);
}

void Process::readMore(Pipe& pipe) {
  struct Read { Process* self; Pipe* pipe; };
  g_input_stream_read_bytes_async(pipe.stream, 16384, G_PRIORITY_DEFAULT, nullptr,
      [](GObject* source, GAsyncResult* result, gpointer data) {
        auto* read = static_cast<Read*>(data);
        GBytes* bytes = g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), result, nullptr);
        gsize n = 0;
        const char* d = bytes ? static_cast<const char*>(g_bytes_get_data(bytes, &n)) : nullptr;
        if (!bytes || n == 0) {
          read->pipe->eof = true;
        } else {
          read->pipe->text.append(d, n);
          read->self->readMore(*read->pipe);
        }
        if (bytes) g_bytes_unref(bytes);
        delete read;
      }, new Read{this, &pipe});
}

Process::~Process() {
  if (process_) {
    if (!exited_) {
      g_subprocess_force_exit(process_);  // still running: end it, by its own PID
      iterateUntil(context_, [&] { return exited_ && out_.eof && err_.eof; }, 10);
    }
    g_object_unref(process_);
  }
  // Drain callbacks still queued on our context before it goes.
  while (g_main_context_iteration(context_, FALSE)) {}
  g_main_context_unref(context_);
}

bool Process::waitForOutput(const std::string& text, double timeoutSeconds) {
  if (!process_) return false;
  g_main_context_push_thread_default(context_);
  iterateUntil(context_, [&] { return out_.text.find(text) != std::string::npos || (exited_ && out_.eof); },
               timeoutSeconds);
  g_main_context_pop_thread_default(context_);
  return out_.text.find(text) != std::string::npos;
}

size_t Process::waitForOutputAfter(size_t offset, const std::string& text, double timeoutSeconds) {
  if (!process_) return std::string::npos;
  g_main_context_push_thread_default(context_);
  iterateUntil(context_, [&] { return out_.text.find(text, offset) != std::string::npos || (exited_ && out_.eof); },
               timeoutSeconds);
  g_main_context_pop_thread_default(context_);
  return out_.text.find(text, offset);
}

ProcessResult Process::wait(double timeoutSeconds) {
  ProcessResult result;
  if (!process_) return result;
  g_main_context_push_thread_default(context_);
  auto done = [&] { return exited_ && out_.eof && err_.eof; };
  result.finished = iterateUntil(context_, done, timeoutSeconds);
  if (!result.finished) {
    g_subprocess_force_exit(process_);
    iterateUntil(context_, done, 10);
  }
  g_main_context_pop_thread_default(context_);
  result.stdoutText = out_.text;
  result.stderrText = err_.text;
  if (result.finished && g_subprocess_get_if_exited(process_)) result.exitStatus = g_subprocess_get_exit_status(process_);
  return result;
}

void Process::kill() {
  if (process_ && !exited_) g_subprocess_send_signal(process_, SIGKILL);
}

void Process::terminate() {
  if (process_ && !exited_) g_subprocess_send_signal(process_, SIGTERM);
}

void Process::signal(int signum) {
  if (process_ && !exited_) g_subprocess_send_signal(process_, signum);
}

ProcessResult run(const std::vector<std::string>& argv, double timeoutSeconds) {
  Process p(argv);
  return p.wait(timeoutSeconds);
}

namespace {
DaemonOptions withArgs(const std::vector<std::string>& args) {
  DaemonOptions options;
  options.args = args;
  return options;
}
}  // namespace

Daemon::Daemon(const std::vector<std::string>& extraArgs) : Daemon(withArgs(extraArgs)) {}

Daemon::Daemon(const DaemonOptions& options) {
  ownsDataDir_ = options.dataDir.empty();
  dataDir_ = ownsDataDir_ ? makeTempDir("roomcast-test") : options.dataDir;
  const int port = freeTcpPort();
  url_ = (options.https ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port);
  const std::string logPath = dataDir_ + "/roomcastd" + options.logSuffix + ".log";
  logPath_ = logPath;
  std::vector<std::string> argv = options.prefix;
  for (const std::string& a : {buildPath("src/app/roomcastd"), std::string("--listen"),
                               options.listenHost + ":" + std::to_string(port), std::string("--data-dir"), dataDir_})
    argv.push_back(a);
  argv.insert(argv.end(), options.args.begin(), options.args.end());
  process_ = spawn(argv, G_SUBPROCESS_FLAGS_NONE, logPath.c_str());
  if (!process_) return;
  // Ready when the health endpoint answers (bounded; the daemon starts in well under a second),
  // also 503: a data dir on a test's small tmpfs is below the free-space floor, yet serving.
  const gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
  while (g_get_monotonic_time() < deadline && running()) {
    if (const int status = http("GET", url_ + "/api/v1/health").status; status == 200 || status == 503) {
      ready_ = true;
      return;
    }
    g_usleep(50 * 1000);  // connection refused until the server listens: retry shortly
  }
}

bool Daemon::running() {
  // The identifier is cleared once the child has been reaped.
  return process_ && g_subprocess_get_identifier(process_) != nullptr;
}

std::string Daemon::log() const {
  g_autofree char* contents = nullptr;
  g_file_get_contents(logPath_.c_str(), &contents, nullptr, nullptr);
  return contents ? contents : "";
}

int Daemon::pid() const {
  const char* id = process_ ? g_subprocess_get_identifier(process_) : nullptr;
  return id ? atoi(id) : 0;
}

void Daemon::kill() {
  if (!process_ || !running()) return;
  g_subprocess_send_signal(process_, SIGKILL);
  g_subprocess_wait(process_, nullptr, nullptr);
}

Daemon::~Daemon() {
  if (!process_) return;
  g_subprocess_send_signal(process_, SIGTERM);
  g_autoptr(GMainContext) context = g_main_context_new();
  g_main_context_push_thread_default(context);
  bool done = false;
  g_subprocess_wait_async(process_, nullptr, [](GObject*, GAsyncResult*, gpointer d) { *static_cast<bool*>(d) = true; },
                          &done);
  if (!iterateUntil(context, [&] { return done; }, 15)) {
    g_subprocess_force_exit(process_);
    iterateUntil(context, [&] { return done; }, 5);
  }
  g_main_context_pop_thread_default(context);
  g_object_unref(process_);
  if (ownsDataDir_) removeTempDir(dataDir_);
}

std::string HttpResponse::header(const char* name) const {
  for (const auto& [k, v] : headers)
    if (g_ascii_strcasecmp(k.c_str(), name) == 0) return v;
  return {};
}

HttpResponse http(const char* method, const std::string& url, const std::string& body,
                  const std::vector<std::pair<std::string, std::string>>& headers) {
  HttpResponse response;
  g_autoptr(SoupSession) session = soup_session_new_with_options("timeout", 30, nullptr);
  g_autoptr(SoupMessage) msg = soup_message_new(method, url.c_str());
  if (!msg) return response;
  if (!body.empty()) {
    g_autoptr(GBytes) bytes = g_bytes_new(body.data(), body.size());
    soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
  }
  // After the body: a test's own Content-Type wins.
  for (const auto& [k, v] : headers) soup_message_headers_replace(soup_message_get_request_headers(msg), k.c_str(), v.c_str());
  g_autoptr(GBytes) result = soup_session_send_and_read(session, msg, nullptr, nullptr);
  if (!result) return response;
  response.status = static_cast<int>(soup_message_get_status(msg));
  gsize n = 0;
  const char* d = static_cast<const char*>(g_bytes_get_data(result, &n));
  response.body.assign(d ? d : "", n);
  SoupMessageHeadersIter it;
  const char *name, *value;
  soup_message_headers_iter_init(&it, soup_message_get_response_headers(msg));
  while (soup_message_headers_iter_next(&it, &name, &value)) response.headers.emplace_back(name, value);
  return response;
}

}  // namespace roomcast::testing
