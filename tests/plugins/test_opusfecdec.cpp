// Observable behaviour of the opusfecdec element (plugins/roomcast), through GstHarness.
//
// The packets are encoded here with libopus (voice, 20 ms, 32 kb/s, in-band FEC, 20 %
// expected loss so that every packet carries the FEC copy of the one before). The signal is
// a 440 Hz tone with one 20 ms frame at 660 Hz: when exactly that frame's packet is lost,
// concealment (PLC) can only continue the 440 Hz it heard before, while the FEC copy in the
// next packet brings back 660 Hz. That makes "FEC was used" visible in the audio.

#include <gst/app/gstappsink.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>
#include <opus.h>

#include "load_plugin.h"

#include <cmath>
#include <string>
#include <vector>

namespace {

constexpr int kRate = 48000;
constexpr int kFrame = 960;  // 20 ms
constexpr GstClockTime kFrameTime = 20 * GST_MSECOND;
constexpr int kPackets = 30;
constexpr int kOddFrame = 15;  // the frame at 660 Hz

double GoertzelPower(const float *x, size_t n, double freq) {
  const double coeff = 2.0 * std::cos(2.0 * M_PI * freq / kRate);
  double s1 = 0.0, s2 = 0.0;
  for (size_t i = 0; i < n; i++) {
    const double s = x[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

double Db(double ratio) { return 10.0 * std::log10(ratio + 1e-30); }

std::vector<std::vector<unsigned char>> EncodePackets() {
  int error = OPUS_OK;
  OpusEncoder *enc = opus_encoder_create(kRate, 1, OPUS_APPLICATION_VOIP, &error);
  EXPECT_EQ(error, OPUS_OK);
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(32000));
  opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(5));
  opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
  opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(20));
  opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
  std::vector<std::vector<unsigned char>> packets;
  double phase = 0;
  for (int p = 0; p < kPackets; p++) {
    const double freq = p == kOddFrame ? 660.0 : 440.0;
    std::vector<float> pcm(kFrame);
    for (float &v : pcm) {
      v = static_cast<float>(0.3 * std::sin(phase));
      phase += 2.0 * M_PI * freq / kRate;
    }
    unsigned char packet[1500];
    const int n = opus_encode_float(enc, pcm.data(), kFrame, packet, sizeof packet);
    EXPECT_GT(n, 0);
    packets.emplace_back(packet, packet + std::max(n, 0));
  }
  opus_encoder_destroy(enc);
  return packets;
}

class OpusFecDec : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LoadRoomcastPlugin();
    packets_ = EncodePackets();
  }

  void SetUp() override {
    h_ = gst_harness_new("opusfecdec");
    ASSERT_NE(h_, nullptr);
    gst_harness_set_src_caps_str(h_, "audio/x-opus,channel-mapping-family=0,channels=1,rate=48000");
  }
  void TearDown() override { gst_harness_teardown(h_); }

  void PushPacket(int p) {
    const auto &bytes = packets_[static_cast<size_t>(p)];
    GstBuffer *b = gst_buffer_new_memdup(bytes.data(), bytes.size());
    GST_BUFFER_PTS(b) = p * kFrameTime;
    GST_BUFFER_DURATION(b) = kFrameTime;
    ASSERT_EQ(gst_harness_push(h_, b), GST_FLOW_OK);
  }
  // What rtpopusdepay sends when the jitter buffer declares packet p lost.
  void PushLoss(int p, int frames = 1) {
    ASSERT_TRUE(gst_harness_push_event(h_, gst_event_new_gap(p * kFrameTime, frames * kFrameTime)));
  }

  // Every buffer out so far, laid out on the timeline by PTS (gaps stay zero), and their count.
  std::vector<float> Timeline(int *buffers = nullptr, GstClockTime *covered = nullptr) {
    std::vector<float> out(kPackets * kFrame + kRate, 0.0f);
    int count = 0;
    GstClockTime total = 0;
    while (GstBuffer *b = gst_harness_try_pull(h_)) {
      count++;
      total += GST_BUFFER_DURATION(b);
      GstMapInfo map;
      gst_buffer_map(b, &map, GST_MAP_READ);
      const size_t start = gst_util_uint64_scale(GST_BUFFER_PTS(b), kRate, GST_SECOND);
      const size_t n = map.size / sizeof(float);
      const float *s = reinterpret_cast<const float *>(map.data);
      for (size_t i = 0; i < n && start + i < out.size(); i++) out[start + i] = s[i];
      gst_buffer_unmap(b, &map);
      gst_buffer_unref(b);
    }
    if (buffers) *buffers = count;
    if (covered) *covered = total;
    return out;
  }

  // 660 Hz over 440 Hz in the odd frame (dB): high when its audio is the real one.
  static double OddFrameRatioDb(const std::vector<float> &timeline) {
    // The decoder's output lags its input by the encoder's look-ahead (6.5 ms), so look at
    // the frame's second half, which holds only 660 Hz in the original.
    const float *x = timeline.data() + kOddFrame * kFrame + kFrame / 2;
    return Db(GoertzelPower(x, kFrame / 2, 660.0) / GoertzelPower(x, kFrame / 2, 440.0));
  }

  guint64 Stat(const char *name) {
    guint64 v = 0;
    g_object_get(h_->element, name, &v, nullptr);
    return v;
  }

  GstHarness *h_ = nullptr;
  static std::vector<std::vector<unsigned char>> packets_;
};

