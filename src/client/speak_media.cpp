// `roomcast speak`'s media: the pipeline (a tone or a WAV file out, the room's return in),
// its WebRTC sessions (offers, candidates, ICE state, the patience and retries of a session),
// or plain RTP from one UDP socket.
#include <gst/app/gstappsink.h>
#include <gst/sdp/sdp.h>

#include <cstdio>

#include "client/speak_pipeline.h"
#include "client/speaker.h"
#include "glib_support/post_to_context.h"
#include "media/lossy_link.h"
#include "media/webrtc_util.h"
#include "protocol/json.h"

namespace roomcast::client {

void Speaker::post(std::function<void()> fn) { glib_support::postToContext(nullptr, std::move(fn)); }

bool Speaker::buildPipeline(std::string& error) {
  g_autoptr(GError) parseError = nullptr;
  pipeline_ = media::ElementPtr::adopt(gst_parse_launch(speakerPipelineDescription(options_, rtpSocket_ != nullptr).c_str(), &parseError));
  if (!pipeline_) {
    error = parseError ? parseError->message : "pipeline does not parse";
    return false;
  }
  GstBin* bin = GST_BIN(pipeline_.get());
  if (g_autoptr(GstElement) file = gst_bin_get_by_name(bin, "file"))
    g_object_set(file, "location", options_.file.c_str(), nullptr);
  depay_ = media::ElementPtr::adopt(gst_bin_get_by_name(bin, "depay"));
  appsink_ = media::ElementPtr::adopt(gst_bin_get_by_name(bin, "heard"));
  g_autoptr(GstElement) enc = gst_bin_get_by_name(bin, "enc");
  media::configureVoiceOpusEncoder(enc, 32000, true);
  if (options_.dropEvery > 1) dropEveryNthPacket();
  if (rtpSocket_) {
    g_autoptr(GstElement) out = gst_bin_get_by_name(bin, "rtpout");
    g_autoptr(GstElement) in = gst_bin_get_by_name(bin, "rtpin");
    g_object_set(out, "socket", rtpSocket_, "close-socket", FALSE, "host", rtpHost_.c_str(), "port", rtpPort_,
                 nullptr);
    g_object_set(in, "socket", rtpSocket_, "close-socket", FALSE, nullptr);
  } else {
    setUpWebrtc(enc);
  }
  countWhatIsHeard();
  g_autoptr(GstBus) bus = gst_pipeline_get_bus(GST_PIPELINE(pipeline_.get()));
  busWatch_ = media::watchBus(bus, nullptr, [](GstBus*, GstMessage* m, gpointer self) -> gboolean {
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
      g_autoptr(GError) e = nullptr;
      gst_message_parse_error(m, &e, nullptr);
      g_printerr("roomcast: media error from %s: %s\n", GST_OBJECT_NAME(GST_MESSAGE_SRC(m)), e->message);
      static_cast<Speaker*>(self)->finish(1, "media error");
    }
    return G_SOURCE_CONTINUE;
  }, this);
  return gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE;
}

// Simulated loss on the way out (--drop-every): the server's jitter buffer sees the gaps, its
// decoder rebuilds them from the next packet's FEC.
void Speaker::dropEveryNthPacket() {
  g_autoptr(GstElement) pay = gst_bin_get_by_name(GST_BIN(pipeline_.get()), "pay");
  g_autoptr(GstPad) paySrc = gst_element_get_static_pad(pay, "src");
  packetsSent_ = 0;
  gst_pad_add_probe(
      paySrc, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad*, GstPadProbeInfo*, gpointer data) {
        auto* self = static_cast<Speaker*>(data);
        return ++self->packetsSent_ % self->options_.dropEvery == 0 ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
      },
      this, nullptr);
}

void Speaker::setUpWebrtc(GstElement* encoder) {
  webrtc_ = media::ElementPtr::adopt(gst_bin_get_by_name(GST_BIN(pipeline_.get()), "webrtc"));
  lossFeedback_ = std::make_unique<media::LossFeedback>(webrtc_.get(), encoder);
  media::addLoopbackToIceAgent(webrtc_.get());
  // On a lossy uplink: the DTLS handshake sent in copies (lossy_link.h).
  media::prepareForLossyLinks(webrtc_.get());
  // The server's TURN relays, with this participant's credentials: a way in from behind a
  // NAT or a firewall that drops UDP (turn:...?transport=tcp, turns:).
  for (const auto& uri : turnUris_) {
    gboolean added = FALSE;
    g_signal_emit_by_name(webrtc_.get(), "add-turn-server", uri.c_str(), &added);
    if (!added) g_printerr("roomcast: webrtcbin refused a TURN server from the welcome\n");
  }
  if (options_.relayOnly) gst_util_set_object_arg(G_OBJECT(webrtc_.get()), "ice-transport-policy", "relay");
  g_signal_connect(webrtc_.get(), "on-negotiation-needed", G_CALLBACK(&Speaker::onNegotiationNeeded), this);
  g_signal_connect(webrtc_.get(), "on-ice-candidate", G_CALLBACK(&Speaker::onIceCandidate), this);
  g_signal_connect(webrtc_.get(), "pad-added", G_CALLBACK(&Speaker::onPadAdded), this);
  g_signal_connect(webrtc_.get(), "notify::ice-connection-state", G_CALLBACK(&Speaker::onIceStateChanged), this);
}

