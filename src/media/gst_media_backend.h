// core::MediaBackend over GStreamer: a RoomPipeline per room, a SpeakerPeer per speaker.
// Streaming-thread callbacks arrive through PeerEvents and are posted to the control
// context, where the room and peer are looked up again by id (and serial) before use.
#pragma once

#include <glib.h>

#include <map>
#include <memory>
#include <string>

#include "core/media_backend.h"
#include "glib_support/source.h"
#include "glib_support/worker_thread.h"
#include "hls/defaults.h"
#include "hls/hls_room.h"
#include "media/evidence_quota.h"
#include "media/media_events.h"
#include "media/room_pipeline.h"
#include "media/speaker_peer.h"

namespace roomcast::media {

struct MediaConfig {
  std::string dataDir;       // hls/<room>/ and recordings/ are created below it
  std::string pipelinesDir;  // where program-*.pipeline fragments are read from
  SpeakerSettings speaker;
  unsigned mixerMaxWaitMs = 18;
  std::string stunServer;  // stun://HOST:PORT: server-reflexive candidates behind a NAT ("" none)
  unsigned icePortMin = 0, icePortMax = 0;  // the UDP ports WebRTC sessions bind (0: any)
  std::string plainRtpBindHost = "127.0.0.1";  // where plain-RTP speakers send to
  uint64_t recordingMinFreeBytes = 1 << 20;     // a failed recording restarts once this is free
  unsigned recordingRetryMs = 2000;
  bool lowRendition = true;                     // a second HLS rendition at 24 kbps
  unsigned hlsSegmentMs = hls::kDefaultSegmentMs;  // HLS segment length
  hls::Registry* hls = nullptr;                 // where live rooms' HLS state goes (borrowed)
  unsigned finishDeadlineMs = 5000;
  // Evidence (<dataDir>/evidence/): at most this much in all, and per room (evidence_quota.h).
  uint64_t evidenceQuotaBytes = 256ull << 20;
  uint64_t evidenceRoomQuotaBytes = 32ull << 20;
  // A WebRTC peer whose ICE and DTLS are not done this long after its offer is removed (and
  // reported through onPeerFailed): an abandoned handshake holds no sockets or threads.
  unsigned peerConnectDeadlineMs = 15000;
  // How long a leaving speaker's recognizer may take to commit their last words.
  unsigned recognizerFlushMs = 4000;
};

class GstMediaBackend final : public core::MediaBackend, public PeerEvents {
 public:
  GstMediaBackend(MediaConfig config, GMainContext* context);
  ~GstMediaBackend() override;

  void setObserver(core::MediaObserver* observer) override { observer_ = observer; }
  core::Status startRoom(const core::RoomMediaConfig& config) override;
  void stopRoom(const std::string& roomId, StopDone done) override;
  core::Status acceptOffer(const std::string& roomId, const std::string& peerId, const std::string& sdp,
                           bool mixed) override;
  core::Result<RtpAddress> acceptPlainRtp(const std::string& roomId, const std::string& peerId,
                                          const RtpAddress& remote, int payloadType, bool mixed) override;
  void setPeerMixed(const std::string& roomId, const std::string& peerId, bool mixed) override;
  core::Status addRemoteCandidate(const std::string& roomId, const std::string& peerId, unsigned mline,
                                  const std::string& candidate) override;
  void removePeer(const std::string& roomId, const std::string& peerId) override;
  core::Status startRecording(const std::string& roomId) override;
  void stopRecording(const std::string& roomId) override;
  void setPeerInRecording(const std::string& roomId, const std::string& peerId, bool inRecording) override;
  UplinkLosses uplinkLosses() const override;
  MixerStats mixerStats() const override;
  OutputStats outputStats() const override;
  std::optional<core::HlsPosition> hlsPosition(const std::string& roomId) const override;
  core::Result<std::string> keepEvidence(const std::string& roomId, const std::string& label) override;

  // PeerEvents: any thread.
  void postAnswer(const PeerKey& key, std::string sdp) override;
  void postCandidate(const PeerKey& key, unsigned mline, std::string candidate) override;
  void postFailure(const PeerKey& key, std::string reason) override;
  void postTransportFailure(const PeerKey& key, std::string reason) override;
  void postConnected(const PeerKey& key) override;

  // For operators: dot graphs of every live room (GST_DEBUG_DUMP_DOT_DIR).
  void dumpDotGraphs() const;
  // Health: the live rooms (their count) and those whose pipeline is not PLAYING.
  size_t liveRooms() const { return rooms_.size(); }
  std::vector<std::string> roomsNotPlaying() const;
  std::string hlsDirFor(const std::string& roomId) const;

