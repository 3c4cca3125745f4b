#include "media/speaker_peer.h"

#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include "media/debug.h"
#include "media/webrtc_util.h"

#define GST_CAT_DEFAULT roomcast_media_debug

namespace roomcast::media {

using core::Error;
using core::ErrorCode;

// Lives as long as the webrtcbin (freed with its qdata, after its signal handlers are gone).
struct SpeakerPeer::CallbackContext {
  PeerKey key;
  PeerEvents* events;
  ElementPtr depay;
};

namespace {

// State carried through webrtcbin's promise chain: set-remote → create-answer → set-local.
struct AnswerJob {
  ElementPtr webrtc;
  PeerKey key;
  PeerEvents* events;
};

void onAnswerCreated(GstPromise* promise, gpointer data) {
  auto* job = static_cast<AnswerJob*>(data);
  const GstStructure* reply = gst_promise_get_reply(promise);
  GstWebRTCSessionDescription* answer = nullptr;
  if (reply) gst_structure_get(reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, nullptr);
  if (!answer) {
    GError* error = nullptr;
    if (reply) gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr);
    job->events->postFailure(job->key, std::string("could not create an answer: ") +
                                           (error ? error->message : "no reason given"));
    g_clear_error(&error);
    gst_promise_unref(promise);  // frees job
    return;
  }
  g_signal_emit_by_name(job->webrtc.get(), "set-local-description", answer, nullptr);
  g_autofree char* text = gst_sdp_message_as_text(answer->sdp);
  job->events->postAnswer(job->key, text);
  gst_webrtc_session_description_free(answer);
  gst_promise_unref(promise);
}

void onRemoteDescriptionSet(GstPromise* promise, gpointer data) {
  auto* job = static_cast<AnswerJob*>(data);
  const GstStructure* reply = gst_promise_get_reply(promise);
  GError* error = nullptr;
  if (reply) gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr);
  if (error) {
    job->events->postFailure(job->key, std::string("offer refused: ") + error->message);
    g_error_free(error);
    gst_promise_unref(promise);  // frees job
    return;
  }
  auto* next = new AnswerJob(*job);
  GstPromise* answerPromise = gst_promise_new_with_change_func(
      onAnswerCreated, next, [](gpointer p) { delete static_cast<AnswerJob*>(p); });
  g_signal_emit_by_name(job->webrtc.get(), "create-answer", nullptr, answerPromise);
  gst_promise_unref(promise);
}

void onIceCandidate(GstElement*, guint mline, gchar* candidate, gpointer data) {
  auto* ctx = static_cast<SpeakerPeer::CallbackContext*>(data);
  ctx->events->postCandidate(ctx->key, mline, candidate ? candidate : "");
}

// Streaming thread: link the new RTP pad to the depayloader built beforehand on the control
// thread, so the first packets never meet an unlinked pad.
void onPadAdded(GstElement*, GstPad* pad, gpointer data) {
  auto* ctx = static_cast<SpeakerPeer::CallbackContext*>(data);
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) return;
  GstPad* sink = gst_element_get_static_pad(ctx->depay.get(), "sink");
  if (!gst_pad_is_linked(sink)) {
    if (gst_pad_link(pad, sink) != GST_PAD_LINK_OK)
      ctx->events->postFailure(ctx->key, "cannot link the incoming audio");
  }
  gst_object_unref(sink);
}

// What the probe on minus_N needs to switch the return between the speaker's own
// mix-minus and the shared program encoding. Runs on the mixer's streaming thread.
struct ReturnSwitch {
  GstElement* selector;  // strong refs, dropped with the probe
  GstPad* own;
  GstPad* shared;
  GstPad* active;        // borrowed: one of the two
};

GstPadProbeReturn onMinusData(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* sw = static_cast<ReturnSwitch*>(data);
  GstPad* want = nullptr;
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) want = sw->own;
  else if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_GAP) want = sw->shared;
  if (want && want != sw->active) {
    sw->active = want;
    g_object_set(sw->selector, "active-pad", want, nullptr);
  }
  // The GAP only carries the switch: past here it would make input-selector wait on an
  // inactive pad (and a teardown then deadlock on that stream lock).
  return want == sw->shared ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

