// The media engine as room logic sees it: a room has a mix; stage participants are peers
// with one WebRTC session each. Implemented by media::GstMediaBackend over GStreamer and by
// a fake in unit tests. All calls happen on the control thread; answers and candidates come
// back later through MediaObserver, also on the control thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace roomcast::core {

// An SDP offer lists at most this many ICE candidates (more: media_error). Here, below media
// (which checks it) and protocol (whose reference documents it).
inline constexpr unsigned kMaxOfferCandidates = 32;

// Where a room's HLS stands: the media sequence number its next segment would get, the
// discontinuity sequence number of its newest segment (EXT-X-DISCONTINUITY tags so far), its
// target segment length, and when this was true (wall clock). Kept with the room's record, so
// that a node reopening the room after its owner died continues the playlists instead of
// starting them over: players and the edge cache must never see a number again.
struct HlsPosition {
  uint64_t nextSequence = 0;
  uint64_t discontinuitySequence = 0;
  unsigned segmentMs = 0;
  int64_t atUnixMs = 0;
};

// Where a room reopened at `nowUnixMs` starts when its last known position is `last`: the
// owner may have made more segments after `last` until it died, at most one per segmentMs
// since then and one more (the segment it was writing), so the first new one is numbered past
// those; it is marked discontinuous, so its discontinuity sequence number is one more.
// A clock behind `last`'s counts as no time passed; a segmentMs of 0 as 1 ms (a jump too far
// costs nothing, a number used twice would).
HlsPosition continueAfter(const HlsPosition& last, int64_t nowUnixMs);

struct RoomMediaConfig {
  std::string roomId;
  bool record = false;
  // A room reopened after a failover: its playlists continue from here (continueAfter's
  // answer), the first new segment marked discontinuous.
  std::optional<HlsPosition> continueHls{};
};

// One recording file: started when the room (or its host) starts recording, stopped when the
// host stops it, the room ends, or the disk fails it.
struct RecordingInfo {
  std::string path;
  int64_t startedAtMs = 0;
  int64_t endedAtMs = 0;  // 0 while recording
  double seconds = 0;     // what the file plays (from its pages)
  bool failed = false;    // stopped by an error, not by anyone
  std::string reason;
};

class MediaObserver {
 public:
  virtual ~MediaObserver() = default;
  virtual void onLocalAnswer(const std::string& roomId, const std::string& peerId,
                             const std::string& sdp) = 0;
  virtual void onLocalCandidate(const std::string& roomId, const std::string& peerId,
                                unsigned mlineIndex, const std::string& candidate) = 0;
  // The speech level of every peer whose uplink carried audio in the last interval (about
  // 100 ms); sent while any peer of the room sends, and for a second after.
  struct PeerLevel {
    std::string peerId;
    double rmsDbfs = -200;
  };
  virtual void onPeerLevels(const std::string& roomId, const std::vector<PeerLevel>& levels) = 0;
  // The peer's transport failed or closed for good (ICE failed, DTLS error, or ICE and DTLS
  // not done within the connection deadline). The peer is removed.
  virtual void onPeerFailed(const std::string& roomId, const std::string& peerId,
                            const std::string& reason) = 0;
  // The same, when it was the network: ICE failed, DTLS failed, or neither was done by the
  // connection deadline. The peer is removed; the client may offer again.
  virtual void onPeerTransportFailed(const std::string& roomId, const std::string& peerId,
                                     const std::string& reason) {
    onPeerFailed(roomId, peerId, reason);
  }
  // Nothing of the peer is left: after removePeer, a failure or the room's end, its recognizer
  // reported its last words (onPeerTranscript, possibly after the participant or the room is
  // gone) and everything it held is released. Once per peer id with no session left.
  virtual void onPeerFinished(const std::string& roomId, const std::string& peerId) {
    (void)roomId;
    (void)peerId;
  }
  // The room's pipeline failed; the room cannot carry audio any more.
  virtual void onRoomMediaFailed(const std::string& roomId, const std::string& reason) = 0;
  // A speaker's words, recognized from their uplink (one utterance, wall-clock span).
  virtual void onPeerTranscript(const std::string& roomId, const std::string& peerId, const std::string& text,
                                int64_t startMs, int64_t endMs) = 0;
  // A recording file began, or ended (for any reason; also when the room ends).
  virtual void onRecordingStarted(const std::string& roomId, const RecordingInfo& info) = 0;
  virtual void onRecordingStopped(const std::string& roomId, const RecordingInfo& info) = 0;
};

