// The cluster benchmark's nodes and probes: a roomcastd node that keeps its port and data dir
// across a SIGKILL and a restart (so the cluster goes back to the same three node URLs), and the
// blocking HTTP probes that decide when a room is live on a node.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "children.h"

typedef struct _SoupSession SoupSession;

namespace roomcast::bench {

class ClusterNode {
 public:
  // `args`: the roomcastd options every node shares (config file, --redis). Not started yet.
  ClusterNode(std::string name, std::string dataDir, int port, std::vector<std::string> args);
  // Starts roomcastd on 127.0.0.1:port with the data dir (a restart reuses both; each start logs
  // to roomcastd-<n>.log) and waits, bounded, until /api/v1/health answers 200.
  bool start(double timeoutSeconds = 20);
  // SIGKILL by its PID (a crash), then reaped.
  void kill();
  bool running() const { return child_ && child_->running(); }
  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }
  pid_t pid() const { return child_ ? child_->pid() : -1; }
  std::string logPath() const;
  int starts() const { return starts_; }

 private:
  std::string name_, dataDir_, url_;
  int port_;
  std::vector<std::string> args_;
  std::unique_ptr<Child> child_;
  int starts_ = 0;
};

// Blocking GETs on one keep-alive libsoup session that does NOT follow redirects (a 307 to
// another node is not "this node serves it"), with a short timeout: a probe must never hang on
// a node that died.
class Probe {
 public:
  explicit Probe(unsigned timeoutSeconds = 3);
  ~Probe();
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;
  // Status (0: no answer) and body.
  int get(const std::string& url, std::string* body = nullptr, const std::string& bearer = {});

 private:
  SoupSession* session_;
};

// The node a room is on, as `nodeUrl` answers GET /api/v1/rooms/{id} ("" when it does not know).
std::string roomOwnerAsSeenBy(Probe& probe, const std::string& nodeUrl, const std::string& roomId);
// Whether `ownerUrl` itself serves the room's HLS media playlist: 200 (not a redirect) with at
// least one segment listed.
bool servesPlaylist(Probe& probe, const std::string& ownerUrl, const std::string& roomId);

}  // namespace roomcast::bench