void freeReturnSwitch(gpointer data) {
  auto* sw = static_cast<ReturnSwitch*>(data);
  gst_object_unref(sw->selector);
  gst_object_unref(sw->own);
  gst_object_unref(sw->shared);
  delete sw;
}

void onIceStateChanged(GstElement* webrtc, GParamSpec*, gpointer data) {
  auto* ctx = static_cast<SpeakerPeer::CallbackContext*>(data);
  GstWebRTCICEConnectionState state;
  g_object_get(webrtc, "ice-connection-state", &state, nullptr);
  GST_INFO("peer %s: ICE %d", ctx->key.peerId.c_str(), state);
  if (state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED) ctx->events->postFailure(ctx->key, "ICE failed");
}

}  // namespace

SpeakerPeer::SpeakerPeer(GstBin* pipeline, GstElement* mixer, GstElement* programOpus, PeerKey key,
                         PeerEvents& events, SpeakerSettings settings)
    : pipeline_(pipeline), mixer_(mixer), programOpus_(programOpus), key_(std::move(key)), events_(events),
      settings_(settings) {}

SpeakerPeer::~SpeakerPeer() { removeElements(); }

core::Status SpeakerPeer::acceptOffer(const std::string& offerSdp, bool mixed) {
  if (webrtc_) return Error{ErrorCode::Conflict, "this speaker already has a media session"};
  GstSDPMessage* sdp = parseSdp(offerSdp);
  if (!sdp) return Error{ErrorCode::MediaError, "the offer is not valid SDP"};
  auto payloadType = checkAudioOffer(sdp);
  if (!payloadType) {
    gst_sdp_message_free(sdp);
    return payloadType.error();
  }
  if (auto built = buildBranches(payloadType.value(), mixed); !built) {
    gst_sdp_message_free(sdp);
    removeElements();
    return built.error();
  }
  GstWebRTCSessionDescription* offer = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  auto* job = new AnswerJob{webrtc_, key_, &events_};
  GstPromise* promise = gst_promise_new_with_change_func(
      onRemoteDescriptionSet, job, [](gpointer p) { delete static_cast<AnswerJob*>(p); });
  g_signal_emit_by_name(webrtc_.get(), "set-remote-description", offer, promise);
  gst_webrtc_session_description_free(offer);
  return core::Ok{};
}

core::Status SpeakerPeer::addRemoteCandidate(unsigned mline, const std::string& candidate) {
  if (!webrtc_) return Error{ErrorCode::Conflict, "send an offer before candidates"};
  // An empty candidate marks the end of the remote candidates; webrtcbin 1.22 wants none.
  if (candidate.empty()) return core::Ok{};
  g_signal_emit_by_name(webrtc_.get(), "add-ice-candidate", mline, candidate.c_str());
  return core::Ok{};
}

void SpeakerPeer::setMixed(bool mixed) {
  if (mixerSink_) g_object_set(mixerSink_.get(), "mute", mixed ? FALSE : TRUE, nullptr);
}