// What a finished room left behind.
struct RoomMediaSummary {
  std::string recordingPath;  // empty when the room was not recorded
  double recordedSeconds = 0;
  bool cleanEnd = false;      // EOS reached every output before the deadline
};

class MediaBackend {
 public:
  virtual ~MediaBackend() = default;
  virtual void setObserver(MediaObserver* observer) = 0;

  virtual Status startRoom(const RoomMediaConfig& config) = 0;
  // Finishes every output (HLS ENDLIST, recording trailer) and calls done once, on the
  // control thread, with what was written.
  using StopDone = std::function<void(RoomMediaSummary)>;
  virtual void stopRoom(const std::string& roomId, StopDone done) = 0;

  // An SDP offer; the answer arrives via onLocalAnswer. The peer hears the room at once;
  // its own audio joins the mix only while `mixed` (pre-warm: not yet).
  virtual Status acceptOffer(const std::string& roomId, const std::string& peerId,
                             const std::string& offerSdp, bool mixed) = 0;
  // The same over plain RTP (no ICE, no DTLS): the peer sends Opus with `payloadType` from
  // host:port and gets its return there. Returns where the peer must send to.
  struct RtpAddress {
    std::string host;
    int port = 0;
  };
  virtual Result<RtpAddress> acceptPlainRtp(const std::string& roomId, const std::string& peerId,
                                            const RtpAddress& remote, int payloadType, bool mixed) = 0;
  // Switches a peer's uplink in or out of every mix, at once and without renegotiation.
  virtual void setPeerMixed(const std::string& roomId, const std::string& peerId, bool mixed) = 0;
  virtual Status addRemoteCandidate(const std::string& roomId, const std::string& peerId,
                                    unsigned mlineIndex, const std::string& candidate) = 0;
  // Ends the peer's session at once (network, mixer); a transcribed speaker's recognizer
  // first commits what it heard, then onPeerFinished follows.
  virtual void removePeer(const std::string& roomId, const std::string& peerId) = 0;

  // Recording, live: a new file each time. While the host wants a recording that the disk
  // failed, the backend starts a new one once space returns.
  virtual Status startRecording(const std::string& roomId) = 0;
  virtual void stopRecording(const std::string& roomId) = 0;
  // Keeps the room's last minutes of program audio as a file (evidence for a report or a
  // moderation action, recorded room or not); returns its path. The file is written off the
  // control thread and appears there, whole, moments later.
  virtual Result<std::string> keepEvidence(const std::string& roomId, const std::string& label) = 0;
  // A speaker who opted out is left out of the recording (not of the live room).
  virtual void setPeerInRecording(const std::string& roomId, const std::string& peerId, bool inRecording) = 0;

  // Uplink losses of the speakers connected now, all rooms: lost spans rebuilt when the next
  // packet came (from its FEC where it had some) and spans concealed without one.
  struct UplinkLosses {
    uint64_t rebuilt = 0;
    uint64_t concealed = 0;
  };
  virtual UplinkLosses uplinkLosses() const { return {}; }

  // The live rooms' mixers, summed: ticks that went out at max-wait, ticks that went without
  // an awaited speaker's frame (heard as a 20 ms drop-out), and samples of quiet audio dropped
  // to realign a speaker (see plugins/roomcast/gstmixminus.c).
  struct MixerStats {
    uint64_t ticks = 0;
    uint64_t lateTicks = 0;
    uint64_t underruns = 0;
    uint64_t realignedSamples = 0;
  };
  virtual MixerStats mixerStats() const { return {}; }

  // File outputs (HLS renditions, recordings) that failed on a write error (full disk, no
  // file descriptors) and were rebuilt, since start; and the HLS renditions down right now.
  struct OutputStats {
    uint64_t failures = 0;
    uint64_t restarts = 0;
    uint64_t hlsDown = 0;
  };
  virtual OutputStats outputStats() const { return {}; }

  // Where the live room's HLS stands now (over all its renditions, the furthest), for its
  // record: a room reopened elsewhere continues from it (RoomMediaConfig::continueHls).
  // Nothing for a room that is not live or has no HLS.
  virtual std::optional<HlsPosition> hlsPosition(const std::string& roomId) const {
    (void)roomId;
    return {};
  }
};

}  // namespace roomcast::core
