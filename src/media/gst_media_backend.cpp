#include "media/gst_media_backend.h"

#include <glib/gstdio.h>

#include <algorithm>
#include <cstring>

#include "glib_support/owned_data.h"
#include "glib_support/post_to_context.h"
#include "media/debug.h"
#include "media/rtp_transport.h"
#include "media/webrtc_transport.h"
#include "media/webrtc_util.h"

#define GST_CAT_DEFAULT roomcast_room_debug

namespace roomcast::media {


using core::Error;
using core::ErrorCode;

GstMediaBackend::GstMediaBackend(MediaConfig config, GMainContext* context)
    : config_(std::move(config)), context_(context) {
  initDebugCategories();
}

GstMediaBackend::~GstMediaBackend() {
  alive_.reset();
  // Speakers being flushed live in their rooms' pipelines: they go first.
  for (auto& [serial, flushing] : flushing_) flushing.deadline.reset();
  flushing_.clear();
  finishAfterFlush_.clear();
  for (auto& [id, room] : rooms_) room.peers.clear();
  rooms_.clear();
  finishing_.clear();
}

core::Status GstMediaBackend::startRoom(const core::RoomMediaConfig& room) {
  if (rooms_.count(room.roomId)) return Error{ErrorCode::Conflict, "room media already started"};
  RoomPipelineConfig config;
  config.roomId = room.roomId;
  config.pipelinesDir = config_.pipelinesDir;
  config.context = context_;
  config.opusBitrate = config_.speaker.opusBitrate;
  config.mixerMaxWaitMs = config_.mixerMaxWaitMs;
  config.lowRendition = config_.lowRendition;
  config.hlsSegmentMs = config_.hlsSegmentMs;
  if (const std::string hlsDir = hlsDirFor(room.roomId); g_mkdir_with_parents(hlsDir.c_str(), 0755) != 0)
    return Error{ErrorCode::Internal, "cannot create " + hlsDir};
  const std::string roomId = room.roomId;
  std::weak_ptr<int> alive = alive_;
  RoomPipeline::Handlers handlers;
  handlers.onError = [this, alive, roomId](const std::string& child, const std::string& msg) {
    if (!alive.expired()) onPipelineError(roomId, child, msg);
  };
  handlers.onLevels = [this, alive, roomId](const std::vector<RoomPipeline::InputLevel>& levels) {
    if (!alive.expired()) onLevels(roomId, levels);
  };
  handlers.onSegmentClosed = [this, alive, roomId](const RoomPipeline::SegmentClosed& closed) {
    if (!alive.expired()) onSegmentClosed(roomId, closed);
  };
  handlers.onRecognized = [this, alive, roomId](const std::string& element, const std::string& text, bool final) {
    if (!alive.expired()) onRecognized(roomId, element, text, final);
  };
  handlers.onRecognizerFlushed = [this, alive, roomId](const std::string& element) {
    if (!alive.expired()) onRecognizerFlushed(roomId, element);
  };
  handlers.onRecordingFailed = [this, alive, roomId](const std::string& message) {
    if (!alive.expired()) onRecordingFailed(roomId, message);
  };
  handlers.onHlsFailed = [this, alive, roomId](const std::string& rendition, const std::string& message) {
    if (!alive.expired()) onHlsFailed(roomId, rendition, message);
  };
  handlers.onHlsRestarted = [this, alive, roomId](const std::string& rendition) {
    if (!alive.expired()) onHlsRestarted(roomId, rendition);
  };
  openHls(room, config);
  auto pipeline = RoomPipeline::start(config, std::move(handlers));
  if (!pipeline) {
    if (config_.hls) config_.hls->close(room.roomId);
    return pipeline.error();
  }
  LiveRoom& live = rooms_[roomId] = LiveRoom{std::move(pipeline.value()), {}, g_get_monotonic_time(), {}, {}};
  if (room.record) {
    live.recording.wanted = true;
    if (auto started = beginRecording(roomId, live); !started)
      GST_WARNING("room %s: not recording: %s", roomId.c_str(), started.error().message.c_str());
  }
  return core::Ok{};
}

void GstMediaBackend::stopRoom(const std::string& roomId, StopDone done) {
  auto it = rooms_.find(roomId);
  if (it == rooms_.end()) {
    if (done) done({});
    return;
  }
  LiveRoom room = std::move(it->second);
  rooms_.erase(it);
  room.recordingRetry.reset();
  // Every speaker leaves the mix now (their mixer pads are released before the mix ends);
  // the room's outputs finish once their recognizers have committed their last words.
  auto peers = std::move(room.peers);

  core::RoomMediaSummary summary;
  summary.recordingPath = room.recording.path;
  const Recording recording = room.recording;
  RoomPipeline* pipeline = room.pipeline.get();
  finishing_[roomId] = std::move(room.pipeline);
  std::weak_ptr<int> alive = alive_;
  // Ends the program (ENDLIST, the recording's trailer) once no speaker's words are pending.
  auto finish = [this, alive, pipeline, roomId, summary, recording, done]() mutable {
    pipeline->finish(config_.finishDeadlineMs, [this, alive, roomId, summary, recording, done](bool clean) mutable {
      if (alive.expired()) return;
      summary.cleanEnd = clean;
      // The mixer's EOS finished the recording file too.
      if (!recording.path.empty()) {
        auto info = finishedRecording(recording, false, "the room ended");
        summary.recordedSeconds = info.seconds;
        if (observer_) observer_->onRecordingStopped(roomId, info);
      }
      // Every segment is closed now: the playlists get their ENDLIST, and once their copies
      // are on disk the room is served from the files (until then, from memory).
      if (hls::Room* hlsRoom = config_.hls ? config_.hls->find(roomId) : nullptr) {
        hlsRoom->end();
        writePlaylists(roomId, *hlsRoom);
        diskWriter_.post([this, alive, roomId, context = context_] {
          glib_support::postToContext(context, [this, alive, roomId] {
            hls::Room* ended = !alive.expired() && config_.hls ? config_.hls->find(roomId) : nullptr;
            if (ended && ended->ended()) config_.hls->close(roomId);  // not a room opened since
          });
        });
      }
      // Destroy the pipeline from an idle callback: we are inside its bus watch.
      glib_support::postToContext(
          context_,
          [this, roomId, summary, done]() {
            finishing_.erase(roomId);
            if (done) done(summary);
          },
          G_PRIORITY_DEFAULT_IDLE);
    });
  };
  finishAfterFlush_[roomId] = std::move(finish);
  for (auto& [peerId, live] : peers) retirePeer(roomId, peerId, std::move(live));
  // No speaker had words to flush: the room finishes now.
  auto waiting = finishAfterFlush_.find(roomId);
  const bool flushing = std::any_of(flushing_.begin(), flushing_.end(), [&](auto& f) { return f.second.roomId == roomId; });
  if (waiting != finishAfterFlush_.end() && !flushing) {
    auto run = std::move(waiting->second);
    finishAfterFlush_.erase(waiting);
    run();
  }
}

core::Status GstMediaBackend::startPeer(const std::string& roomId, const std::string& peerId,
                                        std::unique_ptr<PeerTransport> transport, const PeerKey& key,
                                        int payloadType, bool mixed) {
  auto it = rooms_.find(roomId);
  if (it == rooms_.end()) return Error{ErrorCode::NotFound, "room has no media"};
  // A new offer replaces the session: the old one ends as any other does.
  if (auto old = it->second.peers.find(peerId); old != it->second.peers.end()) {
    LivePeer previous = std::move(old->second);
    it->second.peers.erase(old);
    retirePeer(roomId, peerId, std::move(previous));
  }
  RoomPipeline& pipeline = *it->second.pipeline;
  RoomTaps taps{pipeline.bin(), pipeline.mixer(), pipeline.programOpus(), pipeline.sharedListeners(),
                pipeline.directReturns()};
  auto peer = std::make_unique<SpeakerPeer>(taps, "peer-" + peerId + "-" + std::to_string(key.serial), config_.speaker);
  if (auto started = peer->start(std::move(transport), payloadType, mixed); !started) return started.error();
  it->second.peers[peerId] = LivePeer{std::move(peer), key.serial};
  return core::Ok{};
}

core::Status GstMediaBackend::acceptOffer(const std::string& roomId, const std::string& peerId,
                                          const std::string& sdp, bool mixed) {
  if (!rooms_.count(roomId)) return Error{ErrorCode::NotFound, "room has no media"};
  GstSDPMessage* offer = parseSdp(sdp);
  if (!offer) return Error{ErrorCode::MediaError, "the offer is not valid SDP"};
  auto payloadType = checkAudioOffer(offer);
  if (!payloadType) {
    gst_sdp_message_free(offer);
    return payloadType.error();
  }
  dropSsrcAttributes(offer);
  PeerKey key{roomId, peerId, nextSerial_++};
  auto transport =
      std::make_unique<WebRtcTransport>(key, *this, offer, config_.speaker.jitterLatencyMs,
                                        IceSettings{config_.stunServer, config_.icePortMin, config_.icePortMax});
  if (auto started = startPeer(roomId, peerId, std::move(transport), key, payloadType.value(), mixed); !started)
    return started;
  startConnectDeadline(key);
  return core::Ok{};
}

core::Result<core::MediaBackend::RtpAddress> GstMediaBackend::acceptPlainRtp(const std::string& roomId,
                                                                             const std::string& peerId,
                                                                             const RtpAddress& remote,
                                                                             int payloadType, bool mixed) {
  if (!rooms_.count(roomId)) return Error{ErrorCode::NotFound, "room has no media"};
  if (!g_hostname_is_ip_address(remote.host.c_str()))
    return Error{ErrorCode::ValidationFailed, "plain RTP needs a literal IP address"};
  PeerKey key{roomId, peerId, nextSerial_++};
  auto transport = std::make_unique<RtpTransport>("peer-" + peerId + "-" + std::to_string(key.serial) + "-rtp",
                                                  RtpEndpoint{remote.host, remote.port}, config_.plainRtpBindHost,
                                                  payloadType, config_.speaker.jitterLatencyMs);
  RtpTransport* rtp = transport.get();
  if (auto started = startPeer(roomId, peerId, std::move(transport), key, payloadType, mixed); !started)
    return started.error();
  if (LivePeer* live = findLivePeer(key)) live->connected = true;  // no handshake
  return RtpAddress{rtp->local().host, rtp->local().port};
}

core::Status GstMediaBackend::addRemoteCandidate(const std::string& roomId, const std::string& peerId, unsigned mline,
                                                 const std::string& candidate) {
  auto it = rooms_.find(roomId);
  if (it == rooms_.end()) return Error{ErrorCode::NotFound, "room has no media"};
  auto peer = it->second.peers.find(peerId);
  if (peer == it->second.peers.end()) return Error{ErrorCode::Conflict, "send an offer before candidates"};
  return peer->second.peer->transport()->addRemoteCandidate(mline, candidate);
}

void GstMediaBackend::setPeerMixed(const std::string& roomId, const std::string& peerId, bool mixed) {
  auto it = rooms_.find(roomId);
  if (it == rooms_.end()) return;
  auto peer = it->second.peers.find(peerId);
  if (peer != it->second.peers.end()) peer->second.peer->setMixed(mixed);
}

void GstMediaBackend::onLevels(const std::string& roomId, const std::vector<RoomPipeline::InputLevel>& levels) {
  auto it = rooms_.find(roomId);
  if (it == rooms_.end() || !observer_) return;
  std::map<std::string, std::string> byPad;
  for (auto& [peerId, live] : it->second.peers) byPad[live.peer->mixerPadName()] = peerId;
  std::vector<core::MediaObserver::PeerLevel> peerLevels;
  for (const auto& level : levels) {
    auto peer = byPad.find(level.mixerPad);
    if (peer != byPad.end()) peerLevels.push_back({peer->second, level.rmsDb});
  }
  observer_->onPeerLevels(roomId, peerLevels);
}

core::Result<std::string> GstMediaBackend::keepEvidence(const std::string& roomId, const std::string& label) {
  hls::Room* room = config_.hls ? config_.hls->find(roomId) : nullptr;
  hls::Rendition* main = room ? room->rendition("main") : nullptr;
  if (!main || main->recent().empty()) return Error{ErrorCode::NotFound, "no recent audio for room " + roomId};
  g_autofree char* dir = g_build_filename(config_.dataDir.c_str(), "evidence", nullptr);
  if (g_mkdir_with_parents(dir, 0700) != 0) return Error{ErrorCode::Internal, std::string("cannot create ") + dir};
  if (!evidenceQuota_) evidenceQuota_ = countEvidence(dir, config_.evidenceQuotaBytes, config_.evidenceRoomQuotaBytes);
  EvidenceJob job;
  for (const auto& segment : main->recent()) {
    job.segments.push_back(segment.bytes);
    job.bytes += segment.bytes->size();
  }
  if (auto reserved = evidenceQuota_->reserve(roomId, job.bytes); !reserved) return reserved.error();
  // Unique even for reports filed in the same millisecond, and across restarts.
  std::string safe;
  for (char c : label) safe += g_ascii_isalnum(c) || c == '-' ? c : '_';
  g_autofree char* name = g_strdup_printf("%s-%s-%" G_GINT64_FORMAT "-%" G_GUINT64_FORMAT "-%08x.ts", roomId.c_str(),
                                          safe.c_str(), g_get_real_time() / 1000, ++evidenceSerial_, g_random_int());
  g_autofree char* path = g_build_filename(dir, name, nullptr);
  // The segments are shared, immutable bytes: the writer thread concatenates them (MPEG-TS
  // segments make one playable file) and renames the file into place when it is whole.
  job.path = path;
  job.roomId = roomId;
  job.quota = evidenceQuota_;
  diskWriter_.post([job = std::move(job)] { writeEvidence(job); });
  return std::string(path);
}

// What the evidence directory holds already, by room (a file's name starts with its room's id
// and a '-'; room ids have none).
std::shared_ptr<EvidenceQuota> GstMediaBackend::countEvidence(const char* dir, uint64_t totalBytes, uint64_t roomBytes) {
  auto quota = std::make_shared<EvidenceQuota>(totalBytes, roomBytes);
  g_autoptr(GDir) listing = g_dir_open(dir, 0, nullptr);
  while (const char* name = listing ? g_dir_read_name(listing) : nullptr) {
    g_autofree char* file = g_build_filename(dir, name, nullptr);
    GStatBuf st;
    if (g_stat(file, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const char* dash = strchr(name, '-');
    quota->count(dash ? std::string(name, dash) : std::string(name), static_cast<uint64_t>(st.st_size));
  }
  return quota;
}

void GstMediaBackend::writeEvidence(const EvidenceJob& job) {
  std::string bytes;
  bytes.reserve(job.bytes);
  for (const auto& segment : job.segments) bytes += *segment;
  g_autoptr(GError) error = nullptr;
  // Off the control thread, so it may wait for the disk: evidence is kept durably (fsync, then
  // renamed into place whole).
  if (!g_file_set_contents_full(job.path.c_str(), bytes.data(), static_cast<gssize>(bytes.size()),
                                G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error)) {
    g_warning("cannot write evidence %s: %s", job.path.c_str(), error->message);
    job.quota->release(job.roomId, job.bytes);
  }
}

void GstMediaBackend::onRecognized(const std::string& roomId, const std::string& element, const std::string& text,
                                   bool final) {
  GST_DEBUG("room %s: %s heard%s: %s", roomId.c_str(), element.c_str(), final ? " (final)" : "", text.c_str());
  if (!observer_) return;
  // A speaker on stage, or one whose recognizer is committing their last words.
  LivePeer* found = nullptr;
  const std::string* foundId = nullptr;
  if (auto it = rooms_.find(roomId); it != rooms_.end())
    for (auto& [peerId, live] : it->second.peers)
      if (live.peer->recognizerName() == element) found = &live, foundId = &peerId;
  for (auto& [serial, flushing] : flushing_)
    if (!found && flushing.roomId == roomId && flushing.live.peer->recognizerName() == element)
      found = &flushing.live, foundId = &flushing.peerId;
  if (!found) return;
  const int64_t now = g_get_real_time() / 1000;
  if (!found->utteranceStartMs) found->utteranceStartMs = now;
  if (!final) return;
  const int64_t start = found->utteranceStartMs;
  found->utteranceStartMs = 0;
  if (text.find_first_not_of(' ') != std::string::npos) observer_->onPeerTranscript(roomId, *foundId, text, start, now);
}

void GstMediaBackend::retirePeer(const std::string& roomId, const std::string& peerId, LivePeer live) {
  if (!live.peer->beginFlush()) {
    live.peer.reset();  // everything it held, now
    noticePeerGone(roomId, peerId);
    return;
  }
  const uint64_t serial = live.serial;
  FlushingPeer& flushing = flushing_[serial] = FlushingPeer{roomId, peerId, std::move(live), {}};
  // Bounded: a recognizer that does not finish in time loses the words, not the room.
  struct Task {
    std::weak_ptr<int> alive;
    GstMediaBackend* self;
    uint64_t serial;
  };
  flushing.deadline = glib_support::Source::timeout(
      context_, config_.recognizerFlushMs,
      [](gpointer data) -> gboolean {
        auto* t = &glib_support::handedOff<Task>(data);
        if (t->alive.expired()) return G_SOURCE_REMOVE;
        GST_WARNING("speaker %" G_GUINT64_FORMAT ": the recognizer did not finish in time", t->serial);
        t->self->endFlush(t->serial);
        return G_SOURCE_REMOVE;
      },
      glib_support::handOff(Task{alive_, this, serial}));
}

void GstMediaBackend::onRecognizerFlushed(const std::string& roomId, const std::string& element) {
  GST_DEBUG("room %s: %s flushed", roomId.c_str(), element.c_str());
  for (auto& [serial, flushing] : flushing_) {
    if (flushing.roomId == roomId && flushing.live.peer->recognizerSinkName() == element) {
      endFlush(serial);
      return;
    }
  }
}

void GstMediaBackend::endFlush(uint64_t serial) {
  auto it = flushing_.find(serial);
  if (it == flushing_.end()) return;
  FlushingPeer flushing = std::move(it->second);
  flushing_.erase(it);
  flushing.deadline.reset();
  // Called from the room's bus watch or a timeout: removing the elements never waits for the
  // control thread.
  flushing.live.peer.reset();
  noticePeerGone(flushing.roomId, flushing.peerId);
  const bool more = std::any_of(flushing_.begin(), flushing_.end(),
                                [&](auto& f) { return f.second.roomId == flushing.roomId; });
  auto waiting = finishAfterFlush_.find(flushing.roomId);
  if (!more && waiting != finishAfterFlush_.end()) {
    auto finish = std::move(waiting->second);
    finishAfterFlush_.erase(waiting);
    finish();
  }
}

void GstMediaBackend::noticePeerGone(const std::string& roomId, const std::string& peerId) {
  if (auto room = rooms_.find(roomId); room != rooms_.end() && room->second.peers.count(peerId)) return;
  for (const auto& [serial, flushing] : flushing_)
    if (flushing.roomId == roomId && flushing.peerId == peerId) return;
  if (observer_) observer_->onPeerFinished(roomId, peerId);
}

void GstMediaBackend::startConnectDeadline(const PeerKey& key) {
  struct Task {
    std::weak_ptr<int> alive;
    GstMediaBackend* self;
    PeerKey key;
  };
  // Not cancelled: when it fires for a peer that connected or is gone, it does nothing.
  GSource* deadline = g_timeout_source_new(config_.peerConnectDeadlineMs);
  auto task = glib_support::handOff(Task{alive_, this, key});
  g_source_set_callback(
      deadline,
      [](gpointer data) -> gboolean {
        auto* t = &glib_support::handedOff<Task>(data);
        if (t->alive.expired()) return G_SOURCE_REMOVE;
        LivePeer* live = t->self->findLivePeer(t->key);
        if (!live || live->connected) return G_SOURCE_REMOVE;
        g_autofree char* reason = g_strdup_printf("ICE and DTLS did not complete within %g s",
                                                  t->self->config_.peerConnectDeadlineMs / 1000.0);
        GST_WARNING("peer %s in room %s: %s", t->key.peerId.c_str(), t->key.roomId.c_str(), reason);
        t->self->removePeer(t->key.roomId, t->key.peerId);
        if (t->self->observer_) t->self->observer_->onPeerTransportFailed(t->key.roomId, t->key.peerId, reason);
        return G_SOURCE_REMOVE;
      },
      task.data, task.destroy);
  g_source_attach(deadline, context_);
  g_source_unref(deadline);
}

void GstMediaBackend::removePeer(const std::string& roomId, const std::string& peerId) {
  auto it = rooms_.find(roomId);
  auto peer = it == rooms_.end() ? decltype(it->second.peers.end()){} : it->second.peers.find(peerId);
  if (it == rooms_.end() || peer == it->second.peers.end()) {
    noticePeerGone(roomId, peerId);  // nothing live: told at once (or when a flush ends)
    return;
  }
  LivePeer live = std::move(peer->second);
  it->second.peers.erase(peer);
  retirePeer(roomId, peerId, std::move(live));
}

GstMediaBackend::LivePeer* GstMediaBackend::findLivePeer(const PeerKey& key) {
  auto room = rooms_.find(key.roomId);
  if (room == rooms_.end()) return nullptr;
  auto peer = room->second.peers.find(key.peerId);
  if (peer == room->second.peers.end() || peer->second.serial != key.serial) return nullptr;
  return &peer->second;
}

SpeakerPeer* GstMediaBackend::findPeer(const PeerKey& key) {
  LivePeer* live = findLivePeer(key);
  return live ? live->peer.get() : nullptr;
}

void GstMediaBackend::postToPeer(const PeerKey& key, std::function<void(GstMediaBackend&)> fn) {
  glib_support::postToContext(context_, [alive = std::weak_ptr<int>(alive_), self = this, key, fn = std::move(fn)] {
    if (!alive.expired() && self->findPeer(key)) fn(*self);
  });
}

void GstMediaBackend::postAnswer(const PeerKey& key, std::string sdp) {
  postToPeer(key, [key, sdp = std::move(sdp)](GstMediaBackend& self) {
    if (self.observer_) self.observer_->onLocalAnswer(key.roomId, key.peerId, sdp);
  });
}

void GstMediaBackend::postCandidate(const PeerKey& key, unsigned mline, std::string candidate) {
  postToPeer(key, [key, mline, candidate = std::move(candidate)](GstMediaBackend& self) {
    if (self.observer_) self.observer_->onLocalCandidate(key.roomId, key.peerId, mline, candidate);
  });
}

void GstMediaBackend::postConnected(const PeerKey& key) {
  postToPeer(key, [key](GstMediaBackend& self) {
    if (LivePeer* live = self.findLivePeer(key)) live->connected = true;
  });
}

void GstMediaBackend::postFailure(const PeerKey& key, std::string reason) {
  postToPeer(key, [key, reason = std::move(reason)](GstMediaBackend& self) {
    GST_WARNING("peer %s in room %s failed: %s", key.peerId.c_str(), key.roomId.c_str(), reason.c_str());
    self.removePeer(key.roomId, key.peerId);
    if (self.observer_) self.observer_->onPeerFailed(key.roomId, key.peerId, reason);
  });
}

void GstMediaBackend::postTransportFailure(const PeerKey& key, std::string reason) {
  postToPeer(key, [key, reason = std::move(reason)](GstMediaBackend& self) {
    GST_WARNING("peer %s in room %s: %s", key.peerId.c_str(), key.roomId.c_str(), reason.c_str());
    self.removePeer(key.roomId, key.peerId);
    if (self.observer_) self.observer_->onPeerTransportFailed(key.roomId, key.peerId, reason);
  });
}

void GstMediaBackend::onPipelineError(const std::string& roomId, const std::string& child, const std::string& message) {
  auto it = rooms_.find(roomId);
  if (it == rooms_.end()) return;
  // An error inside one speaker's elements costs that speaker, never the room.
  for (auto& [peerId, live] : it->second.peers) {
    if (child.rfind(live.peer->name(), 0) == 0) {
      postFailure(PeerKey{roomId, peerId, live.serial}, message);
      return;
    }
  }
  // One on the way out: its words are lost, not the room.
  for (auto& [serial, flushing] : flushing_) {
    if (flushing.roomId == roomId && child.rfind(flushing.live.peer->name(), 0) == 0) {
      endFlush(serial);
      return;
    }
  }
  g_warning("room %s: the room's media failed in %s: %s", roomId.c_str(), child.c_str(), message.c_str());
  if (observer_) observer_->onRoomMediaFailed(roomId, child + ": " + message);
}

void GstMediaBackend::dumpDotGraphs() const {
  for (const auto& [id, room] : rooms_) room.pipeline->dumpDot("roomcast-" + id);
}

// A room's pipeline is set to PLAYING as it starts and reaches it once its outputs preroll
// (a second or two); one still on its way after kStartGraceUs, or that fell back, is stalled.
// The state is read without waiting.
std::vector<std::string> GstMediaBackend::roomsNotPlaying() const {
  constexpr gint64 kStartGraceUs = 15 * G_USEC_PER_SEC;
  std::vector<std::string> stalled;
  for (const auto& [id, room] : rooms_) {
    GstState state = GST_STATE_VOID_PENDING, pending = GST_STATE_VOID_PENDING;
    gst_element_get_state(GST_ELEMENT(room.pipeline->bin()), &state, &pending, 0);
    if (state == GST_STATE_PLAYING) continue;
    const bool starting = pending == GST_STATE_PLAYING && g_get_monotonic_time() - room.startedAtUs < kStartGraceUs;
    if (!starting) stalled.push_back(id + " (" + gst_element_state_get_name(state) + ")");
  }
  return stalled;
}

// Read from the speakers' decoders (opusfecdec's counters), so nothing is counted twice.
core::MediaBackend::UplinkLosses GstMediaBackend::uplinkLosses() const {
  UplinkLosses total;
  for (const auto& [id, room] : rooms_) {
    GstIterator* it = gst_bin_iterate_all_by_element_factory_name(room.pipeline->bin(), "opusfecdec");
    GValue item = G_VALUE_INIT;
    while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
      guint64 rebuilt = 0, concealed = 0;
      g_object_get(g_value_get_object(&item), "recovered", &rebuilt, "concealed", &concealed, nullptr);
      total.rebuilt += rebuilt;
      total.concealed += concealed;
      g_value_reset(&item);
    }
    g_value_unset(&item);
    gst_iterator_free(it);
  }
  return total;
}

core::MediaBackend::OutputStats GstMediaBackend::outputStats() const {
  OutputStats stats;
  stats.failures = outputFailures_;
  stats.restarts = outputRestarts_;
  for (const auto& [id, room] : rooms_) stats.hlsDown += room.pipeline->hlsOutputsDown();
  return stats;
}

core::MediaBackend::MixerStats GstMediaBackend::mixerStats() const {
  MixerStats total;
  for (const auto& [id, room] : rooms_) {
    GstStructure* stats = nullptr;
    g_object_get(room.pipeline->mixer(), "stats", &stats, nullptr);
    if (!stats) continue;
    guint64 ticks = 0, late = 0, underruns = 0, realigned = 0;
    gst_structure_get(stats, "ticks", G_TYPE_UINT64, &ticks, "late-ticks", G_TYPE_UINT64, &late, "underruns",
                      G_TYPE_UINT64, &underruns, "realigned-samples", G_TYPE_UINT64, &realigned, nullptr);
    gst_structure_free(stats);
    total.ticks += ticks;
    total.lateTicks += late;
    total.underruns += underruns;
    total.realignedSamples += realigned;
  }
  return total;
}

}  // namespace roomcast::media
