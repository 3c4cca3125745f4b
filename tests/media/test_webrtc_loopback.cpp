// Two webrtcbins negotiated back to back in one process, over real ICE (loopback) and
// DTLS-SRTP, carry Opus both ways: A sends 440 Hz and must hear B's 660 Hz, and vice versa.
// The answerer uses the same helpers as roomcastd (payload type from the offer, loopback ICE).
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "audio/tone.h"
#include "media/webrtc_util.h"
#include "wait.h"

using roomcast::testing::iterateUntil;

namespace {

struct Peer {
  GstElement* webrtc = nullptr;
  GstElement* depay = nullptr;
  GstElement* sink = nullptr;
  Peer* other = nullptr;
  std::mutex lock;
  std::vector<float> heard;
};

// Each peer: tone → Opus → RTP → webrtcbin; webrtcbin → depay → opusdec → appsink.
std::string peerDescription(const char* name, int freq, int pt) {
  return "audiotestsrc is-live=true wave=sine volume=0.5 freq=" + std::to_string(freq) +
         " ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 ! opusenc ! rtpopuspay pt=" +
         std::to_string(pt) + " ! application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=" +
         std::to_string(pt) + " ! webrtcbin name=" + name + " bundle-policy=max-bundle latency=40 " +
         "rtpopusdepay name=" + name + "depay ! opusdec ! audioconvert ! audio/x-raw,format=F32LE,rate=48000,channels=1"
         " ! appsink name=" + name + "sink sync=false emit-signals=true ";
}

GstFlowReturn onSample(GstAppSink* sink, gpointer data) {
  auto* peer = static_cast<Peer*>(data);
  GstSample* sample = gst_app_sink_pull_sample(sink);
  GstMapInfo map;
  GstBuffer* buffer = gst_sample_get_buffer(sample);
  if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    std::lock_guard<std::mutex> guard(peer->lock);
    const auto* f = reinterpret_cast<const float*>(map.data);
    peer->heard.insert(peer->heard.end(), f, f + map.size / sizeof(float));
    gst_buffer_unmap(buffer, &map);
  }
  gst_sample_unref(sample);
  g_main_context_wakeup(nullptr);  // the test waits on the default context
  return GST_FLOW_OK;
}

void onPadAdded(GstElement*, GstPad* pad, gpointer data) {
  auto* peer = static_cast<Peer*>(data);
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) return;
  GstPad* sink = gst_element_get_static_pad(peer->depay, "sink");
  gst_pad_link(pad, sink);
  gst_object_unref(sink);
}

void onIceCandidate(GstElement*, guint mline, gchar* candidate, gpointer data) {
  auto* peer = static_cast<Peer*>(data);
  g_signal_emit_by_name(peer->other->webrtc, "add-ice-candidate", mline, candidate);
}

struct Negotiation {
  Peer* offerer;
  Peer* answerer;
  std::atomic<bool> answered{false};
  std::atomic<int> answererPt{-1};
};

// Takes the description that a create-offer or create-answer `promise` replied with (its
// `field`: "offer" or "answer") and makes it `webrtc`'s local description. The caller frees it.
GstWebRTCSessionDescription* setReplyAsLocal(GstPromise* promise, const char* field, GstElement* webrtc) {
  GstWebRTCSessionDescription* description = nullptr;
  gst_structure_get(gst_promise_get_reply(promise), field, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &description, nullptr);
  gst_promise_unref(promise);
  g_signal_emit_by_name(webrtc, "set-local-description", description, nullptr);
  return description;
}

void onAnswer(GstPromise* promise, gpointer data) {
  auto* n = static_cast<Negotiation*>(data);
  GstWebRTCSessionDescription* answer = setReplyAsLocal(promise, "answer", n->answerer->webrtc);
  g_signal_emit_by_name(n->offerer->webrtc, "set-remote-description", answer, nullptr);
  gst_webrtc_session_description_free(answer);
  n->answered = true;
  g_main_context_wakeup(nullptr);
}

void onRemoteOfferSet(GstPromise* promise, gpointer data) {
  auto* n = static_cast<Negotiation*>(data);
  gst_promise_unref(promise);
  g_signal_emit_by_name(n->answerer->webrtc, "create-answer", nullptr,
                        gst_promise_new_with_change_func(onAnswer, n, nullptr));
}

