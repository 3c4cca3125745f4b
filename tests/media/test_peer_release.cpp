// GstMediaBackend in-process, watched by GStreamer's leaks tracer: every webrtcbin a speaker's
// session made, with its ICE agent (GstWebRTCNice, which owns the NiceAgent, its sockets and
// its thread) and its DTLS transports, is finalized when the session ends, whether the peer
// left after a full ICE/DTLS handshake, left before one, or was still there when the room ended.
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "media/gst_media_backend.h"
#include "media/webrtc_util.h"
#include "processes.h"
#include "wait.h"

using roomcast::media::GstMediaBackend;
using roomcast::media::MediaConfig;
using roomcast::testing::iterateUntil;

namespace {

// The types the tracer follows (set in main): a session's webrtcbin, its ICE agent and
// streams, its DTLS transports and connections (not GstDtlsAgent: one per process, kept for
// its certificate).
constexpr const char* kTracers =
    "leaks(GstWebRTCBin,GstWebRTCNice,GstWebRTCNiceStream,GstWebRTCNiceTransport,GstWebRTCDTLSTransport,"
    "GstDtlsConnection)";

// Live objects of those types, by type name (the leaks tracer's own list).
std::map<std::string, int> liveObjects() {
  std::map<std::string, int> counts;
  GList* tracers = gst_tracing_get_active_tracers();
  for (GList* t = tracers; t; t = t->next) {
    if (g_strcmp0(G_OBJECT_TYPE_NAME(t->data), "GstLeaksTracer") != 0) continue;
    GstStructure* info = nullptr;
    g_signal_emit_by_name(t->data, "get-live-objects", &info);
    const GValue* list = info ? gst_structure_get_value(info, "live-objects-list") : nullptr;
    for (guint i = 0; list && i < gst_value_list_get_size(list); i++) {
      const GstStructure* entry = gst_value_get_structure(gst_value_list_get_value(list, i));
      const GValue* object = gst_structure_get_value(entry, "object");
      if (!object || !G_VALUE_HOLDS_OBJECT(object) || !g_value_get_object(object)) continue;
      counts[G_OBJECT_TYPE_NAME(g_value_get_object(object))]++;
      // The list's copy owns a reference the emission took from the object's holders (the
      // tracer hands its objects over without one): given back before the list is freed.
      g_object_ref(g_value_get_object(object));
    }
    if (info) gst_structure_free(info);
  }
  g_list_free_full(tracers, gst_object_unref);
  return counts;
}

int webrtcObjects(const std::map<std::string, int>& live) {
  int n = 0;
  for (const auto& [type, count] : live)
    if (type.rfind("GstWebRTC", 0) == 0 || type.rfind("GstDtls", 0) == 0) n += count;
  return n;
}

std::string describe(const std::map<std::string, int>& live) {
  std::string out;
  for (const auto& [type, count] : live) out += type + "=" + std::to_string(count) + " ";
  return out;
}

// GStreamer's critical warnings (an element disposed while still PLAYING, whose threads and
// transports are then never stopped), kept for the test's end: such a disposal is the way a
// removed speaker leaked its ICE/DTLS objects on a loaded machine, and an element of a kind the
// tracer does not follow can be disposed so too.
std::mutex criticalsLock;
std::vector<std::string> criticals;

void keepCritical(const gchar* domain, GLogLevelFlags level, const gchar* message, gpointer) {
  {
    std::lock_guard<std::mutex> guard(criticalsLock);
    criticals.emplace_back(message ? message : "");
  }
  g_log_default_handler(domain, level, message, nullptr);
}

// The last webrtcbin, DTLS and ICE debug lines, kept in memory and printed only when a test
// fails: an answer that never came (seen twice in CI runs on a loaded machine) says nothing
// without them, and printing them always would bury every other test's output.
std::mutex recentLock;
std::vector<std::string> recentLines;
size_t recentNext = 0;
constexpr size_t kRecentLines = 4000;

void keepRecent(GstDebugCategory* category, GstDebugLevel level, const gchar* file, const gchar* function, gint line,
                GObject* object, GstDebugMessage* message, gpointer) {
  if (g_strcmp0(gst_debug_category_get_name(category), "GST_TRACER") == 0 || level <= GST_LEVEL_ERROR) {
    gst_debug_log_default(category, level, file, function, line, object, message, nullptr);
    if (level > GST_LEVEL_ERROR) return;
  }
  // GST_OBJECT_NAME, not gst_object_get_name(): the caller may hold the object's lock.
  const gchar* objectName = object && GST_IS_OBJECT(object) ? GST_OBJECT_NAME(object) : nullptr;
  char stamp[32];
  const gint64 now = g_get_monotonic_time();
  g_snprintf(stamp, sizeof stamp, "%" G_GINT64_FORMAT ".%06" G_GINT64_FORMAT, now / G_USEC_PER_SEC, now % G_USEC_PER_SEC);
  std::string text = std::string(stamp) + " " + gst_debug_level_get_name(level) + " " +
                     gst_debug_category_get_name(category) + " " + (objectName ? objectName : "-") + " " +
                     function + ": " + gst_debug_message_get(message);
  std::lock_guard<std::mutex> guard(recentLock);
  if (recentLines.size() < kRecentLines) recentLines.push_back(std::move(text));
  else recentLines[recentNext] = std::move(text);
  recentNext = (recentNext + 1) % kRecentLines;
}

struct PrintRecentOnFailure : ::testing::EmptyTestEventListener {
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (!info.result()->Failed()) return;
    std::lock_guard<std::mutex> guard(recentLock);
    std::printf("--- the last %zu debug lines (webrtcbin, DTLS, ICE, roomcast) ---\n", recentLines.size());
    for (size_t i = 0; i < recentLines.size(); i++)
      std::printf("%s\n", recentLines[(recentNext + i) % recentLines.size()].c_str());
  }
};

