// `roomcast speak`'s speaker, shared by its two halves: speak.cpp (the room's WebSocket, its
// messages, the run) and speak_media.cpp (the media pipeline and its WebRTC sessions).
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>
#include <json-glib/json-glib.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "audio/wav.h"
#include "client/reconnecting_socket.h"
#include "client/speak.h"
#include "glib_support/source.h"
#include "media/gst_ptr.h"
#include "media/loss_feedback.h"

namespace roomcast::client {

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
// A server ice_failed this soon after our offer is about the session before it (see onServerError).
constexpr gint64 kStaleIceFailureUs = 1000 * 1000;
constexpr double kRoundTripsOfPatience = 12;

class Speaker {
 public:
  explicit Speaker(const SpeakOptions& options) : options_(options) {}
  int run();

 private:
  bool buildPipeline(std::string& error);
  void dropEveryNthPacket();
  void setUpWebrtc(GstElement* encoder);
  void countWhatIsHeard();
  bool openRtpSocket(std::string& error);
  void sendRtpOffer();
  void onWsMessage(const std::string& text);
  void onWelcome(JsonObject* welcome);
  void onServerError(JsonObject* obj, const std::string& text);
  void onConnectionLost(const std::string& why);
  void stopMedia();
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
  std::unique_ptr<ReconnectingSocket> socket_;
  bool reconnecting_ = false;  // the socket is gone and being opened again: no session can be negotiated
  media::ElementPtr pipeline_;
  media::ElementPtr webrtc_;
  media::ElementPtr depay_;
  media::ElementPtr appsink_;
  std::unique_ptr<media::LossFeedback> lossFeedback_;  // WebRTC: our encoder follows the room's RTCP reports
  GSocket* rtpSocket_ = nullptr;  // --plain-rtp: ours, for sending and receiving
  std::string rtpHost_;           // --plain-rtp: where the server wants our RTP
  int rtpPort_ = 0;
  bool welcomed_ = false;        // once, ever
  bool awaitingWelcome_ = true;  // this socket's hello is not answered yet
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

}  // namespace roomcast::client
