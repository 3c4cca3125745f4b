#include "app/daemon.h"

#include <glib-unix.h>
#include <gst/gst.h>
#include <malloc.h>

#include <algorithm>
#include <csignal>

#include "app/health.h"
#include "app/loop_environment.h"
#include "app/service_notify.h"
#include "cluster/room_snapshot.h"
#include "media/debug.h"
#include "media/webrtc_util.h"
#include "roomcast-config.h"

namespace roomcast::app {

namespace {

void loadRoomcastPlugin() {
  // The mixminus element lives in plugins/; find it in the build tree unless GST_PLUGIN_PATH
  // already points elsewhere.
  if (!gst_registry_find_feature(gst_registry_get(), "mixminus", GST_TYPE_ELEMENT_FACTORY))
    gst_registry_scan_path(gst_registry_get(), ROOMCAST_PLUGIN_DIR);
  // Installed under a prefix GStreamer does not search (/usr/local): the installed copy.
  if (!gst_registry_find_feature(gst_registry_get(), "mixminus", GST_TYPE_ELEMENT_FACTORY))
    gst_registry_scan_path(gst_registry_get(), ROOMCAST_INSTALLED_PLUGIN_DIR);
}

// Readies GStreamer for rooms (our debug categories, the mixminus plugin, a DTLS certificate
// made ahead of the first peer); returns the control loop's context.
GMainContext* readyMediaRuntime() {
  media::initDebugCategories();
  loadRoomcastPlugin();
  media::warmUpDtlsCertificate();
  return g_main_context_default();
}

media::MediaConfig mediaConfig(const Options& opt, hls::Registry& hls) {
  media::MediaConfig config;
  config.hls = &hls;
  config.lowRendition = opt.lowRendition;
  config.hlsSegmentMs = opt.hlsSegmentMs;
  config.dataDir = opt.dataDir;
  config.pipelinesDir = opt.pipelinesDir;
  config.speaker.opusBitrate = opt.opusBitrate;
  config.speaker.jitterLatencyMs = static_cast<unsigned>(opt.jitterLatencyMs);
  config.mixerMaxWaitMs = static_cast<unsigned>(opt.mixerMaxWaitMs);
  config.peerConnectDeadlineMs = static_cast<unsigned>(opt.iceDeadlineSeconds * 1000);
  config.stunServer = opt.stunServer;
  config.icePortMin = opt.icePortMin;
  config.icePortMax = opt.icePortMax;
  config.plainRtpBindHost = opt.plainRtpBind;
  config.speaker.transcribe = opt.transcribe || opt.moderation;
  config.evidenceQuotaBytes = static_cast<uint64_t>(opt.evidenceQuotaMb * 1024 * 1024);
  config.evidenceRoomQuotaBytes = static_cast<uint64_t>(opt.evidenceRoomQuotaMb * 1024 * 1024);
  return config;
}

core::RoomLimits roomLimits(const Options& opt) {
  core::RoomLimits limits;
  limits.reconnectGraceMs = static_cast<unsigned>(opt.reconnectGraceSeconds * 1000);
  limits.maxSpeakers = static_cast<size_t>(opt.maxSpeakers);
  limits.maxRaisedHands = static_cast<size_t>(opt.maxRaisedHands);
  limits.maxPrewarmedPeers = static_cast<size_t>(opt.maxPrewarmedPeers);
  limits.maxRooms = static_cast<size_t>(opt.maxRooms);
  limits.allowPlainRtp = opt.plainRtp;
  limits.listenerIdleMs = static_cast<unsigned>(opt.listenerIdleSeconds * 1000);
  limits.emptyTimeoutMs = static_cast<unsigned>(opt.emptyTimeoutSeconds * 1000);
  limits.maxDurationMs = static_cast<unsigned>(opt.maxDurationSeconds * 1000);
  return limits;
}

std::string dataPath(const Options& opt, const char* name) {
  g_autofree char* path = g_build_filename(opt.dataDir.c_str(), name, nullptr);
  return path;
}

int64_t nowUnixMs() { return g_get_real_time() / 1000; }

}  // namespace

Daemon::Daemon(const Options& options, DaemonInputs inputs)
    : options_(options),
      inputs_(std::move(inputs)),
      store_(recoveredStore()),
      uploads_(startUploads()),
      archive_(clusterArchive()),
      loop_(g_main_loop_new(g_main_context_default(), FALSE)),
      cluster_(clusterMembership()),
      // About 6 s of audio in each live playlist (at least 3 target durations, RFC 8216 6.2.2).
      hls_(std::max(6u, 6000 / options_.hlsSegmentMs)),
      media_(mediaConfig(options_, hls_), readyMediaRuntime()),
      auth_(inputs_.secret),
      hub_(auth_),
      roomEvents_(hub_, cluster_.get(), g_main_context_default()),
      rooms_(media_, roomEvents_, roomEnvironment(), roomLimits(options_)),
      // Through roomEvents_ (which passes everything on to the hub): in a cluster, chat is kept
      // in Redis from there.
      conversation_(rooms_, roomEvents_, conversationEnvironment()),
      moderator_(startModerator()),
      server_(httpConfig(), rooms_, hub_, auth_),
      edgeListeners_(auth_, rooms_),
      edgeLog_(edgeLogReceiver()) {
  // The hub delivers room events and hands client requests to the rooms and the conversation,
  // which deliver their events through it: it learns of them once they exist.
  hub_.setHelloTimeout(options_.connections.helloTimeoutSeconds);
  hub_.setTurn(&options_.turn);
  hub_.setRoomManager(&rooms_);
  hub_.setConversation(&conversation_);
  roomEvents_.setRooms(&rooms_);
}

Daemon::~Daemon() {
  // The handlers point at this object; everything else goes in the members' reverse order.
  sources_.clear();
}

// The store as a crash left it: recordings cut off are indexed before anything else runs.
StoreEnvironment Daemon::recoveredStore() {
  StoreEnvironment store(*inputs_.store);
  // On a cluster, what recovery writes is shared too, once the node has joined.
  if (options_.cluster.enabled()) inputs_.store->holdArchiveFacts();
  store.recoverUnfinishedRecordings();
  return store;
}

std::unique_ptr<RecordingUploads> Daemon::startUploads() {
  if (!options_.s3.enabled()) return nullptr;
  auto uploads = std::make_unique<RecordingUploads>(options_.s3, *inputs_.store, g_main_context_default());
  uploads->resumePending();  // what a previous run did not finish (recovered files too)
  return uploads;
}

std::unique_ptr<ClusterArchive> Daemon::clusterArchive() {
  if (!options_.cluster.enabled()) return nullptr;
  auto url = cluster::parseRedisUrl(options_.cluster.redis);  // checked with the options
  return url ? std::make_unique<ClusterArchive>(url.value(), *inputs_.store, g_main_context_default()) : nullptr;
}

core::Environment Daemon::roomEnvironment() {
  core::Environment env = loopEnvironment();
  env.roomCreated = [this](const core::RoomInfo& room) {
    auto kept = store_.roomCreated(room);
    if (kept && cluster_) cluster_->roomOpened(room.id);  // leased to this node
    if (kept) roomEvents_.changed(room.id);                // and in the directory
    return kept;
  };
  env.roomFinished = [this](const core::RoomInfo& room, const core::RoomMediaSummary& summary) {
    roomFinished(room, summary);
  };
  env.recordingStarted = [this](const core::RoomInfo& room, const core::RecordingInfo& recording) {
    store_.recordingStarted(room, recording);
  };
  env.recordingStopped = [this](const std::string& roomId, const core::RecordingInfo& recording) {
    recordingStopped(roomId, recording);
  };
  env.transcribed = [this](const core::RoomInfo& room, const core::Participant& speaker, const std::string& text,
                           int64_t startMs, int64_t endMs) { transcribed(room, speaker, text, startMs, endMs); };
  return env;
}

core::ConversationEnvironment Daemon::conversationEnvironment() {
  const core::Environment loop = loopEnvironment();
  core::ConversationEnvironment env;
  env.nowUnixMs = loop.nowUnixMs;
  env.schedule = loop.schedule;
  env.cancel = loop.cancel;
  store_.provideTo(env);
  env.keepEvidence = [this](const std::string& roomId, const std::string& label) {
    return keepEvidence(roomId, label);
  };
  return env;
}

std::unique_ptr<core::Moderator> Daemon::startModerator() {
  if (!inputs_.moderationPolicy) return nullptr;
  core::ModerationEnvironment env;
  env.nowUnixMs = nowUnixMs;
  env.keepEvidence = [this](const std::string& roomId, const std::string& label) {
    return keepEvidence(roomId, label);
  };
  env.logged = [this](const std::string& roomId, const core::ModerationAlert& alert) {
    moderationLogged(roomId, alert);
  };
  return std::make_unique<core::Moderator>(rooms_, hub_, std::move(*inputs_.moderationPolicy), env);
}

signaling::HttpConfig Daemon::httpConfig() {
  signaling::HttpConfig http;
  http.listenHost = options_.listenHost;
  http.listenPort = options_.listenPort;
  http.publicUrl = options_.publicUrl;
  http.hlsRoot = dataPath(options_, "hls");
  http.webDir = options_.webDir;
  http.hlsJsPath = options_.hlsJsPath;
  http.hls = &hls_;
  http.hlsListenerThread = options_.hlsListenerThread;
  http.allowedOrigins = options_.allowedOrigins;
  http.connections = options_.connections;
  http.reports = [this](const std::string& roomId) { return store_.reports(roomId); };
  http.recordings = [this] { return store_.recordings(); };
  http.search = [this](const std::string& words) { return store_.search(words); };
  http.deleteRecording = [this](int64_t id) { return store_.deleteRecording(id); };
  if (options_.cluster.enabled())
    http.recordingHolder = [this](const std::string& file) { return inputs_.store->recordingHolder(file); };
  http.recordingsDir = dataPath(options_, "recordings");
  if (options_.s3.enabled()) http.mediaOrigins.push_back(options_.s3.endpoint);  // uploaded recordings play there
  http.tls = inputs_.tls.get();
  http.operators.apiKeys = options_.auth.apiKeys;
  http.operators.openRooms = options_.auth.openRooms.value_or(true);
  http.operators.archivePublic = options_.auth.archivePublic.value_or(true);
  http.operators.urlSecret = inputs_.secret;
  if (!http.operators.openRooms && http.operators.apiKeys.empty())
    g_warning("[auth] open_rooms is off and no API key is set: nobody can create rooms (set [auth] api_key and "
              "api_secret)");
  HealthSources health{inputs_.store.get(), &media_, options_.dataDir,
                       static_cast<uint64_t>(options_.minFreeDiskMb * 1024 * 1024)};
  http.health = [health] { return checkHealth(health); };
  if (cluster_) {
    http.cluster = [this](auto reply) { cluster_->status(std::move(reply)); };
    http.ownerOf = [this](const std::string& roomId, auto done) { cluster_->ownerElsewhere(roomId, std::move(done)); };
    http.clusterRooms = clusterRooms(*cluster_);
  }
  return http;
}

// Rooms and speakers for the heartbeat come from the rooms themselves.
std::unique_ptr<ClusterMembership> Daemon::clusterMembership() {
  if (!inputs_.cluster) return nullptr;
  ClusterMembership::Hooks hooks;
  hooks.load = [this] {
    cluster::NodeLoad load;
    for (const core::Room* room : rooms_.rooms()) {
      load.rooms++;
      load.speakers += room->speakerCount();
    }
    return load;
  };
  hooks.endRoom = [this](const std::string& roomId, const std::string& reason) {
    (void)rooms_.endRoom(roomId, reason);
  };
  hooks.reopenRoom = [this](const std::string& record, const std::vector<std::string>& chat) {
    return reopenRoom(record, chat);
  };
  inputs_.cluster->setHooks(std::move(hooks));
  return std::move(inputs_.cluster);
}

// Failover: a room whose node died, reopened here as it was, with its chat.
core::Status Daemon::reopenRoom(const std::string& record, const std::vector<std::string>& chat) {
  auto snapshot = cluster::decodeRoomSnapshot(record);
  if (!snapshot) return snapshot.error();
  if (auto restored = rooms_.restoreRoom(snapshot.value()); !restored) return restored.error();
  std::vector<core::ChatMessage> messages;
  const size_t maxBytes = cluster_->chatLog().maxEntryBytes();
  for (const std::string& json : chat)
    if (auto message = cluster::decodeChatMessage(json, maxBytes)) messages.push_back(std::move(message.value()));
  conversation_.seedHistory(snapshot->info.id, std::move(messages));
  return core::Ok{};
}

// Listeners served by the caching edge are counted from its log lines.
std::unique_ptr<hls::EdgeLogReceiver> Daemon::edgeLogReceiver() {
  if (options_.edgeLogHost.empty()) return nullptr;
  return std::make_unique<hls::EdgeLogReceiver>(nullptr, edgeListeners_);
}

void Daemon::roomFinished(const core::RoomInfo& room, const core::RoomMediaSummary& summary) {
  conversation_.forgetRoom(room.id);  // the chat of an ended room goes
  if (cluster_) cluster_->roomEnded(room.id);
  store_.roomEnded(room.id, nowUnixMs());
  g_message("room %s ended%s%s", room.id.c_str(), summary.recordingPath.empty() ? "" : ", recorded to ",
            summary.recordingPath.c_str());
}

void Daemon::recordingStopped(const std::string& roomId, const core::RecordingInfo& recording) {
  store_.recordingStopped(recording);
  if (uploads_ && recording.seconds > 0) uploads_->upload(recording.path, roomId);
}

// What speakers say: the transcript (the store's) and automated moderation.
void Daemon::transcribed(const core::RoomInfo& room, const core::Participant& speaker, const std::string& text,
                         int64_t startMs, int64_t endMs) {
  store_.transcribed(room, speaker, text, startMs, endMs);
  if (moderator_) moderator_->onTranscript(room.id, speaker.identity, text, startMs, endMs);
}

// Without evidence (no audio yet, a quota reached) the report or action is still kept.
std::string Daemon::keepEvidence(const std::string& roomId, const std::string& label) {
  auto path = media_.keepEvidence(roomId, label);
  if (!path)
    g_message("room %s: %s kept without evidence: %s", roomId.c_str(), label.c_str(), path.error().message.c_str());
  return path ? path.value() : std::string();
}

void Daemon::moderationLogged(const std::string& roomId, const core::ModerationAlert& alert) {
  g_message("moderation in %s: %s %s (%s, %s): \"%s\"", roomId.c_str(), alert.action.c_str(), alert.name.c_str(),
            alert.category.c_str(), alert.severity.c_str(), alert.snippet.c_str());
  store_.moderationLogged(roomId, alert, nowUnixMs());
}

core::Status Daemon::start() {
  auto url = server_.listen();
  if (!url) return url.error();
  if (cluster_)
    if (auto joined = cluster_->join(url.value()); !joined) return joined;
  if (archive_ && cluster_) archive_->start(cluster_->nodeUrl());
  if (edgeLog_) {
    if (auto bound = edgeLog_->bind(options_.edgeLogHost, options_.edgeLogPort); !bound) return bound.error();
    g_message("counting HLS listeners behind the edge from its log lines on udp %s:%d", options_.edgeLogHost.c_str(),
              options_.edgeLogPort);
  }
  handleSignals();
  // Tests and scripts wait for this line (it carries the real port when --listen used port 0).
  g_printerr("roomcastd %s: listening on %s (data dir %s)\n", ROOMCAST_VERSION, url.value().c_str(),
             options_.dataDir.c_str());
  const bool openRooms = options_.auth.openRooms.value_or(true);
  const bool archivePublic = options_.auth.archivePublic.value_or(true);
  g_message("rooms: %s; archive and /metrics: %s; %zu API key(s)",
            openRooms ? "anyone may create them" : "created with a room_create grant",
            archivePublic ? "public" : "with the archive grant or a signed URL", options_.auth.apiKeys.size());
  notifyReady("listening on " + url.value());
  if (auto watchdog = startWatchdogPings(g_main_context_default()); watchdog.pending())
    sources_.push_back(std::move(watchdog));
  // glibc keeps what a burst of connections or peers freed (20 000 WebSockets: +10 MB resident,
  // for good); every few seconds the free pages go back to the system. A few milliseconds at
  // most, on the control thread, which does nothing time-critical for the audio.
  sources_.push_back(glib_support::Source::timeoutSeconds(nullptr, 5, [](gpointer) -> gboolean {
    malloc_trim(0);
    return G_SOURCE_CONTINUE;
  }, nullptr));
  return core::Ok{};
}

int Daemon::run() {
  g_main_loop_run(loop_.get());
  return 0;
}

void Daemon::handleSignals() {
  auto onSignal = [this](int signum, GSourceFunc handler, gpointer data) {
    sources_.push_back(glib_support::Source::attach(g_unix_signal_source_new(signum), nullptr, handler, data));
  };
  onSignal(SIGINT, onTerminate, this);
  onSignal(SIGTERM, onTerminate, this);
  // SIGHUP: the certificate again (certbot renewals); a bad new pair keeps the old one serving.
  onSignal(SIGHUP, onReloadTls, inputs_.tls.get());
  onSignal(SIGUSR1, onDumpDotGraphs, &media_);
}

gboolean Daemon::onTerminate(gpointer self) {
  auto* daemon = static_cast<Daemon*>(self);
  if (daemon->shutdownRequested_) {
    g_main_loop_quit(daemon->loop_.get());  // second signal: stop now
    return G_SOURCE_CONTINUE;
  }
  daemon->shutdownRequested_ = true;
  notifyStopping();
  g_message("shutting down: finishing every room's outputs");
  // Finish outputs (ENDLIST, recording trailers); quit when the last room is done.
  daemon->roomsFinishing_ = daemon->rooms_.rooms().size();
  if (daemon->roomsFinishing_ == 0) {
    g_main_loop_quit(daemon->loop_.get());
    return G_SOURCE_CONTINUE;
  }
  for (const core::Room* room : daemon->rooms_.rooms()) {
    (void)daemon->rooms_.endRoom(room->info.id, "server shutting down", [daemon](auto&, auto&) {
      if (--daemon->roomsFinishing_ == 0) g_main_loop_quit(daemon->loop_.get());
    });
  }
  return G_SOURCE_CONTINUE;
}

gboolean Daemon::onReloadTls(gpointer tls) {
  auto* credentials = static_cast<signaling::TlsCredentials*>(tls);
  if (!credentials) {
    g_message("SIGHUP: nothing to reload (no TLS)");
  } else if (auto reloaded = credentials->reload(); !reloaded) {
    g_warning("SIGHUP: %s; still serving the previous certificate", reloaded.error().message.c_str());
  } else {
    g_message("SIGHUP: reloaded TLS certificate %s", credentials->certFile().c_str());
  }
  return G_SOURCE_CONTINUE;
}

gboolean Daemon::onDumpDotGraphs(gpointer media) {
  static_cast<media::GstMediaBackend*>(media)->dumpDotGraphs();
  return G_SOURCE_CONTINUE;
}

}  // namespace roomcast::app
