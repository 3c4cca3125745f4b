#include "cluster_node.h"

#include <libsoup/soup.h>
#include <signal.h>

#include "processes.h"  // tests/support: buildPath
#include "wait.h"       // tests/support: pollUntil

namespace roomcast::bench {

ClusterNode::ClusterNode(std::string name, std::string dataDir, int port, std::vector<std::string> args)
    : name_(std::move(name)),
      dataDir_(std::move(dataDir)),
      url_("http://127.0.0.1:" + std::to_string(port)),
      port_(port),
      args_(std::move(args)) {}

std::string ClusterNode::logPath() const { return dataDir_ + "/roomcastd-" + std::to_string(starts_) + ".log"; }

bool ClusterNode::start(double timeoutSeconds) {
  starts_++;
  std::vector<std::string> argv{testing::buildPath("src/app/roomcastd"), "--listen", "127.0.0.1:" + std::to_string(port_),
                                "--data-dir", dataDir_};
  argv.insert(argv.end(), args_.begin(), args_.end());
  child_ = std::make_unique<Child>(argv, -1, logPath());
  Probe probe(2);
  // Connection refused until it listens: there is no event to wait on but the answer itself.
  return testing::pollUntil([&] { return !child_->running() || probe.get(url_ + "/api/v1/health") == 200; },
                            timeoutSeconds, 0.05) &&
         child_->running();
}

void ClusterNode::kill() {
  if (!child_ || !child_->running()) return;
  child_->signal(SIGKILL);
  child_->wait(10);
}

Probe::Probe(unsigned timeoutSeconds) : session_(soup_session_new_with_options("timeout", timeoutSeconds, nullptr)) {}

Probe::~Probe() { g_object_unref(session_); }

int Probe::get(const std::string& url, std::string* body, const std::string& bearer) {
  g_autoptr(SoupMessage) msg = soup_message_new("GET", url.c_str());
  if (!msg) return 0;
  soup_message_add_flags(msg, SOUP_MESSAGE_NO_REDIRECT);
  if (!bearer.empty())
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization", ("Bearer " + bearer).c_str());
  g_autoptr(GBytes) reply = soup_session_send_and_read(session_, msg, nullptr, nullptr);
  if (!reply) return 0;
  if (body) {
    gsize size = 0;
    const char* data = static_cast<const char*>(g_bytes_get_data(reply, &size));
    body->assign(data ? data : "", size);
  }
  return static_cast<int>(soup_message_get_status(msg));
}

std::string roomOwnerAsSeenBy(Probe& probe, const std::string& nodeUrl, const std::string& roomId) {
  std::string body;
  return probe.get(nodeUrl + "/api/v1/rooms/" + roomId, &body) == 200 ? jsonMember(body, "node") : "";
}

bool servesPlaylist(Probe& probe, const std::string& ownerUrl, const std::string& roomId) {
  std::string body;
  return probe.get(ownerUrl + "/hls/" + roomId + "/index.m3u8", &body) == 200 &&
         body.find("#EXTINF") != std::string::npos;
}

}  // namespace roomcast::bench
