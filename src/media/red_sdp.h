// RED (RFC 2198) for audio in SDP: what a browser's offer says about it and how roomcast's
// answer must say it back. Chromium offers "a=rtpmap:63 red/48000/2" with "a=fmtp:63 111/111"
// (each packet: Opus frame N-1 again, then frame N). webrtcbin 1.22 answers RED when its
// transceiver's fec-type is ulp-red, but writes the rtpmap without the channel count (so
// Chromium does not see its own red/48000/2 in it), no fmtp, and after Opus (Chromium
// sends RED only when it comes before the codec it protects); alignAnswerRed puts that right.
#pragma once

#include <gst/sdp/sdp.h>

#include <optional>
#include <string>

namespace roomcast::media {

struct RedFormat {
  int payloadType = -1;
  std::string rtpmap;  // the offer's value, e.g. "63 red/48000/2"
  std::string fmtp;    // the offer's value, e.g. "63 111/111"
};

// The offer's RED for Opus payload type `opusPt`: only a RED whose every block is that Opus
// (fmtp "111/111", "111/111/111"), as that is all the room can decode. nullopt otherwise.
std::optional<RedFormat> offeredRed(const GstSDPMessage* offer, int opusPt);

// In the answer's audio m-line that carries red.payloadType: red first among the formats, the
// offer's rtpmap and fmtp for it. Returns false when the answer has no RED (nothing changed).
bool alignAnswerRed(GstSDPMessage* answer, const RedFormat& red);

}  // namespace roomcast::media