// Streaming thread: count what we hear; the main loop reports the first buffer and every
// whole second ("heard N s"), which scripts and tests use as a clock.
void Speaker::countWhatIsHeard() {
  g_autoptr(GstPad) heardPad = gst_element_get_static_pad(appsink_.get(), "sink");
  gst_pad_add_probe(heardPad, GST_PAD_PROBE_TYPE_BUFFER, [](GstPad*, GstPadProbeInfo* info, gpointer data) {
    auto* self = static_cast<Speaker*>(data);
    const gsize bytes = gst_buffer_get_size(GST_PAD_PROBE_INFO_BUFFER(info));
    const uint64_t before = self->heardSamples_;
    self->heardSamples_ += bytes / 2;
    if (before == 0) {
      const gint session = g_atomic_int_get(&self->generation_);
      self->post([self, session] {
        if (session == self->generation_) self->onMediaFlowing();
      });
    }
    if (self->heardSamples_ / 48000 != before / 48000) {
      const uint64_t seconds = self->heardSamples_ / 48000;
      self->post([seconds] {
        printf("heard %llu s\n", static_cast<unsigned long long>(seconds));
        fflush(stdout);
      });
    }
    return GST_PAD_PROBE_OK;
  }, this, nullptr);
}

// webrtcbin thread → control thread: create the offer, then post it for sending.
void Speaker::onNegotiationNeeded(GstElement* webrtc, gpointer self) {
  GstPromise* promise = gst_promise_new_with_change_func(&Speaker::onOfferCreated, self, nullptr);
  g_signal_emit_by_name(webrtc, "create-offer", nullptr, promise);
}

void Speaker::onOfferCreated(GstPromise* promise, gpointer data) {
  auto* self = static_cast<Speaker*>(data);
  const GstStructure* reply = gst_promise_get_reply(promise);
  GstWebRTCSessionDescription* offer = nullptr;
  if (reply) gst_structure_get(reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, nullptr);
  gst_promise_unref(promise);
  if (!offer) {
    self->post([self] { self->finish(1, "could not create an offer"); });
    return;
  }
  g_signal_emit_by_name(self->webrtc_.get(), "set-local-description", offer, nullptr);
  g_autofree char* text = gst_sdp_message_as_text(offer->sdp);
  std::string sdp = text;
  gst_webrtc_session_description_free(offer);
  self->post([self, sdp] { self->sendOffer(sdp); });
}

void Speaker::onIceCandidate(GstElement*, guint mline, gchar* candidate, gpointer data) {
  auto* self = static_cast<Speaker*>(data);
  std::string c = candidate ? candidate : "";
  const gint session = g_atomic_int_get(&self->generation_);
  self->post([self, mline, c, session] {
    if (session == self->generation_) self->sendCandidate(mline, c);
  });
}

// webrtcbin thread: hop to the main loop, where the speaking time starts once connected.
void Speaker::onIceStateChanged(GstElement* webrtc, GParamSpec*, gpointer data) {
  auto* self = static_cast<Speaker*>(data);
  GstWebRTCICEConnectionState state;
  g_object_get(webrtc, "ice-connection-state", &state, nullptr);
  const gint session = g_atomic_int_get(&self->generation_);
  self->post([self, state, session] {
    if (session == self->generation_) self->onIceState(state);
  });
}

void Speaker::onIceState(GstWebRTCICEConnectionState state) {
  if (state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED) retrySession("ICE failed");
}

// Keeps what the session heard (the --out file covers every session).
void Speaker::drainHeard() {
  if (!appsink_) return;
  while (GstSample* sample = gst_app_sink_try_pull_sample(GST_APP_SINK(appsink_.get()), 0)) {
    GstBuffer* buffer = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
      const auto* s = reinterpret_cast<const int16_t*>(map.data);
      heard_.samples.insert(heard_.samples.end(), s, s + map.size / 2);
      gst_buffer_unmap(buffer, &map);
    }
    gst_sample_unref(sample);
  }
}

// A session that has not connected within its patience is replaced, whatever the server says
// (its own deadline, ice_deadline_s, is 15 s by default).
void Speaker::armSessionPatience() {
  const double roundTripS = welcomeRoundTripUs_ / 1e6;
  patienceS_ = std::min(kSessionPatienceS, std::max(kFirstSessionPatienceS * (1 << retries_),
                                                    kRoundTripsOfPatience * roundTripS));
  // Replaces (and so removes) the previous session's.
  const auto patienceMs = static_cast<guint>(patienceS_ * 1000);
  patienceTimer_ = glib_support::Source::timeout(nullptr, patienceMs, [](gpointer data) -> gboolean {
    auto* self = static_cast<Speaker*>(data);
    self->patienceTimer_.reset();
    char why[64];
    g_snprintf(why, sizeof why, "no audio after %.1f s", self->patienceS_);
    if (!self->connected_) self->retrySession(why);
    return G_SOURCE_REMOVE;
  }, this);
}

