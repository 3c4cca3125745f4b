// `roomcast speak`: a real WebRTC speaker (webrtcbin, DTLS-SRTP, ICE) that sends a tone or a
// WAV file and records what it hears back from the room. With --plain-rtp, the same over
// plain RTP from one UDP socket (rtp-offer / rtp-answer), where the server allows it.
#include "client/speak.h"

#include "client/room_socket.h"

#include <gio/gio.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <cstdio>
#include <functional>

#include "audio/wav.h"
#include "client/rest_client.h"
#include "client/turn_uris.h"
#include "glib_support/post_to_context.h"
#include "glib_support/source.h"
#include "media/gst_ptr.h"
#include "media/loss_feedback.h"
#include "media/lossy_link.h"
#include "media/webrtc_util.h"
#include "protocol/json.h"

namespace roomcast::client {

namespace {

constexpr int kOpusPayloadType = 111;  // what browsers use; any dynamic type works
// A WebRTC session that fails (ICE or DTLS: the server's ice_failed, our own agent's
// "failed", or no audio within its patience) is replaced by a new one, a new offer on the
// same socket, at most this many times in a row; then the speaker gives up.
constexpr int kMaxSessionRetries = 3;
// A session's patience: the first gets kFirstSessionPatienceS, each retry twice the one before,
// up to kSessionPatienceS. Why so short a first: on a lossy link a session that has not
// connected after 3 s is most often waiting on libnice's connectivity-check retransmission
// (its timer is fixed at 0.5 s and doubles: a check lost twice waits 1.5 s more, three times
// 3.5 s), while a fresh session connects in under a second (median at 20 % loss both ways;
// tests/integration/test_ice_loss.cpp). The doubling, and a floor of kRoundTripsOfPatience
// signalling round trips, keep a slow but working link (a long round trip) connecting.
constexpr double kFirstSessionPatienceS = 3;
constexpr double kSessionPatienceS = 20;
constexpr double kRoundTripsOfPatience = 12;

class Speaker {
 public:
  explicit Speaker(const SpeakOptions& options) : options_(options) {}
  int run();

 private:
  std::string pipelineDescription() const;
  bool buildPipeline(std::string& error);
  void dropEveryNthPacket();
  void setUpWebrtc(GstElement* encoder);
  void countWhatIsHeard();
  bool openRtpSocket(std::string& error);
  void sendRtpOffer();
  void onWsMessage(const std::string& text);
  void sendOffer(const std::string& sdp);
  void sendCandidate(unsigned mline, const std::string& candidate);
  void finish(int code, const char* why);
  void post(std::function<void()> fn);

  static void onNegotiationNeeded(GstElement* webrtc, gpointer self);
  static void onOfferCreated(GstPromise* promise, gpointer self);
  static void onIceCandidate(GstElement*, guint mline, gchar* candidate, gpointer self);
  static void onPadAdded(GstElement*, GstPad* pad, gpointer self);
  static void onIceStateChanged(GstElement* webrtc, GParamSpec*, gpointer self);
  void onIceState(GstWebRTCICEConnectionState state);
  void onMediaFlowing();
  void startSpeakingTime(const char* what);
  void sendText(const char* text);
  void retrySession(const std::string& why);
  void drainHeard();
  void armSessionPatience();

