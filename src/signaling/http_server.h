// The libsoup 3 server: REST under /api/v1, WebSocket signaling under /ws/<room>, HLS under
// /hls/<room>/, the web client at /. Runs on the control context.
#pragma once

#include <libsoup/soup.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/room_manager.h"
#include "hls/hls_handler.h"
#include "hls/hls_responder.h"
#include "hls/listener_http.h"
#include "hls/owner_redirect.h"
#include "protocol/json.h"
#include "protocol/messages.h"
#include "signaling/admin_api.h"
#include "signaling/auth.h"
#include "signaling/connection_router.h"
#include "signaling/operator_auth.h"
#include "signaling/quotas.h"
#include "signaling/rest_forward.h"
#include "signaling/tls_credentials.h"
#include "signaling/ws_hub.h"

namespace roomcast::signaling {

// The request body as a bounded JSON object (application/json only): for the REST handlers.
core::Result<protocol::JsonNodePtr> parseJsonBody(SoupServerMessage* msg);

// One of /api/v1/health's checks: what it found, and why it failed.
struct HealthCheck {
  std::string name;    // "database", "rooms", "disk"
  bool ok = true;
  std::string detail;  // e.g. "database is locked", "12 MB free, below 64 MB"
};

struct HttpConfig {
  std::string listenHost = "127.0.0.1";
  int listenPort = 8080;
  std::string publicUrl;  // e.g. https://rooms.example.org; empty: from the request's Host
  std::string hlsRoot;    // <data-dir>/hls
  std::string webDir;     // data/web
  std::string hlsJsPath;  // node_modules/hls.js/dist/hls.min.js
  hls::Registry* hls = nullptr;  // live rooms' playlists and segments (borrowed)
  bool hlsListenerThread = true;  // connections that begin with an HLS request: ListenerHttp
  std::function<std::vector<core::Report>(const std::string& roomId)> reports;  // newest first
  std::vector<std::string> allowedOrigins;  // browser origins allowed besides our own ("*": any)
  // The archive (the store): recordings, newest first, and search by what was said.
  std::function<std::vector<core::RecordingRow>()> recordings;
  std::function<std::vector<core::TranscriptHit>(const std::string& words)> search;
  std::string recordingsDir;  // <data-dir>/recordings, served at /recordings/
  // On a cluster: the node URL of the node holding recording file `file` when it is another
  // node (a request for it is answered 307 there); "" otherwise.
  std::function<std::string(const std::string& file)> recordingHolder;
  ConnectionPolicy connections;  // deadlines and caps for client connections ([server])
  std::vector<std::string> mediaOrigins;  // where else the web app may play media from (S3 storage)
  const TlsCredentials* tls = nullptr;  // HTTPS and WSS on the port (borrowed); null: plain HTTP
  OperatorPolicy operators;  // [auth], [archive]: who creates rooms, reads the archive, administers
  std::function<core::Status(int64_t id)> deleteRecording;  // the admin API's (store and file)
  // /api/v1/health's checks (run on each request; cheap). None: always ok.
  std::function<std::vector<HealthCheck>()> health;
  // GET /api/v1/cluster (operators): answers later with a status and a JSON body. None: this
  // server is no node of a cluster (404 not_clustered).
  std::function<void(std::function<void(int status, std::string body)> reply)> cluster;
  // In a cluster: the node that owns a room not live here, when another (on the control thread;
  // see hls/owner_redirect.h). Its WebSocket is relayed there, its HLS redirected. None: one box.
  hls::OwnerOf ownerOf;
  // Rooms on other nodes (placement, the directory, forwarding); unset on a single box.
  ClusterRooms clusterRooms;
};

// The client's address for per-address quotas ("" for this host's own clients); see the .cpp.
std::string clientAddress(SoupServerMessage* msg);

class HttpServer {
 public:
  HttpServer(HttpConfig config, core::RoomManager& rooms, WsHub& hub, const TokenAuthority& auth);
  ~HttpServer();

  // Starts listening; returns the bound URL (useful with port 0).
  core::Result<std::string> listen();

 private:
  static void handleApi(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable*, gpointer self);
  static void handleHls(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable*, gpointer self);
  static void handleWeb(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable*, gpointer self);
  static void handleWebSocket(SoupServer*, SoupServerMessage* msg, const char* path, SoupWebsocketConnection* conn,
                              gpointer self);

  void createRoom(SoupServerMessage* msg);
  void createRoomHere(SoupServerMessage* msg);
  void listRooms(SoupServerMessage* msg);
  void getRoom(SoupServerMessage* msg, const std::string& roomId);
  void deleteRoom(SoupServerMessage* msg, const std::string& roomId);
  void issueToken(SoupServerMessage* msg, const std::string& roomId);
  void moderate(SoupServerMessage* msg, const std::string& roomId);
  void setRecording(SoupServerMessage* msg, const std::string& roomId);
  void startListening(SoupServerMessage* msg, const std::string& roomId);
  void listReports(SoupServerMessage* msg, const std::string& roomId);
  void listRecordings(SoupServerMessage* msg);
  void reportHealth(SoupServerMessage* msg);
  void reportCluster(SoupServerMessage* msg);
  // The cluster's side of the rooms' REST API (http_cluster_rooms.cpp).
  using RoomHandler = void (HttpServer::*)(SoupServerMessage*, const std::string&);
  bool clustered(SoupServerMessage* msg) const;
  void placeRoom(SoupServerMessage* msg);
  void listClusterRooms(SoupServerMessage* msg);
  void getDirectoryRoom(SoupServerMessage* msg, const std::string& roomId);
  bool forwardedToOwner(SoupServerMessage* msg, const std::string& roomId, RoomHandler handler);
  std::string localRoomsJson(SoupServerMessage* msg) const;
  static void handleRecordingFile(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable*, gpointer self);
  static void onRequestStarted(SoupServer*, SoupServerMessage* msg, gpointer self);
  bool originAllowed(SoupServerMessage* msg) const;
  bool crossSite(SoupServerMessage* msg) const;
  std::string ownOrigin(SoupServerMessage* msg) const;
  core::Status spend(SoupServerMessage* msg, TokenBucket AddressLimits::*bucket, const char* what);
  static void handleMetrics(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable*, gpointer self);
  core::Result<protocol::TokenClaims> bearerClaims(SoupServerMessage* msg, const std::string& roomId);
  core::Result<core::Actor> bearerActor(SoupServerMessage* msg, const std::string& roomId);
  protocol::RoomUrls urlsFor(SoupServerMessage* msg, const std::string& roomId) const;

  HttpConfig config_;
  core::RoomManager& rooms_;
  WsHub& hub_;
  const TokenAuthority& auth_;
  OperatorAuthority operators_;
  AdminApi admin_;
  KeyedLimits<AddressLimits> addressQuotas_;  // REST and WebSocket, by clientAddress()
  RoomListenerCounting listenerCounting_;
  hls::HlsResponder responder_;
  hls::HlsHandler hls_;
  SoupServer* server_;
  std::unique_ptr<hls::ListenerHttp> listener_;  // null with hlsListenerThread off
  std::unique_ptr<ConnectionRouter> router_;
  std::unique_ptr<WsRelay> relay_;  // with config_.ownerOf
  std::unique_ptr<RestForwarder> forwarder_;  // to other nodes; null on a single box
  std::string webPolicy_;  // the web app's Content-Security-Policy
};

}  // namespace roomcast::signaling
