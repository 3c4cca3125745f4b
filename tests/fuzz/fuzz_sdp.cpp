// Fuzz target: the checks an SDP offer passes before webrtcbin sees it (media/webrtc_util.h).
#include <gst/gst.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "media/webrtc_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  GstSDPMessage* sdp = roomcast::media::parseSdp(text);
  if (!sdp) return 0;
  auto payloadType = roomcast::media::checkAudioOffer(sdp);
  if (payloadType && (payloadType.value() < 0 || payloadType.value() > 127)) __builtin_trap();
  gst_sdp_message_free(sdp);
  return 0;
}
