// How one speaker's RTP reaches the room and leaves it: webrtcbin (ICE, DTLS-SRTP) for
// browsers and the CLI, or plain RTP over UDP (as Janus AudioBridge offers) for benchmarks
// and SIP-like peers. The speaker's branches (decode, mix-minus return) are the same either
// way; see SpeakerPeer.
#pragma once

#include <gst/gst.h>

#include <memory>
#include <string>

#include "core/result.h"
#include "media/peer_gates.h"

namespace roomcast::media {

class DirectRtpReturn;

class PeerTransport {
 public:
  virtual ~PeerTransport() = default;
  // Adds the transport's elements to `pipeline`: incoming RTP flows into `uplinkSink`, the
  // return RTP from `returnSrc` goes out. Sets gates->transportReady once packets can be sent
  // without blocking. Called on the control thread, once.
  virtual core::Status attach(GstBin* pipeline, GstPad* uplinkSink, GstPad* returnSrc, PeerGates* gates) = 0;
  // Stops the network side and removes the transport's elements. Idempotent.
  virtual void detach() = 0;
  // The name prefix of every element it added (errors from them cost this speaker only).
  virtual std::string elementPrefix() const = 0;
  // Whether the speaker's incoming audio is wanted (mixed: not muted, not pre-warming). A
  // transport that can stop it before any thread wakes for it does so; the default keeps
  // receiving (the uplink gate drops it before the decoder either way). Control thread.
  virtual void setUplinkWanted(bool wanted) { (void)wanted; }
  // Where the transport sends the room's shared program itself, without the speaker's return
  // branch (after attach); null: through the branch.
  virtual std::shared_ptr<DirectRtpReturn> directReturn() const { return nullptr; }
  // The webrtcbin carrying the session (after attach), for its RTCP stats; null without one.
  virtual GstElement* webrtcbin() const { return nullptr; }
  virtual core::Status addRemoteCandidate(unsigned mline, const std::string& candidate) {
    (void)mline;
    (void)candidate;
    return core::Error{core::ErrorCode::Conflict, "this media session takes no ICE candidates"};
  }
};

}  // namespace roomcast::media