void onOffer(GstPromise* promise, gpointer data) {
  auto* n = static_cast<Negotiation*>(data);
  GstWebRTCSessionDescription* offer = setReplyAsLocal(promise, "offer", n->offerer->webrtc);
  // The answerer learns the Opus payload type from the offer, as roomcastd does.
  auto pt = roomcast::media::checkAudioOffer(offer->sdp);
  n->answererPt = pt ? pt.value() : -2;
  g_signal_emit_by_name(n->answerer->webrtc, "set-remote-description", offer,
                        gst_promise_new_with_change_func(onRemoteOfferSet, n, nullptr));
  gst_webrtc_session_description_free(offer);
}

void onNegotiationNeeded(GstElement* webrtc, gpointer data) {
  auto* n = static_cast<Negotiation*>(data);
  if (webrtc != n->offerer->webrtc) return;  // B answers; it never offers
  g_signal_emit_by_name(webrtc, "create-offer", nullptr, gst_promise_new_with_change_func(onOffer, n, nullptr));
}

double share(Peer& p, double freq, size_t skip) {
  std::lock_guard<std::mutex> guard(p.lock);
  if (p.heard.size() <= skip) return 0;
  return roomcast::audio::toneShare(p.heard.data() + skip, p.heard.size() - skip, 48000, freq);
}

TEST(WebRtcLoopback, OpusFlowsBothWays) {
  roomcast::media::warmUpDtlsCertificate();
  // A offers Opus as 111 (like browsers); B's payloader is told the same type from the offer.
  // The pipeline for B is built with pt 111 up front because the offer is made in-process
  // before B exists; checkAudioOffer below proves the offer carries 111.
  const std::string description = peerDescription("a", 440, 111) + peerDescription("b", 660, 111);
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(description.c_str(), &error);
  ASSERT_NE(pipeline, nullptr) << (error ? error->message : "");

  Peer a, b;
  a.other = &b;
  b.other = &a;
  for (auto [peer, name] : {std::pair{&a, "a"}, std::pair{&b, "b"}}) {
    GstBin* bin = GST_BIN(pipeline);
    peer->webrtc = gst_bin_get_by_name(bin, name);
    peer->depay = gst_bin_get_by_name(bin, (std::string(name) + "depay").c_str());
    peer->sink = gst_bin_get_by_name(bin, (std::string(name) + "sink").c_str());
    roomcast::media::addLoopbackToIceAgent(peer->webrtc);
    g_signal_connect(peer->webrtc, "pad-added", G_CALLBACK(onPadAdded), peer);
    g_signal_connect(peer->webrtc, "on-ice-candidate", G_CALLBACK(onIceCandidate), peer);
    g_signal_connect(peer->sink, "new-sample", G_CALLBACK(onSample), peer);
  }
  Negotiation negotiation{&a, &b};
  g_signal_connect(a.webrtc, "on-negotiation-needed", G_CALLBACK(onNegotiationNeeded), &negotiation);
  g_signal_connect(b.webrtc, "on-negotiation-needed", G_CALLBACK(onNegotiationNeeded), &negotiation);

  GMainContext* context = g_main_context_default();
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(iterateUntil(context, [&] { return negotiation.answered.load(); }, 20)) << "negotiation did not finish";
  EXPECT_EQ(negotiation.answererPt.load(), 111);

  // Wait for 1.5 s of audio on each side (after 0.5 s of start-up), then analyse.
  const size_t skip = 24000, want = skip + 72000;
  auto enough = [&] {
    std::lock_guard<std::mutex> ga(a.lock);
    std::lock_guard<std::mutex> gb(b.lock);
    return a.heard.size() >= want && b.heard.size() >= want;
  };
  ASSERT_TRUE(iterateUntil(context, enough, 30)) << "audio did not flow both ways (A heard " << a.heard.size()
                                                 << ", B heard " << b.heard.size() << " samples)";
  GstWebRTCICEConnectionState ice;
  g_object_get(a.webrtc, "ice-connection-state", &ice, nullptr);
  EXPECT_TRUE(ice == GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED || ice == GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED);

  EXPECT_GT(share(a, 660, skip), 0.8) << "A should hear B's 660 Hz";
  EXPECT_LT(share(a, 440, skip), 0.05) << "A must not hear itself";
  EXPECT_GT(share(b, 440, skip), 0.8) << "B should hear A's 440 Hz";
  EXPECT_LT(share(b, 660, skip), 0.05);

  gst_element_set_state(pipeline, GST_STATE_NULL);
  for (Peer* p : {&a, &b}) {
    gst_object_unref(p->webrtc);
    gst_object_unref(p->depay);
    gst_object_unref(p->sink);
  }
  gst_object_unref(pipeline);
}

}  // namespace