std::vector<std::vector<unsigned char>> OpusFecDec::packets_;

// The reason for the element: a packet's audio comes out the moment the packet goes in
// (opusdec with use-inband-fec holds each one until the next arrives).
TEST_F(OpusFecDec, DecodesEachPacketAtOnce) {
  gst_harness_play(h_);
  for (int p = 0; p < 3; p++) {
    PushPacket(p);
    GstBuffer *out = gst_harness_try_pull(h_);
    ASSERT_NE(out, nullptr) << "packet " << p << " was held back";
    EXPECT_EQ(GST_BUFFER_PTS(out), p * kFrameTime);
    EXPECT_EQ(gst_buffer_get_size(out), kFrame * sizeof(float));
    gst_buffer_unref(out);
  }
  GstCaps *caps = gst_pad_get_current_caps(h_->sinkpad);
  ASSERT_NE(caps, nullptr);
  GstCaps *want = gst_caps_from_string("audio/x-raw,format=F32LE,rate=48000,channels=1,layout=interleaved");
  EXPECT_TRUE(gst_caps_is_equal(caps, want));
  gst_caps_unref(want);
  gst_caps_unref(caps);
}

TEST_F(OpusFecDec, LostPacketIsRebuiltFromTheNextPacketsFec) {
  gst_harness_play(h_);
  std::vector<float> reference;
  {
    for (int p = 0; p < kPackets; p++) PushPacket(p);
    reference = Timeline();
  }
  const double originalDb = OddFrameRatioDb(reference);
  ASSERT_GT(originalDb, 20.0) << "the test signal itself";

  // Fresh decoder state: a flush resets it.
  gst_harness_push_event(h_, gst_event_new_flush_start());
  gst_harness_push_event(h_, gst_event_new_flush_stop(TRUE));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  gst_harness_push_event(h_, gst_event_new_segment(&segment));
  for (int p = 0; p < kPackets; p++) {
    if (p == kOddFrame) {
      PushLoss(p);
      EXPECT_EQ(gst_harness_buffers_in_queue(h_), static_cast<guint>(p)) << "the loss waits for the next packet";
    } else {
      PushPacket(p);
    }
  }
  int buffers = 0;
  GstClockTime covered = 0;
  const std::vector<float> timeline = Timeline(&buffers, &covered);
  EXPECT_EQ(buffers, kPackets);
  EXPECT_EQ(covered, kPackets * kFrameTime) << "the lost 20 ms are filled, nothing more";
  EXPECT_EQ(Stat("recovered"), 1u);
  EXPECT_EQ(Stat("concealed"), 0u);
  const double fecDb = OddFrameRatioDb(timeline);
  printf("odd frame, 660 Hz over 440 Hz: sent %.1f dB, rebuilt from FEC %.1f dB\n", originalDb, fecDb);
  EXPECT_GT(fecDb, 6.0) << "the rebuilt frame should be 660 Hz, as sent (original " << originalDb << " dB)";
}

// Control for the test above: with the next packet lost too, the odd frame can only be
// concealed, and concealment continues the 440 Hz before it.
TEST_F(OpusFecDec, LossWithoutANextPacketIsConcealed) {
  gst_harness_play(h_);
  for (int p = 0; p < kPackets; p++) {
    if (p == kOddFrame || p == kOddFrame + 1)
      PushLoss(p);
    else
      PushPacket(p);
  }
  GstClockTime covered = 0;
  const std::vector<float> timeline = Timeline(nullptr, &covered);
  EXPECT_EQ(covered, kPackets * kFrameTime);
  // Two adjacent GAPs are one lost span of 40 ms, rebuilt when packet 17 comes: libopus
  // conceals the first 20 ms and takes the last 20 ms from packet 17's FEC.
  EXPECT_EQ(Stat("recovered"), 1u);
  const double concealedDb = OddFrameRatioDb(timeline);
  printf("odd frame, 660 Hz over 440 Hz: concealed %.1f dB\n", concealedDb);
  EXPECT_LT(concealedDb, 0.0) << "concealment cannot know the 660 Hz frame";
}

