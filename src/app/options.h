// roomcastd's settings: built-in defaults, then the config file, then the command line.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "hls/defaults.h"
#include "signaling/connection_limits.h"
#include "signaling/turn_credentials.h"

namespace roomcast::app {

// [s3]: upload finished recordings (off while `endpoint` is empty).
struct S3Options {
  std::string endpoint;  // http(s)://host[:port]
  std::string bucket;
  std::string region = "us-east-1";
  std::string accessKey;
  std::string secretKey;
  std::string prefix = "recordings/";
  bool keepLocal = false;  // keep the data dir's copy after a verified upload
  int maxAttempts = 5;
  bool enabled() const { return !endpoint.empty(); }
};

// [auth] and [archive]: the operator's API keys, and what is open to anyone.
struct AuthOptions {
  std::map<std::string, std::string> apiKeys;  // API key -> secret (at least 32 bytes)
  // Unset in the config: open on a loopback bind only (the quick start), closed elsewhere.
  std::optional<bool> openRooms;
  std::optional<bool> archivePublic;
  // [auth] api_key and api_secret as the config file gives them; paired once it is read.
  std::optional<std::string> configApiKey, configApiSecret;
};

// [cluster]: several roomcastd nodes on one Redis (docs/cluster.md); off while `redis` is empty.
struct ClusterOptions {
  std::string redis;           // redis://HOST:PORT[/DB]
  std::string nodeUrl;         // how other nodes reach this one; default http(s)://<listen host>:<port>
  int leaseMs = 5000;          // node heartbeat and room lease TTL
  std::string onStartFailure = "exit";  // Redis unreachable at start: "exit" (status 1) or "standalone"
  bool enabled() const { return !redis.empty(); }
  bool standaloneOnFailure() const { return onStartFailure == "standalone"; }
};

struct Options {
  std::string listenHost = "127.0.0.1";
  int listenPort = 8080;
  std::string dataDir;       // default: $XDG_STATE_HOME/roomcast (~/.local/state/roomcast)
  std::string publicUrl;     // default: taken from each request's Host header
  // Defaults: run from the build tree, the source tree's pipelines/, data/web/ and
  // node_modules/hls.js/dist/hls.min.js; installed, <datadir>/roomcast/{pipelines,web,hls.js}.
  std::string pipelinesDir;
  std::string webDir;
  std::string hlsJsPath;
  // /api/v1/health fails below this much free space in the data dir ([server] min_free_disk_mb).
  double minFreeDiskMb = 64;
  std::string secret;        // default: generated into <data-dir>/secret at first start
  std::string tlsCert;       // [server] tls_cert: PEM certificate (chain); with tlsKey, HTTPS and WSS
  std::string tlsKey;        // [server] tls_key: its PEM private key
  int opusBitrate = 32000;
  int jitterLatencyMs = 20;
  int mixerMaxWaitMs = 18;
  double iceDeadlineSeconds = 15;  // a WebRTC peer not connected (ICE and DTLS) by then is closed
  bool plainRtp = false;                // plain-RTP speakers (benchmarks, trusted SIP-like peers)
  std::string plainRtpBind = "127.0.0.1";
  std::vector<std::string> allowedOrigins;  // browser origins allowed to open WebSockets, besides our own
  bool transcribe = false;             // speech recognition per speaker (transcripts, search)
  bool moderation = false;             // automated moderation (needs, and turns on, transcription)
  std::string moderationPolicy;        // default: data/moderation/policy.json
  double evidenceQuotaMb = 256;        // [moderation] evidence_max_mb: all report/moderation evidence
  double evidenceRoomQuotaMb = 32;     // [moderation] evidence_room_max_mb: one room's
  bool lowRendition = true;            // HLS: a second rendition at 24 kbps in the master playlist
  unsigned hlsSegmentMs = hls::kDefaultSegmentMs;  // HLS: segment length (the target duration stays 1 s)
  bool hlsListenerThread = true;       // HLS: players' connections served on their own thread
  std::string stunServer;              // [media] stun_server: stun://HOST:PORT for webrtcbin, "" none
  unsigned icePortMin = 0, icePortMax = 0;  // [media] ice_port_range: the server's ICE UDP ports (0: any)
  signaling::TurnConfig turn;          // [turn]: TURN URLs and the REST API secret handed to clients
  std::string edgeLogHost;             // HLS: count listeners from the edge's syslog lines (UDP), off if empty
  int edgeLogPort = 0;
  double listenerIdleSeconds = 10;     // an HLS listener not seen this long is no longer counted
  S3Options s3;
  int maxSpeakers = 16;
  int maxRaisedHands = 100;    // hands up at once in a room
  int maxPrewarmedPeers = 8;   // WebRTC sessions of raised hands waiting for promotion, per room
  int maxRooms = 100;
  double reconnectGraceSeconds = 20;  // a dropped speaker keeps role and slot this long
  double emptyTimeoutSeconds = 300;   // [room] empty_timeout_s: a room with nobody on stage ends (0: never)
  double maxDurationSeconds = 0;      // [room] max_duration_s: every room ends this long after creation (0: never)
  AuthOptions auth;
  ClusterOptions cluster;
  signaling::ConnectionPolicy connections;  // [server] client connection deadlines and caps
};

// Whether roomcastd listening on `host` is reachable from this machine only.
bool isLoopbackHost(const std::string& host);

// Parses argv (and the --config file it names). Exits the process for --help/--version.
core::Result<Options> parseOptions(int argc, char** argv);

}  // namespace roomcast::app
