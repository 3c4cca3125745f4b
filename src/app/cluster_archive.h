// The archive of a cluster node: what this node's store adds (recordings, their changes and
// deletions, transcript segments) is appended to the shared log in Redis (cluster::ArchiveLog),
// and the log, every node's, is applied to this node's store, from where it was left (the cursor
// is kept in the store). So list and search answer the same on every node, from its own SQLite.
// Runs on the control loop, on a Redis connection of its own: reading a long log (a node new to
// the cluster reads all of it) never holds up a lease renewal behind it. docs/cluster.md.
#pragma once

#include <glib.h>

#include <string>

#include "app/options.h"
#include "cluster/archive_log.h"
#include "cluster/redis_connection.h"
#include "store/database.h"

namespace roomcast::app {

class ClusterArchive {
 public:
  // `redisUrl` is [cluster] redis, already checked. Facts made before start() are held by the store.
  ClusterArchive(const cluster::RedisUrl& redisUrl, store::Database& store, GMainContext* context);
  ~ClusterArchive();
  ClusterArchive(const ClusterArchive&) = delete;
  ClusterArchive& operator=(const ClusterArchive&) = delete;

  // Once the node has its URL (joined): connects, sends what was held and reads the log.
  void start(const std::string& nodeUrl);

 private:
  bool apply(const std::vector<core::ArchiveFact>& facts, const std::string& lastId);

  store::Database& store_;
  cluster::RedisConnection redis_;
  cluster::ArchiveLog log_;
  std::string nodeUrl_;
};

}  // namespace roomcast::app
