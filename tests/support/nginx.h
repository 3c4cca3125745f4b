// A real nginx (Debian's) on a free loopback port, configured with data/nginx/roomcast-edge.conf
// in front of a roomcastd (or roomcast-cluster-edge.conf in front of nodes), for the edge tests. Stopped by its own PID.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "processes.h"

namespace roomcast::testing {

class Nginx {
 public:
  // originUrl: http://127.0.0.1:PORT of roomcastd; edgeLogPort: its --edge-log UDP port.
  Nginx(const std::string& originUrl, int edgeLogPort);
  // data/nginx/roomcast-cluster-edge.conf in front of these nodes (http://IP:PORT each).
  Nginx(const std::vector<std::string>& nodeUrls, int edgeLogPort);
  ~Nginx();
  bool ready() const { return ready_; }
  const std::string& url() const { return url_; }
  std::string log() const;  // error log and access log

 private:
  // Writes `edge` (a shipped config with its origins already set) with this test's cache,
  // port and log address, and starts nginx on it.
  void start(std::string edge, int edgeLogPort);
  std::string dir_;
  std::string url_;
  std::unique_ptr<Process> process_;
  bool ready_ = false;
};

}  // namespace roomcast::testing
