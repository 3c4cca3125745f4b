// roomcastd: one GLib main loop owns the rooms, the HTTP/WebSocket server and every change to
// a room's pipeline. Streaming threads only post to it.
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cerrno>
#include <cstdio>
#include <memory>

#include "app/health.h"
#include "app/options.h"
#include "app/recording_uploads.h"
#include "app/service_notify.h"
#include "core/conversation.h"
#include "core/moderator.h"
#include "core/room_manager.h"
#include "hls/hls_room.h"
#include "media/debug.h"
#include "media/gst_media_backend.h"
#include "media/ogg_duration.h"
#include "protocol/moderation_policy.h"
#include "media/webrtc_util.h"
#include "roomcast-config.h"
#include "signaling/auth.h"
#include "hls/edge_log.h"
#include "signaling/http_server.h"
#include "signaling/ws_hub.h"
#include "store/database.h"

using namespace roomcast;

namespace {

std::string newRoomId() {
  // 10 characters from an unambiguous alphabet: ~50 bits, not guessable by enumeration.
  static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
  std::string id;
  for (int i = 0; i < 10; i++) id += alphabet[g_random_int_range(0, 32)];
  return id;
}

void loadRoomcastPlugin() {
  // The mixminus element lives in plugins/; find it in the build tree unless GST_PLUGIN_PATH
  // already points elsewhere.
  if (!gst_registry_find_feature(gst_registry_get(), "mixminus", GST_TYPE_ELEMENT_FACTORY))
    gst_registry_scan_path(gst_registry_get(), ROOMCAST_PLUGIN_DIR);
  // Installed under a prefix GStreamer does not search (/usr/local): the installed copy.
  if (!gst_registry_find_feature(gst_registry_get(), "mixminus", GST_TYPE_ELEMENT_FACTORY))
    gst_registry_scan_path(gst_registry_get(), ROOMCAST_INSTALLED_PLUGIN_DIR);
}

struct Shutdown {
  GMainLoop* loop;
  core::RoomManager* rooms;
  bool requested = false;
};

gboolean onTerminate(gpointer data) {
  auto* s = static_cast<Shutdown*>(data);
  if (s->requested) {
    g_main_loop_quit(s->loop);  // second signal: stop now
    return G_SOURCE_CONTINUE;
  }
  s->requested = true;
  app::notifyStopping();
  g_message("shutting down: finishing every room's outputs");
  // Finish outputs (ENDLIST, recording trailers); quit when the last room is done.
  const size_t live = s->rooms->rooms().size();
  if (live == 0) {
    g_main_loop_quit(s->loop);
    return G_SOURCE_CONTINUE;
  }
  auto* remaining = new size_t(live);
  for (const core::Room* room : s->rooms->rooms()) {
    (void)s->rooms->endRoom(room->info.id, "server shutting down", [s, remaining](auto&, auto&) {
      if (--*remaining == 0) {
        delete remaining;
        g_main_loop_quit(s->loop);
      }
    });
  }
  return G_SOURCE_CONTINUE;
}

// Every listener keeps a connection open: take all the descriptors we are allowed (the soft
// limit is often 1024, the hard one much higher).
void raiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) g_warning("cannot raise the open file limit: %s", g_strerror(errno));
}

