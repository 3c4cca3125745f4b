#include "media/webrtc_transport.h"

#include <gst/rtp/gstrtpbuffer.h>
#include <gst/webrtc/webrtc.h>

#include "glib_support/owned_data.h"
#include "media/debug.h"
#include "media/lossy_link.h"
#include "media/red_sdp.h"
#include "media/webrtc_util.h"

#define GST_CAT_DEFAULT roomcast_media_debug

namespace roomcast::media {

using core::Error;
using core::ErrorCode;

namespace {
struct DropPeerGatesRef {
  void operator()(PeerGates* gates) const { unrefPeerGates(gates); }
};
}  // namespace

// Lives as long as the webrtcbin (freed with its qdata, after its signal handlers are gone).
struct WebRtcTransport::CallbackContext {
  PeerKey key;
  PeerEvents* events;
  PadPtr uplinkSink;
  std::unique_ptr<PeerGates, DropPeerGatesRef> gates;  // one reference, dropped with the context
};

namespace {

// State carried through webrtcbin's promise chain: set-remote → create-answer → set-local.
struct AnswerJob {
  ElementPtr webrtc;
  PeerKey key;
  PeerEvents* events;
  std::optional<RedFormat> red;  // the offer's RED for Opus, answered in kind
};

void onAnswerCreated(GstPromise* promise, gpointer data) {
  auto* job = &glib_support::handedOff<AnswerJob>(data);
  const GstStructure* reply = gst_promise_get_reply(promise);
  GstWebRTCSessionDescription* answer = nullptr;
  if (reply) gst_structure_get(reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, nullptr);
  if (!answer) {
    g_autoptr(GError) error = nullptr;
    if (reply) gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr);
    job->events->postFailure(job->key, std::string("could not create an answer: ") +
                                           (error ? error->message : "no reason given"));
    gst_promise_unref(promise);  // frees job
    return;
  }
  // Our answer names our random SSRC as the offer named theirs: dropped for the same reason
  // (see dropSsrcAttributes). Clients take the one stream of the m-line whatever its SSRC.
  dropSsrcAttributes(answer->sdp);
  if (job->red && !alignAnswerRed(answer->sdp, *job->red))
    GST_WARNING("peer %s: RED offered but not in webrtcbin's answer", job->key.peerId.c_str());
  g_signal_emit_by_name(job->webrtc.get(), "set-local-description", answer, nullptr);
  g_autofree char* text = gst_sdp_message_as_text(answer->sdp);
  job->events->postAnswer(job->key, text);
  gst_webrtc_session_description_free(answer);
  gst_promise_unref(promise);
}

void onRemoteDescriptionSet(GstPromise* promise, gpointer data) {
  auto* job = &glib_support::handedOff<AnswerJob>(data);
  const GstStructure* reply = gst_promise_get_reply(promise);
  g_autoptr(GError) error = nullptr;
  if (reply) gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr);
  if (error) {
    job->events->postFailure(job->key, std::string("offer refused: ") + error->message);
    gst_promise_unref(promise);  // frees job
    return;
  }
  auto next = glib_support::handOff(AnswerJob(*job));
  GstPromise* answerPromise = gst_promise_new_with_change_func(onAnswerCreated, next.data, next.destroy);
  g_signal_emit_by_name(job->webrtc.get(), "create-answer", nullptr, answerPromise);
  gst_promise_unref(promise);
}

// rtpreddec marks the packets it rebuilt from a redundant copy REDUNDANT, and rtpbin's
// rtpstorage (right after it, kept for ULPFEC) swallows every packet so marked: without this
// probe no rebuilt packet ever reached the jitter buffer (the test saw 58 of 66 dropped
// packets still lost with RED on). Unmarked, the rebuilt packet goes on just ahead of the
// packet that carried it, in time for its slot.
GstPadProbeReturn passRebuiltPacket(GstPad*, GstPadProbeInfo* info, gpointer) {
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!buffer || !GST_BUFFER_FLAG_IS_SET(buffer, GST_RTP_BUFFER_FLAG_REDUNDANT)) return GST_PAD_PROBE_OK;
  buffer = gst_buffer_make_writable(buffer);
  GST_BUFFER_FLAG_UNSET(buffer, GST_RTP_BUFFER_FLAG_REDUNDANT);
  GST_PAD_PROBE_INFO_DATA(info) = buffer;
  return GST_PAD_PROBE_OK;
}