  SpeakOptions options_;
  GMainLoop* loop_ = nullptr;
  SoupSession* session_ = nullptr;
  SoupWebsocketConnection* ws_ = nullptr;
  media::ElementPtr pipeline_;
  media::ElementPtr webrtc_;
  media::ElementPtr depay_;
  media::ElementPtr appsink_;
  std::unique_ptr<media::LossFeedback> lossFeedback_;  // WebRTC: our encoder follows the room's RTCP reports
  GSocket* rtpSocket_ = nullptr;  // --plain-rtp: ours, for sending and receiving
  std::string rtpHost_;           // --plain-rtp: where the server wants our RTP
  int rtpPort_ = 0;
  bool welcomed_ = false;
  bool connected_ = false;
  uint64_t heardSamples_ = 0;  // written by the streaming thread only
  bool onStage_ = false;
  std::string identity_;
  std::vector<std::string> turnUris_;  // from the welcome: relays for when UDP is blocked
  bool speakingStarted_ = false;
  glib_support::Source speakingTime_;
  gint64 startedUs_ = g_get_monotonic_time();
  gint64 offerSentUs_ = 0;
  gint64 firstOfferSentUs_ = 0;  // of the first session since the last one that connected
  int sessions_ = 0;             // offers sent since then
  int packetsSent_ = 0;          // streaming thread: --drop-every's count
  gint64 helloSentUs_ = 0, welcomeRoundTripUs_ = 0;
  double patienceS_ = 0;
  int exitCode_ = 0;
  int retries_ = 0;            // sessions replaced since the last one that connected
  gint generation_ = 0;        // bumped when a session is replaced: late posts of the old one are dropped
  glib_support::Source patienceTimer_;
  glib_support::Source busWatch_;  // the current pipeline's
  glib_support::Source deadline_;  // of the whole run
  audio::PcmAudio heard_;      // what earlier sessions heard
};

void Speaker::post(std::function<void()> fn) { glib_support::postToContext(nullptr, std::move(fn)); }

// The room's return, decoded as the server decodes speakers: roomcast's opusfecdec (the
// plugin, installed or on GST_PLUGIN_PATH) rebuilds a lost packet from the next one's FEC the
// moment that one arrives; without the plugin, opusdec does it by holding every packet back.
std::string returnDecoder() {
  g_autoptr(GstElementFactory) fec = gst_element_factory_find("opusfecdec");
  return fec ? "opusfecdec" : "opusdec plc=true use-inband-fec=true";
}

// The launch line: the source (a tone, or a WAV file paced to real time), Opus out, and the
// room's return decoded into the appsink.
std::string Speaker::pipelineDescription() const {
  std::string source;
  if (options_.toneHz > 0) {
    source = "audiotestsrc is-live=true wave=sine samplesperbuffer=960 volume=" + std::to_string(options_.volume) +
             " freq=" + std::to_string(options_.toneHz);
  } else {
    // A file is paced to real time by clocksync in 20 ms buffers, as a microphone would be
    // (wavparse alone hands out 4096-byte chunks, which left as pairs of packets).
    source = "filesrc name=file ! wavparse ! audiobuffersplit output-buffer-duration=1/50 ! clocksync";
  }
  const std::string rtpCaps = "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=" +
                              std::to_string(kOpusPayloadType);
  // WebRTC: webrtcbin on both paths. Plain RTP: one socket, sending and receiving.
  const std::string network =
      rtpSocket_ ? " ! udpsink name=rtpout sync=false async=false  udpsrc name=rtpin caps=\"" + rtpCaps +
                       "\" ! rtpjitterbuffer latency=40 do-lost=true ! "
                 : " ! webrtcbin name=webrtc bundle-policy=max-bundle latency=40  ";
  return source +
         " ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 ! opusenc name=enc ! rtpopuspay name=pay pt=" +
         std::to_string(kOpusPayloadType) + " ! " + rtpCaps + network + " rtpopusdepay name=depay ! " + returnDecoder() +
         " ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! appsink name=heard sync=false";
}

bool Speaker::buildPipeline(std::string& error) {
  g_autoptr(GError) parseError = nullptr;
  pipeline_ = media::ElementPtr::adopt(gst_parse_launch(pipelineDescription().c_str(), &parseError));
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
  if (!loop_ || !g_main_loop_is_running(loop_) || options_.plainRtp) return;
  if (retries_ >= kMaxSessionRetries) {
    g_printerr("roomcast: the audio connection failed (%s); gave up after %d retries\n", why.c_str(), retries_);
    return finish(1, "ICE failed");
  }
  retries_++;
  g_printerr("roomcast: the audio connection failed (%s); retrying with a new session (%d of %d)\n", why.c_str(),
             retries_, kMaxSessionRetries);
  g_atomic_int_inc(&generation_);
  if (webrtc_) g_signal_handlers_disconnect_by_data(webrtc_.get(), this);
  if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
  busWatch_.reset();
  drainHeard();
  webrtc_.reset();
  depay_.reset();
  appsink_.reset();
  pipeline_.reset();
  connected_ = false;
  heardSamples_ = 0;
  std::string error;
  if (!buildPipeline(error)) {
    g_printerr("roomcast: cannot start media: %s\n", error.c_str());
    return finish(1, "media");
  }
  armSessionPatience();
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
  if (ws_ && soup_websocket_connection_get_state(ws_) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text(ws_, text);
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

void Speaker::onWsMessage(const std::string& text) {
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, text.c_str(), -1, nullptr)) return;
  JsonNode* root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) return;
  JsonObject* obj = json_node_get_object(root);
  const std::string type = json_object_get_string_member_with_default(obj, "type", "");
  // Room events go to stdout, one JSON line each, for scripts and tests to follow.
  if (type != "answer" && type != "candidate" && type != "pong" && type != "rtp-answer") {
    printf("event: %s\n", text.c_str());
    fflush(stdout);
  }
  if (type == "welcome") {
    welcomed_ = true;
    welcomeRoundTripUs_ = g_get_monotonic_time() - helloSentUs_;
    // Before any media: our voice is never in the recording, not even its first frame.
    if (options_.recordingOptOut) sendText(R"({"type":"recording-opt-out","opt_out":true})");
    JsonObject* you = json_object_get_object_member(obj, "you");
    identity_ = you ? json_object_get_string_member_with_default(you, "identity", "") : "";
    turnUris_ = turnUrisFromWelcome(obj);
    onStage_ = you && g_strcmp0(json_object_get_string_member_with_default(you, "role", ""), "listener") != 0;
    if (!onStage_) {
      if (!options_.raiseHand) return finish(1, "this token is a listener's: use --raise-hand, or a speaker token");
      // Pre-warm: the hand goes up and the WebRTC session opens now; the room hears us
      // only once the host promotes us.
      sendText(R"({"type":"raise-hand"})");
    }
    std::string error;
    if (options_.plainRtp) {
      // The pipeline starts once the server says where to send.
      if (!openRtpSocket(error)) {
        g_printerr("roomcast: cannot start media: %s\n", error.c_str());
        return finish(1, "media");
      }
      sendRtpOffer();
    } else if (!buildPipeline(error)) {
      g_printerr("roomcast: cannot start media: %s\n", error.c_str());
      return finish(1, "media");
    } else {
      armSessionPatience();
    }
  } else if (type == "rtp-answer") {
    rtpHost_ = json_object_get_string_member_with_default(obj, "host", "");
    rtpPort_ = static_cast<int>(json_object_get_int_member_with_default(obj, "port", 0));
    std::string error;
    if (pipeline_ || !buildPipeline(error)) {
      g_printerr("roomcast: cannot start media: %s\n", error.c_str());
      return finish(1, "media");
    }
  } else if (type == "answer") {
    GstSDPMessage* sdp = media::parseSdp(json_object_get_string_member_with_default(obj, "sdp", ""));
    if (!sdp) return finish(1, "the server's answer is not valid SDP");
    GstWebRTCSessionDescription* answer = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
    g_signal_emit_by_name(webrtc_.get(), "set-remote-description", answer, nullptr);
    gst_webrtc_session_description_free(answer);
  } else if (type == "candidate") {
    const char* candidate = json_object_get_string_member_with_default(obj, "candidate", "");
    const auto mline = static_cast<guint>(json_object_get_int_member_with_default(obj, "sdpMLineIndex", 0));
    if (webrtc_ && *candidate) g_signal_emit_by_name(webrtc_.get(), "add-ice-candidate", mline, candidate);
  } else if (type == "error") {
    JsonObject* error = json_object_get_object_member(obj, "error");
    g_printerr("roomcast: server error %s: %s\n", error ? json_object_get_string_member_with_default(error, "code", "") : "",
               error ? json_object_get_string_member_with_default(error, "message", "") : text.c_str());
    if (!welcomed_) return finish(1, "refused");
    // Our WebRTC session is gone on the server (its ICE or DTLS failed, or did not complete
    // by its deadline): offer again.
    const std::string code = error ? json_object_get_string_member_with_default(error, "code", "") : "";
    if (code == "ice_failed" || code == "media_error") retrySession("server: " + code);
  } else if (type == "room-ended") {
    finish(0, "room ended");
  } else if (type == "removed") {
    finish(3, "removed by the host");
  } else if (type == "role-changed" && identity_ == json_object_get_string_member_with_default(obj, "identity", "")) {
    const bool wasOnStage = onStage_;
    onStage_ = g_strcmp0(json_object_get_string_member_with_default(obj, "role", ""), "listener") != 0;
    if (onStage_ && !wasOnStage) startSpeakingTime("promoted");
    if (!onStage_ && wasOnStage) finish(0, "demoted");
  } else if (type == "invited") {
    sendText(R"({"type":"accept-invite"})");
  }
}

void Speaker::finish(int code, const char* why) {
  if (!loop_ || !g_main_loop_is_running(loop_)) return;
  exitCode_ = code;
  g_printerr("roomcast: speaker stopping (%s)\n", why);
  g_main_loop_quit(loop_);
}

int Speaker::run() {
  loop_ = g_main_loop_new(nullptr, FALSE);
  session_ = soup_session_new();
  RoomSocketCallbacks callbacks;
  callbacks.onMessage = [this](const std::string& text) { onWsMessage(text); };
  callbacks.onClosed = [this] { finish(welcomed_ ? 0 : 1, "connection closed"); };
  callbacks.onFailed = [this](const std::string& why) {
    g_printerr("roomcast: cannot connect: %s\n", why.c_str());
    finish(1, "no connection");
  };
  callbacks.beforeHello = [this] { helloSentUs_ = g_get_monotonic_time(); };
  if (!openRoomSocket(session_, options_.server, options_.room, options_.token, &ws_, std::move(callbacks))) {
    g_printerr("roomcast: bad server URL %s\n", options_.server.c_str());
    return 2;
  }
  // A deadline even if the server never answers, ICE never connects (after every retry) or
  // (with a raised hand) nobody promotes us.
  const double patience = options_.raiseHand ? 300 : 30 + kMaxSessionRetries * kSessionPatienceS;
  const auto deadlineMs = static_cast<guint>((options_.seconds + patience) * 1000);
  deadline_ = glib_support::Source::timeout(nullptr, deadlineMs, [](gpointer self) -> gboolean {
    static_cast<Speaker*>(self)->finish(1, "timed out");
    return G_SOURCE_REMOVE;
  }, this);
  g_main_loop_run(loop_);

  drainHeard();
  const audio::PcmAudio& heard = heard_;
  patienceTimer_.reset();
  if (ws_ && soup_websocket_connection_get_state(ws_) == SOUP_WEBSOCKET_STATE_OPEN) {
    soup_websocket_connection_send_text(ws_, R"({"type":"leave"})");
    soup_websocket_connection_close(ws_, SOUP_WEBSOCKET_CLOSE_NORMAL, "bye");
  }
  lossFeedback_.reset();
  if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
  if (rtpSocket_) g_object_unref(rtpSocket_);
  g_printerr("roomcast: heard %.1f s of audio from the room\n", heard.seconds());
  if (!options_.out.empty() && !audio::writeWav(options_.out, heard)) {
    g_printerr("roomcast: cannot write %s\n", options_.out.c_str());
    exitCode_ = 1;
  }
  if (ws_) g_object_unref(ws_);
  g_object_unref(session_);
  g_main_loop_unref(loop_);
  return exitCode_;
}

}  // namespace

int runSpeak(const SpeakOptions& options) { return Speaker(options).run(); }

}  // namespace roomcast::client