// Takes group and other permissions away from a file or directory that has them.
void keepPrivate(const char* path, mode_t mode) {
  GStatBuf st;
  if (g_stat(path, &st) != 0 || (st.st_mode & 0777) == mode) return;
  if (g_chmod(path, mode) == 0)
    g_message("%s was mode %03o; now %03o", path, static_cast<unsigned>(st.st_mode & 0777), static_cast<unsigned>(mode));
  else
    g_warning("cannot make %s private (mode %03o): %s", path, static_cast<unsigned>(mode), g_strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  // GLib 2.74's slice allocator keeps every freed GObject-sized chunk in its per-thread
  // magazines for good: 20 000 WebSockets that came and went left about 10 MB resident (bench
  // soak). With plain malloc, freed memory goes back (below). GLib reads G_SLICE before main()
  // runs, so the process starts itself again with it set (same PID; on failure, on as it is).
  // Through the binary's real path, so that ps and top still say roomcastd, not exe.
  if (!getenv("G_SLICE") && setenv("G_SLICE", "always-malloc", 1) == 0) {
    char* self = realpath("/proc/self/exe", nullptr);
    execv(self ? self : "/proc/self/exe", argv);
    free(self);
  }
  // Every WebRTC peer brings its own threads (ICE, DTLS, queues), and glibc gives threads
  // their own malloc arenas, up to 8 per core: what long-lived objects keep in each of them
  // can pin the rest. Two arenas are plenty at audio rates. In one speakers-only soak run each
  // (bench soak, 500 sessions) resident growth was +5.0 % with two arenas against +5.4 %
  // without: within noise, so this is a cap on the worst case more than a measured gain.
  mallopt(M_ARENA_MAX, 2);
  raiseDescriptorLimit();
  gst_init(&argc, &argv);
  auto options = app::parseOptions(argc, argv);
  if (!options) {
    g_printerr("roomcastd: %s\n", options.error().message.c_str());
    return 2;
  }
  const app::Options& opt = options.value();
  // The certificate is checked before anything else starts: a bad one never leaves a server
  // half running (or running without the TLS it was told to use).
  std::unique_ptr<signaling::TlsCredentials> tls;
  if (!opt.tlsCert.empty()) {
    auto loaded = signaling::TlsCredentials::load(opt.tlsCert, opt.tlsKey);
    if (!loaded) {
      g_printerr("roomcastd: %s\n", loaded.error().message.c_str());
      return 2;
    }
    tls = std::move(loaded.value());
  }
  media::initDebugCategories();
  loadRoomcastPlugin();

  // The data dir holds the token secret, the database (chat, reports, who said what) and
  // evidence: for roomcastd's user alone, also when an earlier version left it readable.
  if (g_mkdir_with_parents(opt.dataDir.c_str(), 0700) != 0) {
    g_printerr("roomcastd: cannot create data dir %s\n", opt.dataDir.c_str());
    return 1;
  }
  keepPrivate(opt.dataDir.c_str(), 0700);
  g_autofree char* dbPath = g_build_filename(opt.dataDir.c_str(), "roomcast.db", nullptr);
  auto db = store::Database::open(dbPath);
  if (!db) {
    g_printerr("roomcastd: %s\n", db.error().message.c_str());
    return 1;
  }
  g_autofree char* secretPath = g_build_filename(opt.dataDir.c_str(), "secret", nullptr);
  keepPrivate(secretPath, 0600);
  std::string secret = opt.secret;
  if (secret.empty()) {
    auto loaded = signaling::loadOrCreateSecret(secretPath);
    if (!loaded) {
      g_printerr("roomcastd: %s\n", loaded.error().message.c_str());
      return 1;
    }
    secret = loaded.value();
  }

  // Recordings cut off by a crash (or a kill): the files play up to their last page; index
  // them with the length they have.
  for (const auto& row : db.value()->unfinishedRecordings()) {
    GStatBuf st;
    const bool exists = g_stat(row.path.c_str(), &st) == 0;
    const double seconds = exists ? media::oggOpusDurationSeconds(row.path).value_or(0) : 0;
    const int64_t endedMs = exists ? static_cast<int64_t>(st.st_mtime) * 1000 : row.startedAtMs;
    (void)db.value()->recordingStopped(row.path, endedMs, seconds, exists ? "recovered" : "failed",
                                 exists ? "cut off when roomcastd stopped; recovered at the next start"
                                        : "the file is missing");
    g_message("recording %s: %s, %.1f s", row.path.c_str(), exists ? "recovered" : "missing", seconds);
  }

  media::warmUpDtlsCertificate();
  GMainContext* context = g_main_context_default();
  GMainLoop* loop = g_main_loop_new(context, FALSE);

  // Live rooms' HLS: written by the media backend, served by the HTTP server.
  // About 6 s of audio in each live playlist (at least 3 target durations, RFC 8216 6.2.2).
  hls::Registry hlsRegistry(std::max(6u, 6000 / opt.hlsSegmentMs));
  media::MediaConfig mediaConfig;
  mediaConfig.hls = &hlsRegistry;
  mediaConfig.lowRendition = opt.lowRendition;
  mediaConfig.hlsSegmentMs = opt.hlsSegmentMs;
  mediaConfig.dataDir = opt.dataDir;
  mediaConfig.pipelinesDir = opt.pipelinesDir;
  mediaConfig.speaker.opusBitrate = opt.opusBitrate;
  mediaConfig.speaker.jitterLatencyMs = static_cast<unsigned>(opt.jitterLatencyMs);
  mediaConfig.mixerMaxWaitMs = static_cast<unsigned>(opt.mixerMaxWaitMs);
  mediaConfig.peerConnectDeadlineMs = static_cast<unsigned>(opt.iceDeadlineSeconds * 1000);
  mediaConfig.stunServer = opt.stunServer;
  mediaConfig.icePortMin = opt.icePortMin;
  mediaConfig.icePortMax = opt.icePortMax;
  mediaConfig.plainRtpBindHost = opt.plainRtpBind;
  mediaConfig.speaker.transcribe = opt.transcribe || opt.moderation;
  mediaConfig.evidenceQuotaBytes = static_cast<uint64_t>(opt.evidenceQuotaMb * 1024 * 1024);
  mediaConfig.evidenceRoomQuotaBytes = static_cast<uint64_t>(opt.evidenceRoomQuotaMb * 1024 * 1024);

  media::GstMediaBackend media(mediaConfig, context);

  signaling::TokenAuthority auth(secret);
  signaling::WsHub hub(auth);
  hub.setHelloTimeout(opt.connections.helloTimeoutSeconds);
  hub.setTurn(&opt.turn);
  store::Database& store = *db.value();
  core::Environment env;
  env.newRoomId = newRoomId;
  env.nowUnixMs = [] { return g_get_real_time() / 1000; };
  // A room that is not in the store would be missing from the archive and its recordings'
  // index: the client is told to retry instead (no 201 for a room that was not stored).
  env.roomCreated = [&store](const core::RoomInfo& info) -> core::Status {
    if (auto s = store.roomCreated(info); !s) {
      g_warning("store: room %s not created: %s", info.id.c_str(), s.error().message.c_str());
      return core::Error{core::ErrorCode::StoreUnavailable, "the room could not be stored; try again later"};
    }
    return core::Ok{};
  };
  core::Conversation* conversationOf = nullptr;  // set below; the chat of an ended room goes
  env.roomFinished = [&store, &conversationOf](const core::RoomInfo& info, const core::RoomMediaSummary& summary) {
    if (conversationOf) conversationOf->forgetRoom(info.id);
    const int64_t now = g_get_real_time() / 1000;
    if (auto s = store.roomEnded(info.id, now); !s) g_warning("store: %s", s.error().message.c_str());
    g_message("room %s ended%s%s", info.id.c_str(), summary.recordingPath.empty() ? "" : ", recorded to ",
              summary.recordingPath.c_str());
  };
  // Every recording file is indexed as it starts, so a crash leaves a row to recover.
  env.recordingStarted = [&store](const core::RoomInfo& room, const core::RecordingInfo& rec) {
    if (auto s = store.recordingStarted(room.id, room.title, rec.path, rec.startedAtMs); !s)
      g_warning("store: %s", s.error().message.c_str());
  };
  // Optional: finished recordings go on to S3 (the local copy stays until verified).
  std::unique_ptr<app::RecordingUploads> uploads;
  if (opt.s3.enabled()) {
    uploads = std::make_unique<app::RecordingUploads>(opt.s3, store, context);
    uploads->resumePending();  // what a previous run did not finish (recovered files too)
  }
  env.recordingStopped = [&store, &uploads](const std::string& roomId, const core::RecordingInfo& rec) {
    if (auto s = store.recordingStopped(rec.path, rec.endedAtMs, rec.seconds, rec.failed ? "failed" : "finished",
                                        rec.reason);
        !s)
      g_warning("store: %s", s.error().message.c_str());
    if (uploads && rec.seconds > 0) uploads->upload(rec.path, roomId);
  };
  // What speakers say: the transcript (searchable in the archive, unless they opted out of
  // the recording) and automated moderation.
  core::Moderator* moderator = nullptr;  // set below when moderation is on
  env.transcribed = [&store, &moderator](const core::RoomInfo& room, const core::Participant& p,
                                         const std::string& text, int64_t start, int64_t end) {
    if (!p.recordingOptOut)
      if (auto s = store.transcriptAdded({room.id, p.identity, p.name, text, start, end}); !s)
        g_warning("store: %s", s.error().message.c_str());
    if (moderator) moderator->onTranscript(room.id, p.identity, text, start, end);
  };
  // Grace timers are one-shot GLib timeouts on the control loop; nothing ticks while idle.
  env.schedule = [](unsigned ms, std::function<void()> fn) -> uint64_t {
    auto* task = new std::function<void()>(std::move(fn));
    return g_timeout_add_full(G_PRIORITY_DEFAULT, ms, [](gpointer p) -> gboolean {
      (*static_cast<std::function<void()>*>(p))();
      return G_SOURCE_REMOVE;
    }, task, [](gpointer p) { delete static_cast<std::function<void()>*>(p); });
  };
  env.cancel = [](uint64_t id) { g_source_remove(static_cast<guint>(id)); };
  env.newResumeToken = [] {
    g_autofree char* uuid = g_uuid_string_random();
    return std::string(uuid);
  };
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
  core::RoomManager rooms(media, hub, env, limits);
  hub.setRoomManager(&rooms);

  // Chat, reactions and reports, stored in the same SQLite file.
  core::ConversationEnvironment talk;
  talk.nowUnixMs = env.nowUnixMs;
  talk.schedule = env.schedule;
  talk.cancel = env.cancel;
  talk.chatPosted = [&store](const std::string& room, const core::ChatMessage& m) {
    if (auto s = store.chatPosted(room, m); !s) g_warning("store: %s", s.error().message.c_str());
  };
  talk.chatDeleted = [&store](const std::string& room, uint64_t id, int64_t at) {
    if (auto s = store.chatDeleted(room, id, at); !s) g_warning("store: %s", s.error().message.c_str());
  };
  talk.reportFiled = [&store](const core::Report& report) -> uint64_t {
    auto id = store.reportFiled(report);
    if (!id) g_warning("store: %s", id.error().message.c_str());
    return id ? id.value() : 0;
  };
  // Without evidence (no audio yet, a quota reached) the report or action is still kept.
  auto evidence = [&media](const std::string& roomId, const std::string& label) {
    auto path = media.keepEvidence(roomId, label);
    if (!path)
      g_message("room %s: %s kept without evidence: %s", roomId.c_str(), label.c_str(), path.error().message.c_str());
    return path ? path.value() : std::string();
  };
  talk.keepEvidence = evidence;
  core::Conversation conversation(rooms, hub, talk);
  std::unique_ptr<core::Moderator> automated;
  if (opt.moderation) {
    auto policy = protocol::loadModerationPolicy(opt.moderationPolicy);
    if (!policy) {
      g_printerr("roomcastd: %s (%s)\n", policy.error().message.c_str(), opt.moderationPolicy.c_str());
      return 1;
    }
    core::ModerationEnvironment menv;
    menv.nowUnixMs = env.nowUnixMs;
    menv.keepEvidence = evidence;
    menv.logged = [&store, now = env.nowUnixMs](const std::string& roomId, const core::ModerationAlert& alert) {
      g_message("moderation in %s: %s %s (%s, %s): \"%s\"", roomId.c_str(), alert.action.c_str(), alert.name.c_str(),
                alert.category.c_str(), alert.severity.c_str(), alert.snippet.c_str());
      if (auto s = store.moderationLogged(roomId, alert, now()); !s) g_warning("store: %s", s.error().message.c_str());
    };
    automated = std::make_unique<core::Moderator>(rooms, hub, std::move(policy.value()), menv);
    moderator = automated.get();
  }
  hub.setConversation(&conversation);
  conversationOf = &conversation;

  signaling::HttpConfig http;
  http.listenHost = opt.listenHost;
  http.listenPort = opt.listenPort;
  http.publicUrl = opt.publicUrl;
  g_autofree char* hlsRoot = g_build_filename(opt.dataDir.c_str(), "hls", nullptr);
  http.hlsRoot = hlsRoot;
  http.webDir = opt.webDir;
  http.hlsJsPath = opt.hlsJsPath;
  http.hls = &hlsRegistry;
  http.hlsListenerThread = opt.hlsListenerThread;
  http.allowedOrigins = opt.allowedOrigins;
  http.connections = opt.connections;
  http.reports = [&store](const std::string& roomId) { return store.reports(roomId, 500); };
  http.recordings = [&store] {
    auto rows = store.recordings(500);
    for (auto& r : rows) r.localFile = g_file_test(r.path.c_str(), G_FILE_TEST_IS_REGULAR);
    return rows;
  };
  http.search = [&store](const std::string& words) {
    auto hits = store.search(words, 50);
    for (auto& h : hits) h.recording.localFile = g_file_test(h.recording.path.c_str(), G_FILE_TEST_IS_REGULAR);
    return hits;
  };
  g_autofree char* recordingsDir = g_build_filename(opt.dataDir.c_str(), "recordings", nullptr);
  http.recordingsDir = recordingsDir;
  if (opt.s3.enabled()) http.mediaOrigins.push_back(opt.s3.endpoint);  // uploaded recordings play from there
  http.tls = tls.get();
  http.operators.apiKeys = opt.auth.apiKeys;
  http.operators.openRooms = opt.auth.openRooms.value_or(true);
  http.operators.archivePublic = opt.auth.archivePublic.value_or(true);
  http.operators.urlSecret = secret;
  http.deleteRecording = [&store](int64_t id) -> core::Status {
    auto path = store.deleteRecording(id);
    if (!path) return path.error();
    if (g_unlink(path.value().c_str()) != 0 && errno != ENOENT)
      g_warning("recording %s left out of the archive, but its file stays: %s", path.value().c_str(), g_strerror(errno));
    g_message("recording %s deleted by the operator", path.value().c_str());
    return core::Ok{};
  };
  if (!http.operators.openRooms && http.operators.apiKeys.empty())
    g_warning("[auth] open_rooms is off and no API key is set: nobody can create rooms (set [auth] api_key and "
              "api_secret)");
  app::HealthSources healthSources{&store, &media, opt.dataDir,
                                   static_cast<uint64_t>(opt.minFreeDiskMb * 1024 * 1024)};
  http.health = [healthSources] { return app::checkHealth(healthSources); };
  signaling::HttpServer server(http, rooms, hub, auth);
  auto url = server.listen();
  if (!url) {
    g_printerr("roomcastd: %s\n", url.error().message.c_str());
    return 1;
  }

  // Listeners served by the caching edge are counted from its log lines.
  signaling::RoomListenerCounting edgeListeners(auth, rooms);
  std::unique_ptr<hls::EdgeLogReceiver> edgeLog;
  if (!opt.edgeLogHost.empty()) {
    edgeLog = std::make_unique<hls::EdgeLogReceiver>(nullptr, edgeListeners);
    if (auto bound = edgeLog->bind(opt.edgeLogHost, opt.edgeLogPort); !bound) {
      g_printerr("roomcastd: %s\n", bound.error().message.c_str());
      return 1;
    }
    g_message("counting HLS listeners behind the edge from its log lines on udp %s:%d", opt.edgeLogHost.c_str(),
              opt.edgeLogPort);
  }

  Shutdown shutdown{loop, &rooms};
  g_unix_signal_add(SIGINT, onTerminate, &shutdown);
  g_unix_signal_add(SIGTERM, onTerminate, &shutdown);
  // SIGHUP: the certificate again (certbot renewals); a bad new pair keeps the old one serving.
  g_unix_signal_add(SIGHUP, [](gpointer t) -> gboolean {
    auto* credentials = static_cast<signaling::TlsCredentials*>(t);
    if (!credentials) {
      g_message("SIGHUP: nothing to reload (no TLS)");
    } else if (auto reloaded = credentials->reload(); !reloaded) {
      g_warning("SIGHUP: %s; still serving the previous certificate", reloaded.error().message.c_str());
    } else {
      g_message("SIGHUP: reloaded TLS certificate %s", credentials->certFile().c_str());
    }
    return G_SOURCE_CONTINUE;
  }, tls.get());
  g_unix_signal_add(SIGUSR1, [](gpointer m) -> gboolean {
    static_cast<media::GstMediaBackend*>(m)->dumpDotGraphs();
    return G_SOURCE_CONTINUE;
  }, &media);

  // Tests and scripts wait for this line (it carries the real port when --listen used port 0).
  g_printerr("roomcastd %s: listening on %s (data dir %s)\n", ROOMCAST_VERSION, url.value().c_str(),
             opt.dataDir.c_str());
  g_message("rooms: %s; archive and /metrics: %s; %zu API key(s)",
            http.operators.openRooms ? "anyone may create them" : "created with a room_create grant",
            http.operators.archivePublic ? "public" : "with the archive grant or a signed URL",
            http.operators.apiKeys.size());
  app::notifyReady("listening on " + url.value());
  app::startWatchdogPings(context);
  // glibc keeps what a burst of connections or peers freed (20 000 WebSockets: +10 MB resident,
  // for good); every few seconds the free pages go back to the system. A few milliseconds at
  // most, on the control thread, which does nothing time-critical for the audio.
  g_timeout_add_seconds(5, [](gpointer) -> gboolean {
    malloc_trim(0);
    return G_SOURCE_CONTINUE;
  }, nullptr);
  g_main_loop_run(loop);
  g_main_loop_unref(loop);
  return 0;
}
