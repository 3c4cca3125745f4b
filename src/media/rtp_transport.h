// A speaker over plain RTP (no ICE, no DTLS, no RTCP), as Janus AudioBridge offers: for
// benchmarks against it under the same load, and for SIP-like peers on a trusted network.
// Symmetric: one UDP socket on the server receives the speaker's Opus and sends their
// return to the address they declared.
//
//   udpsrc ─ rtpjitterbuffer ─▶ (uplink)          (return) ─▶ udpsink (same socket)
//                                        (shared program) ─▶ DirectRtpReturn (same socket)
//
// While the speaker is not mixed (muted, or a pre-warming hand) a socket filter makes the
// kernel drop their packets on arrival: nothing in roomcastd wakes for them. A room of
// mostly muted participants then costs only their returns (see bench/README, janus-compare).
#pragma once

#include <gio/gio.h>

#include <string>
#include <vector>

#include "media/gst_ptr.h"
#include "media/peer_transport.h"

namespace roomcast::media {

struct RtpEndpoint {
  std::string host;  // a literal IP address
  int port = 0;
};

class RtpTransport final : public PeerTransport {
 public:
  RtpTransport(std::string name, RtpEndpoint remote, std::string bindHost, int payloadType,
               unsigned jitterLatencyMs);
  ~RtpTransport() override;

  core::Status attach(GstBin* pipeline, GstPad* uplinkSink, GstPad* returnSrc, PeerGates* gates) override;
  void detach() override;
  void setUplinkWanted(bool wanted) override;
  std::shared_ptr<DirectRtpReturn> directReturn() const override { return direct_; }
  std::string elementPrefix() const override { return name_; }
  // Where the speaker sends RTP to (after attach).
  RtpEndpoint local() const { return local_; }

 private:
  std::string name_;
  RtpEndpoint remote_;
  std::string bindHost_;
  int payloadType_;
  unsigned jitterLatencyMs_;
  RtpEndpoint local_;
  GstBin* pipeline_ = nullptr;
  GSocket* socket_ = nullptr;
  bool filtering_ = false;  // the drop-everything socket filter is attached
  std::vector<ElementPtr> elements_;
  std::shared_ptr<DirectRtpReturn> direct_;
};

}  // namespace roomcast::media
