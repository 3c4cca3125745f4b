#include "media/direct_rtp_return.h"

#include <gst/rtp/gstrtpbuffer.h>

#include "media/debug.h"
#include "media/peer_gates.h"
#include "media/rtp_transport.h"

#define GST_CAT_DEFAULT roomcast_media_debug

namespace roomcast::media {

namespace {
constexpr guint32 kClockRate = 48000;  // Opus' RTP clock
}  // namespace

DirectRtpReturn::DirectRtpReturn(GSocket* socket, const RtpEndpoint& remote, int payloadType)
    : socket_(G_SOCKET(g_object_ref(socket))),
      remote_(g_inet_socket_address_new_from_string(remote.host.c_str(), static_cast<guint>(remote.port))),
      payloadType_(static_cast<guint8>(payloadType & 0x7f)),
      ssrc_(g_random_int()),
      timestampBase_(g_random_int()),
      sequence_(static_cast<guint16>(g_random_int_range(0, 65536))) {}

DirectRtpReturn::~DirectRtpReturn() {
  g_clear_object(&remote_);
  g_object_unref(socket_);
}

guint32 DirectRtpReturn::timestampAt(GstClockTime pts) {
  // Both sources are frames of the mixer's timeline; without a time, continue by one frame.
  const guint32 ts = GST_CLOCK_TIME_IS_VALID(pts)
                         ? timestampBase_ + static_cast<guint32>(gst_util_uint64_scale(pts, kClockRate, GST_SECOND))
                         : lastTimestamp_ + kClockRate / 50;
  lastTimestamp_ = ts;
  return ts;
}

void DirectRtpReturn::sendShared(GstBuffer* opusFrame) {
  if (!remote_) return;
  GstMapInfo map;
  if (!gst_buffer_map(opusFrame, &map, GST_MAP_READ)) return;
  guint8 header[12] = {0x80, payloadType_};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    GST_WRITE_UINT16_BE(header + 2, nextSequence());
    GST_WRITE_UINT32_BE(header + 4, timestampAt(GST_BUFFER_PTS(opusFrame)));
  }
  GST_WRITE_UINT32_BE(header + 8, ssrc_);
  GOutputVector parts[2] = {{header, sizeof header}, {map.data, map.size}};
  GError* error = nullptr;
  if (g_socket_send_message(socket_, remote_, parts, 2, nullptr, 0, 0, nullptr, &error) < 0) {
    // Like udpsink: a datagram the kernel refuses (the peer's port closed, a full buffer) is lost.
    GST_LOG("shared return to a plain-RTP speaker not sent: %s", error->message);
    g_error_free(error);
  }
  gst_buffer_unmap(opusFrame, &map);
}

GstBuffer* DirectRtpReturn::renumber(GstBuffer* rtpPacket) {
  rtpPacket = gst_buffer_make_writable(rtpPacket);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(rtpPacket, GST_MAP_WRITE, &rtp)) return rtpPacket;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    gst_rtp_buffer_set_seq(&rtp, nextSequence());
    gst_rtp_buffer_set_timestamp(&rtp, timestampAt(GST_BUFFER_PTS(rtpPacket)));
  }
  gst_rtp_buffer_set_ssrc(&rtp, ssrc_);
  gst_rtp_buffer_unmap(&rtp);
  return rtpPacket;
}

namespace {

struct SharedReturnProbe {
  PeerGates* gates;  // one reference
  std::shared_ptr<DirectRtpReturn> sender;
};

GstPadProbeReturn sendWhileShared(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* probe = static_cast<SharedReturnProbe*>(data);
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  if (buffer && g_atomic_int_get(&probe->gates->sharedReturn) && g_atomic_int_get(&probe->gates->transportReady))
    probe->sender->sendShared(buffer);
  // Dropped from the branch in every case (tee counts a dropped buffer as delivered).
  return GST_PAD_PROBE_DROP;
}

}  // namespace

void addDirectSharedReturn(GstPad* teeBranch, PeerGates* gates, std::shared_ptr<DirectRtpReturn> sender) {
  auto* probe = new SharedReturnProbe{refPeerGates(gates), std::move(sender)};
  gst_pad_add_probe(teeBranch, GST_PAD_PROBE_TYPE_BUFFER, sendWhileShared, probe, [](gpointer data) {
    auto* p = static_cast<SharedReturnProbe*>(data);
    unrefPeerGates(p->gates);
    delete p;
  });
}

void addReturnRenumbering(GstPad* udpsinkPad, std::shared_ptr<DirectRtpReturn> sender) {
  gst_pad_add_probe(
      udpsinkPad, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad*, GstPadProbeInfo* info, gpointer data) {
        auto& direct = *static_cast<std::shared_ptr<DirectRtpReturn>*>(data);
        GST_PAD_PROBE_INFO_DATA(info) = direct->renumber(GST_PAD_PROBE_INFO_BUFFER(info));
        return GST_PAD_PROBE_OK;
      },
      new std::shared_ptr<DirectRtpReturn>(std::move(sender)),
      [](gpointer data) { delete static_cast<std::shared_ptr<DirectRtpReturn>*>(data); });
}

}  // namespace roomcast::media