core::Status SpeakerPeer::buildBranches(int payloadType, bool mixed) {
  const std::string base = baseName();
  webrtc_ = makeElement("webrtcbin", base.c_str());
  if (!webrtc_) return Error{ErrorCode::Internal, "webrtcbin is missing (gstreamer1.0-plugins-bad)"};
  gst_util_set_object_arg(G_OBJECT(webrtc_.get()), "bundle-policy", "max-bundle");
  g_object_set(webrtc_.get(), "latency", settings_.jitterLatencyMs, nullptr);

  auto make = [&](const char* factory, const char* role) {
    ElementPtr e = makeElement(factory, (base + "-" + role).c_str());
    if (e) elements_.push_back(e);
    return e;
  };
  depay_ = make("rtpopusdepay", "depay");
  ElementPtr decoder = make("opusdec", "dec");
  ElementPtr inConvert = make("audioconvert", "inconv");
  ElementPtr inResample = make("audioresample", "inres");
  ElementPtr inCaps = make("capsfilter", "incaps");
  ElementPtr level = make("level", "level");
  ElementPtr sendQueue = make("queue", "sendq");
  ElementPtr outConvert = make("audioconvert", "outconv");
  ElementPtr encoder = make("opusenc", "enc");
  const bool shared = settings_.encodeSilentOnce && programOpus_;
  ElementPtr selector = shared ? make("input-selector", "return") : make("identity", "return");
  ElementPtr payloader = make("rtpopuspay", "pay");
  ElementPtr rtpCaps = make("capsfilter", "rtpcaps");
  if (elements_.size() != 12) return Error{ErrorCode::Internal, "a GStreamer plugin for the speaker branch is missing"};

  // Decoders conceal loss: PLC always, FEC when the sender provides it.
  g_object_set(decoder.get(), "plc", TRUE, "use-inband-fec", TRUE, nullptr);
  g_autoptr(GstCaps) mixCaps = gst_caps_from_string("audio/x-raw,format=F32LE,rate=48000,channels=1,layout=interleaved");
  g_object_set(inCaps.get(), "caps", mixCaps, nullptr);
  // Speech level for active-speaker events: one bus message per 100 ms.
  g_object_set(level.get(), "interval", G_GUINT64_CONSTANT(100000000), "post-messages", TRUE, nullptr);
  // The return path must never back up into the mixer: drop old audio instead.
  g_object_set(sendQueue.get(), "max-size-time", G_GUINT64_CONSTANT(100000000), "max-size-buffers", 0u,
               "max-size-bytes", 0u, nullptr);
  gst_util_set_object_arg(G_OBJECT(sendQueue.get()), "leaky", "downstream");
  configureVoiceOpusEncoder(encoder.get(), settings_.opusBitrate, false);
  // Late inputs are dropped, not waited for: the inactive encoding is simply discarded.
  if (shared) g_object_set(selector.get(), "sync-streams", FALSE, nullptr);
  g_object_set(payloader.get(), "pt", payloadType, nullptr);
  g_autofree char* rtpCapsText = g_strdup_printf(
      "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=%d", payloadType);
  g_autoptr(GstCaps) rtpCapsValue = gst_caps_from_string(rtpCapsText);
  g_object_set(rtpCaps.get(), "caps", rtpCapsValue, nullptr);

  gst_bin_add(pipeline_, webrtc_.get());
  for (auto& e : elements_) gst_bin_add(pipeline_, e.get());
  addLoopbackToIceAgent(webrtc_.get());

  auto* ctx = new CallbackContext{key_, &events_, depay_};
  callbackContext_ = ctx;
  g_object_set_data_full(G_OBJECT(webrtc_.get()), "roomcast-peer", ctx,
                         [](gpointer p) { delete static_cast<CallbackContext*>(p); });
  g_signal_connect(webrtc_.get(), "on-ice-candidate", G_CALLBACK(onIceCandidate), ctx);
  g_signal_connect(webrtc_.get(), "pad-added", G_CALLBACK(onPadAdded), ctx);
  g_signal_connect(webrtc_.get(), "notify::ice-connection-state", G_CALLBACK(onIceStateChanged), ctx);

  if (!gst_element_link_many(depay_.get(), decoder.get(), inConvert.get(), inResample.get(), inCaps.get(), level.get(),
                             nullptr) ||
      !gst_element_link_many(sendQueue.get(), outConvert.get(), encoder.get(), selector.get(), payloader.get(),
                             rtpCaps.get(), nullptr))
    return Error{ErrorCode::Internal, "cannot link the speaker branch"};

  mixerSink_ = PadPtr::adopt(gst_element_request_pad_simple(mixer_, "sink_%u"));
  if (!mixerSink_) return Error{ErrorCode::Internal, "the mixer refused a new input"};
  setMixed(mixed);  // before the first buffer: a pre-warming hand is never heard
  if (shared) g_object_set(mixerSink_.get(), "skip-silent", TRUE, nullptr);
  g_autoptr(GstPad) inCapsSrc = gst_element_get_static_pad(level.get(), "src");
  if (gst_pad_link(inCapsSrc, mixerSink_.get()) != GST_PAD_LINK_OK)
    return Error{ErrorCode::Internal, "cannot link the speaker to the mixer"};

  // mixminus creates minus_N together with sink_N: the speaker's mix without themselves.
  g_autofree char* sinkName = gst_pad_get_name(mixerSink_.get());
  std::string minusName = std::string("minus_") + (sinkName + 5);
  g_autoptr(GstPad) minus = gst_element_get_static_pad(mixer_, minusName.c_str());
  g_autoptr(GstPad) queueSink = gst_element_get_static_pad(sendQueue.get(), "sink");
  if (!minus || gst_pad_link(minus, queueSink) != GST_PAD_LINK_OK)
    return Error{ErrorCode::Internal, "cannot link the speaker's return mix"};

  if (shared) {
  // The shared program encoding as the selector's second input, then the switch.
  programOpusPad_ = PadPtr::adopt(gst_element_request_pad_simple(programOpus_, "src_%u"));
  g_autoptr(GstPad) sharedSink = gst_element_request_pad_simple(selector.get(), "sink_%u");
  if (!programOpusPad_ || !sharedSink || gst_pad_link(programOpusPad_.get(), sharedSink) != GST_PAD_LINK_OK)
    return Error{ErrorCode::Internal, "cannot link the shared program encoding"};
  g_autoptr(GstPad) encoderSrc = gst_element_get_static_pad(encoder.get(), "src");
  auto* sw = new ReturnSwitch{GST_ELEMENT(gst_object_ref(selector.get())), gst_pad_get_peer(encoderSrc),
                              GST_PAD(gst_object_ref(sharedSink)), nullptr};
  sw->active = sw->own;
  g_object_set(selector.get(), "active-pad", sw->own, nullptr);
  gst_pad_add_probe(minus, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
                    onMinusData, sw, freeReturnSwitch);
  }

  g_autoptr(GstPad) rtpSrc = gst_element_get_static_pad(rtpCaps.get(), "src");
  g_autoptr(GstPad) webrtcSink = gst_element_request_pad_simple(webrtc_.get(), "sink_%u");
  if (!webrtcSink || gst_pad_link(rtpSrc, webrtcSink) != GST_PAD_LINK_OK)
    return Error{ErrorCode::Internal, "cannot link the speaker's return to webrtcbin"};

  for (auto& e : elements_) gst_element_sync_state_with_parent(e.get());
  gst_element_sync_state_with_parent(webrtc_.get());
  GST_INFO("peer %s: branches built (opus pt %d, sink %s)", key_.peerId.c_str(), payloadType, sinkName);
  return core::Ok{};
}

