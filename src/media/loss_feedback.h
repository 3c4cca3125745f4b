// The loss a receiver reports through RTCP, fed back to the Opus encoder that sends to it
// (issue 20): opusenc's `packet-loss-percentage` follows the fraction lost of the receiver
// reports (webrtcbin's "get-stats", remote-inbound-rtp), so its in-band FEC grows with the loss.
// Used by the CLI speaker (its uplink encoder) and by the server (each speaker's return).
#pragma once

#include <gst/gst.h>

#include <memory>

#include "glib_support/source.h"

namespace roomcast::media {

// libopus 1.3 adds in-band FEC (LBRR) to a 32 kbit/s voice stream only from an expected loss of
// 6 % on: at 5 % (the old fixed setting) its packets carried none, and every loss was
// concealed. So the expected loss never goes below this, and FEC is always there to use.
constexpr int kMinPacketLossPercentage = 6;
// Beyond this, more FEC only takes bits from the audio itself.
constexpr int kMaxPacketLossPercentage = 30;

// Pure logic: the smoothed loss estimate (0..1) after a report of `fractionLost`; a rise is
// taken at once (the encoder should protect the next packets), a fall slowly (losses come in
// spells, and one clean report is no proof the spell is over).
double smoothLossEstimate(double estimate, double fractionLost);
// The packet-loss-percentage for an estimate: a little above the loss seen (the reports lag),
// within [kMinPacketLossPercentage, kMaxPacketLossPercentage].
int packetLossPercentageFor(double estimate);

// Every `intervalMs` on the calling thread's main context, asks `webrtcbin` for its stats and
// sets `opusenc`'s packet-loss-percentage from the fraction lost its remote-inbound-rtp stats
// report (the receiver's RTCP). The reply arrives on webrtcbin's thread and touches nothing
// but the encoder, which it holds a reference to. Stops when the returned handle is destroyed
// (on the same thread), or when webrtcbin is gone.
class LossFeedback {
 public:
  LossFeedback(GstElement* webrtcbin, GstElement* opusenc, unsigned intervalMs = 1000);
  ~LossFeedback();
  LossFeedback(const LossFeedback&) = delete;
  LossFeedback& operator=(const LossFeedback&) = delete;

  struct State;

 private:
  std::shared_ptr<State> state_;
  glib_support::Source timer_;  // on the global default context, as the CLI's loop and roomcastd's are
};

}  // namespace roomcast::media
