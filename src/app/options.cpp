#include "app/options.h"

#include <algorithm>
#include <gio/gio.h>
#include <climits>
#include <cstdlib>
#include <glib.h>

#include "app/config_keys.h"
#include "app/network_options.h"
#include "cluster/redis_connection.h"
#include "roomcast-config.h"

namespace roomcast::app {

using core::Error;
using core::ErrorCode;

namespace {

// A roomcastd run from its build tree uses the source tree's pipelines, web app and
// node_modules; an installed one (not under the build dir) only the installed copies, even on
// a machine where the source tree it was built from still exists.
bool runningFromBuildTree() {
  g_autofree char* self = g_file_read_link("/proc/self/exe", nullptr);
  g_autofree char* buildDir = realpath(ROOMCAST_BUILD_DIR, nullptr);
  if (!self || !buildDir) return false;
  return g_str_has_prefix(self, (std::string(buildDir) + "/").c_str());
}

// The config file: every key the table knows (app/config_keys.h), then what pairs keys.
core::Status applyConfigFile(const std::string& path, Options& out) {
  g_autoptr(GKeyFile) file = g_key_file_new();
  g_autoptr(GError) error = nullptr;
  if (!g_key_file_load_from_file(file, path.c_str(), G_KEY_FILE_NONE, &error))
    return Error{ErrorCode::BadRequest, "cannot read config " + path + ": " + error->message};
  if (auto s = applyConfigKeys(file, out); !s) return s;
  AuthOptions& auth = out.auth;
  if (!auth.configApiKey != !auth.configApiSecret)
    return Error{ErrorCode::BadRequest, "[auth] api_key and api_secret go together"};
  if (auth.configApiKey)
    if (auto s = addApiKey(auth, *auth.configApiKey, *auth.configApiSecret); !s) return s;
  return core::Ok{};
}

// Built-in paths: the source tree's when run from the build tree, the installed ones otherwise.
void setDefaultPaths(Options& out) {
  if (runningFromBuildTree()) {
    const std::string source = ROOMCAST_SOURCE_DIR;
    out.pipelinesDir = source + "/pipelines";
    out.webDir = source + "/data/web";
    out.hlsJsPath = source + "/node_modules/hls.js/dist/hls.min.js";
    out.moderationPolicy = source + "/data/moderation/policy.json";
  } else {
    const std::string installed = ROOMCAST_DATADIR;
    out.pipelinesDir = installed + "/pipelines";
    out.webDir = installed + "/web";
    out.hlsJsPath = ROOMCAST_HLS_JS;
    out.moderationPolicy = installed + "/moderation/policy.json";
  }
  g_autofree char* defaultData = g_build_filename(g_get_user_state_dir(), "roomcast", nullptr);
  out.dataDir = defaultData;
}

// [cluster]: a Redis URL that parses, a node URL other nodes can use as a key.
core::Status checkClusterOptions(const ClusterOptions& cluster) {
  if (!cluster.enabled()) return core::Ok{};
  if (auto url = cluster::parseRedisUrl(cluster.redis); !url) return url.error();
  if (cluster.onStartFailure != "exit" && cluster.onStartFailure != "standalone")
    return Error{ErrorCode::BadRequest, "[cluster] on_start_failure must be exit or standalone, got '" +
                                            cluster.onStartFailure + "'"};
  const std::string& node = cluster.nodeUrl;
  if (!node.empty() && ((node.rfind("http://", 0) != 0 && node.rfind("https://", 0) != 0) || node.size() > 256 ||
                        node.find_first_of(" \t\r\n") != std::string::npos))
    return Error{ErrorCode::BadRequest, "node_url must be an http:// or https:// URL of at most 256 bytes without "
                                        "blanks, got '" + node.substr(0, 300) + "'"};
  return core::Ok{};
}

// What the table's ranges cannot say: values that go together, shapes, the environment.
core::Status checkOptions(Options& out) {
  // The S3 secret may stay out of the config file.
  if (const char* secret = g_getenv("ROOMCAST_S3_SECRET_KEY"); secret && *secret) out.s3.secretKey = secret;
  if (out.s3.enabled() && (out.s3.bucket.empty() || out.s3.accessKey.empty() || out.s3.secretKey.empty()))
    return Error{ErrorCode::BadRequest, "[s3] needs bucket, access_key and secret_key (or ROOMCAST_S3_SECRET_KEY) with endpoint"};
  if (out.tlsCert.empty() != out.tlsKey.empty())
    return Error{ErrorCode::BadRequest, "TLS needs both a certificate and its key (--tls-cert and --tls-key, or "
                                        "[server] tls_cert and tls_key), got only the " +
                                            std::string(out.tlsCert.empty() ? "key" : "certificate")};
  if (auto s = checkRanges(out); !s) return s;
  if (!out.stunServer.empty() && (out.stunServer.rfind("stun://", 0) != 0 || out.stunServer.size() > 256 ||
                                  out.stunServer.find(':', 7) == std::string::npos))
    return Error{ErrorCode::BadRequest, "stun_server must be stun://HOST:PORT, got " + out.stunServer};
  if (auto network = checkNetworkOptions(out); !network) return network;
  if (auto cluster = checkClusterOptions(out.cluster); !cluster) return cluster;
  for (const auto& address : out.connections.uncappedAddresses)
    if (!g_hostname_is_ip_address(address.c_str()))
      return Error{ErrorCode::BadRequest, "uncapped_addresses wants IP addresses, got " + address};
  if (!g_hostname_is_ip_address(out.plainRtpBind.c_str()))
    return Error{ErrorCode::BadRequest, "plain_rtp_bind must be an IPv4 address"};
  // Reachable from elsewhere: rooms and the archive are the operator's unless the config opens them.
  const bool loopback = isLoopbackHost(out.listenHost);
  if (!out.auth.openRooms) out.auth.openRooms = loopback;
  if (!out.auth.archivePublic) out.auth.archivePublic = loopback;
  return core::Ok{};
}

}  // namespace

bool isLoopbackHost(const std::string& host) {
  if (g_ascii_strcasecmp(host.c_str(), "localhost") == 0) return true;
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string(host.c_str());
  return address && g_inet_address_get_is_loopback(address);
}

core::Result<Options> parseOptions(int argc, char** argv) {
  g_autofree char* listen = nullptr;
  g_autofree char* dataDir = nullptr;
  g_autofree char* config = nullptr;
  g_autofree char* publicUrl = nullptr;
  g_autofree char* pipelinesDir = nullptr;
  g_autofree char* webDir = nullptr;
  g_autofree char* edgeLog = nullptr;
  g_autofree char* tlsCert = nullptr;
  g_autofree char* tlsKey = nullptr;
  g_autofree char* redis = nullptr;
  g_autofree char* nodeUrl = nullptr;
  gboolean version = FALSE;
  double grace = -1;
  GOptionEntry entries[] = {
      {"listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Address to serve on (default 127.0.0.1:8080; port 0 picks one)", "HOST:PORT"},
      {"data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &dataDir, "Where rooms, HLS, recordings and the database go (default ~/.local/state/roomcast)", "DIR"},
      {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config, "Read settings from this INI file (see data/roomcast.conf)", "FILE"},
      {"public-url", 0, 0, G_OPTION_ARG_STRING, &publicUrl, "Base URL clients reach this server at (default: from the request)", "URL"},
      {"pipelines-dir", 0, 0, G_OPTION_ARG_FILENAME, &pipelinesDir, "Where the program-*.pipeline fragments are", "DIR"},
      {"web-dir", 0, 0, G_OPTION_ARG_FILENAME, &webDir, "Where the web client is", "DIR"},
      {"reconnect-grace", 0, 0, G_OPTION_ARG_DOUBLE, &grace, "Seconds a dropped speaker keeps their place (default 20)", "S"},
      {"edge-log", 0, 0, G_OPTION_ARG_STRING, &edgeLog, "Count HLS listeners from a caching edge's syslog lines on this UDP address ([hls] edge_log)", "IP:PORT"},
      {"tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tlsCert, "Serve HTTPS and WSS with this PEM certificate (chain); reloaded on SIGHUP ([server] tls_cert)", "FILE"},
      {"tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tlsKey, "The certificate's PEM private key ([server] tls_key)", "FILE"},
      {"redis", 0, 0, G_OPTION_ARG_STRING, &redis, "Join the cluster on this Redis ([cluster] redis)", "redis://HOST:PORT[/DB]"},
      {"node-url", 0, 0, G_OPTION_ARG_STRING, &nodeUrl, "The URL other nodes reach this one at ([cluster] node_url)", "URL"},
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  g_autoptr(GOptionContext) context = g_option_context_new("- the roomcast live audio room server");
  g_option_context_add_main_entries(context, entries, nullptr);
  g_autoptr(GError) error = nullptr;
  if (!g_option_context_parse(context, &argc, &argv, &error)) return Error{ErrorCode::BadRequest, error->message};
  if (version) {
    g_print("roomcastd %s\n", ROOMCAST_VERSION);
    exit(0);
  }

  Options out;
  setDefaultPaths(out);
  if (config)
    if (auto s = applyConfigFile(config, out); !s) return s.error();
  // The command line has the last word.
  if (listen)
    if (auto s = splitListen(listen, out); !s) return s.error();
  if (dataDir) out.dataDir = dataDir;
  if (edgeLog)
    if (auto s = splitEdgeLog(edgeLog, out); !s) return s.error();
  if (publicUrl) out.publicUrl = publicUrl;
  if (tlsCert) out.tlsCert = tlsCert;
  if (tlsKey) out.tlsKey = tlsKey;
  if (pipelinesDir) out.pipelinesDir = pipelinesDir;
  if (webDir) out.webDir = webDir;
  if (grace >= 0) out.reconnectGraceSeconds = grace;
  if (redis) out.cluster.redis = redis;
  if (nodeUrl) out.cluster.nodeUrl = nodeUrl;
  if (auto s = checkOptions(out); !s) return s.error();
  return out;
}

}  // namespace roomcast::app
