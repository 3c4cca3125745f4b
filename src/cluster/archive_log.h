// The archive's log in Redis: one stream, `roomcast:archive`, of facts (a recording's row as its
// holder has it now, a recording deleted, a transcript segment), appended by the node that
// produced each and read by every node, which applies them to its own store. So every node
// answers list and search the same, and what reached Redis is not lost with a node. No MAXLEN:
// the stream is the archive's history, and a node new to the cluster reads it from the start.
// Everything runs on the control loop; appends wait in a bounded queue while Redis is down.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "cluster/redis_connection.h"
#include "core/archive.h"
#include "core/result.h"
#include "glib_support/source.h"

namespace roomcast::cluster {

struct ArchiveLogLimits {
  size_t maxFactBytes = 64 * 1024;  // a stored fact; a bigger one is neither written nor read
  size_t maxQueued = 10000;         // facts waiting for Redis; beyond it the newest are dropped (logged)
  size_t readBatch = 200;           // entries per XREAD
  unsigned pollMs = 250;            // how often the log is read (and a failed append retried)
};

// The stored form: a JSON object, field `fact` of the stream entry.
std::string encodeArchiveFact(const core::ArchiveFact& fact);
// Back from the stored form; BadRequest for anything else (or larger than `maxBytes`).
core::Result<core::ArchiveFact> decodeArchiveFact(const std::string& json, size_t maxBytes);

class ArchiveLog {
 public:
  // Called with the facts of one read, in the log's order, and the id of the last entry read
  // (entries that are not facts are skipped but counted in it). False: not applied, read again.
  using Apply = std::function<bool(const std::vector<core::ArchiveFact>& facts, const std::string& lastId)>;

  ArchiveLog(RedisConnection& redis, GMainContext* context, ArchiveLogLimits limits = {},
             std::string key = "roomcast:archive");
  ArchiveLog(const ArchiveLog&) = delete;
  ArchiveLog& operator=(const ArchiveLog&) = delete;

  // XADD, in order, one at a time; kept (bounded) and sent again while Redis does not take it.
  void append(const core::ArchiveFact& fact);
  // Reads from after `fromId` ("0": from the start) every pollMs, and at once after a full batch.
  void startReading(std::string fromId, Apply apply);
  size_t queued() const { return queue_.size(); }
  const std::string& lastRead() const { return lastId_; }

 private:
  static gboolean onTick(gpointer self);
  void pump();
  void read();
  void received(const RedisReply& reply);

  RedisConnection& redis_;
  GMainContext* context_;
  ArchiveLogLimits limits_;
  std::string key_;
  std::deque<std::string> queue_;  // encoded facts, oldest first
  bool appending_ = false;         // the queue's head is in flight
  bool reading_ = false;           // an XREAD is in flight
  std::string lastId_ = "0";
  Apply apply_;
  glib_support::Source tick_;
};

}  // namespace roomcast::cluster
