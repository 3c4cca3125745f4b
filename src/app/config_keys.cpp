#include "app/config_keys.h"

#include <gio/gio.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdlib>

#include "app/network_options.h"

namespace roomcast::app {

using core::Error;
using core::ErrorCode;

namespace {

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

std::string trimmed(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t");
  return first == std::string::npos ? std::string() : text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// "a, b ,c" -> {"a", "b", "c"}: a list value, its blanks dropped.
std::vector<std::string> commaList(const std::string& value) {
  std::vector<std::string> items;
  g_auto(GStrv) parts = g_strsplit(value.c_str(), ",", -1);
  for (char** p = parts; *p; p++)
    if (std::string item = g_strstrip(*p); !item.empty()) items.push_back(item);
  return items;
}

core::Status origins(const std::string& value, Options& out) {
  for (std::string origin : commaList(value)) {
    while (!origin.empty() && origin.back() == '/') origin.pop_back();
    if (!origin.empty()) out.allowedOrigins.push_back(origin);
  }
  return core::Ok{};
}

core::Status uncapped(const std::string& value, Options& out) {
  out.connections.uncappedAddresses = commaList(value);
  return core::Ok{};
}

core::Status turnUrls(const std::string& value, Options& out) {
  out.turn.urls = commaList(value);
  return core::Ok{};
}

core::Status apiKey(const std::string& value, Options& out) {
  out.auth.configApiKey = value;
  return core::Ok{};
}

core::Status apiSecret(const std::string& value, Options& out) {
  out.auth.configApiSecret = value;
  return core::Ok{};
}

// keys = KEY:SECRET, KEY:SECRET (a key file keeps one value per key name).
core::Status apiKeys(const std::string& value, Options& out) {
  for (const std::string& pair : commaList(value)) {
    const size_t colon = pair.find(':');
    if (colon == std::string::npos) return Error{ErrorCode::BadRequest, "[auth] keys wants KEY:SECRET, KEY:SECRET"};
    if (auto s = addApiKey(out.auth, pair.substr(0, colon), pair.substr(colon + 1)); !s) return s;
  }
  return core::Ok{};
}

core::Status listen(const std::string& value, Options& out) { return splitListen(value, out); }
core::Status edgeLog(const std::string& value, Options& out) { return splitEdgeLog(value, out); }
core::Status icePortRange(const std::string& value, Options& out) { return parseIcePortRange(value, out); }

constexpr double kMaxTimerSeconds = 30 * 86400;  // timers count milliseconds in 32 bits
constexpr Range kConnectionDeadline{0.1, 3600};
constexpr Range kMegabytes{0, 1e7};

#define FIELD(expr) [](Options& o) -> auto& { return o.expr; }

const ConfigKey kKeys[] = {
    {"server", "listen", Parser{listen}, {}},
    {"server", "data_dir", FIELD(dataDir), {}},
    {"server", "public_url", FIELD(publicUrl), {}},
    {"server", "tls_cert", FIELD(tlsCert), {}},
    {"server", "tls_key", FIELD(tlsKey), {}},
    {"server", "secret", FIELD(secret), {}},
    {"server", "max_rooms", FIELD(maxRooms), Range{1, 100000}},
    {"server", "allowed_origins", Parser{origins}, {}},
    {"server", "web_dir", FIELD(webDir), {}},
    {"server", "pipelines_dir", FIELD(pipelinesDir), {}},
    {"server", "hls_js", FIELD(hlsJsPath), {}},
    {"server", "min_free_disk_mb", FIELD(minFreeDiskMb), kMegabytes},
    {"server", "header_timeout_s", FIELD(connections.headerTimeoutSeconds), kConnectionDeadline},
    {"server", "body_timeout_s", FIELD(connections.bodyTimeoutSeconds), kConnectionDeadline},
    {"server", "keepalive_timeout_s", FIELD(connections.idleTimeoutSeconds), kConnectionDeadline},
    {"server", "hello_timeout_s", FIELD(connections.helloTimeoutSeconds), kConnectionDeadline},
    {"server", "max_connections_per_address", FIELD(connections.maxPerAddress), {}},
    {"server", "uncapped_addresses", Parser{uncapped}, {}},
    {"server", "max_connections", FIELD(connections.maxTotal), {}},
    {"server", "fd_reserve", FIELD(connections.fdReserve), {}},
    {"room", "max_speakers", FIELD(maxSpeakers), Range{1, 1000}},
    {"room", "max_raised_hands", FIELD(maxRaisedHands), Range{0, 100000}},
    {"room", "max_prewarmed", FIELD(maxPrewarmedPeers), Range{0, 1000}},
    {"room", "reconnect_grace_s", FIELD(reconnectGraceSeconds), Range{0.1, 3600, "(also --reconnect-grace)"}},
    {"room", "empty_timeout_s", FIELD(emptyTimeoutSeconds), Range{0, kMaxTimerSeconds, "(0: rooms never end for being empty)"}},
    {"room", "max_duration_s", FIELD(maxDurationSeconds), Range{0, kMaxTimerSeconds, "(0: no limit)"}},
    {"auth", "api_key", Parser{apiKey}, {}},
    {"auth", "api_secret", Parser{apiSecret}, {}},
    {"auth", "keys", Parser{apiKeys}, {}},
    {"auth", "open_rooms", FIELD(auth.openRooms), {}},
    {"archive", "public", FIELD(auth.archivePublic), {}},
    {"media", "opus_bitrate", FIELD(opusBitrate), Range{6000, 128000}},
    {"media", "jitter_latency_ms", FIELD(jitterLatencyMs), Range{0, 1000}},
    {"media", "mixer_max_wait_ms", FIELD(mixerMaxWaitMs), Range{0, 100}},
    {"media", "ice_deadline_s", FIELD(iceDeadlineSeconds), Range{1, 600}},
    {"media", "plain_rtp", FIELD(plainRtp), {}},
    {"media", "plain_rtp_bind", FIELD(plainRtpBind), {}},
    {"media", "stun_server", FIELD(stunServer), {}},
    {"media", "ice_port_range", Parser{icePortRange}, {}},
    {"hls", "low_rendition", FIELD(lowRendition), {}},
    {"hls", "segment_ms", FIELD(hlsSegmentMs), Range{hls::kMinSegmentMs, hls::kMaxSegmentMs, "(the target duration is 1 s)"}},
    {"hls", "listener_idle_s", FIELD(listenerIdleSeconds), Range{1, 600}},
    {"hls", "listener_thread", FIELD(hlsListenerThread), {}},
    {"hls", "edge_log", Parser{edgeLog}, {}},
    {"transcription", "enabled", FIELD(transcribe), {}},
    {"moderation", "enabled", FIELD(moderation), {}},
    {"moderation", "policy", FIELD(moderationPolicy), {}},
    {"moderation", "evidence_max_mb", FIELD(evidenceQuotaMb), kMegabytes},
    {"moderation", "evidence_room_max_mb", FIELD(evidenceRoomQuotaMb), kMegabytes},
    {"s3", "endpoint", FIELD(s3.endpoint), {}},
    {"s3", "bucket", FIELD(s3.bucket), {}},
    {"s3", "region", FIELD(s3.region), {}},
    {"s3", "access_key", FIELD(s3.accessKey), {}},
    {"s3", "secret_key", FIELD(s3.secretKey), {}},
    {"s3", "prefix", FIELD(s3.prefix), {}},
    {"s3", "max_attempts", FIELD(s3.maxAttempts), Range{1, 100}},
    {"s3", "keep_local", FIELD(s3.keepLocal), {}},
    {"turn", "urls", Parser{turnUrls}, {}},
    {"turn", "secret", FIELD(turn.secret), {}},
    {"turn", "ttl_s", FIELD(turn.ttlSeconds), Range{60, 7 * 86400}},
    {"cluster", "redis", FIELD(cluster.redis), {}},
    {"cluster", "node_url", FIELD(cluster.nodeUrl), {}},
    {"cluster", "lease_ms", FIELD(cluster.leaseMs), Range{300, 600000}},
    {"cluster", "on_start_failure", FIELD(cluster.onStartFailure), {}},
};

#undef FIELD

std::string where(const ConfigKey& key) { return std::string("[") + key.group + "] " + key.name; }

// Reads one key into its target; a value of the wrong type is an error naming the key.
core::Status readKey(GKeyFile* file, const ConfigKey& key, Options& out) {
  g_autoptr(GError) error = nullptr;
  // GLib's own message quotes the key again: say what was wanted instead.
  auto failed = [&](const char* wanted) -> core::Status {
    g_autofree char* raw = g_key_file_get_value(file, key.group, key.name, nullptr);
    return Error{ErrorCode::BadRequest, where(key) + " wants " + wanted + ", got '" + (raw ? raw : "") + "'"};
  };
  return std::visit(
      [&](auto target) -> core::Status {
        using T = decltype(target);
        if constexpr (std::is_same_v<T, StringField> || std::is_same_v<T, Parser>) {
          g_autofree char* value = g_key_file_get_string(file, key.group, key.name, &error);
          if (!value) return failed("text");
          if constexpr (std::is_same_v<T, Parser>) return target(g_strstrip(value), out);
          else target(out) = value;
        } else if constexpr (std::is_same_v<T, BoolField> || std::is_same_v<T, OptionalBoolField>) {
          const gboolean value = g_key_file_get_boolean(file, key.group, key.name, &error);
          if (error) return failed("true or false");
          target(out) = value;
        } else if constexpr (std::is_same_v<T, DoubleField>) {
          const double value = g_key_file_get_double(file, key.group, key.name, &error);
          if (error) return failed("a number");
          target(out) = value;
        } else {
          const gint64 value = g_key_file_get_int64(file, key.group, key.name, &error);
          if (error) return failed("a whole number");
          using Number = std::remove_reference_t<decltype(target(out))>;
          if (value < static_cast<gint64>(std::numeric_limits<Number>::min()) ||
              value > static_cast<gint64>(std::numeric_limits<Number>::max()))
            return Error{ErrorCode::BadRequest, where(key) + " is out of range: " + std::to_string(value)};
          target(out) = static_cast<Number>(value);
        }
        return core::Ok{};
      },
      key.target);
}

std::string number(double value) {
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  return g_ascii_formatd(text, sizeof text, "%.10g", value);
}

}  // namespace

std::span<const ConfigKey> configKeys() { return kKeys; }

core::Status splitListen(const std::string& value, Options& out) {
  return splitHostPort("--listen", value, out.listenHost, out.listenPort);
}

core::Status splitEdgeLog(const std::string& value, Options& out) {
  if (auto s = splitHostPort("edge_log", value, out.edgeLogHost, out.edgeLogPort); !s) return s;
  if (!g_hostname_is_ip_address(out.edgeLogHost.c_str()) || out.edgeLogPort == 0)
    return Error{ErrorCode::BadRequest, "edge_log wants IP:PORT, got " + value};
  return core::Ok{};
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


core::Status applyConfigKeys(GKeyFile* file, Options& out) {
  for (const ConfigKey& key : kKeys)
    if (g_key_file_has_key(file, key.group, key.name, nullptr))
      if (auto s = readKey(file, key, out); !s) return s;
  return core::Ok{};
}

core::Status checkRanges(Options& options) {
  for (const ConfigKey& key : kKeys) {
    if (!key.range) continue;
    const double value = numericValue(key, options).value_or(NAN);
    if (!(value >= key.range->min && value <= key.range->max))
      return Error{ErrorCode::BadRequest, std::string(key.name) + " must be " + number(key.range->min) + ".." +
                                              number(key.range->max) +
                                              (key.range->note ? std::string(" ") + key.range->note : "")};
  }
  return core::Ok{};
}

std::optional<double> numericValue(const ConfigKey& key, Options& options) {
  return std::visit(
      [&](auto target) -> std::optional<double> {
        using T = decltype(target);
        if constexpr (std::is_same_v<T, IntField> || std::is_same_v<T, UnsignedField> ||
                      std::is_same_v<T, Int64Field> || std::is_same_v<T, DoubleField>)
          return static_cast<double>(target(options));
        else return std::nullopt;
      },
      key.target);
}

std::optional<std::string> valueText(const ConfigKey& key, Options& options) {
  return std::visit(
      [&](auto target) -> std::optional<std::string> {
        using T = decltype(target);
        if constexpr (std::is_same_v<T, Parser>) return std::nullopt;
        else if constexpr (std::is_same_v<T, StringField>) return target(options);
        else if constexpr (std::is_same_v<T, BoolField>) return target(options) ? "true" : "false";
        else if constexpr (std::is_same_v<T, OptionalBoolField>) {
          if (!target(options)) return std::nullopt;
          return *target(options) ? "true" : "false";
        } else if constexpr (std::is_same_v<T, DoubleField>) return number(target(options));
        else return std::to_string(target(options));
      },
      key.target);
}

}  // namespace roomcast::app
