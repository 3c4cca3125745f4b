// roomcastd's composition root. Its members are declared in the order they depend on each
// other, so C++ builds them in that order and takes them down in the reverse one: the store
// outlives everything that writes to it, the rooms outlive the servers that drive them. One
// GLib main loop (the control thread) owns the rooms, the HTTP/WebSocket server and every
// change to a room's pipeline; streaming threads only post to it.
#pragma once

#include <glib.h>

#include <memory>
#include <vector>

#include "app/cluster_archive.h"
#include "app/cluster_membership.h"
#include "app/cluster_rooms.h"
#include "app/daemon_inputs.h"
#include "app/options.h"
#include "app/recording_uploads.h"
#include "app/store_environment.h"
#include "core/conversation.h"
#include "core/moderator.h"
#include "core/room_manager.h"
#include "glib_support/source.h"
#include "hls/hls_room.h"
#include "media/gst_media_backend.h"
#include "signaling/auth.h"
#include "hls/edge_log.h"
#include "signaling/http_server.h"
#include "signaling/ws_hub.h"

namespace roomcast::app {

class Daemon {
 public:
  // Builds every component; nothing listens yet. `inputs` come from loadDaemonInputs().
  Daemon(const Options& options, DaemonInputs inputs);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Listens (HTTP/WebSocket, the edge's log lines), then handles signals and tells systemd
  // it is ready. On a failure roomcastd exits: taking the daemon down closes what was bound.
  core::Status start();
  // Runs the control loop until SIGTERM or SIGINT has ended every room; the exit code.
  int run();

 private:
  struct MainLoopUnref {
    void operator()(GMainLoop* loop) const { g_main_loop_unref(loop); }
  };

  // Named factories for the members below, in the same order.
  StoreEnvironment recoveredStore();
  std::unique_ptr<RecordingUploads> startUploads();
  std::unique_ptr<ClusterArchive> clusterArchive();
  core::Environment roomEnvironment();
  core::ConversationEnvironment conversationEnvironment();
  std::unique_ptr<core::Moderator> startModerator();
  signaling::HttpConfig httpConfig();
  std::unique_ptr<hls::EdgeLogReceiver> edgeLogReceiver();
  std::unique_ptr<ClusterMembership> clusterMembership();  // inputs_'s, told about the rooms

  // What the core's environments call back into (on the control thread, after construction).
  void roomFinished(const core::RoomInfo& room, const core::RoomMediaSummary& summary);
  core::Status reopenRoom(const std::string& record, const std::vector<std::string>& chat);
  void recordingStopped(const std::string& roomId, const core::RecordingInfo& recording);
  void transcribed(const core::RoomInfo& room, const core::Participant& speaker, const std::string& text,
                   int64_t startMs, int64_t endMs);
  std::string keepEvidence(const std::string& roomId, const std::string& label);
  void moderationLogged(const std::string& roomId, const core::ModerationAlert& alert);

  void handleSignals();
  static gboolean onTerminate(gpointer self);
  static gboolean onReloadTls(gpointer tls);
  static gboolean onDumpDotGraphs(gpointer media);

  const Options options_;  // a copy: components borrow parts of it (the TURN config)
  DaemonInputs inputs_;    // TLS, the store, the secret, the moderation policy
  StoreEnvironment store_;
  std::unique_ptr<RecordingUploads> uploads_;  // finished recordings to S3; null without [s3]
  std::unique_ptr<ClusterArchive> archive_;    // the archive shared through Redis; null on a single box
  std::unique_ptr<GMainLoop, MainLoopUnref> loop_;
  // A node of a cluster ([cluster] redis); null on a single box. Before the rooms: it outlives
  // their last release.
  std::unique_ptr<ClusterMembership> cluster_;
  hls::Registry hls_;  // live rooms' HLS: written by the media backend, served by the HTTP server
  media::GstMediaBackend media_;
  signaling::TokenAuthority auth_;
  signaling::WsHub hub_;
  ClusterRoomEvents roomEvents_;  // the hub, and the room's directory record on a cluster
  core::RoomManager rooms_;
  core::Conversation conversation_;               // chat, reactions and reports
  std::unique_ptr<core::Moderator> moderator_;    // automated moderation; null when off
  signaling::HttpServer server_;
  signaling::RoomListenerCounting edgeListeners_;       // who the edge's log lines may count
  std::unique_ptr<hls::EdgeLogReceiver> edgeLog_;      // listeners behind the edge; null when off
  std::vector<glib_support::Source> sources_;  // signal handlers and timers on the control loop
  bool shutdownRequested_ = false;
  size_t roomsFinishing_ = 0;  // after SIGTERM: rooms whose outputs are not finished yet
};

}  // namespace roomcast::app