// webrtcbin 1.22 builds its RED elements itself; two need help, on sessions that negotiated
// RED only. rtpredenc (one per sending transceiver) is left at distance 0: RED packets that
// carry no earlier frame, nothing to rebuild from. One earlier frame (as Chromium sends)
// rebuilds any loss that is not two in a row. (With distance > 0 and no RED payload type it
// would wrap plain Opus in pt 0, hence RED sessions only.) rtpreddec: see passRebuiltPacket.
void onDeepElementAdded(GstBin*, GstBin*, GstElement* element, gpointer) {
  GstElementFactory* factory = gst_element_get_factory(element);
  const char* name = factory ? GST_OBJECT_NAME(factory) : "";
  if (g_strcmp0(name, "rtpredenc") == 0) g_object_set(element, "distance", WebRtcTransport::kRedDistance, nullptr);
  if (g_strcmp0(name, "rtpreddec") == 0) {
    g_autoptr(GstPad) src = gst_element_get_static_pad(element, "src");
    if (src) gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER, passRebuiltPacket, nullptr, nullptr);
  }
}

void onIceCandidate(GstElement*, guint mline, gchar* candidate, gpointer data) {
  auto* ctx = static_cast<WebRtcTransport::CallbackContext*>(data);
  ctx->events->postCandidate(ctx->key, mline, candidate ? candidate : "");
}

// Streaming thread: link the new RTP pad to the uplink built beforehand.
void onPadAdded(GstElement*, GstPad* pad, gpointer data) {
  auto* ctx = static_cast<WebRtcTransport::CallbackContext*>(data);
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) return;
  if (!gst_pad_is_linked(ctx->uplinkSink.get()) && gst_pad_link(pad, ctx->uplinkSink.get()) != GST_PAD_LINK_OK)
    ctx->events->postFailure(ctx->key, "cannot link the incoming audio");
}

void onIceStateChanged(GstElement* webrtc, GParamSpec*, gpointer data) {
  auto* ctx = static_cast<WebRtcTransport::CallbackContext*>(data);
  GstWebRTCICEConnectionState state;
  g_object_get(webrtc, "ice-connection-state", &state, nullptr);
  GST_INFO("peer %s: ICE %d", ctx->key.peerId.c_str(), state);
  if (state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED) ctx->events->postTransportFailure(ctx->key, "ICE failed");
}

// Until DTLS is up, webrtcbin blocks RTP inside (transportsendbin); the gate keeps the room's
// mixer thread from ever waiting there.
void onConnectionStateChanged(GstElement* webrtc, GParamSpec*, gpointer data) {
  auto* ctx = static_cast<WebRtcTransport::CallbackContext*>(data);
  GstWebRTCPeerConnectionState state;
  g_object_get(webrtc, "connection-state", &state, nullptr);
  GST_INFO("peer %s: connection %d", ctx->key.peerId.c_str(), state);
  g_atomic_int_set(&ctx->gates->transportReady, state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED);
  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED) ctx->events->postConnected(ctx->key);
  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED) ctx->events->postTransportFailure(ctx->key, "DTLS failed");
}

}  // namespace

WebRtcTransport::WebRtcTransport(PeerKey key, PeerEvents& events, GstSDPMessage* offer, unsigned jitterLatencyMs,
                                 IceSettings ice)
    : key_(std::move(key)), events_(events), offer_(offer), jitterLatencyMs_(jitterLatencyMs),
      ice_(std::move(ice)),
      name_("peer-" + key_.peerId + "-" + std::to_string(key_.serial)) {
  if (auto opus = opusPayloadType(offer_)) red_ = offeredRed(offer_, *opus);
}

WebRtcTransport::~WebRtcTransport() {
  detach();
  if (offer_) gst_sdp_message_free(offer_);
}

