#include "media/loss_feedback.h"

#include <gst/webrtc/webrtc.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include "glib_support/owned_data.h"
#include "media/debug.h"

#define GST_CAT_DEFAULT roomcast_media_debug

namespace roomcast::media {

double smoothLossEstimate(double estimate, double fractionLost) {
  fractionLost = std::clamp(fractionLost, 0.0, 1.0);
  if (fractionLost >= estimate) return fractionLost;
  return 0.75 * estimate + 0.25 * fractionLost;
}

int packetLossPercentageFor(double estimate) {
  // 1.5 times the loss seen: random loss over a report's few hundred packets varies by about
  // that much from one report to the next.
  const int percent = static_cast<int>(std::ceil(150 * std::clamp(estimate, 0.0, 1.0)));
  return std::clamp(percent, kMinPacketLossPercentage, kMaxPacketLossPercentage);
}

struct LossFeedback::State {
  GWeakRef webrtc;
  GstElement* encoder;  // one reference
  std::atomic<double> estimate{0};
  std::atomic<int> applied{-1};
  ~State() {
    g_weak_ref_clear(&webrtc);
    gst_object_unref(encoder);
  }
};

namespace {

// The largest fraction lost the receiver reports about what we send. webrtcbin 1.22's
// remote-inbound-rtp "fraction-lost" stays 0 (seen here with 6.6 % reported), so the RTCP
// report block itself is read too: rtpbin's source stats of the receiver carry it
// (have-rb, rb-fractionlost in 1/256).
bool remoteFractionLost(const GstStructure* stats, double& out) {
  bool found = false;
  out = 0;
  const gint fields = gst_structure_n_fields(stats);
  for (gint i = 0; i < fields; i++) {
    const GValue* v = gst_structure_get_value(stats, gst_structure_nth_field_name(stats, i));
    if (!GST_VALUE_HOLDS_STRUCTURE(v)) continue;
    const GstStructure* s = gst_value_get_structure(v);
    GstWebRTCStatsType type;
    double fraction = 0;
    if (gst_structure_get(s, "type", GST_TYPE_WEBRTC_STATS_TYPE, &type, nullptr) &&
        type == GST_WEBRTC_STATS_REMOTE_INBOUND_RTP && gst_structure_get_double(s, "fraction-lost", &fraction)) {
      out = std::max(out, fraction);
      found = true;
    }
    const GValue* source = gst_structure_get_value(s, "gst-rtpsource-stats");
    if (!source || !GST_VALUE_HOLDS_STRUCTURE(source)) continue;
    const GstStructure* rtp = gst_value_get_structure(source);
    gboolean haveReport = FALSE;
    guint lost256 = 0;
    if (gst_structure_get_boolean(rtp, "have-rb", &haveReport) && haveReport &&
        gst_structure_get_uint(rtp, "rb-fractionlost", &lost256)) {
      out = std::max(out, lost256 / 256.0);
      found = true;
    }
  }
  return found;
}

void onStats(GstPromise* promise, gpointer data) {
  auto* state = glib_support::handedOff<std::shared_ptr<LossFeedback::State>>(data).get();
  const GstStructure* reply = gst_promise_get_reply(promise);
  double fraction = 0;
  if (reply && remoteFractionLost(reply, fraction)) {
    const double estimate = smoothLossEstimate(state->estimate.load(), fraction);
    state->estimate.store(estimate);
    const int percent = packetLossPercentageFor(estimate);
    if (state->applied.exchange(percent) != percent) {
      GST_INFO_OBJECT(state->encoder, "receiver reports %.1f %% lost: packet-loss-percentage %d", 100 * fraction,
                      percent);
      g_object_set(state->encoder, "packet-loss-percentage", percent, nullptr);
    }
  }
  gst_promise_unref(promise);
}

}  // namespace

LossFeedback::LossFeedback(GstElement* webrtcbin, GstElement* opusenc, unsigned intervalMs)
    : state_(std::make_shared<State>()) {
  initDebugCategories();  // the CLI uses this too
  g_weak_ref_init(&state_->webrtc, webrtcbin);
  state_->encoder = GST_ELEMENT(gst_object_ref(opusenc));
  g_object_set(opusenc, "packet-loss-percentage", kMinPacketLossPercentage, nullptr);
  using Shared = std::shared_ptr<State>;
  auto shared = glib_support::handOff(Shared(state_));
  timer_ = glib_support::Source::timeout(
      nullptr, intervalMs,
      [](gpointer data) -> gboolean {
        const auto& state = glib_support::handedOff<Shared>(data);
        GstElement* webrtc = static_cast<GstElement*>(g_weak_ref_get(&state->webrtc));
        if (!webrtc) return G_SOURCE_CONTINUE;
        // The promise keeps the state (and so the encoder) until its reply is handled.
        auto forReply = glib_support::handOff(Shared(state));
        GstPromise* promise = gst_promise_new_with_change_func(onStats, forReply.data, forReply.destroy);
        g_signal_emit_by_name(webrtc, "get-stats", nullptr, promise);
        gst_object_unref(webrtc);
        return G_SOURCE_CONTINUE;
      },
      shared);
}

LossFeedback::~LossFeedback() = default;

}  // namespace roomcast::media
