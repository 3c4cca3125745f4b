#include "app/options.h"

#include <algorithm>
#include <gio/gio.h>
#include <climits>
#include <cstdlib>
#include <glib.h>

#include "app/network_options.h"
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

core::Status splitHostPort(const std::string& what, const std::string& value, std::string& host, int& port) {
  const auto colon = value.rfind(':');
  if (colon == std::string::npos) return Error{ErrorCode::BadRequest, what + " wants HOST:PORT, got " + value};
  host = value.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  char* end = nullptr;
  const long number = strtol(value.c_str() + colon + 1, &end, 10);
  if (!end || *end || number < 0 || number > 65535) return Error{ErrorCode::BadRequest, "bad port in " + what + " " + value};
  port = static_cast<int>(number);
  return core::Ok{};
}

core::Status splitListen(const std::string& value, Options& out) {
  return splitHostPort("--listen", value, out.listenHost, out.listenPort);
}

core::Status splitEdgeLog(const std::string& value, Options& out) {
  if (auto s = splitHostPort("edge_log", value, out.edgeLogHost, out.edgeLogPort); !s) return s;
  if (!g_hostname_is_ip_address(out.edgeLogHost.c_str()) || out.edgeLogPort == 0)
    return Error{ErrorCode::BadRequest, "edge_log wants IP:PORT, got " + value};
  return core::Ok{};
}