core::Status WebRtcTransport::attach(GstBin* pipeline, GstPad* uplinkSink, GstPad* returnSrc, PeerGates* gates) {
  pipeline_ = pipeline;
  webrtc_ = makeElement("webrtcbin", name_.c_str());
  if (!webrtc_) return Error{ErrorCode::Internal, "webrtcbin is missing (gstreamer1.0-plugins-bad)"};
  gst_util_set_object_arg(G_OBJECT(webrtc_.get()), "bundle-policy", "max-bundle");
  // webrtcbin's jitter buffers report lost packets (do-lost), which opusfecdec rebuilds from
  // FEC; tests/integration/test_end_to_end.cpp (LostWebRtcUplinkPacketsAreRebuiltFromFec)
  // fails if that ever stops.
  g_object_set(webrtc_.get(), "latency", jitterLatencyMs_, nullptr);
  // Behind a NAT (a cloud VM's private address), the server-reflexive candidate is the one a
  // browser outside can reach; behind a firewall, only the configured UDP ports are open.
  applyIceSettings(webrtc_.get(), ice_);
  gst_bin_add(pipeline, webrtc_.get());
  addLoopbackToIceAgent(webrtc_.get());
  // A speaker on a lossy link connects in a second or two, not at the deadline (lossy_link.h).
  prepareForLossyLinks(webrtc_.get());

  auto owned = glib_support::handOff(
      CallbackContext{key_, &events_, PadPtr::ref(uplinkSink), decltype(CallbackContext::gates)(refPeerGates(gates))});
  auto* ctx = &glib_support::handedOff<CallbackContext>(owned.data);
  g_object_set_data_full(G_OBJECT(webrtc_.get()), "roomcast-peer", owned.data, owned.destroy);
  g_signal_connect(webrtc_.get(), "on-ice-candidate", G_CALLBACK(onIceCandidate), ctx);
  g_signal_connect(webrtc_.get(), "pad-added", G_CALLBACK(onPadAdded), ctx);
  g_signal_connect(webrtc_.get(), "notify::ice-connection-state", G_CALLBACK(onIceStateChanged), ctx);
  g_signal_connect(webrtc_.get(), "notify::connection-state", G_CALLBACK(onConnectionStateChanged), ctx);
  if (red_) g_signal_connect(webrtc_.get(), "deep-element-added", G_CALLBACK(onDeepElementAdded), nullptr);

  g_autoptr(GstPad) webrtcSink = gst_element_request_pad_simple(webrtc_.get(), "sink_%u");
  if (!webrtcSink || gst_pad_link(returnSrc, webrtcSink) != GST_PAD_LINK_OK)
    return Error{ErrorCode::Internal, "cannot link the speaker's return to webrtcbin"};
  if (red_) offerRedBothWays(webrtcSink);
  gst_element_sync_state_with_parent(webrtc_.get());

  GstWebRTCSessionDescription* offer = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, offer_);
  offer_ = nullptr;  // owned by the description now
  auto job = glib_support::handOff(AnswerJob{webrtc_, key_, &events_, red_});
  GstPromise* promise = gst_promise_new_with_change_func(onRemoteDescriptionSet, job.data, job.destroy);
  g_signal_emit_by_name(webrtc_.get(), "set-remote-description", offer, promise);
  gst_webrtc_session_description_free(offer);
  return core::Ok{};
}

// The offer had RED for Opus: with the transceiver's fec-type ulp-red, webrtcbin answers it
// (from the offer's own payload type) and then unwraps incoming RED before its jitter buffer
// (rtpreddec: a lost packet comes back from the next one's copy) and wraps what it sends.
void WebRtcTransport::offerRedBothWays(GstPad* webrtcSink) {
  GstWebRTCRTPTransceiver* transceiver = nullptr;
  g_object_get(webrtcSink, "transceiver", &transceiver, nullptr);
  if (!transceiver) return;
  g_object_set(transceiver, "fec-type", GST_WEBRTC_FEC_TYPE_ULP_RED, nullptr);
  gst_object_unref(transceiver);
  GST_INFO("peer %s: RED (pt %d) offered, answered", key_.peerId.c_str(), red_->payloadType);
}

void WebRtcTransport::detach() {
  if (!webrtc_) return;
  removeFromRunningBin(pipeline_, webrtc_.get());
  webrtc_.reset();
}

core::Status WebRtcTransport::addRemoteCandidate(unsigned mline, const std::string& candidate) {
  if (!webrtc_) return Error{ErrorCode::Conflict, "send an offer before candidates"};
  // An empty candidate marks the end of the remote candidates; webrtcbin 1.22 wants none.
  if (candidate.empty()) return core::Ok{};
  g_signal_emit_by_name(webrtc_.get(), "add-ice-candidate", mline, candidate.c_str());
  return core::Ok{};
}

}  // namespace roomcast::media
