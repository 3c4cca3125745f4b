// A speaker's WebRTC session: one webrtcbin (ICE, DTLS-SRTP, RTCP, a short jitter buffer).
//
// Streaming-thread callbacks (ICE candidates, the SDP promise chain, ICE and connection
// state) copy plain data and post it through PeerEvents; the only streaming-thread work is
// linking webrtcbin's new src pad to the uplink built beforehand, so no packet meets an
// unlinked pad, and opening the transport gate once DTLS is up. Where the offer has RED for
// Opus, webrtcbin unwraps and wraps it (see red_sdp.h and offerRedBothWays).
#pragma once

#include <gst/sdp/sdp.h>

#include "media/gst_ptr.h"
#include "media/media_events.h"
#include "media/peer_transport.h"
#include "media/red_sdp.h"
#include "media/webrtc_util.h"

namespace roomcast::media {

class WebRtcTransport final : public PeerTransport {
 public:
  // Takes ownership of `offer` (an SDP checked by checkAudioOffer).
  // ice: the STUN server and UDP port range the session's ICE agent gathers with.
  WebRtcTransport(PeerKey key, PeerEvents& events, GstSDPMessage* offer, unsigned jitterLatencyMs,
                  IceSettings ice = {});
  ~WebRtcTransport() override;

  core::Status attach(GstBin* pipeline, GstPad* uplinkSink, GstPad* returnSrc, PeerGates* gates) override;
  void detach() override;
  std::string elementPrefix() const override { return name_; }
  GstElement* webrtcbin() const override { return webrtc_.get(); }
  core::Status addRemoteCandidate(unsigned mline, const std::string& candidate) override;

  struct CallbackContext;  // what signal handlers may touch from streaming threads
  // Earlier frames each RED packet we send carries again.
  static constexpr unsigned kRedDistance = 1;

 private:
  void offerRedBothWays(GstPad* webrtcSink);

  PeerKey key_;
  PeerEvents& events_;
  GstSDPMessage* offer_;
  unsigned jitterLatencyMs_;
  IceSettings ice_;
  std::optional<RedFormat> red_;  // the offer's RED for Opus; none: plain Opus both ways
  std::string name_;
  GstBin* pipeline_ = nullptr;
  ElementPtr webrtc_;
};

}  // namespace roomcast::media