// [auth]: one pair as api_key/api_secret, more as keys = KEY:SECRET, KEY:SECRET (a key file
// is an INI file, which keeps one value per key name).
std::string trimmed(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t");
  return first == std::string::npos ? std::string() : text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

core::Status addApiKey(AuthOptions& auth, const std::string& rawKey, const std::string& rawSecret) {
  const std::string key = trimmed(rawKey), secret = trimmed(rawSecret);
  if (key.empty() || key.size() > 64 || key == "roomcast" ||
      !std::all_of(key.begin(), key.end(), [](char c) { return g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.'; }))
    return Error{ErrorCode::BadRequest, "[auth] API key '" + key +
                                            "' must be 1..64 letters, digits, '-', '_' or '.' (and not 'roomcast')"};
  if (secret.size() < 32)
    return Error{ErrorCode::BadRequest, "[auth] the API secret of key '" + key + "' is " + std::to_string(secret.size()) +
                                            " bytes; it must be at least 32 (e.g. openssl rand -hex 32)"};
  if (!auth.apiKeys.emplace(key, secret).second)
    return Error{ErrorCode::BadRequest, "[auth] API key '" + key + "' is given twice"};
  return core::Ok{};
}

core::Status applyAuth(GKeyFile* file, AuthOptions& auth) {
  g_autofree char* key = g_key_file_get_string(file, "auth", "api_key", nullptr);
  g_autofree char* secret = g_key_file_get_string(file, "auth", "api_secret", nullptr);
  if (!key != !secret) return Error{ErrorCode::BadRequest, "[auth] api_key and api_secret go together"};
  if (key)
    if (auto s = addApiKey(auth, key, secret); !s) return s;
  g_autofree char* list = g_key_file_get_string(file, "auth", "keys", nullptr);
  if (list) {
    g_auto(GStrv) pairs = g_strsplit(list, ",", -1);
    for (char** pair = pairs; *pair; pair++) {
      std::string text = g_strstrip(*pair);
      if (text.empty()) continue;
      const size_t colon = text.find(':');
      if (colon == std::string::npos) return Error{ErrorCode::BadRequest, "[auth] keys wants KEY:SECRET, KEY:SECRET"};
      if (auto s = addApiKey(auth, text.substr(0, colon), text.substr(colon + 1)); !s) return s;
    }
  }
  if (g_key_file_has_key(file, "auth", "open_rooms", nullptr))
    auth.openRooms = g_key_file_get_boolean(file, "auth", "open_rooms", nullptr);
  if (g_key_file_has_key(file, "archive", "public", nullptr))
    auth.archivePublic = g_key_file_get_boolean(file, "archive", "public", nullptr);
  return core::Ok{};
}

core::Status applyConfigFile(const std::string& path, Options& out) {
  g_autoptr(GKeyFile) file = g_key_file_new();
  GError* error = nullptr;
  if (!g_key_file_load_from_file(file, path.c_str(), G_KEY_FILE_NONE, &error)) {
    Error e{ErrorCode::BadRequest, "cannot read config " + path + ": " + error->message};
    g_error_free(error);
    return e;
  }
  auto str = [&](const char* group, const char* key, std::string& target) {
    g_autofree char* v = g_key_file_get_string(file, group, key, nullptr);
    if (v) target = v;
  };
  auto integer = [&](const char* group, const char* key, int& target) {
    if (g_key_file_has_key(file, group, key, nullptr)) target = g_key_file_get_integer(file, group, key, nullptr);
  };
  std::string listen;
  str("server", "listen", listen);
  if (!listen.empty())
    if (auto s = splitListen(listen, out); !s) return s;
  str("server", "data_dir", out.dataDir);
  str("server", "public_url", out.publicUrl);
  str("server", "secret", out.secret);
  str("server", "tls_cert", out.tlsCert);
  str("server", "tls_key", out.tlsKey);
  str("server", "web_dir", out.webDir);
  str("server", "pipelines_dir", out.pipelinesDir);
  str("server", "hls_js", out.hlsJsPath);
  integer("server", "max_rooms", out.maxRooms);
  if (g_key_file_has_key(file, "server", "min_free_disk_mb", nullptr))
    out.minFreeDiskMb = g_key_file_get_double(file, "server", "min_free_disk_mb", nullptr);
  std::string origins;
  str("server", "allowed_origins", origins);
  if (!origins.empty()) {
    g_auto(GStrv) parts = g_strsplit(origins.c_str(), ",", -1);
    for (char** p = parts; *p; p++) {
      std::string origin = g_strstrip(*p);
      while (!origin.empty() && origin.back() == '/') origin.pop_back();
      if (!origin.empty()) out.allowedOrigins.push_back(origin);
    }
  }
  // Client connections: deadlines (seconds, fractions allowed) and caps.
  auto seconds = [&](const char* key, double& target) {
    if (g_key_file_has_key(file, "server", key, nullptr)) target = g_key_file_get_double(file, "server", key, nullptr);
  };
  auto count = [&](const char* key, unsigned& target) {
    if (g_key_file_has_key(file, "server", key, nullptr))
      target = static_cast<unsigned>(std::max(0, g_key_file_get_integer(file, "server", key, nullptr)));
  };
  seconds("header_timeout_s", out.connections.headerTimeoutSeconds);
  seconds("body_timeout_s", out.connections.bodyTimeoutSeconds);
  seconds("keepalive_timeout_s", out.connections.idleTimeoutSeconds);
  seconds("hello_timeout_s", out.connections.helloTimeoutSeconds);
  count("max_connections_per_address", out.connections.maxPerAddress);
  count("max_connections", out.connections.maxTotal);
  count("fd_reserve", out.connections.fdReserve);
  if (g_key_file_has_key(file, "server", "uncapped_addresses", nullptr)) {
    std::string uncapped;
    str("server", "uncapped_addresses", uncapped);
    out.connections.uncappedAddresses.clear();
    g_auto(GStrv) parts = g_strsplit(uncapped.c_str(), ",", -1);
    for (char** p = parts; *p; p++)
      if (std::string address = g_strstrip(*p); !address.empty()) out.connections.uncappedAddresses.push_back(address);
  }
  if (auto s = applyAuth(file, out.auth); !s) return s;
  if (g_key_file_has_key(file, "room", "empty_timeout_s", nullptr))
    out.emptyTimeoutSeconds = g_key_file_get_double(file, "room", "empty_timeout_s", nullptr);
  if (g_key_file_has_key(file, "room", "max_duration_s", nullptr))
    out.maxDurationSeconds = g_key_file_get_double(file, "room", "max_duration_s", nullptr);
  integer("room", "max_speakers", out.maxSpeakers);
  integer("room", "max_raised_hands", out.maxRaisedHands);
  integer("room", "max_prewarmed", out.maxPrewarmedPeers);
  if (g_key_file_has_key(file, "room", "reconnect_grace_s", nullptr))
    out.reconnectGraceSeconds = g_key_file_get_double(file, "room", "reconnect_grace_s", nullptr);
  integer("media", "opus_bitrate", out.opusBitrate);
  integer("media", "jitter_latency_ms", out.jitterLatencyMs);
  integer("media", "mixer_max_wait_ms", out.mixerMaxWaitMs);
  if (g_key_file_has_key(file, "media", "ice_deadline_s", nullptr))
    out.iceDeadlineSeconds = g_key_file_get_double(file, "media", "ice_deadline_s", nullptr);
  str("media", "stun_server", out.stunServer);
  if (auto network = applyNetworkConfig(file, out); !network) return network;
  if (g_key_file_has_key(file, "media", "plain_rtp", nullptr))
    out.plainRtp = g_key_file_get_boolean(file, "media", "plain_rtp", nullptr);
  str("media", "plain_rtp_bind", out.plainRtpBind);
  if (g_key_file_has_key(file, "transcription", "enabled", nullptr))
    out.transcribe = g_key_file_get_boolean(file, "transcription", "enabled", nullptr);
  if (g_key_file_has_key(file, "moderation", "enabled", nullptr))
    out.moderation = g_key_file_get_boolean(file, "moderation", "enabled", nullptr);
  str("moderation", "policy", out.moderationPolicy);
  if (g_key_file_has_key(file, "moderation", "evidence_max_mb", nullptr))
    out.evidenceQuotaMb = g_key_file_get_double(file, "moderation", "evidence_max_mb", nullptr);
  if (g_key_file_has_key(file, "moderation", "evidence_room_max_mb", nullptr))
    out.evidenceRoomQuotaMb = g_key_file_get_double(file, "moderation", "evidence_room_max_mb", nullptr);
  if (g_key_file_has_key(file, "hls", "low_rendition", nullptr))
    out.lowRendition = g_key_file_get_boolean(file, "hls", "low_rendition", nullptr);
  std::string edgeLog;
  str("hls", "edge_log", edgeLog);
  if (!edgeLog.empty())
    if (auto s = splitEdgeLog(edgeLog, out); !s) return s;
  if (g_key_file_has_key(file, "hls", "segment_ms", nullptr))
    out.hlsSegmentMs = static_cast<unsigned>(std::max(0, g_key_file_get_integer(file, "hls", "segment_ms", nullptr)));
  if (g_key_file_has_key(file, "hls", "listener_thread", nullptr))
    out.hlsListenerThread = g_key_file_get_boolean(file, "hls", "listener_thread", nullptr);
  if (g_key_file_has_key(file, "hls", "listener_idle_s", nullptr))
    out.listenerIdleSeconds = g_key_file_get_double(file, "hls", "listener_idle_s", nullptr);
  str("s3", "endpoint", out.s3.endpoint);
  str("s3", "bucket", out.s3.bucket);
  str("s3", "region", out.s3.region);
  str("s3", "access_key", out.s3.accessKey);
  str("s3", "secret_key", out.s3.secretKey);
  str("s3", "prefix", out.s3.prefix);
  integer("s3", "max_attempts", out.s3.maxAttempts);
  if (g_key_file_has_key(file, "s3", "keep_local", nullptr))
    out.s3.keepLocal = g_key_file_get_boolean(file, "s3", "keep_local", nullptr);
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
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  g_autoptr(GOptionContext) context = g_option_context_new("- the roomcast live audio room server");
  g_option_context_add_main_entries(context, entries, nullptr);
  GError* error = nullptr;
  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    Error e{ErrorCode::BadRequest, error->message};
    g_error_free(error);
    return e;
  }
  if (version) {
    g_print("roomcastd %s\n", ROOMCAST_VERSION);
    exit(0);
  }

  Options out;
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

  if (config)
    if (auto s = applyConfigFile(config, out); !s) return s.error();
  if (listen)
    if (auto s = splitListen(listen, out); !s) return s.error();
  if (dataDir) out.dataDir = dataDir;
  if (edgeLog)
    if (auto s = splitEdgeLog(edgeLog, out); !s) return s.error();
  // The S3 secret may stay out of the config file.
  if (const char* secret = g_getenv("ROOMCAST_S3_SECRET_KEY"); secret && *secret) out.s3.secretKey = secret;
  if (out.s3.enabled()) {
    if (out.s3.bucket.empty() || out.s3.accessKey.empty() || out.s3.secretKey.empty())
      return Error{ErrorCode::BadRequest, "[s3] needs bucket, access_key and secret_key (or ROOMCAST_S3_SECRET_KEY) with endpoint"};
    if (out.s3.maxAttempts < 1 || out.s3.maxAttempts > 100)
      return Error{ErrorCode::BadRequest, "[s3] max_attempts must be 1..100"};
  }
  if (publicUrl) out.publicUrl = publicUrl;
  if (tlsCert) out.tlsCert = tlsCert;
  if (tlsKey) out.tlsKey = tlsKey;
  if (out.tlsCert.empty() != out.tlsKey.empty())
    return Error{ErrorCode::BadRequest, "TLS needs both a certificate and its key (--tls-cert and --tls-key, or "
                                        "[server] tls_cert and tls_key), got only the " +
                                            std::string(out.tlsCert.empty() ? "key" : "certificate")};
  if (pipelinesDir) out.pipelinesDir = pipelinesDir;
  if (webDir) out.webDir = webDir;
  if (grace >= 0) out.reconnectGraceSeconds = grace;
  if (out.reconnectGraceSeconds < 0.1 || out.reconnectGraceSeconds > 3600)
    return Error{ErrorCode::BadRequest, "reconnect grace must be 0.1..3600 seconds"};
  if (out.opusBitrate < 6000 || out.opusBitrate > 128000) return Error{ErrorCode::BadRequest, "opus_bitrate must be 6000..128000"};
  if (out.jitterLatencyMs < 0 || out.jitterLatencyMs > 1000) return Error{ErrorCode::BadRequest, "jitter_latency_ms must be 0..1000"};
  if (out.maxSpeakers < 1 || out.maxSpeakers > 1000) return Error{ErrorCode::BadRequest, "max_speakers must be 1..1000"};
  if (out.maxRaisedHands < 0 || out.maxRaisedHands > 100000)
    return Error{ErrorCode::BadRequest, "max_raised_hands must be 0..100000"};
  if (out.maxPrewarmedPeers < 0 || out.maxPrewarmedPeers > 1000)
    return Error{ErrorCode::BadRequest, "max_prewarmed must be 0..1000"};
  if (!out.stunServer.empty() && (out.stunServer.rfind("stun://", 0) != 0 || out.stunServer.size() > 256 ||
                                  out.stunServer.find(':', 7) == std::string::npos))
    return Error{ErrorCode::BadRequest, "stun_server must be stun://HOST:PORT, got " + out.stunServer};
  if (auto network = checkNetworkOptions(out); !network) return network.error();
  if (out.iceDeadlineSeconds < 1 || out.iceDeadlineSeconds > 600)
    return Error{ErrorCode::BadRequest, "ice_deadline_s must be 1..600"};
  if (out.mixerMaxWaitMs < 0 || out.mixerMaxWaitMs > 100)
    return Error{ErrorCode::BadRequest, "mixer_max_wait_ms must be 0..100"};
  if (out.hlsSegmentMs < hls::kMinSegmentMs || out.hlsSegmentMs > hls::kMaxSegmentMs)
    return Error{ErrorCode::BadRequest, "segment_ms must be " + std::to_string(hls::kMinSegmentMs) + ".." +
                                            std::to_string(hls::kMaxSegmentMs) + " (the target duration is 1 s)"};
  if (out.listenerIdleSeconds < 1 || out.listenerIdleSeconds > 600)
    return Error{ErrorCode::BadRequest, "listener_idle_s must be 1..600"};
  for (double s : {out.connections.headerTimeoutSeconds, out.connections.bodyTimeoutSeconds,
                   out.connections.idleTimeoutSeconds, out.connections.helloTimeoutSeconds})
    if (s < 0.1 || s > 3600)
      return Error{ErrorCode::BadRequest, "[server] header_timeout_s, body_timeout_s, keepalive_timeout_s and "
                                          "hello_timeout_s must be 0.1..3600"};
  for (const auto& address : out.connections.uncappedAddresses)
    if (!g_hostname_is_ip_address(address.c_str()))
      return Error{ErrorCode::BadRequest, "uncapped_addresses wants IP addresses, got " + address};
  if (!(out.evidenceQuotaMb >= 0 && out.evidenceQuotaMb <= 1e7 && out.evidenceRoomQuotaMb >= 0 &&
        out.evidenceRoomQuotaMb <= 1e7))
    return Error{ErrorCode::BadRequest, "evidence_max_mb and evidence_room_max_mb must be 0..10000000"};
  // Timers count milliseconds in 32 bits: at most 30 days.
  if (!(out.emptyTimeoutSeconds >= 0 && out.emptyTimeoutSeconds <= 30 * 86400))
    return Error{ErrorCode::BadRequest, "empty_timeout_s must be 0..2592000 (0: rooms never end for being empty)"};
  if (!(out.maxDurationSeconds >= 0 && out.maxDurationSeconds <= 30 * 86400))
    return Error{ErrorCode::BadRequest, "max_duration_s must be 0..2592000 (0: no limit)"};
  // Reachable from elsewhere: rooms and the archive are the operator's unless the config opens them.
  const bool loopback = isLoopbackHost(out.listenHost);
  if (!out.auth.openRooms) out.auth.openRooms = loopback;
  if (!out.auth.archivePublic) out.auth.archivePublic = loopback;
  if (!(out.minFreeDiskMb >= 0 && out.minFreeDiskMb <= 1e7))
    return Error{ErrorCode::BadRequest, "min_free_disk_mb must be 0..10000000"};
  if (!g_hostname_is_ip_address(out.plainRtpBind.c_str()))
    return Error{ErrorCode::BadRequest, "plain_rtp_bind must be an IPv4 address"};
  return out;
}

}  // namespace roomcast::app
