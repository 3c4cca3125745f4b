// A plain-RTP speaker's return, sent by roomcastd itself while they hear the room's shared
// program: the shared Opus frame, one 12-byte RTP header, one sendmsg. Through the speaker's
// own branch (tee branch, funnel, payloader, capsfilter, udpsink) that packet cost several
// times the send itself, for every silent speaker every 20 ms (bench/README, janus-compare).
//
// Their own mix-minus (while they talk) still goes through that branch; a probe before its
// udpsink renumbers those packets from the same counters, so the speaker receives one RTP
// stream whichever source a packet came from: one SSRC, consecutive sequence numbers, and
// timestamps from the mixer's timeline (the same for both, so a switch keeps them monotonic).
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

#include <memory>
#include <mutex>

namespace roomcast::media {

struct RtpEndpoint;

class DirectRtpReturn {
 public:
  // `socket`: the speaker's (symmetric RTP: their return leaves from where they send to).
  DirectRtpReturn(GSocket* socket, const RtpEndpoint& remote, int payloadType);
  ~DirectRtpReturn();
  DirectRtpReturn(const DirectRtpReturn&) = delete;
  DirectRtpReturn& operator=(const DirectRtpReturn&) = delete;

  // Streaming threads. Sends one Opus frame of the shared program encoding.
  void sendShared(GstBuffer* opusFrame);
  // Gives an own-return RTP packet this stream's SSRC, next sequence number and timestamp.
  // Takes the buffer, returns it (or a writable copy).
  GstBuffer* renumber(GstBuffer* rtpPacket);

  guint32 ssrc() const { return ssrc_; }

 private:
  // Under mutex_: the next sequence number, and the RTP timestamp of a frame at `pts`.
  guint16 nextSequence() { return sequence_++; }
  guint32 timestampAt(GstClockTime pts);

  GSocket* socket_;
  GSocketAddress* remote_;
  const guint8 payloadType_;
  const guint32 ssrc_, timestampBase_;
  std::mutex mutex_;
  guint16 sequence_;
  guint32 lastTimestamp_ = 0;
};

// Pad probes (refcounted data, safe against a probe that fires during teardown):
// on the speaker's branch of the shared program tee, sends each frame directly while the
// speaker is silent and drops it from the branch either way;
struct PeerGates;
void addDirectSharedReturn(GstPad* teeBranch, PeerGates* gates, std::shared_ptr<DirectRtpReturn> sender);
// and before the transport's udpsink, renumbers the speaker's own return.
void addReturnRenumbering(GstPad* udpsinkPad, std::shared_ptr<DirectRtpReturn> sender);

}  // namespace roomcast::media