 private:
  struct LivePeer {
    std::unique_ptr<SpeakerPeer> peer;
    uint64_t serial = 0;
    int64_t utteranceStartMs = 0;  // the first partial result since the last final one
    bool connected = false;        // ICE and DTLS done (plain RTP: from the start)
  };
  // A speaker on their way out: off the network and out of the mix, their recognizer
  // committing what it heard. In the room's pipeline, which waits for them before it ends.
  struct FlushingPeer {
    std::string roomId;
    std::string peerId;
    LivePeer live;
    glib_support::Source deadline;
  };
  struct Recording {
    bool wanted = false;      // the host (or the room's settings) want a recording
    std::string path;         // the file being written; empty when none
    int64_t startedAtMs = 0;
    unsigned serial = 0;
  };
  struct LiveRoom {
    std::unique_ptr<RoomPipeline> pipeline;
    std::map<std::string, LivePeer> peers;
    int64_t startedAtUs = 0;
    Recording recording;
    glib_support::Source recordingRetry;  // waiting for disk space after a failure
  };

  // Runs `fn` on the control context if the backend and the peer (same serial) still exist.
  void postToPeer(const PeerKey& key, std::function<void(GstMediaBackend&)> fn);
  SpeakerPeer* findPeer(const PeerKey& key);
  LivePeer* findLivePeer(const PeerKey& key);
  // Every way a peer ends goes through here: flush its recognizer (if any), then release it.
  void retirePeer(const std::string& roomId, const std::string& peerId, LivePeer live);
  void endFlush(uint64_t serial);
  void onRecognizerFlushed(const std::string& roomId, const std::string& element);
  // Tells the observer once no session of the peer is left, live or flushing.
  void noticePeerGone(const std::string& roomId, const std::string& peerId);
  void startConnectDeadline(const PeerKey& key);
  // Replaces the peer's session (a new offer: webrtcbin 1.22 cannot restart ICE).
  core::Status startPeer(const std::string& roomId, const std::string& peerId, std::unique_ptr<PeerTransport> transport,
                         const PeerKey& key, int payloadType, bool mixed);
  void onPipelineError(const std::string& roomId, const std::string& child, const std::string& message);
  void onLevels(const std::string& roomId, const std::vector<RoomPipeline::InputLevel>& levels);
  void onRecognized(const std::string& roomId, const std::string& element, const std::string& text, bool final);
  // Opens the room's HLS renditions (continuing `room.continueHls`, if any) and names its
  // segments in `pipeline` (gst_media_backend_hls.cpp).
  void openHls(const core::RoomMediaConfig& room, RoomPipelineConfig& pipeline);
  // hlssink2 closed a segment: publish it (and any it listed that we have not seen).
  void onSegmentClosed(const std::string& roomId, const RoomPipeline::SegmentClosed& closed);
  // A rendition failed (an element's error) or runs again: logged, counted, and its next segment
  // starts a new timeline for players (EXT-X-DISCONTINUITY).
  void onHlsFailed(const std::string& roomId, const std::string& rendition, const std::string& message);
  void onHlsRestarted(const std::string& roomId, const std::string& rendition);
  // Publishes the room's playlists and has them copied to its HLS directory as well (after the
  // room ends they are served from there; see copyToRoomDir).
  void writePlaylists(const std::string& roomId, const hls::Room& room);
  // Queues `contents` for `dir`/`name` on diskWriter_.
  void copyToRoomDir(const std::string& roomId, const std::string& dir, const std::string& name,
                     std::shared_ptr<const std::string> contents);
  // Recording (gst_media_backend_recording.cpp).
  core::Status beginRecording(const std::string& roomId, LiveRoom& room);
  core::RecordingInfo finishedRecording(const Recording& recording, bool failed, const std::string& reason) const;
  void onRecordingFailed(const std::string& roomId, const std::string& message);
  void retryRecordingLater(const std::string& roomId);
  std::string recordingsDir() const;

  MediaConfig config_;
  GMainContext* context_;
  core::MediaObserver* observer_ = nullptr;
  std::map<std::string, LiveRoom> rooms_;
  std::map<std::string, std::unique_ptr<RoomPipeline>> finishing_;  // rooms writing their last bytes
  std::map<uint64_t, FlushingPeer> flushing_;  // by serial
  // Rooms that end once their speakers' recognizers are flushed.
  std::map<std::string, std::function<void()>> finishAfterFlush_;
  uint64_t nextSerial_ = 1;
  uint64_t outputFailures_ = 0;
  uint64_t outputRestarts_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  // Evidence files (a few MB each), written on diskWriter_.
  struct EvidenceJob {
    std::string path;
    std::vector<std::shared_ptr<const std::string>> segments;
    std::string roomId;
    uint64_t bytes = 0;
    std::shared_ptr<EvidenceQuota> quota;  // given back the bytes if the write fails
  };
  static void writeEvidence(const EvidenceJob& job);
  static std::shared_ptr<EvidenceQuota> countEvidence(const char* dir, uint64_t totalBytes, uint64_t roomBytes);
  std::shared_ptr<EvidenceQuota> evidenceQuota_;  // counted from the directory at first use
  uint64_t evidenceSerial_ = 0;
  // The disk's one thread: evidence and the rooms' HLS copies, in the order they were asked for,
  // so the control thread never waits for the disk. Declared last: destroyed first, once it has
  // written everything it was given; its jobs hold their own data and touch the backend only
  // back on the control thread, while it lives.
  glib_support::WorkerThread diskWriter_;
};

}  // namespace roomcast::media