TEST_F(OpusFecDec, LossBeyondMaxConcealIsPassedOnAsAGap) {
  g_object_set(h_->element, "max-conceal", 60u, nullptr);
  gst_harness_play(h_);
  for (int p = 0; p < 5; p++) PushPacket(p);
  // The sender's link drops for 400 ms: 20 lost packets in one GAP.
  PushLoss(5, 20);
  PushPacket(25);
  int buffers = 0;
  GstClockTime covered = 0;
  Timeline(&buffers, &covered);
  EXPECT_EQ(covered, (5 + 3 + 1) * kFrameTime) << "5 packets, the last 60 ms of the loss, packet 25";
  bool sawGap = false;
  while (GstEvent *e = gst_harness_try_pull_event(h_)) {
    if (GST_EVENT_TYPE(e) == GST_EVENT_GAP) {
      GstClockTime ts, duration;
      gst_event_parse_gap(e, &ts, &duration);
      EXPECT_EQ(ts, 5 * kFrameTime);
      EXPECT_EQ(duration, 17 * kFrameTime);
      sawGap = true;
    }
    gst_event_unref(e);
  }
  EXPECT_TRUE(sawGap);
}

// A loss whose next packet comes long after (the sender paused) is not concealed late: that
// would only put stale audio in front of the new packet.
TEST_F(OpusFecDec, StaleLossIsDropped) {
  gst_harness_play(h_);
  for (int p = 0; p < 5; p++) PushPacket(p);
  PushLoss(5);
  PushPacket(20);
  GstClockTime covered = 0;
  Timeline(nullptr, &covered);
  EXPECT_EQ(covered, 6 * kFrameTime);
  EXPECT_EQ(Stat("recovered") + Stat("concealed"), 0u);
}

// A client controls these bytes: garbage is a lost packet, not an error that ends the stream.
TEST_F(OpusFecDec, GarbageIsTakenAsALostPacket) {
  gst_harness_play(h_);
  for (int p = 0; p < 5; p++) PushPacket(p);
  const unsigned char garbage[] = {0xff, 0xff, 0xff};  // code 3, 63 frames: not a valid packet
  GstBuffer *b = gst_buffer_new_memdup(garbage, sizeof garbage);
  GST_BUFFER_PTS(b) = 5 * kFrameTime;
  GST_BUFFER_DURATION(b) = kFrameTime;
  EXPECT_EQ(gst_harness_push(h_, b), GST_FLOW_OK);
  GstBuffer *empty = gst_buffer_new();
  GST_BUFFER_PTS(empty) = 6 * kFrameTime;
  EXPECT_EQ(gst_harness_push(h_, empty), GST_FLOW_OK);
  for (int p = 7; p < 10; p++) PushPacket(p);
  GstClockTime covered = 0;
  Timeline(nullptr, &covered);
  EXPECT_EQ(covered, 10 * kFrameTime);
  EXPECT_EQ(Stat("recovered"), 1u);
}

// The premise, in 1.22's real elements: rtpjitterbuffer (do-lost) declares a dropped packet
// lost, rtpopusdepay turns that into a GAP, and the packet after it is already there when
// the GAP comes. Live, paced by audiotestsrc; two of 50 packets are dropped on the way.
TEST_F(OpusFecDec, LiveJitterBufferLossesAreRebuilt) {
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(
      "audiotestsrc is-live=true samplesperbuffer=960 num-buffers=50 freq=440 "
      "! opusenc inband-fec=true packet-loss-percentage=20 frame-size=20 ! rtpopuspay name=pay "
      "! rtpjitterbuffer latency=20 do-lost=true ! rtpopusdepay ! opusfecdec name=dec "
      "! appsink name=out sync=false",
      &error);
  ASSERT_NE(pipeline, nullptr) << (error ? error->message : "");
  GstElement *pay = gst_bin_get_by_name(GST_BIN(pipeline), "pay");
  GstPad *paySrc = gst_element_get_static_pad(pay, "src");
  static int sent;
  sent = 0;
  gst_pad_add_probe(
      paySrc, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad *, GstPadProbeInfo *, gpointer) {
        const int n = sent++;
        return n == 10 || n == 30 ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
      },
      nullptr, nullptr);
  gst_object_unref(paySrc);
  gst_object_unref(pay);
  GstElement *out = gst_bin_get_by_name(GST_BIN(pipeline), "out");
  ASSERT_EQ(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_ASYNC);
  GstClockTime covered = 0;
  int buffers = 0;
  while (GstSample *sample = gst_app_sink_try_pull_sample(GST_APP_SINK(out), 10 * GST_SECOND)) {
    covered += GST_BUFFER_DURATION(gst_sample_get_buffer(sample));
    buffers++;
    gst_sample_unref(sample);
  }
  EXPECT_TRUE(gst_app_sink_is_eos(GST_APP_SINK(out))) << "no EOS within 10 s of the last buffer";
  GstElement *dec = gst_bin_get_by_name(GST_BIN(pipeline), "dec");
  guint64 recovered = 0, concealed = 0;
  g_object_get(dec, "recovered", &recovered, "concealed", &concealed, nullptr);
  EXPECT_EQ(recovered, 2u);
  EXPECT_EQ(concealed, 0u);
  // Every packet the encoder made (50 and the one its flush adds at EOS), the lost ones too.
  EXPECT_GE(sent, 50);
  EXPECT_EQ(covered, static_cast<GstClockTime>(sent) * kFrameTime) << buffers << " buffers";
  gst_object_unref(dec);
  gst_object_unref(out);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
}

}  // namespace
