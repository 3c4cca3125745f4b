// One speaker's WebRTC session inside a room pipeline:
//
//   webrtcbin ─ rtpopusdepay ─ opusdec ─ audioconvert ─ audioresample ─ level ─▶ mixminus.sink_N
//   mixminus.minus_N ─ queue ─ audioconvert ─ opusenc ─┐
//                                 program-opus (tee) ──┴─ input-selector ─ rtpopuspay ─▶ webrtcbin
//
// The return is the speaker's own mix-minus while they talk, and the program encoded once
// for the whole room while they are silent (mixminus skip-silent stops minus_N then; a GAP
// event on minus_N switches the selector to the shared encoding, the next buffer back).
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
  // Silent speakers hear the program encoded once for the room (mixminus skip-silent and an
  // input-selector per speaker). Off by default: a speaker who resumes after a drop sometimes
  // gets no return audio with it on (under investigation, see the README).
  bool encodeSilentOnce = false;
};

class SpeakerPeer {
 public:
  SpeakerPeer(GstBin* pipeline, GstElement* mixer, GstElement* programOpus, PeerKey key, PeerEvents& events,
              SpeakerSettings settings);
  ~SpeakerPeer();
  SpeakerPeer(const SpeakerPeer&) = delete;
  SpeakerPeer& operator=(const SpeakerPeer&) = delete;

  // Builds both branches for the offer's Opus payload type and starts answering. The uplink
  // joins the mix only while `mixed` (a pre-warmed raised hand hears the room first).
  core::Status acceptOffer(const std::string& offerSdp, bool mixed);
  // Switches the uplink in or out of every mix (mixminus pad "mute"): no renegotiation.
  void setMixed(bool mixed);
  // The name of the level element that reports this peer's uplink ("<base>-level").
  std::string levelElementName() const { return baseName() + "-level"; }
  std::string baseName() const { return "peer-" + key_.peerId + "-" + std::to_string(key_.serial); }
  core::Status addRemoteCandidate(unsigned mline, const std::string& candidate);
  const PeerKey& key() const { return key_; }

  struct CallbackContext;  // what signal handlers may touch from streaming threads

 private:
  core::Status buildBranches(int payloadType, bool mixed);
  void removeElements();

  GstBin* pipeline_;   // borrowed: the room owns the pipeline and outlives this peer
  GstElement* mixer_;  // borrowed
  GstElement* programOpus_;  // borrowed: the room's shared program encoding (a tee)
  PadPtr programOpusPad_;    // our request pad on it
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
