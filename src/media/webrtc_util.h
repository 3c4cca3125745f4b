// webrtcbin helpers shared by the daemon, the CLI and the tests, each covering a
// GStreamer 1.22 pitfall measured on this machine.
#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>

#include <optional>
#include <string>
#include <vector>

#include "core/media_backend.h"
#include "core/result.h"

namespace roomcast::media {

// libnice skips loopback when gathering; on a host whose only interface is lo nothing is
// gathered and ICE stays "new". Adding 127.0.0.1 to webrtcbin's NiceAgent fixes it; as libnice
// then gathers on added addresses only, the host's other IPv4 addresses are added too (without
// them a client on another machine got only 127.0.0.1 candidates and ICE failed). Call
// before negotiation starts. It also turns off the agent's UPnP port mapping, which is on by
// default and costs every session a discovery context (sockets, SSDP multicast, a thread)
// that a server, and a client talking to one, never needs.
void addLoopbackToIceAgent(GstElement* webrtcbin);

// Where the server's ICE agent gathers: a STUN server (stun://HOST:PORT, "" none) and the UDP
// port range its host candidates bind (0-0: any ephemeral port).
struct IceSettings {
  std::string stunServer;
  unsigned minPort = 0;
  unsigned maxPort = 0;
};

// Applies IceSettings to a webrtcbin before negotiation. The port range goes to webrtcbin's
// GstWebRTCICE (min-rtp-port/max-rtp-port, GStreamer >= 1.20), so a firewall can open exactly
// that range. ICE-TCP stays on (webrtcbin 1.22's default): libnice 0.1.21 also gathers a
// passive TCP host candidate per address, from the same range, a way in for clients whose UDP
// is blocked; so the range wants UDP and TCP open.
void applyIceSettings(GstElement* webrtcbin, const IceSettings& settings);

// The first DTLS handshake in a process generates a certificate (0.3–0.5 s). Doing it at
// start-up keeps it off the first speaker's join.
void warmUpDtlsCertificate();

// The payload type the remote side uses for Opus (webrtcbin 1.22 does not remap payload
// types, so the payloader must use exactly this one).
std::optional<int> opusPayloadType(const GstSDPMessage* sdp);

// An audio m-line's `a=rtpmap:PT ENCODING/CLOCK[/CHANNELS]`, with the m-line it is in.
struct AudioRtpMap {
  const GstSDPMedia* media = nullptr;
  int payloadType = -1;
  std::string encoding;  // as written ("opus", "red")
  int clockRate = 0;     // 0 when absent
  const char* value = nullptr;  // the attribute's whole value
};
// Every rtpmap of every audio m-line, in order.
std::vector<AudioRtpMap> audioRtpMaps(const GstSDPMessage* sdp);

// Sanity checks on a remote audio offer before webrtcbin sees it: parses, has exactly one
// audio m-line with Opus, no video or data m-lines, at most core::kMaxOfferCandidates ICE
// candidates.
core::Result<int> checkAudioOffer(const GstSDPMessage* sdp);

// Applies roomcast's Opus settings for voice (the encoder defaults are wrong
// for this product).
void configureVoiceOpusEncoder(GstElement* opusenc, int bitrate, bool dtx);

// Removes the offer's a=ssrc and a=ssrc-group lines. GStreamer turns each one into a caps
// field named after the SSRC ("ssrc-<number>-cname"), and field names are GQuarks, which are
// never freed: every speaker session would leave its SSRCs' names in memory for good.
// Dropped from offers and from our answers: for one audio m-line, webrtcbin and browsers take
// the stream from the transport whatever its SSRC. Returns how many lines went.
unsigned dropSsrcAttributes(GstSDPMessage* sdp);

// Parses SDP text into a message owned by the caller (gst_sdp_message_free).
GstSDPMessage* parseSdp(const std::string& text);

}  // namespace roomcast::media