void SpeakerPeer::removeElements() {
  // Stop the network side first so nothing streams into pads being released.
  if (webrtc_) {
    gst_element_set_state(webrtc_.get(), GST_STATE_NULL);
  }
  if (programOpusPad_) {
    g_autoptr(GstPad) peer = gst_pad_get_peer(programOpusPad_.get());
    if (peer) gst_pad_unlink(programOpusPad_.get(), peer);
    gst_element_release_request_pad(programOpus_, programOpusPad_.get());
    programOpusPad_.reset();
  }
  if (mixerSink_) {
    g_autoptr(GstPad) peer = gst_pad_get_peer(mixerSink_.get());
    if (peer) gst_pad_unlink(peer, mixerSink_.get());
    gst_element_release_request_pad(mixer_, mixerSink_.get());
    mixerSink_.reset();
  }
  // Downstream first: a flushing element releases any upstream thread blocked on it.
  for (auto it = elements_.rbegin(); it != elements_.rend(); ++it) {
    gst_element_set_state(it->get(), GST_STATE_NULL);
    if (GST_OBJECT_PARENT(it->get()) == GST_OBJECT(pipeline_)) gst_bin_remove(pipeline_, it->get());
  }
  elements_.clear();
  depay_.reset();
  if (webrtc_) {
    if (GST_OBJECT_PARENT(webrtc_.get()) == GST_OBJECT(pipeline_)) gst_bin_remove(pipeline_, webrtc_.get());
    webrtc_.reset();
  }
  callbackContext_ = nullptr;
}

}  // namespace roomcast::media
