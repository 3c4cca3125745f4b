#include "app/cluster_archive.h"

#include <glib/gstdio.h>

#include <cerrno>

namespace roomcast::app {

ClusterArchive::ClusterArchive(const cluster::RedisUrl& redisUrl, store::Database& store, GMainContext* context)
    : store_(store), redis_(context, cluster::RedisSettings{redisUrl}), log_(redis_, context) {}

ClusterArchive::~ClusterArchive() { store_.setArchiveSink({}); }

void ClusterArchive::start(const std::string& nodeUrl) {
  nodeUrl_ = nodeUrl;
  redis_.start();
  store_.setArchiveSink([this](core::ArchiveFact fact) {
    fact.from = nodeUrl_;
    if (fact.kind == core::ArchiveFact::Kind::Recording && fact.recording.node.empty()) fact.recording.node = nodeUrl_;
    log_.append(fact);
  });
  const std::string cursor = store_.archiveCursor();
  g_message("cluster: archive log read from %s", cursor == "0" ? "its start" : cursor.c_str());
  log_.startReading(cursor, [this](const auto& facts, const std::string& lastId) { return apply(facts, lastId); });
}

bool ClusterArchive::apply(const std::vector<core::ArchiveFact>& facts, const std::string& lastId) {
  auto removed = store_.applyArchiveFacts(facts, nodeUrl_, lastId);
  if (!removed) {
    g_warning("store: archive log up to %s not applied (read again): %s", lastId.c_str(),
              removed.error().message.c_str());
    return false;
  }
  // This node's recordings an operator deleted through another node: their files go here.
  for (const auto& path : removed.value()) {
    if (g_unlink(path.c_str()) != 0 && errno != ENOENT)
      g_warning("recording %s deleted through another node, but its file stays: %s", path.c_str(), g_strerror(errno));
    else
      g_message("recording %s deleted through another node", path.c_str());
  }
  return true;
}

}  // namespace roomcast::app
