// One speaker's WebRTC session inside a room pipeline:
//
//   webrtcbin ─ rtpopusdepay ─ opusdec ─ audioconvert ─ audioresample ─▶ mixminus.sink_N
//   mixminus.minus_N ─ queue ─ audioconvert ─ opusenc ─ rtpopuspay ─▶ webrtcbin
//
// Built and torn down on the control thread. The only streaming-thread work is linking
// webrtcbin's new src pad to the already-built depayloader (so no packet meets an unlinked
// pad) and posting SDP/ICE results through PeerEvents.
#pragma once

#include <gst/gst.h>

#include <memory>
#include <string>

#include "core/result.h"
#include "media/gst_ptr.h"
#include "media/media_events.h"

namespace roomcast::media {

struct SpeakerSettings {
  int opusBitrate = 32000;
  unsigned jitterLatencyMs = 40;
};

class SpeakerPeer {
 public:
  SpeakerPeer(GstBin* pipeline, GstElement* mixer, PeerKey key, PeerEvents& events, SpeakerSettings settings);
  ~SpeakerPeer();
  SpeakerPeer(const SpeakerPeer&) = delete;
  SpeakerPeer& operator=(const SpeakerPeer&) = delete;

  // Builds both branches for the offer's Opus payload type and starts answering.
  core::Status acceptOffer(const std::string& offerSdp);
  core::Status addRemoteCandidate(unsigned mline, const std::string& candidate);
  const PeerKey& key() const { return key_; }

  struct CallbackContext;  // what signal handlers may touch from streaming threads

 private:
  core::Status buildBranches(int payloadType);
  void removeElements();

  GstBin* pipeline_;   // borrowed: the room owns the pipeline and outlives this peer
  GstElement* mixer_;  // borrowed
  PeerKey key_;
  PeerEvents& events_;
  SpeakerSettings settings_;

  ElementPtr webrtc_;
  std::vector<ElementPtr> elements_;  // everything this peer added to the pipeline
  ElementPtr depay_;
  PadPtr mixerSink_;
  CallbackContext* callbackContext_ = nullptr;  // owned by the signal closures
};

}  // namespace roomcast::media
