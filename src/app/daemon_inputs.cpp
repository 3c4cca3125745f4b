#include "app/daemon_inputs.h"

#include <glib.h>
#include <glib/gstdio.h>

#include <cerrno>

#include "protocol/moderation_policy.h"
#include "roomcast-config.h"
#include "signaling/auth.h"

namespace roomcast::app {

namespace {

constexpr unsigned kRedisStartDeadlineMs = 5000;

// Takes group and other permissions away from a file or directory that has them.
void keepPrivate(const char* path, mode_t mode) {
  GStatBuf st;
  if (g_stat(path, &st) != 0 || (st.st_mode & 0777) == mode) return;
  if (g_chmod(path, mode) == 0)
    g_message("%s was mode %03o; now %03o", path, static_cast<unsigned>(st.st_mode & 0777), static_cast<unsigned>(mode));
  else
    g_warning("cannot make %s private (mode %03o): %s", path, static_cast<unsigned>(mode), g_strerror(errno));
}

// The data dir holds the token secret, the database (chat, reports, who said what) and
// evidence: for roomcastd's user alone, also when an earlier version left it readable.
std::optional<StartFailure> openDataDir(const Options& options, DaemonInputs& inputs) {
  if (g_mkdir_with_parents(options.dataDir.c_str(), 0700) != 0)
    return StartFailure{1, "cannot create data dir " + options.dataDir};
  keepPrivate(options.dataDir.c_str(), 0700);
  g_autofree char* dbPath = g_build_filename(options.dataDir.c_str(), "roomcast.db", nullptr);
  auto db = store::Database::open(dbPath);
  if (!db) return StartFailure{1, db.error().message};
  inputs.store = std::move(db.value());
  g_autofree char* secretPath = g_build_filename(options.dataDir.c_str(), "secret", nullptr);
  keepPrivate(secretPath, 0600);
  inputs.secret = options.secret;
  if (inputs.secret.empty()) {
    auto loaded = signaling::loadOrCreateSecret(secretPath);
    if (!loaded) return StartFailure{1, loaded.error().message};
    inputs.secret = loaded.value();
  }
  return std::nullopt;
}

}  // namespace

std::variant<DaemonInputs, StartFailure> loadDaemonInputs(const Options& options) {
  DaemonInputs inputs;
  if (!options.tlsCert.empty()) {
    auto loaded = signaling::TlsCredentials::load(options.tlsCert, options.tlsKey);
    if (!loaded) return StartFailure{2, loaded.error().message};
    inputs.tls = std::move(loaded.value());
  }
  if (auto failed = openDataDir(options, inputs)) return *failed;
  if (options.moderation) {
    auto policy = protocol::loadModerationPolicy(options.moderationPolicy);
    if (!policy) return StartFailure{1, policy.error().message + " (" + options.moderationPolicy + ")"};
    inputs.moderationPolicy = std::move(policy.value());
  }
  if (options.cluster.enabled()) {
    inputs.cluster = std::make_unique<ClusterMembership>(options.cluster, g_main_context_default(), ROOMCAST_VERSION,
                                                         inputs.secret);
    if (auto reached = inputs.cluster->connectAtStart(kRedisStartDeadlineMs); !reached)
      return StartFailure{1, reached.error().message};
  }
  return inputs;
}

}  // namespace roomcast::app
