// roomcastd: parses its options, checks and loads what it needs (app/daemon_inputs.h), builds
// its components (app::Daemon), listens and runs the control loop.
#include <glib.h>
#include <gst/gst.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "app/daemon.h"
#include "app/daemon_inputs.h"
#include "app/options.h"

using namespace roomcast;

namespace {

// Every listener keeps a connection open: take all the descriptors we are allowed (the soft
// limit is often 1024, the hard one much higher).
void raiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) g_warning("cannot raise the open file limit: %s", g_strerror(errno));
}

// How the process allocates, set before anything else runs.
void tuneMemory(char** argv) {
  // GLib 2.74's slice allocator keeps every freed GObject-sized chunk in its per-thread
  // magazines for good: 20 000 WebSockets that came and went left about 10 MB resident (bench
  // soak). With plain malloc, freed memory goes back (Daemon::start). GLib reads G_SLICE before
  // main() runs, so the process starts itself again with it set (same PID; on failure, on as it
  // is). Through the binary's real path, so that ps and top still say roomcastd, not exe.
  if (!getenv("G_SLICE") && setenv("G_SLICE", "always-malloc", 1) == 0) {
    char* self = realpath("/proc/self/exe", nullptr);
    execv(self ? self : "/proc/self/exe", argv);
    free(self);
  }
  // Every WebRTC peer brings its own threads (ICE, DTLS, queues), and glibc gives threads
  // their own malloc arenas, up to 8 per core: what long-lived objects keep in each of them
  // can pin the rest. Two arenas are plenty at audio rates. In one speakers-only soak run each
  // (bench soak, 500 sessions) resident growth was +5.0 % with two arenas against +5.4 %
  // without: within noise, so this is a cap on the worst case more than a measured gain.
  mallopt(M_ARENA_MAX, 2);
}

int startFailed(int exitCode, const std::string& message) {
  g_printerr("roomcastd: %s\n", message.c_str());
  return exitCode;
}

}  // namespace

int main(int argc, char** argv) {
  tuneMemory(argv);
  raiseDescriptorLimit();
  gst_init(&argc, &argv);
  auto options = app::parseOptions(argc, argv);
  if (!options) return startFailed(2, options.error().message);
  auto inputs = app::loadDaemonInputs(options.value());
  if (auto* failure = std::get_if<app::StartFailure>(&inputs)) return startFailed(failure->exitCode, failure->message);
  app::Daemon daemon(options.value(), std::move(std::get<app::DaemonInputs>(inputs)));
  if (auto started = daemon.start(); !started) return startFailed(1, started.error().message);
  return daemon.run();
}