std::string allCriticals() {
  std::lock_guard<std::mutex> guard(criticalsLock);
  std::string out;
  for (const auto& c : criticals) out += c + "\n";
  return out;
}

// The other end of a session, in this process: Opus to send, webrtcbin offering.
struct Client {
  GstElement* pipeline = nullptr;
  GstElement* webrtc = nullptr;
  std::string offer;
  std::atomic<bool> connected{false};
  std::mutex lock;
  std::vector<std::pair<unsigned, std::string>> candidates;  // ours, for the server
};

void onClientCandidate(GstElement*, guint mline, gchar* candidate, gpointer data) {
  auto* c = static_cast<Client*>(data);
  std::lock_guard<std::mutex> guard(c->lock);
  c->candidates.emplace_back(mline, candidate);
  g_main_context_wakeup(nullptr);
}

void onClientState(GstElement* webrtc, GParamSpec*, gpointer data) {
  GstWebRTCPeerConnectionState state;
  g_object_get(webrtc, "connection-state", &state, nullptr);
  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED) static_cast<Client*>(data)->connected = true;
  g_main_context_wakeup(nullptr);
}

void onOfferCreated(GstPromise* promise, gpointer data) {
  auto* c = static_cast<Client*>(data);
  GstWebRTCSessionDescription* offer = nullptr;
  gst_structure_get(gst_promise_get_reply(promise), "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, nullptr);
  gst_promise_unref(promise);
  g_signal_emit_by_name(c->webrtc, "set-local-description", offer, nullptr);
  g_autofree char* text = gst_sdp_message_as_text(offer->sdp);
  gst_webrtc_session_description_free(offer);
  std::lock_guard<std::mutex> guard(c->lock);
  c->offer = text;
  g_main_context_wakeup(nullptr);
}

void startClient(Client& c) {
  c.pipeline = gst_parse_launch(
      "audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1"
      " ! opusenc ! rtpopuspay pt=111 ! application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=111"
      " ! webrtcbin name=client bundle-policy=max-bundle",
      nullptr);
  c.webrtc = gst_bin_get_by_name(GST_BIN(c.pipeline), "client");
  roomcast::media::addLoopbackToIceAgent(c.webrtc);
  g_signal_connect(c.webrtc, "on-ice-candidate", G_CALLBACK(onClientCandidate), &c);
  g_signal_connect(c.webrtc, "notify::connection-state", G_CALLBACK(onClientState), &c);
  gst_element_set_state(c.pipeline, GST_STATE_PLAYING);
  g_signal_emit_by_name(c.webrtc, "create-offer", nullptr, gst_promise_new_with_change_func(onOfferCreated, &c, nullptr));
}

void stopClient(Client& c) {
  gst_element_set_state(c.pipeline, GST_STATE_NULL);
  gst_object_unref(c.webrtc);
  gst_object_unref(c.pipeline);
}

// Answers and candidates from the backend, on the control context (this thread).
struct Observer : roomcast::core::MediaObserver {
  std::map<std::string, std::string> answers;
  std::map<std::string, std::vector<std::pair<unsigned, std::string>>> candidates;
  std::vector<std::string> failed;
  void onLocalAnswer(const std::string&, const std::string& peer, const std::string& sdp) override { answers[peer] = sdp; }
  void onLocalCandidate(const std::string&, const std::string& peer, unsigned mline, const std::string& c) override {
    candidates[peer].emplace_back(mline, c);
  }
  void onPeerLevels(const std::string&, const std::vector<PeerLevel>&) override {}
  void onPeerFailed(const std::string&, const std::string& peer, const std::string&) override { failed.push_back(peer); }
  void onRoomMediaFailed(const std::string&, const std::string&) override {}
  void onPeerTranscript(const std::string&, const std::string&, const std::string&, int64_t, int64_t) override {}
  void onRecordingStarted(const std::string&, const roomcast::core::RecordingInfo&) override {}
  void onRecordingStopped(const std::string&, const roomcast::core::RecordingInfo&) override {}
};

class PeerRelease : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.dataDir = scratch_.path();
    config_.pipelinesDir = roomcast::testing::sourcePath("pipelines");
    backend_ = std::make_unique<GstMediaBackend>(config_, g_main_context_default());
    backend_->setObserver(&observer_);
    ASSERT_TRUE(backend_->startRoom({"room", false}));
  }
  // The room ends as roomcastd ends rooms (EOS through its outputs, then NULL). Destroying a
  // pipeline straight from PLAYING a second after it started could park the NULL transition
  // inside hlssink2's splitmuxsink for good (seen once in about a hundred runs: its queue
  // thread waiting in a pad probe, the state change waiting for that thread's stream lock).
  void TearDown() override {
    bool stopped = false;
    backend_->stopRoom("room", [&](roomcast::core::RoomMediaSummary) { stopped = true; });
    EXPECT_TRUE(iterate([&] { return stopped; }, 20)) << "the room did not stop";
    backend_.reset();
  }

  // A full session: offer, answer, candidates both ways, until the client's DTLS is up.
  void connectedSession(const std::string& peer) {
    Client c;
    startClient(c);
    ASSERT_TRUE(iterate([&] {
      std::lock_guard<std::mutex> guard(c.lock);
      return !c.offer.empty();
    }, 20));
    ASSERT_TRUE(backend_->acceptOffer("room", peer, c.offer, true));
    ASSERT_TRUE(iterate([&] { return observer_.answers.count(peer) > 0; }, 20))
        << "no answer for " << peer << "; failed peers: " << failedPeers();
    GstSDPMessage* sdp = roomcast::media::parseSdp(observer_.answers[peer]);
    GstWebRTCSessionDescription* answer = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
    g_signal_emit_by_name(c.webrtc, "set-remote-description", answer, nullptr);
    gst_webrtc_session_description_free(answer);
    size_t sentToClient = 0;
    ASSERT_TRUE(iterate([&] {
      std::vector<std::pair<unsigned, std::string>> ours;
      {
        std::lock_guard<std::mutex> guard(c.lock);
        ours.swap(c.candidates);
      }
      for (const auto& [mline, candidate] : ours) (void)backend_->addRemoteCandidate("room", peer, mline, candidate);
      auto& theirs = observer_.candidates[peer];
      for (; sentToClient < theirs.size(); sentToClient++)
        if (!theirs[sentToClient].second.empty())
          g_signal_emit_by_name(c.webrtc, "add-ice-candidate", theirs[sentToClient].first,
                                theirs[sentToClient].second.c_str());
      return c.connected.load();
    }, 30)) << "ICE and DTLS did not complete";
    backend_->removePeer("room", peer);
    stopClient(c);
  }

  std::string failedPeers() const {
    std::string out;
    for (const auto& peer : observer_.failed) out += peer + " ";
    return out.empty() ? "none" : out;
  }

  static bool iterate(const std::function<bool()>& done, double seconds) {
    return iterateUntil(g_main_context_default(), done, seconds);
  }

  roomcast::testing::TempDir scratch_{"roomcast-peer-release-"};
  MediaConfig config_;
  Observer observer_;
  std::unique_ptr<GstMediaBackend> backend_;
};

