// DirectRtpReturn: the shared program's frames, sent directly, and the speaker's own return
// packets, renumbered, make one RTP stream on the wire: one SSRC, consecutive sequence
// numbers, timestamps from the frames' times, whichever source each packet came from.
// SharedReturnFanout: each frame reaches exactly the speakers whose gates say they hear the
// shared program and are ready, and nobody once removed.
#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <gtest/gtest.h>

#include <vector>

#include "media/direct_rtp_return.h"
#include "media/peer_gates.h"
#include "media/rtp_transport.h"

using roomcast::media::DirectRtpReturn;
using roomcast::media::PeerGates;
using roomcast::media::RtpEndpoint;
using roomcast::media::SharedReturnFanout;

namespace {

GSocket* boundUdpSocket() {
  GSocket* socket = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, nullptr);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
  EXPECT_TRUE(g_socket_bind(socket, any, FALSE, nullptr));
  g_socket_set_timeout(socket, 5);  // a receive that never comes fails the test, not hangs it
  return socket;
}

int portOf(GSocket* socket) {
  g_autoptr(GSocketAddress) local = g_socket_get_local_address(socket, nullptr);
  return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
}

GstBuffer* frameAt(GstClockTime pts, guint8 fill) {
  GstBuffer* frame = gst_buffer_new_allocate(nullptr, 3, nullptr);
  gst_buffer_memset(frame, 0, fill, 3);
  GST_BUFFER_PTS(frame) = pts;
  return frame;
}

// What the speaker's own payloader makes: its own SSRC, numbering and timestamps.
GstBuffer* ownPacketAt(GstClockTime pts, guint16 sequence) {
  GstBuffer* packet = gst_rtp_buffer_new_allocate(3, 0, 0);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  gst_rtp_buffer_map(packet, GST_MAP_WRITE, &rtp);
  gst_rtp_buffer_set_payload_type(&rtp, 111);
  gst_rtp_buffer_set_seq(&rtp, sequence);
  gst_rtp_buffer_set_timestamp(&rtp, 777);
  gst_rtp_buffer_set_ssrc(&rtp, 0xdeadbeef);
  memset(gst_rtp_buffer_get_payload(&rtp), 0xbb, 3);
  gst_rtp_buffer_unmap(&rtp);
  GST_BUFFER_PTS(packet) = pts;
  return packet;
}

// A speaker's gates, as SpeakerPeer keeps them: ready, and hearing the shared program or not.
struct Gates {
  roomcast::media::SharedListeners* room = roomcast::media::newSharedListeners();
  PeerGates* gates = roomcast::media::newPeerGates(room);
  explicit Gates(bool shared) {
    g_atomic_int_set(&gates->transportReady, 1);
    roomcast::media::setSharedReturn(gates, shared);
  }
  ~Gates() {
    roomcast::media::unrefPeerGates(gates);
    roomcast::media::unrefSharedListeners(room);
  }
};

// The first byte of the payload of the next datagram `receiver` gets (5 s at most).
int nextPayloadByte(GSocket* receiver) {
  guint8 datagram[64];
  const gssize n = g_socket_receive(receiver, reinterpret_cast<gchar*>(datagram), sizeof datagram, nullptr, nullptr);
  return n >= 13 ? datagram[12] : -1;
}

struct Received {
  guint8 payloadType;
  guint16 sequence;
  guint32 timestamp, ssrc;
  guint8 firstPayloadByte;
};

