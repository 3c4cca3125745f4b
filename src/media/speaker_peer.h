// One speaker inside a room pipeline: the same branches whatever the transport.
//
//   transport ─▶ [uplink gate] rtpopusdepay ─ opusfecdec ─▶ mixminus.sink_N
//
//   mixminus.minus_N ─▶ [switch] opusenc ─┐
//   program-opus (tee) ─▶ [shared gate] ──┴─ funnel ─ rtpopuspay ─ capsfilter ─▶ [transport gate] transport
//
// The uplink gate drops RTP before decoding while the speaker is not mixed (muted,
// pre-warming): promotion or unmute only opens it, with no renegotiation. The return is the
// speaker's own mix-minus while they talk and the room's program, encoded once for every
// silent speaker, while they are silent (mixminus skip-silent: minus_N then sends one GAP and
// nothing else). Both encodings reach one payloader, so the speaker sees one continuous RTP
// stream. No queue anywhere: the mixer's thread encodes and sends every return, and the
// transport gate keeps it from blocking on a speaker whose DTLS handshake is not done.
//
// Built and torn down on the control thread.
#pragma once

#include <gst/gst.h>

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "media/direct_rtp_return.h"
#include "media/gst_ptr.h"
#include "media/loss_feedback.h"
#include "media/peer_gates.h"
#include "media/peer_transport.h"

namespace roomcast::media {

struct SpeakerSettings {
  int opusBitrate = 32000;
  unsigned jitterLatencyMs = 20;
  // Speech recognition on the speaker's decoded audio (pocketsphinx), beside the live path:
  // its own queue and thread, dropping audio rather than ever holding the mix back.
  bool transcribe = false;
};

// The parts of a room pipeline a speaker plugs into (borrowed: the room outlives its peers).
struct RoomTaps {
  GstBin* pipeline = nullptr;
  GstElement* mixer = nullptr;
  GstElement* programOpus = nullptr;  // a tee carrying the program in Opus
  SharedListeners* sharedListeners = nullptr;  // who hears programOpus now
  std::shared_ptr<SharedReturnFanout> directReturns;  // plain-RTP speakers' shared returns
};

class SpeakerPeer {
 public:
  SpeakerPeer(RoomTaps room, std::string name, SpeakerSettings settings);
  ~SpeakerPeer();
  SpeakerPeer(const SpeakerPeer&) = delete;
  SpeakerPeer& operator=(const SpeakerPeer&) = delete;

  // Builds the branches for Opus with `payloadType` and attaches the transport. The speaker
  // hears the room at once; their uplink joins the mix only while `mixed`.
  core::Status start(std::unique_ptr<PeerTransport> transport, int payloadType, bool mixed);
  // Switches the uplink in or out of every mix at once, without renegotiation.
  void setMixed(bool mixed);
  // Leaves the speaker out of the recording's mix (or back in); the live room still hears them.
  void setInRecording(bool inRecording);
  // The name of the recognizer element (its "pocketsphinx" messages carry the words).
  std::string recognizerName() const { return name_ + "-asr"; }
  // The end of this speaker, first half: every tie to the room and to the network goes at
  // once (the transport, its sockets and threads, the mixer's input, the shared return). If
  // the speaker is transcribed, the end of the stream then goes into the recognizer, which
  // commits the utterance in progress (it commits one only at a pause otherwise) and passes
  // the end on: its sink posts an element message named kRecognizerFlushed. Returns false
  // when there is nothing to wait for. The destructor does the rest, flushed or not.
  bool beginFlush();
  static constexpr const char* kRecognizerFlushed = "roomcast-asr-flushed";
  std::string recognizerSinkName() const { return name_ + "-asrsink"; }  // posts kRecognizerFlushed
  // The mixer input carrying this speaker (mixminus-levels messages name it).
  std::string mixerPadName() const;
  // Every element this speaker added starts with this.
  const std::string& name() const { return name_; }
  PeerTransport* transport() const { return transport_.get(); }

 private:
  // An element of this speaker's branches, named "<name>-<role>" (null when its plugin is missing).
  ElementPtr part(const char* factory, const char* role);
  core::Status buildBranches(int payloadType, bool mixed);
  core::Status linkReturns();  // last: from here on the mixer's thread pushes into the branches
  GstPad* branchRecognizer(GstElement* decoder);  // the pad that goes on to the mixer
  void disconnect();  // from the room's elements and from the network
  void removeElements();

  RoomTaps room_;
  std::string name_;
  SpeakerSettings settings_;
  PeerGates* gates_;  // one reference
  std::unique_ptr<PeerTransport> transport_;
  std::vector<ElementPtr> elements_;  // the branches' elements, in link order
  PadPtr mixerSink_;
  PadPtr programOpusPad_;                     // WebRTC: this speaker's branch of the shared encoding
  std::shared_ptr<DirectRtpReturn> directReturn_;  // plain RTP: in the room's fanout instead
  PadPtr uplinkSink_;  // depayloader's sink: where the transport delivers
  PadPtr returnSrc_;   // the last element's src: what the transport sends
  ElementPtr recognizerQueue_;  // where the recognizer branch starts (transcribed speakers)
  ElementPtr recognizerSink_;   // where it ends
  // WebRTC: the return encoder's packet-loss-percentage follows this speaker's RTCP reports.
  std::unique_ptr<LossFeedback> lossFeedback_;
};

}  // namespace roomcast::media
