#include "media/webrtc_util.h"

#include "media/loss_feedback.h"

#include <nice/agent.h>
#include <nice/interfaces.h>

#include <cstring>

namespace roomcast::media {

void addLoopbackToIceAgent(GstElement* webrtcbin) {
  GObject* ice = nullptr;
  g_object_get(webrtcbin, "ice-agent", &ice, nullptr);
  if (!ice) return;
  NiceAgent* agent = nullptr;
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "agent")) g_object_get(ice, "agent", &agent, nullptr);
  if (agent) {
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(agent), "upnp")) g_object_set(agent, "upnp", FALSE, nullptr);
    // Once one local address is added, libnice gathers on the added ones only: add this host's
    // own addresses too, or clients on other machines get nothing but 127.0.0.1.
    GList* addresses = nice_interfaces_get_local_ips(FALSE);
    addresses = g_list_append(addresses, g_strdup("127.0.0.1"));
    for (GList* a = addresses; a; a = a->next) {
      NiceAddress address;
      nice_address_init(&address);
      if (nice_address_set_from_string(&address, static_cast<const char*>(a->data)))
        nice_agent_add_local_address(agent, &address);
    }
    g_list_free_full(addresses, g_free);
    g_object_unref(agent);
  }
  g_object_unref(ice);
}

void applyIceSettings(GstElement* webrtcbin, const IceSettings& settings) {
  if (!settings.stunServer.empty()) g_object_set(webrtcbin, "stun-server", settings.stunServer.c_str(), nullptr);
  if (!settings.minPort || !settings.maxPort) return;
  GObject* ice = nullptr;
  g_object_get(webrtcbin, "ice-agent", &ice, nullptr);
  if (!ice) return;
  // max first: min may not exceed the current max (the default range is 0-65535 anyway).
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "max-rtp-port"))
    g_object_set(ice, "max-rtp-port", settings.maxPort, "min-rtp-port", settings.minPort, nullptr);
  g_object_unref(ice);
}

void warmUpDtlsCertificate() {
  GstElement* dtls = gst_element_factory_make("dtlsdec", nullptr);
  if (!dtls) return;
  gst_object_ref_sink(dtls);
  gchar* pem = nullptr;
  g_object_get(dtls, "pem", &pem, nullptr);
  g_free(pem);
  gst_object_unref(dtls);
}

std::vector<AudioRtpMap> audioRtpMaps(const GstSDPMessage* sdp) {
  std::vector<AudioRtpMap> maps;
  for (guint i = 0; i < gst_sdp_message_medias_len(sdp); i++) {
    const GstSDPMedia* media = gst_sdp_message_get_media(sdp, i);
    if (g_strcmp0(gst_sdp_media_get_media(media), "audio") != 0) continue;
    for (guint a = 0; a < gst_sdp_media_attributes_len(media); a++) {
      const GstSDPAttribute* attr = gst_sdp_media_get_attribute(media, a);
      if (g_strcmp0(attr->key, "rtpmap") != 0 || !attr->value) continue;
      int pt = -1, clockRate = 0;
      char encoding[32] = {0};
      if (sscanf(attr->value, "%d %31[^/]/%d", &pt, encoding, &clockRate) >= 2 && pt >= 0 && pt < 128)
        maps.push_back(AudioRtpMap{media, pt, encoding, clockRate, attr->value});
    }
  }
  return maps;
}

std::optional<int> opusPayloadType(const GstSDPMessage* sdp) {
  for (const AudioRtpMap& map : audioRtpMaps(sdp))
    if (g_ascii_strcasecmp(map.encoding.c_str(), "opus") == 0) return map.payloadType;
  return std::nullopt;
}

core::Result<int> checkAudioOffer(const GstSDPMessage* sdp) {
  using core::Error;
  using core::ErrorCode;
  const guint medias = gst_sdp_message_medias_len(sdp);
  if (medias != 1)
    return Error{ErrorCode::MediaError, "the offer must have exactly one m-line (audio); it has " + std::to_string(medias)};
  const GstSDPMedia* media = gst_sdp_message_get_media(sdp, 0);
  if (g_strcmp0(gst_sdp_media_get_media(media), "audio") != 0)
    return Error{ErrorCode::MediaError, "only audio is accepted"};
  guint candidates = 0;
  for (guint a = 0; a < gst_sdp_media_attributes_len(media); a++)
    if (g_strcmp0(gst_sdp_media_get_attribute(media, a)->key, "candidate") == 0) candidates++;
  if (candidates > core::kMaxOfferCandidates)
    return Error{ErrorCode::MediaError, "the offer has " + std::to_string(candidates) + " ICE candidates; at most " +
                                            std::to_string(core::kMaxOfferCandidates)};
  auto pt = opusPayloadType(sdp);
  if (!pt) return Error{ErrorCode::MediaError, "the offer has no Opus codec"};
  return *pt;
}

void configureVoiceOpusEncoder(GstElement* opusenc, int bitrate, bool dtx) {
  gst_util_set_object_arg(G_OBJECT(opusenc), "audio-type", "voice");
  gst_util_set_object_arg(G_OBJECT(opusenc), "frame-size", "20");
  // FEC on from the first packet (see kMinPacketLossPercentage); LossFeedback raises it with
  // the loss a WebRTC receiver reports.
  g_object_set(opusenc, "bitrate", bitrate, "complexity", 5, "inband-fec", TRUE, "packet-loss-percentage",
               kMinPacketLossPercentage,
               "dtx", dtx ? TRUE : FALSE, nullptr);
}

unsigned dropSsrcAttributes(GstSDPMessage* sdp) {
  unsigned dropped = 0;
  for (guint i = 0; i < gst_sdp_message_medias_len(sdp); i++) {
    GstSDPMedia* media = const_cast<GstSDPMedia*>(gst_sdp_message_get_media(sdp, i));
    for (guint a = gst_sdp_media_attributes_len(media); a-- > 0;) {
      const char* key = gst_sdp_media_get_attribute(media, a)->key;
      if (g_strcmp0(key, "ssrc") == 0 || g_strcmp0(key, "ssrc-group") == 0) {
        gst_sdp_media_remove_attribute(media, a);
        dropped++;
      }
    }
  }
  return dropped;
}

GstSDPMessage* parseSdp(const std::string& text) {
  GstSDPMessage* sdp = nullptr;
  if (gst_sdp_message_new_from_text(text.c_str(), &sdp) != GST_SDP_OK) {
    if (sdp) gst_sdp_message_free(sdp);
    return nullptr;
  }
  return sdp;
}

}  // namespace roomcast::media
