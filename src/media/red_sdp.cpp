#include "media/red_sdp.h"

#include "media/webrtc_util.h"

#include <cstdio>
#include <cstring>
#include <vector>

namespace roomcast::media {

namespace {

// The payload type an rtpmap or fmtp value starts with ("63 red/48000/2" → 63), -1 if none.
int leadingPayloadType(const char* value) {
  int pt = -1;
  if (!value || sscanf(value, "%d", &pt) != 1 || pt < 0 || pt > 127) return -1;
  return pt;
}

const char* attributeFor(const GstSDPMedia* media, const char* key, int pt) {
  for (guint a = 0; a < gst_sdp_media_attributes_len(media); a++) {
    const GstSDPAttribute* attr = gst_sdp_media_get_attribute(media, a);
    if (g_strcmp0(attr->key, key) == 0 && leadingPayloadType(attr->value) == pt) return attr->value;
  }
  return nullptr;
}

// "111/111" with every block `opusPt`.
bool blocksAreAll(const char* blocks, int opusPt) {
  g_auto(GStrv) parts = g_strsplit(blocks, "/", -1);
  if (!parts[0]) return false;
  for (char** p = parts; *p; p++) {
    char* end = nullptr;
    const long pt = strtol(*p, &end, 10);
    if (end == *p || *end != '\0' || pt != opusPt) return false;
  }
  return true;
}

void setAttribute(GstSDPMedia* media, const char* key, int pt, const std::string& value) {
  for (guint a = 0; a < gst_sdp_media_attributes_len(media); a++) {
    const GstSDPAttribute* attr = gst_sdp_media_get_attribute(media, a);
    if (g_strcmp0(attr->key, key) == 0 && leadingPayloadType(attr->value) == pt) {
      GstSDPAttribute replacement;
      gst_sdp_attribute_set(&replacement, key, value.c_str());
      gst_sdp_media_replace_attribute(media, a, &replacement);
      return;
    }
  }
  gst_sdp_media_add_attribute(media, key, value.c_str());
}

}  // namespace

std::optional<RedFormat> offeredRed(const GstSDPMessage* offer, int opusPt) {
  for (const AudioRtpMap& map : audioRtpMaps(offer)) {
    if (g_ascii_strcasecmp(map.encoding.c_str(), "red") != 0 || map.clockRate != 48000 || map.payloadType == opusPt)
      continue;
    const char* fmtp = attributeFor(map.media, "fmtp", map.payloadType);
    const char* blocks = fmtp ? strchr(fmtp, ' ') : nullptr;
    if (!blocks || !blocksAreAll(blocks + 1, opusPt)) continue;
    return RedFormat{map.payloadType, map.value, fmtp};
  }
  return std::nullopt;
}

bool alignAnswerRed(GstSDPMessage* answer, const RedFormat& red) {
  const std::string redPt = std::to_string(red.payloadType);
  for (guint i = 0; i < gst_sdp_message_medias_len(answer); i++) {
    auto* media = const_cast<GstSDPMedia*>(gst_sdp_message_get_media(answer, i));
    std::vector<std::string> formats;
    bool hasRed = false;
    for (guint f = 0; f < gst_sdp_media_formats_len(media); f++) {
      const char* format = gst_sdp_media_get_format(media, f);
      if (redPt == format) hasRed = true;
      else formats.emplace_back(format);
    }
    if (!hasRed) continue;
    while (gst_sdp_media_formats_len(media) > 0) gst_sdp_media_remove_format(media, 0);
    gst_sdp_media_add_format(media, redPt.c_str());
    for (const auto& f : formats) gst_sdp_media_add_format(media, f.c_str());
    setAttribute(media, "rtpmap", red.payloadType, red.rtpmap);
    setAttribute(media, "fmtp", red.payloadType, red.fmtp);
    return true;
  }
  return false;
}

}  // namespace roomcast::media
