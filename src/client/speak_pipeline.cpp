#include "client/speak_pipeline.h"

#include <gst/gst.h>

namespace roomcast::client {

namespace {

// The room's return, decoded as the server decodes speakers: roomcast's opusfecdec (the
// plugin, installed or on GST_PLUGIN_PATH) rebuilds a lost packet from the next one's FEC the
// moment that one arrives; without the plugin, opusdec does it by holding every packet back.
std::string returnDecoder() {
  g_autoptr(GstElementFactory) fec = gst_element_factory_find("opusfecdec");
  return fec ? "opusfecdec" : "opusdec plc=true use-inband-fec=true";
}

}  // namespace

std::string speakerPipelineDescription(const SpeakOptions& options, bool plainRtp) {
  std::string source;
  if (options.toneHz > 0) {
    source = "audiotestsrc is-live=true wave=sine samplesperbuffer=960 volume=" + std::to_string(options.volume) +
             " freq=" + std::to_string(options.toneHz);
  } else {
    // A file is paced to real time by clocksync in 20 ms buffers, as a microphone would be
    // (wavparse alone hands out 4096-byte chunks, which left as pairs of packets).
    source = "filesrc name=file ! wavparse ! audiobuffersplit output-buffer-duration=1/50 ! clocksync";
  }
  const std::string rtpCaps = "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=" +
                              std::to_string(kOpusPayloadType);
  // WebRTC: webrtcbin on both paths. Plain RTP: one socket, sending and receiving.
  const std::string network =
      plainRtp ? " ! udpsink name=rtpout sync=false async=false  udpsrc name=rtpin caps=\"" + rtpCaps +
                     "\" ! rtpjitterbuffer latency=40 do-lost=true ! "
               : " ! webrtcbin name=webrtc bundle-policy=max-bundle latency=40  ";
  return source +
         " ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 ! opusenc name=enc ! rtpopuspay name=pay pt=" +
         std::to_string(kOpusPayloadType) + " ! " + rtpCaps + network + " rtpopusdepay name=depay ! " + returnDecoder() +
         " ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! appsink name=heard sync=false";
}

}  // namespace roomcast::client