TEST(DirectRtpReturn, SharedFramesAndOwnPacketsFormOneStream) {
  g_autoptr(GSocket) receiver = boundUdpSocket();
  g_autoptr(GSocket) server = boundUdpSocket();
  g_autoptr(GSocketAddress) receiverAddress = g_socket_get_local_address(receiver, nullptr);
  auto sender = std::make_shared<DirectRtpReturn>(server, RtpEndpoint{"127.0.0.1", portOf(receiver)}, 111);
  Gates silent(true);
  SharedReturnFanout fanout;
  fanout.add(silent.gates, sender);

  // Shared, shared, own, own, shared, ... and one shared frame without a time.
  const bool own[] = {false, false, true, true, false, false, false, true, false, false};
  for (int i = 0; i < 10; i++) {
    const GstClockTime pts = i == 5 ? GST_CLOCK_TIME_NONE : 1 * GST_SECOND + i * 20 * GST_MSECOND;
    if (own[i]) {
      // As udpsink would send it, after the renumbering probe.
      GstBuffer* packet = sender->renumber(ownPacketAt(pts, static_cast<guint16>(4000 + i)));
      GstMapInfo map;
      ASSERT_TRUE(gst_buffer_map(packet, &map, GST_MAP_READ));
      ASSERT_EQ(g_socket_send_to(server, receiverAddress, reinterpret_cast<const gchar*>(map.data), map.size,
                                 nullptr, nullptr),
                static_cast<gssize>(map.size));
      gst_buffer_unmap(packet, &map);
      gst_buffer_unref(packet);
    } else {
      GstBuffer* frame = frameAt(pts, 0xaa);
      fanout.send(frame);
      gst_buffer_unref(frame);
    }
  }

  std::vector<Received> got;
  for (int i = 0; i < 10; i++) {
    guint8 datagram[64];
    GError* error = nullptr;
    const gssize n = g_socket_receive(receiver, reinterpret_cast<gchar*>(datagram), sizeof datagram, nullptr, &error);
    ASSERT_EQ(n, 15) << (error ? error->message : "short datagram");
    EXPECT_EQ(datagram[0], 0x80) << "RTP version 2, no padding, extension or CSRCs";
    got.push_back({static_cast<guint8>(datagram[1] & 0x7f), GST_READ_UINT16_BE(datagram + 2),
                   GST_READ_UINT32_BE(datagram + 4), GST_READ_UINT32_BE(datagram + 8), datagram[12]});
  }
  for (int i = 0; i < 10; i++) {
    SCOPED_TRACE(i);
    EXPECT_EQ(got[i].payloadType, 111);
    EXPECT_EQ(got[i].ssrc, sender->ssrc()) << "one SSRC, never the own payloader's";
    EXPECT_EQ(got[i].firstPayloadByte, own[i] ? 0xbb : 0xaa) << "the payload is untouched";
    EXPECT_EQ(static_cast<guint16>(got[i].sequence - got[0].sequence), i) << "consecutive sequence numbers";
    EXPECT_EQ(got[i].timestamp - got[0].timestamp, static_cast<guint32>(i * 960)) << "48 kHz timestamps of 20 ms frames";
  }
}

TEST(SharedReturnFanout, SendsToSilentReadySpeakersOnlyAndNobodyAfterRemoval) {
  g_autoptr(GSocket) silentEar = boundUdpSocket();
  g_autoptr(GSocket) talkerEar = boundUdpSocket();
  g_autoptr(GSocket) silentServer = boundUdpSocket();
  g_autoptr(GSocket) talkerServer = boundUdpSocket();
  auto toSilent = std::make_shared<DirectRtpReturn>(silentServer, RtpEndpoint{"127.0.0.1", portOf(silentEar)}, 111);
  auto toTalker = std::make_shared<DirectRtpReturn>(talkerServer, RtpEndpoint{"127.0.0.1", portOf(talkerEar)}, 111);
  Gates silent(true), talker(false);
  SharedReturnFanout fanout;
  fanout.add(silent.gates, toSilent);
  fanout.add(talker.gates, toTalker);

  // A datagram from elsewhere, sent after the fanout's: if it comes first, the fanout sent nothing.
  g_autoptr(GSocket) marker = boundUdpSocket();
  auto sendMarker = [&](GSocket* to) {
    g_autoptr(GSocketAddress) address = g_socket_get_local_address(to, nullptr);
    const gchar datagram[13] = {static_cast<gchar>(0x80), 111, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<gchar>(0xee)};
    ASSERT_EQ(g_socket_send_to(marker, address, datagram, sizeof datagram, nullptr, nullptr), 13);
  };

  GstBuffer* frame = frameAt(GST_SECOND, 0xaa);
  fanout.send(frame);
  sendMarker(silentEar);
  sendMarker(talkerEar);
  EXPECT_EQ(nextPayloadByte(silentEar), 0xaa) << "a silent speaker hears the shared program";
  EXPECT_EQ(nextPayloadByte(silentEar), 0xee);
  EXPECT_EQ(nextPayloadByte(talkerEar), 0xee) << "a talker hears their own mix-minus, not the program";

  // Not ready (the transport's handshake), or removed: nothing.
  g_atomic_int_set(&silent.gates->transportReady, 0);
  fanout.send(frame);
  sendMarker(silentEar);
  EXPECT_EQ(nextPayloadByte(silentEar), 0xee) << "nothing before the transport is ready";
  g_atomic_int_set(&silent.gates->transportReady, 1);
  fanout.remove(toSilent.get());
  fanout.send(frame);
  sendMarker(silentEar);
  EXPECT_EQ(nextPayloadByte(silentEar), 0xee) << "nothing after removal";
  gst_buffer_unref(frame);
}

}  // namespace
