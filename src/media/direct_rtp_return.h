// A plain-RTP speaker's return, sent by roomcastd itself while they hear the room's shared
// program: the shared Opus frame, one 12-byte RTP header, one sendmsg. Through the speaker's
// own branch (tee branch, funnel, payloader, capsfilter, udpsink) that packet cost several
// times the send itself, for every silent speaker every 20 ms (bench/README, janus-compare).
// SharedReturnFanout sends each frame to all of a room's silent plain-RTP speakers from one
// probe: a tee pad per speaker still cost a pad push, a probe dispatch and GIO's address
// conversion for each of them (at 1000 speakers about a fifth of a core).
//
// Their own mix-minus (while they talk) still goes through that branch; a probe before its
// udpsink renumbers those packets from the same counters, so the speaker receives one RTP
// stream whichever source a packet came from: one SSRC, consecutive sequence numbers, and
// timestamps from the mixer's timeline (the same for both, so a switch keeps them monotonic).
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

#include <sys/socket.h>

#include <memory>
#include <mutex>
#include <vector>

namespace roomcast::media {

struct RtpEndpoint;

class DirectRtpReturn {
 public:
  // `socket`: the speaker's (symmetric RTP: their return leaves from where they send to).
  DirectRtpReturn(GSocket* socket, const RtpEndpoint& remote, int payloadType);
  ~DirectRtpReturn();
  DirectRtpReturn(const DirectRtpReturn&) = delete;
  DirectRtpReturn& operator=(const DirectRtpReturn&) = delete;

  // Streaming threads. Sends one Opus frame of the shared program encoding, which starts
  // at `pts` on the mixer's timeline.
  void sendShared(const guint8* opusFrame, gsize size, GstClockTime pts);
  // Gives an own-return RTP packet this stream's SSRC, next sequence number and timestamp.
  // Takes the buffer, returns it (or a writable copy).
  GstBuffer* renumber(GstBuffer* rtpPacket);

  guint32 ssrc() const { return ssrc_; }

 private:
  // Under mutex_: the next sequence number, and the RTP timestamp of a frame at `pts`.
  guint16 nextSequence() { return sequence_++; }
  guint32 timestampAt(GstClockTime pts);

  GSocket* socket_;  // one reference: the descriptor stays open while this object lives
  const int fd_;
  sockaddr_storage remote_{};
  socklen_t remoteLength_ = 0;  // 0: the remote address could not be converted
  const guint8 payloadType_;
  const guint32 ssrc_, timestampBase_;
  std::mutex mutex_;
  guint16 sequence_;
  guint32 lastTimestamp_ = 0;
};

struct PeerGates;

// A room's silent plain-RTP speakers. The list is copied on every change and read without a
// lock held while sending, so the control thread that adds and removes speakers never waits
// for a round of 1000 sends.
class SharedReturnFanout {
 public:
  // Control thread. `gates` say, for each frame, whether the speaker hears the shared
  // program (silent) and whether their transport is ready.
  void add(PeerGates* gates, std::shared_ptr<DirectRtpReturn> sender);
  void remove(const DirectRtpReturn* sender);
  // Streaming thread (the program encoder's): one frame to every speaker who hears it now.
  void send(GstBuffer* opusFrame) const;

 private:
  struct Entry {
    std::shared_ptr<PeerGates> gates;
    std::shared_ptr<DirectRtpReturn> sender;
  };
  using Entries = std::vector<Entry>;
  std::shared_ptr<const Entries> snapshot() const;

  mutable std::mutex mutex_;
  std::shared_ptr<const Entries> entries_ = std::make_shared<Entries>();
};

// On the shared program encoder's output: sends every frame through `fanout`, and lets it on
// (to the WebRTC speakers' branches).
void addSharedReturnFanout(GstPad* encoderSrc, std::shared_ptr<SharedReturnFanout> fanout);
// Before the transport's udpsink: renumbers the speaker's own return.
void addReturnRenumbering(GstPad* udpsinkPad, std::shared_ptr<DirectRtpReturn> sender);

}  // namespace roomcast::media
