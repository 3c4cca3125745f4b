#include "nginx.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <regex>

namespace roomcast::testing {

namespace {

std::string readText(const std::string& path) {
  g_autofree char* contents = nullptr;
  g_file_get_contents(path.c_str(), &contents, nullptr, nullptr);
  return contents ? contents : "";
}

}  // namespace

Nginx::Nginx(const std::string& originUrl, int edgeLogPort) {
  // The shipped edge config, with its four EDIT values set for this test.
  std::string edge = readText(sourcePath("data/nginx/roomcast-edge.conf"));
  start(std::regex_replace(edge, std::regex("server 127\\.0\\.0\\.1:8080;"), "server " + originUrl.substr(7) + ";"),
        edgeLogPort);
}

Nginx::Nginx(const std::vector<std::string>& nodeUrls, int edgeLogPort) {
  std::string servers;
  for (const std::string& node : nodeUrls) servers += "    server " + node.substr(7) + ";\n";
  std::string edge = readText(sourcePath("data/nginx/roomcast-cluster-edge.conf"));
  start(std::regex_replace(edge, std::regex("(    server 10\\.0\\.0\\.1[0-9]:8080;\n)+"), servers), edgeLogPort);
}

void Nginx::start(std::string edge, int edgeLogPort) {
  dir_ = makeTempDir("roomcast-nginx-");
  const int port = freeTcpPort();
  url_ = "http://127.0.0.1:" + std::to_string(port);
  edge = std::regex_replace(edge, std::regex("/var/cache/nginx/roomcast"), dir_ + "/cache");
  edge = std::regex_replace(edge, std::regex("listen 127\\.0\\.0\\.1:8081;"), "listen 127.0.0.1:" + std::to_string(port) + ";");
  edge = std::regex_replace(edge, std::regex("server=127\\.0\\.0\\.1:5514,"),
                            "server=127.0.0.1:" + std::to_string(edgeLogPort) + ",");
  g_file_set_contents((dir_ + "/edge.conf").c_str(), edge.c_str(), -1, nullptr);
  const std::string main =
      std::string(geteuid() == 0 ? "user root;\n" : "") + "worker_processes 1;\npid " + dir_ + "/nginx.pid;\nerror_log " +
      dir_ + "/error.log info;\ndaemon off;\nevents { worker_connections 4096; }\nhttp {\n  access_log " + dir_ +
      "/access.log;\n  client_body_temp_path " + dir_ + "/body;\n  proxy_temp_path " + dir_ + "/proxy;\n" +
      "  fastcgi_temp_path " + dir_ + "/fastcgi;\n  uwsgi_temp_path " + dir_ + "/uwsgi;\n  scgi_temp_path " + dir_ +
      "/scgi;\n  include " + dir_ + "/edge.conf;\n}\n";
  g_file_set_contents((dir_ + "/nginx.conf").c_str(), main.c_str(), -1, nullptr);
  process_ = std::make_unique<Process>(std::vector<std::string>{"nginx", "-p", dir_, "-c", dir_ + "/nginx.conf"});
  const gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (g_get_monotonic_time() < deadline) {
    if (http("GET", url_ + "/api/v1/health").status == 200) {
      ready_ = true;
      return;
    }
    g_usleep(50 * 1000);  // until nginx listens (connection refused before)
  }
}

Nginx::~Nginx() {
  if (process_) {
    process_->terminate();  // the master stops its workers
    if (!process_->wait(10).finished) process_->kill();
  }
  removeTempDir(dir_);
}

std::string Nginx::log() const { return readText(dir_ + "/error.log") + readText(dir_ + "/access.log"); }

}  // namespace roomcast::testing