// The WebRTC session failed: a new pipeline and a new offer on the same socket (the server
// keeps our role and slot), a bounded number of times in a row.
void Speaker::retrySession(const std::string& why) {
  // While the socket is away the new welcome starts the new session.
  if (!loop_ || !g_main_loop_is_running(loop_) || options_.plainRtp || reconnecting_) return;
  if (retries_ >= kMaxSessionRetries) {
    g_printerr("roomcast: the audio connection failed (%s); gave up after %d retries\n", why.c_str(), retries_);
    return finish(1, "ICE failed");
  }
  retries_++;
  g_printerr("roomcast: the audio connection failed (%s); retrying with a new session (%d of %d)\n", why.c_str(),
             retries_, kMaxSessionRetries);
  stopMedia();
  std::string error;
  if (!buildPipeline(error)) {
    g_printerr("roomcast: cannot start media: %s\n", error.c_str());
    return finish(1, "media");
  }
  armSessionPatience();
}

// Ends the current media session (its late posts are dropped by the generation); what it
// heard is kept for --out.
void Speaker::stopMedia() {
  g_atomic_int_inc(&generation_);
  offerSentUs_ = 0;  // the next session's offer is not sent yet
  patienceTimer_.reset();
  if (webrtc_) g_signal_handlers_disconnect_by_data(webrtc_.get(), this);
  if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
  busWatch_.reset();
  drainHeard();
  lossFeedback_.reset();
  webrtc_.reset();
  depay_.reset();
  appsink_.reset();
  pipeline_.reset();
  connected_ = false;
  heardSamples_ = 0;
}

// The first decoded audio from the room: ICE and DTLS are done both ways (one bundled
// transport). A speaker is heard from now on; a raised hand is pre-warmed.
void Speaker::onMediaFlowing() {
  if (connected_) return;
  connected_ = true;
  retries_ = 0;
  // From our start (WebSocket, hello, media set-up included), from this session's offer (ICE
  // and DTLS: what a lossy link slows down) and from the first session's offer (what the
  // speaker waited, retries included).
  const gint64 now = g_get_monotonic_time();
  g_printerr("roomcast: connected after %.0f ms (%.0f ms after the offer, %.0f ms after the first offer; session %d)\n",
             (now - startedUs_) / 1000.0, (now - offerSentUs_) / 1000.0, (now - firstOfferSentUs_) / 1000.0,
             sessions_);
  firstOfferSentUs_ = 0;
  sessions_ = 0;
  // Scripts and tests wait for this line.
  printf("connected\n");
  fflush(stdout);
  if (onStage_) startSpeakingTime("speaking");
}

void Speaker::startSpeakingTime(const char* what) {
  if (speakingStarted_) return;
  speakingStarted_ = true;
  printf("%s\n", what);
  fflush(stdout);
  const auto speakingMs = static_cast<guint>(options_.seconds * 1000);
  speakingTime_ = glib_support::Source::timeout(nullptr, speakingMs, [](gpointer self) -> gboolean {
    static_cast<Speaker*>(self)->finish(0, "done");
    return G_SOURCE_REMOVE;
  }, this);
}

void Speaker::sendText(const char* text) {
  if (socket_) socket_->send(text);
}

void Speaker::onPadAdded(GstElement*, GstPad* pad, gpointer data) {
  auto* self = static_cast<Speaker*>(data);
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) return;
  g_autoptr(GstPad) sink = gst_element_get_static_pad(self->depay_.get(), "sink");
  if (!gst_pad_is_linked(sink)) gst_pad_link(pad, sink);
}

bool Speaker::openRtpSocket(std::string& error) {
  g_autoptr(GError) e = nullptr;
  rtpSocket_ = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &e);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
  if (!rtpSocket_ || !g_socket_bind(rtpSocket_, any, FALSE, &e)) {
    error = e ? e->message : "cannot open a UDP socket";
    return false;
  }
  return true;
}

void Speaker::sendRtpOffer() {
  g_autoptr(GSocketAddress) local = g_socket_get_local_address(rtpSocket_, nullptr);
  protocol::JsonWriter w;
  w.beginObject()
      .str("type", "rtp-offer")
      .str("host", "127.0.0.1")
      .integer("port", local ? g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local)) : 0)
      .integer("payload_type", kOpusPayloadType)
      .endObject();
  sendText(w.finish().c_str());
}

void Speaker::sendOffer(const std::string& sdp) {
  offerSentUs_ = g_get_monotonic_time();
  if (!firstOfferSentUs_) firstOfferSentUs_ = offerSentUs_;
  sessions_++;
  protocol::JsonWriter w;
  sendText(w.beginObject().str("type", "offer").str("sdp", sdp).endObject().finish().c_str());
}

void Speaker::sendCandidate(unsigned mline, const std::string& candidate) {
  protocol::JsonWriter w;
  w.beginObject().str("type", "candidate").str("candidate", candidate).integer("sdpMLineIndex", mline).endObject();
  sendText(w.finish().c_str());
}

}  // namespace roomcast::client
