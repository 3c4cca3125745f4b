#include "media/direct_rtp_return.h"

#include <gst/rtp/gstrtpbuffer.h>
#include <sys/uio.h>

#include <cerrno>

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
      fd_(g_socket_get_fd(socket)),
      payloadType_(static_cast<guint8>(payloadType & 0x7f)),
      ssrc_(g_random_int()),
      timestampBase_(g_random_int()),
      sequence_(static_cast<guint16>(g_random_int_range(0, 65536))) {
  // Converted once: GIO would convert the address again for every datagram.
  g_autoptr(GSocketAddress) address =
      g_inet_socket_address_new_from_string(remote.host.c_str(), static_cast<guint>(remote.port));
  if (address && g_socket_address_to_native(address, &remote_, sizeof remote_, nullptr))
    remoteLength_ = static_cast<socklen_t>(g_socket_address_get_native_size(address));
}

DirectRtpReturn::~DirectRtpReturn() { g_object_unref(socket_); }

guint32 DirectRtpReturn::timestampAt(GstClockTime pts) {
  // Both sources are frames of the mixer's timeline; without a time, continue by one frame.
  const guint32 ts = GST_CLOCK_TIME_IS_VALID(pts)
                         ? timestampBase_ + static_cast<guint32>(gst_util_uint64_scale(pts, kClockRate, GST_SECOND))
                         : lastTimestamp_ + kClockRate / 50;
  lastTimestamp_ = ts;
  return ts;
}

void DirectRtpReturn::sendShared(const guint8* opusFrame, gsize size, GstClockTime pts) {
  if (!remoteLength_) return;
  guint8 header[12] = {0x80, payloadType_};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    GST_WRITE_UINT16_BE(header + 2, nextSequence());
    GST_WRITE_UINT32_BE(header + 4, timestampAt(pts));
  }
  GST_WRITE_UINT32_BE(header + 8, ssrc_);
  iovec parts[2] = {{header, sizeof header}, {const_cast<guint8*>(opusFrame), size}};
  msghdr message{};
  message.msg_name = &remote_;
  message.msg_namelen = remoteLength_;
  message.msg_iov = parts;
  message.msg_iovlen = 2;
  // Like udpsink: a datagram the kernel refuses (the peer's port closed, a full buffer) is lost.
  if (sendmsg(fd_, &message, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
    GST_LOG("shared return to a plain-RTP speaker not sent: %s", g_strerror(errno));
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

void SharedReturnFanout::add(PeerGates* gates, std::shared_ptr<DirectRtpReturn> sender) {
  std::shared_ptr<PeerGates> held(refPeerGates(gates), unrefPeerGates);
  std::lock_guard<std::mutex> lock(mutex_);
  auto next = std::make_shared<Entries>(*entries_);
  next->push_back({std::move(held), std::move(sender)});
  entries_ = std::move(next);
}

void SharedReturnFanout::remove(const DirectRtpReturn* sender) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto next = std::make_shared<Entries>();
  next->reserve(entries_->size());
  for (const auto& entry : *entries_)
    if (entry.sender.get() != sender) next->push_back(entry);
  entries_ = std::move(next);
}

std::shared_ptr<const SharedReturnFanout::Entries> SharedReturnFanout::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_;
}

void SharedReturnFanout::send(GstBuffer* opusFrame) const {
  // A speaker removed meanwhile may get this one frame still (their gates are closed first,
  // so normally not); their socket stays open until the snapshot lets go of them.
  const auto entries = snapshot();
  if (entries->empty()) return;
  GstMapInfo map;
  if (!gst_buffer_map(opusFrame, &map, GST_MAP_READ)) return;
  const GstClockTime pts = GST_BUFFER_PTS(opusFrame);
  for (const auto& entry : *entries)
    if (g_atomic_int_get(&entry.gates->sharedReturn) && g_atomic_int_get(&entry.gates->transportReady))
      entry.sender->sendShared(map.data, map.size, pts);
  gst_buffer_unmap(opusFrame, &map);
}

void addSharedReturnFanout(GstPad* encoderSrc, std::shared_ptr<SharedReturnFanout> fanout) {
  addOwningBufferProbe<std::shared_ptr<SharedReturnFanout>>(
      encoderSrc, std::move(fanout), [](std::shared_ptr<SharedReturnFanout>& held, GstPadProbeInfo* info) {
        if (GstBuffer* frame = GST_PAD_PROBE_INFO_BUFFER(info)) held->send(frame);
        return GST_PAD_PROBE_OK;
      });
}

void addReturnRenumbering(GstPad* udpsinkPad, std::shared_ptr<DirectRtpReturn> sender) {
  addOwningBufferProbe<std::shared_ptr<DirectRtpReturn>>(
      udpsinkPad, std::move(sender), [](std::shared_ptr<DirectRtpReturn>& direct, GstPadProbeInfo* info) {
        GST_PAD_PROBE_INFO_DATA(info) = direct->renumber(GST_PAD_PROBE_INFO_BUFFER(info));
        return GST_PAD_PROBE_OK;
      });
}

}  // namespace roomcast::media