// What a browser offers, minus candidates: the server answers and gathers, never connects.
std::string offerWithoutCandidates() {
  std::string fingerprint;
  for (int i = 0; i < 32; i++) fingerprint += (i ? ":" : "") + std::string("A") + std::to_string(i % 10);
  return "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
         "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:Wx3q\r\n"
         "a=ice-pwd:Ak2Hn3BqvK8o0W1lZ7pYc9Re\r\na=fingerprint:sha-256 " + fingerprint + "\r\n"
         "a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n";
}

TEST_F(PeerRelease, EverySessionsWebRtcObjectsAreFinalized) {
  ASSERT_EQ(webrtcObjects(liveObjects()), 0) << describe(liveObjects());
  // The tracer sees a live session (or this test would prove nothing).
  ASSERT_TRUE(backend_->acceptOffer("room", "probe", offerWithoutCandidates(), false));
  ASSERT_TRUE(iterate([&] { return observer_.candidates.count("probe") > 0; }, 20))
      << observer_.answers.size() << " answers, " << observer_.failed.size() << " failed";
  ASSERT_GT(liveObjects()["GstWebRTCBin"], 0) << "the leaks tracer must be on (GST_TRACERS=leaks)";
  backend_->removePeer("room", "probe");

  // Left before ICE could complete (answered, gathering).
  for (int i = 0; i < 10; i++) {
    const std::string peer = "early-" + std::to_string(i);
    ASSERT_TRUE(backend_->acceptOffer("room", peer, offerWithoutCandidates(), i % 2 == 0));
    ASSERT_TRUE(iterate([&] { return observer_.candidates.count(peer) > 0; }, 20));
    backend_->removePeer("room", peer);
  }
  // Left after a full handshake, with audio flowing.
  for (int i = 0; i < 3; i++) {
    connectedSession("full-" + std::to_string(i));
    if (HasFatalFailure()) return;
  }
  std::map<std::string, int> live;
  EXPECT_TRUE(iterate([&] { return webrtcObjects(live = liveObjects()) == 0; }, 10))
      << "still alive after every peer left: " << describe(live);

  // Still there when the room ends.
  ASSERT_TRUE(backend_->acceptOffer("room", "last", offerWithoutCandidates(), true));
  ASSERT_TRUE(iterate([&] { return observer_.candidates.count("last") > 0; }, 20));
  bool stopped = false;
  backend_->stopRoom("room", [&](roomcast::core::RoomMediaSummary) { stopped = true; });
  ASSERT_TRUE(iterate([&] { return stopped; }, 20));
  EXPECT_TRUE(iterate([&] { return webrtcObjects(live = liveObjects()) == 0; }, 10))
      << "still alive after the room ended: " << describe(live);
  EXPECT_EQ(allCriticals(), "");
}

