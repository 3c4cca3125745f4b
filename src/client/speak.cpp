// `roomcast speak`: a real WebRTC speaker (webrtcbin, DTLS-SRTP, ICE) that sends a tone or a
// WAV file and records what it hears back from the room. With --plain-rtp, the same over
// plain RTP from one UDP socket (rtp-offer / rtp-answer), where the server allows it. This
// half: the room's WebSocket (reconnected by itself when it drops), its messages and the run.
#include "client/speak.h"

#include <gst/sdp/sdp.h>
#include <json-glib/json-glib.h>

#include <cstdio>

#include "client/speaker.h"
#include "client/turn_uris.h"
#include "media/webrtc_util.h"

namespace roomcast::client {

// A welcome: the first, or one after a reconnect (same token, the last resume_token), which
// may come from another process than the last (a failover): that one knows nothing of our
// WebRTC session, so every welcome starts a new one (a new offer; the server also replaces
// its webrtcbin when we resume on the same node).
void Speaker::onWelcome(JsonObject* obj) {
  const bool again = welcomed_;
  welcomed_ = true;
  awaitingWelcome_ = false;
  reconnecting_ = false;
  welcomeRoundTripUs_ = g_get_monotonic_time() - helloSentUs_;
  socket_->welcomed(json_object_get_string_member_with_default(obj, "resume_token", ""));
  if (again) {
    // Scripts and tests wait for this line; "connected" follows once the audio flows again.
    printf("reconnected\n");
    fflush(stdout);
    stopMedia();
    retries_ = 0;
  }
  // Before any media: our voice is never in the recording, not even its first frame.
  if (options_.recordingOptOut) sendText(R"({"type":"recording-opt-out","opt_out":true})");
  JsonObject* you = json_object_get_object_member(obj, "you");
  identity_ = you ? json_object_get_string_member_with_default(you, "identity", "") : "";
  turnUris_ = turnUrisFromWelcome(obj);
  onStage_ = you && g_strcmp0(json_object_get_string_member_with_default(you, "role", ""), "listener") != 0;
  if (!onStage_) {
    if (!options_.raiseHand) {
      if (again) return finish(0, "demoted");  // while we were away
      return finish(1, "this token is a listener's: use --raise-hand, or a speaker token");
    }
    // Pre-warm: the hand goes up and the WebRTC session opens now; the room hears us
    // only once the host promotes us.
    sendText(R"({"type":"raise-hand"})");
  }
  std::string error;
  if (options_.plainRtp) {
    // The pipeline starts once the server says where to send.
    if (!rtpSocket_ && !openRtpSocket(error)) {
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
}

// The room's WebSocket is gone and being opened again. The media session goes on meanwhile
// (when only the socket dropped, the room may still hear us) until the new welcome replaces it.
void Speaker::onConnectionLost(const std::string& why) {
  printf("reconnecting: %s\n", why.c_str());
  fflush(stdout);
  reconnecting_ = true;
  awaitingWelcome_ = true;
  patienceTimer_.reset();
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
    onWelcome(obj);
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
    onServerError(obj, text);
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

void Speaker::onServerError(JsonObject* obj, const std::string& text) {
  JsonObject* error = json_object_get_object_member(obj, "error");
  const std::string code = error ? json_object_get_string_member_with_default(error, "code", "") : "";
  g_printerr("roomcast: server error %s: %s\n", code.c_str(),
             error ? json_object_get_string_member_with_default(error, "message", "") : text.c_str());
  if (awaitingWelcome_) {
    // Coming back, a refusal that may pass: a node reached during a failover that does not
    // have the room yet, or one that has not yet seen our last connection drop (and does not
    // know our resume token: a room reopened elsewhere). Any other refusal is final.
    if (welcomed_ && (code == "not_found" || code == "conflict")) return socket_->abandonAttempt("server: " + code);
    return finish(1, "refused");
  }
  // Our WebRTC session is gone on the server (its ICE or DTLS failed, or did not complete
  // by its deadline): offer again. Unless it is about the session we just replaced: its
  // deadline fired while our new offer was on the way. The server's deadline is at least 1 s
  // ([media] ice_deadline_s), so this session's own ice_failed cannot come sooner after its offer.
  if (code == "ice_failed" &&
      (!offerSentUs_ || g_get_monotonic_time() - offerSentUs_ < kStaleIceFailureUs)) {
    g_printerr("roomcast: (about the session just replaced: this one goes on)\n");
    return;
  }
  if (code == "ice_failed" || code == "media_error") retrySession("server: " + code);
}

void Speaker::finish(int code, const char* why) {
  if (!loop_ || !g_main_loop_is_running(loop_)) return;
  exitCode_ = code;
  g_printerr("roomcast: speaker stopping (%s)\n", why);
  g_main_loop_quit(loop_);
}

int Speaker::run() {
  loop_ = g_main_loop_new(nullptr, FALSE);
  ReconnectingSocketCallbacks callbacks;
  callbacks.onMessage = [this](const std::string& text) { onWsMessage(text); };
  callbacks.beforeHello = [this] { helloSentUs_ = g_get_monotonic_time(); };
  callbacks.onReconnecting = [this](const std::string& why) { onConnectionLost(why); };
  callbacks.onGone = [this](const std::string& why) {
    g_printerr("roomcast: %s: %s\n", welcomed_ ? "connection lost" : "cannot connect", why.c_str());
    finish(1, welcomed_ ? "connection lost" : "no connection");
  };
  socket_ = std::make_unique<ReconnectingSocket>(options_.servers, options_.room, options_.token,
                                                 options_.reconnectForSeconds, std::move(callbacks));
  if (!socket_->start()) {
    g_printerr("roomcast: bad server URL in --server\n");
    g_main_loop_unref(loop_);
    return 2;
  }
  // A deadline even if the server never answers, ICE never connects (after every retry) or
  // (with a raised hand) nobody promotes us; a reconnect may take its own time more.
  const double patience = (options_.raiseHand ? 300 : 30 + kMaxSessionRetries * kSessionPatienceS) +
                          options_.reconnectForSeconds;
  const auto deadlineMs = static_cast<guint>((options_.seconds + patience) * 1000);
  deadline_ = glib_support::Source::timeout(nullptr, deadlineMs, [](gpointer self) -> gboolean {
    static_cast<Speaker*>(self)->finish(1, "timed out");
    return G_SOURCE_REMOVE;
  }, this);
  g_main_loop_run(loop_);

  drainHeard();
  const audio::PcmAudio& heard = heard_;
  patienceTimer_.reset();
  socket_->stop(R"({"type":"leave"})");
  lossFeedback_.reset();
  if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
  if (rtpSocket_) g_object_unref(rtpSocket_);
  g_printerr("roomcast: heard %.1f s of audio from the room\n", heard.seconds());
  if (!options_.out.empty() && !audio::writeWav(options_.out, heard)) {
    g_printerr("roomcast: cannot write %s\n", options_.out.c_str());
    exitCode_ = 1;
  }
  socket_.reset();
  g_main_loop_unref(loop_);
  return exitCode_;
}

int runSpeak(const SpeakOptions& options) { return Speaker(options).run(); }

}  // namespace roomcast::client
