// What roomcastd checks and loads before it starts anything. A failure here stops it with a
// message and an exit code before it listens: never a half-running server, nor one running
// without the TLS it was told to use.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "app/cluster_membership.h"
#include "app/options.h"
#include "core/moderator.h"
#include "signaling/tls_credentials.h"
#include "store/database.h"

namespace roomcast::app {

struct StartFailure {
  int exitCode = 1;
  std::string message;  // printed as "roomcastd: <message>"
};

struct DaemonInputs {
  std::unique_ptr<signaling::TlsCredentials> tls;  // null: plain HTTP
  std::unique_ptr<store::Database> store;          // <data-dir>/roomcast.db
  std::string secret;                              // signs tokens and recording URLs
  std::optional<core::ModerationPolicy> moderationPolicy;  // set with moderation on
  std::unique_ptr<ClusterMembership> cluster;      // [cluster] redis: connected (or standalone)
};

// In this order: the TLS pair (exit 2), the data dir, the database, the secret, the moderation
// policy (exit 1), Redis answering a PING within 5 s with [cluster] redis (exit 1, unless
// on_start_failure = standalone): checked before the heavier start, so the verdict comes soon. The data dir and the secret file are made private to roomcastd's user.
std::variant<DaemonInputs, StartFailure> loadDaemonInputs(const Options& options);

}  // namespace roomcast::app