// A browser's offer names its SSRC (a=ssrc:N cname:...). GStreamer makes caps fields named
// after it, and field names are GQuarks, never freed: one more for every speaker session, for
// the life of the process, unless the server drops those lines first.
TEST_F(PeerRelease, AnOffersSsrcLeavesNoNameBehind) {
  const guint32 ssrc = 1000000000u + g_random_int_range(0, 1000000000);
  const std::string n = std::to_string(ssrc);
  std::string offer = offerWithoutCandidates();
  offer += "a=ssrc:" + n + " cname:soak\r\na=ssrc:" + n + " msid:- track\r\n";
  ASSERT_TRUE(backend_->acceptOffer("room", "named", offer, false));
  ASSERT_TRUE(iterate([&] { return observer_.candidates.count("named") > 0; }, 20))
      << observer_.answers.size() << " answers, " << observer_.failed.size() << " failed";
  backend_->removePeer("room", "named");
  std::vector<std::string> names = {"ssrc-" + n + "-cname", "ssrc-" + n + "-msid"};
  // webrtcbin's answer would name the server's own (random) SSRC the same way.
  const std::string answer = observer_.answers["named"];
  if (const auto at = answer.find("a=ssrc:"); at != std::string::npos)
    names.push_back("ssrc-" + answer.substr(at + 7, answer.find_first_not_of("0123456789", at + 7) - at - 7) + "-cname");
  for (const std::string& name : names) EXPECT_EQ(g_quark_try_string(name.c_str()), 0u) << name << " became a quark";
}

}  // namespace

int main(int argc, char** argv) {
  // Before gst_init: the tracer follows every GStreamer object from its creation.
  g_setenv("GST_TRACERS", kTracers, TRUE);
  gst_init(&argc, &argv);
  gst_debug_remove_log_function(gst_debug_log_default);
  gst_debug_add_log_function(keepRecent, nullptr, nullptr);
  gst_debug_set_threshold_from_string("webrtcbin:5,webrtctransportsendbin:5,webrtctransportreceivebin:5,"
                                      "dtls*:5,webrtcnice:5,roomcast*:5", FALSE);
  g_log_set_handler("GStreamer", G_LOG_LEVEL_CRITICAL, keepCritical, nullptr);
  roomcast::media::warmUpDtlsCertificate();
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::UnitTest::GetInstance()->listeners().Append(new PrintRecentOnFailure);
  return RUN_ALL_TESTS();
}
