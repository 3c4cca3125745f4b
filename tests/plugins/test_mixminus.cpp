// Observable behaviour of the mixminus element (plugins/roomcast).
//
// Most tests run mixminus with live=false (appsrc -> mixminus -> queue ->
// appsink), which is deterministic: a tick waits for every input, so each
// output sample is exactly the expected mix. The live tests use real-time
// sources and check what does not depend on timing: pads added and removed
// while PLAYING, inputs that stop sending, EOS sent to the element.
//
// The plugin is loaded from its build path (load_plugin.h).

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include "load_plugin.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace {

constexpr int kRate = 48000;
constexpr int kFrames = 480;  // one 10 ms buffer
constexpr GstClockTime kBufferDuration = 10 * GST_MSECOND;
constexpr GstClockTime kPullTimeout = 5 * GST_SECOND;
constexpr const char *kCaps =
    "audio/x-raw,format=F32LE,rate=48000,channels=1,layout=interleaved";

using Generator = std::function<float(size_t)>;  // absolute frame -> sample

Generator Constant(float v) {
  return [v](size_t) { return v; };
}

Generator Sine(double freq, double amplitude) {
  return [=](size_t n) {
    return static_cast<float>(amplitude * std::sin(2.0 * M_PI * freq * n / kRate));
  };
}

// Power of one frequency bin (Goertzel); relative comparisons only.
double GoertzelPower(const std::vector<float> &x, double freq) {
  const double coeff = 2.0 * std::cos(2.0 * M_PI * freq / kRate);
  double s1 = 0.0, s2 = 0.0;
  for (float v : x) {
    const double s = v + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

float Peak(const std::vector<float> &x) {
  float peak = 0.0f;
  for (float v : x) peak = std::max(peak, std::fabs(v));
  return peak;
}

// Largest deviation of any sample from `expected`.
double MaxError(const std::vector<float> &x, double expected) {
  double err = 0.0;
  for (float v : x) err = std::max(err, std::fabs(v - expected));
  return err;
}

class MixMinus : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { LoadRoomcastPlugin(); }

  void TearDown() override {
    if (pipeline_) {
      gst_element_set_state(pipeline_, GST_STATE_NULL);
      gst_object_unref(pipeline_);
    }
    if (mix_) gst_object_unref(mix_);
  }

  // n appsrc inputs; program and every minus_N go through queue ! appsink
  // (one streaming thread feeds all outputs, see the element docs).
  void Build(int n, const std::string &mix_props = "") {
    std::string desc = "mixminus name=m live=false " + mix_props +
                       " m.src ! queue ! appsink name=prog sync=false";
    for (int i = 0; i < n; i++) {
      const std::string idx = std::to_string(i);
      desc += " appsrc name=in" + idx + " format=time caps=\"" + kCaps +
              "\" ! m.sink_" + idx + " m.minus_" + idx +
              " ! queue ! appsink name=out" + idx + " sync=false";
    }
    GError *error = nullptr;
    pipeline_ = gst_parse_launch(desc.c_str(), &error);
    ASSERT_NE(pipeline_, nullptr) << error->message;
    ASSERT_EQ(error, nullptr) << error->message;
    mix_ = gst_bin_get_by_name(GST_BIN(pipeline_), "m");
    ASSERT_NE(mix_, nullptr);
    next_frame_.assign(n, 0);
  }

  void Play() {
    ASSERT_NE(gst_element_set_state(pipeline_, GST_STATE_PLAYING),
              GST_STATE_CHANGE_FAILURE);
  }

  GstElement *Child(const std::string &name) {
    GstElement *e = gst_bin_get_by_name(GST_BIN(pipeline_), name.c_str());
    EXPECT_NE(e, nullptr) << name;
    if (e) gst_object_unref(e);  // the pipeline keeps it alive
    return e;
  }

  GstPad *Pad(const std::string &name) {  // transfer full, may be null
    return gst_element_get_static_pad(mix_, name.c_str());
  }

  GstAppSink *Program() { return GST_APP_SINK(Child("prog")); }
  GstAppSink *Minus(int i) { return GST_APP_SINK(Child("out" + std::to_string(i))); }

  // Pushes `buffers` consecutive 10 ms buffers on input i.
  void Push(int i, const Generator &gen, int buffers) {
    GstAppSrc *src = GST_APP_SRC(Child("in" + std::to_string(i)));
    for (int b = 0; b < buffers; b++) {
      GstBuffer *buf = gst_buffer_new_allocate(nullptr, kFrames * sizeof(float), nullptr);
      GstMapInfo map;
      gst_buffer_map(buf, &map, GST_MAP_WRITE);
      auto *samples = reinterpret_cast<float *>(map.data);
      for (int f = 0; f < kFrames; f++) samples[f] = gen(next_frame_[i] + f);
      gst_buffer_unmap(buf, &map);
      GST_BUFFER_PTS(buf) = gst_util_uint64_scale(next_frame_[i], GST_SECOND, kRate);
      GST_BUFFER_DURATION(buf) = kBufferDuration;
      next_frame_[i] += kFrames;
      ASSERT_EQ(gst_app_src_push_buffer(src, buf), GST_FLOW_OK);
    }
  }

  void EndOfStream(int i) {
    gst_app_src_end_of_stream(GST_APP_SRC(Child("in" + std::to_string(i))));
  }

  // Pulls until at least `frames` frames arrived, EOS, or timeout.
  static std::vector<float> Pull(GstAppSink *sink, size_t frames = SIZE_MAX) {
    std::vector<float> out;
    while (out.size() < frames) {
      GstSample *sample = gst_app_sink_try_pull_sample(sink, kPullTimeout);
      if (!sample) break;
      GstMapInfo map;
      GstBuffer *buf = gst_sample_get_buffer(sample);
      gst_buffer_map(buf, &map, GST_MAP_READ);
      const auto *samples = reinterpret_cast<const float *>(map.data);
      out.insert(out.end(), samples, samples + map.size / sizeof(float));
      gst_buffer_unmap(buf, &map);
      gst_sample_unref(sample);
    }
    return out;
  }

  std::vector<std::string> removed_pads_;  // filled by pad-removed
  GstElement *pipeline_ = nullptr;
  GstElement *mix_ = nullptr;
  std::vector<size_t> next_frame_;
};

TEST_F(MixMinus, ProgramIsSumAndMinusExcludesOwnInput) {
  Build(2);
  Play();
  Push(0, Constant(0.1f), 20);
  Push(1, Constant(0.2f), 20);
  EndOfStream(0);
  EndOfStream(1);

  const auto prog = Pull(Program());
  const auto m0 = Pull(Minus(0));
  const auto m1 = Pull(Minus(1));
  ASSERT_EQ(prog.size(), 20u * kFrames);
  ASSERT_EQ(m0.size(), prog.size());
  ASSERT_EQ(m1.size(), prog.size());
  EXPECT_LT(MaxError(prog, 0.3), 1e-5);
  EXPECT_LT(MaxError(m0, 0.2), 1e-5);
  EXPECT_LT(MaxError(m1, 0.1), 1e-5);
  EXPECT_TRUE(gst_app_sink_is_eos(Minus(0)));  // EOS reaches minus pads
}

TEST_F(MixMinus, MinusRejectsOwnToneByAtLeast60dB) {
  Build(2);
  Play();
  Push(0, Sine(440, 0.25), 100);  // exactly 1 s: whole cycles of both tones
  Push(1, Sine(660, 0.25), 100);
  EndOfStream(0);
  EndOfStream(1);

  const auto m0 = Pull(Minus(0));
  const auto m1 = Pull(Minus(1));
  ASSERT_EQ(m0.size(), static_cast<size_t>(kRate));
  ASSERT_EQ(m1.size(), static_cast<size_t>(kRate));
  const auto db = [](double p, double q) { return 10.0 * std::log10((p + 1e-30) / (q + 1e-30)); };
  EXPECT_GE(db(GoertzelPower(m0, 660), GoertzelPower(m0, 440)), 60.0);
  EXPECT_GE(db(GoertzelPower(m1, 440), GoertzelPower(m1, 660)), 60.0);

  const auto prog = Pull(Program());
  EXPECT_LT(std::fabs(db(GoertzelPower(prog, 440), GoertzelPower(prog, 660))), 1.0);
}

TEST_F(MixMinus, TenFullScaleInputsStayBelowFullScale) {
  constexpr int kInputs = 10;
  Build(kInputs);
  Play();
  // In-phase full-scale square wave: +-10 summed, both polarities.
  const Generator square = [](size_t n) { return (n / 24) % 2 ? -1.0f : 1.0f; };
  for (int i = 0; i < kInputs; i++) {
    Push(i, square, 10);
    EndOfStream(i);
  }

  const auto prog = Pull(Program());
  ASSERT_EQ(prog.size(), 10u * kFrames);
  EXPECT_LE(Peak(prog), 0.8913f);  // the limiter's ceiling, -1 dBFS
  EXPECT_GT(Peak(prog), 0.6f);     // limited, not silenced
  for (int i = 0; i < kInputs; i++) {
    const auto m = Pull(Minus(i));
    ASSERT_EQ(m.size(), prog.size()) << "minus_" << i;
    EXPECT_LE(Peak(m), 0.8913f) << "minus_" << i;
    EXPECT_GT(Peak(m), 0.6f) << "minus_" << i;
  }
}

TEST_F(MixMinus, MutedInputReachesNoOutput) {
  Build(2);
  GstPad *sink1 = Pad("sink_1");
  ASSERT_NE(sink1, nullptr);
  g_object_set(sink1, "mute", TRUE, nullptr);
  gst_object_unref(sink1);
  Play();
  Push(0, Constant(0.1f), 20);
  Push(1, Constant(0.2f), 20);
  EndOfStream(0);
  EndOfStream(1);

  const auto prog = Pull(Program());
  const auto m0 = Pull(Minus(0));
  const auto m1 = Pull(Minus(1));
  ASSERT_EQ(prog.size(), 20u * kFrames);
  ASSERT_EQ(m0.size(), prog.size());
  ASSERT_EQ(m1.size(), prog.size());
  EXPECT_LT(MaxError(prog, 0.1), 1e-6);  // input 0 only
  EXPECT_LT(MaxError(m0, 0.0), 1e-6);    // silent
  EXPECT_LT(MaxError(m1, 0.1), 1e-6);    // input 0
}

TEST_F(MixMinus, VolumeFromLaunchLineChildProxy) {
  Build(2, "sink_1::volume=0.5");
  GstPad *sink1 = Pad("sink_1");
  ASSERT_NE(sink1, nullptr);
  gdouble volume = 0.0;
  g_object_get(sink1, "volume", &volume, nullptr);
  gst_object_unref(sink1);
  EXPECT_DOUBLE_EQ(volume, 0.5);

  Play();
  Push(0, Constant(0.1f), 10);
  Push(1, Constant(0.2f), 10);
  EndOfStream(0);
  EndOfStream(1);
  EXPECT_LT(MaxError(Pull(Program()), 0.2), 1e-5);
  EXPECT_LT(MaxError(Pull(Minus(0)), 0.1), 1e-5);
  EXPECT_LT(MaxError(Pull(Minus(1)), 0.1), 1e-5);
}

void RecordRemovedPad(GstElement *, GstPad *pad, gpointer user_data) {
  static_cast<std::vector<std::string> *>(user_data)->push_back(GST_OBJECT_NAME(pad));
}

TEST_F(MixMinus, ReleasingSinkPadRemovesMinusPadAndProgramContinues) {
  Build(3);
  // A member, since disposing the pipeline in TearDown emits pad-removed too.
  g_signal_connect(mix_, "pad-removed", G_CALLBACK(RecordRemovedPad), &removed_pads_);
  Play();
  Push(0, Constant(0.1f), 10);
  Push(1, Constant(0.2f), 10);
  Push(2, Constant(0.05f), 10);
  EndOfStream(2);
  // Once these frames are out, input 2 has been fully mixed.
  EXPECT_LT(MaxError(Pull(Program(), 10 * kFrames), 0.35), 1e-5);

  GstPad *sink2 = Pad("sink_2");
  ASSERT_NE(sink2, nullptr);
  GstPad *upstream = gst_pad_get_peer(sink2);
  ASSERT_NE(upstream, nullptr);
  gst_pad_unlink(upstream, sink2);
  gst_object_unref(upstream);
  gst_element_release_request_pad(mix_, sink2);
  gst_object_unref(sink2);

  GstPad *minus2 = Pad("minus_2");
  EXPECT_EQ(minus2, nullptr);
  if (minus2) gst_object_unref(minus2);
  EXPECT_NE(std::find(removed_pads_.begin(), removed_pads_.end(), "minus_2"),
            removed_pads_.end());
  // The departed listener's branch got all its audio, then EOS.
  const auto m2 = Pull(Minus(2));
  EXPECT_EQ(m2.size(), 10u * kFrames);
  EXPECT_LT(MaxError(m2, 0.3), 1e-5);
  EXPECT_TRUE(gst_app_sink_is_eos(Minus(2)));

  Push(0, Constant(0.1f), 10);
  Push(1, Constant(0.2f), 10);
  EndOfStream(0);
  EndOfStream(1);
  const auto prog = Pull(Program());
  EXPECT_EQ(prog.size(), 10u * kFrames);
  EXPECT_LT(MaxError(prog, 0.3), 1e-5);
  const auto m0 = Pull(Minus(0));
  EXPECT_EQ(m0.size(), 20u * kFrames);
  EXPECT_LT(MaxError(std::vector<float>(m0.end() - 10 * kFrames, m0.end()), 0.2), 1e-5);
}

// Live pipeline: a participant joins and leaves while PLAYING.
TEST_F(MixMinus, LiveRequestAndReleaseWhilePlaying) {
  GError *error = nullptr;
  pipeline_ = gst_parse_launch(
      (std::string("mixminus name=m audiotestsrc is-live=true freq=440 ! ") + kCaps +
       " ! m.sink_0  m.src ! queue ! appsink name=prog sync=false"
       "  m.minus_0 ! queue ! appsink name=out0 sync=false")
          .c_str(),
      &error);
  ASSERT_NE(pipeline_, nullptr) << error->message;
  mix_ = gst_bin_get_by_name(GST_BIN(pipeline_), "m");
  Play();
  ASSERT_FALSE(Pull(Program(), 5 * kFrames).empty());

  // Join: request sink_1; minus_1 must exist as soon as the request returns.
  GstElement *joiner = gst_parse_bin_from_description(
      (std::string("audiotestsrc is-live=true freq=660 ! capsfilter caps=\"") + kCaps + "\"")
          .c_str(),
      TRUE, &error);
  ASSERT_NE(joiner, nullptr) << error->message;
  GstElement *listener = gst_parse_bin_from_description(
      "queue ! appsink name=out1 sync=false", TRUE, &error);
  ASSERT_NE(listener, nullptr) << error->message;
  gst_bin_add_many(GST_BIN(pipeline_), joiner, listener, nullptr);
  GstPad *sink1 = gst_element_request_pad_simple(mix_, "sink_%u");
  ASSERT_NE(sink1, nullptr);
  const std::string minus_name = "minus_" + std::string(GST_OBJECT_NAME(sink1) + 5);
  GstPad *minus1 = Pad(minus_name);
  ASSERT_NE(minus1, nullptr) << minus_name;
  GstPad *listener_sink = gst_element_get_static_pad(listener, "sink");
  GstPad *joiner_src = gst_element_get_static_pad(joiner, "src");
  ASSERT_EQ(gst_pad_link(minus1, listener_sink), GST_PAD_LINK_OK);
  ASSERT_EQ(gst_pad_link(joiner_src, sink1), GST_PAD_LINK_OK);
  gst_element_sync_state_with_parent(listener);
  gst_element_sync_state_with_parent(joiner);

  GstElement *out1 = gst_bin_get_by_name(GST_BIN(listener), "out1");
  EXPECT_FALSE(Pull(GST_APP_SINK(out1), 5 * kFrames).empty());
  gst_object_unref(out1);

  // Leave: stop the source first so it never pushes into an unlinked pad.
  gst_element_set_state(joiner, GST_STATE_NULL);
  gst_pad_unlink(joiner_src, sink1);
  gst_element_release_request_pad(mix_, sink1);
  GstPad *gone = Pad(minus_name);
  EXPECT_EQ(gone, nullptr);
  if (gone) gst_object_unref(gone);
  gst_object_unref(joiner_src);
  gst_object_unref(listener_sink);
  gst_object_unref(minus1);
  gst_object_unref(sink1);
  gst_bin_remove(GST_BIN(pipeline_), joiner);

  // The program and the remaining listener keep flowing.
  EXPECT_EQ(Pull(Program(), 10 * kFrames).size(), 10u * kFrames);
  EXPECT_EQ(Pull(Minus(0), 10 * kFrames).size(), 10u * kFrames);
}

}  // namespace

// skip-silent: while an input is silent its minus output stops, so the
// application can feed that listener the program encoded once; the first loud
// tick brings it back.
TEST_F(MixMinus, SkipSilentStopsMinusWhileSilentAndResumesOnSpeech) {
  Build(2, "sink_1::skip-silent=true");
  Play();
  Push(0, Sine(440, 0.25), 60);
  Push(1, Constant(0.0f), 30);
  Push(1, Sine(660, 0.25), 30);
  EndOfStream(0);
  EndOfStream(1);

  const auto m0 = Pull(Minus(0));
  const auto m1 = Pull(Minus(1));
  EXPECT_EQ(m0.size(), 60u * kFrames) << "inputs without skip-silent always get their minus";
  // An input starts silent; speech (the last 15 of 30 ticks) brings minus_1 at once.
  EXPECT_EQ(m1.size(), 30u * kFrames) << "nothing while silent, every tick once speaking";
  // What minus_1 carries after the silence is again the program without input 1.
  ASSERT_GE(m1.size(), 30u * kFrames);
  std::vector<float> tail(m1.end() - 20 * kFrames, m1.end());
  EXPECT_LT(MaxError(tail, 0.0), 0.26);
  gboolean silent = TRUE;
  g_object_get(Pad("sink_1"), "silent", &silent, nullptr);
  EXPECT_FALSE(silent) << "speaking at the end";
}

namespace {

// Pushes `buffers` 10 ms buffers of a constant on an S16LE appsrc.
void PushS16(GstAppSrc *src, int16_t value, int buffers, size_t *next_frame) {
  for (int b = 0; b < buffers; b++) {
    GstBuffer *buf = gst_buffer_new_allocate(nullptr, kFrames * sizeof(int16_t), nullptr);
    GstMapInfo map;
    gst_buffer_map(buf, &map, GST_MAP_WRITE);
    auto *samples = reinterpret_cast<int16_t *>(map.data);
    for (int f = 0; f < kFrames; f++) samples[f] = value;
    gst_buffer_unmap(buf, &map);
    GST_BUFFER_PTS(buf) = gst_util_uint64_scale(*next_frame, GST_SECOND, kRate);
    GST_BUFFER_DURATION(buf) = kBufferDuration;
    *next_frame += kFrames;
    ASSERT_EQ(gst_app_src_push_buffer(src, buf), GST_FLOW_OK);
  }
}

std::vector<int16_t> PullS16(GstAppSink *sink) {
  std::vector<int16_t> out;
  while (GstSample *sample = gst_app_sink_try_pull_sample(sink, kPullTimeout)) {
    GstCaps *caps = gst_sample_get_caps(sample);
    const char *format = gst_structure_get_string(gst_caps_get_structure(caps, 0), "format");
    EXPECT_STREQ(format, "S16LE");
    GstMapInfo map;
    GstBuffer *buf = gst_sample_get_buffer(sample);
    gst_buffer_map(buf, &map, GST_MAP_READ);
    const auto *samples = reinterpret_cast<const int16_t *>(map.data);
    out.insert(out.end(), samples, samples + map.size / sizeof(int16_t));
    gst_buffer_unmap(buf, &map);
    gst_sample_unref(sample);
  }
  return out;
}

}  // namespace

// Each pad has its own format: an S16LE and an F32LE input; outputs in the
// format their downstream asks for.
TEST_F(MixMinus, S16InputsAndOutputsNegotiatePerPad) {
  const std::string s16 = "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved";
  GError *error = nullptr;
  pipeline_ = gst_parse_launch(
      ("mixminus name=m live=false"
       " appsrc name=in0 format=time caps=\"" + s16 + "\" ! m.sink_0"
       " appsrc name=in1 format=time caps=\"" + std::string(kCaps) + "\" ! m.sink_1"
       " m.src ! queue ! capsfilter caps=\"" + s16 + "\" ! appsink name=prog sync=false"
       " m.minus_0 ! queue ! appsink name=out0 sync=false"
       " m.minus_1 ! queue ! capsfilter caps=\"" + s16 + "\" ! appsink name=out1 sync=false").c_str(),
      &error);
  ASSERT_NE(pipeline_, nullptr) << error->message;
  mix_ = gst_bin_get_by_name(GST_BIN(pipeline_), "m");
  next_frame_.assign(2, 0);
  Play();
  size_t frames0 = 0;
  PushS16(GST_APP_SRC(Child("in0")), 8192, 20, &frames0);  // 0.25
  Push(1, Constant(0.125f), 20);
  EndOfStream(0);
  EndOfStream(1);

  const auto prog = PullS16(Program());
  ASSERT_EQ(prog.size(), 20u * kFrames);
  for (int16_t v : prog) ASSERT_NEAR(v, 0.375 * 32767, 2);
  const auto m1 = PullS16(Minus(1));
  ASSERT_EQ(m1.size(), 20u * kFrames);
  for (int16_t v : m1) ASSERT_NEAR(v, 0.25 * 32767, 2);
  const auto m0 = Pull(Minus(0));  // F32LE: nothing downstream asked otherwise
  ASSERT_EQ(m0.size(), 20u * kFrames);
  EXPECT_LT(MaxError(m0, 0.125), 1e-5);
}

// level-interval: one message per interval names every input that sent audio,
// with its RMS in dBFS.
TEST_F(MixMinus, LevelMessagesNameEachSendingInput) {
  Build(3, "level-interval=100000000");
  Play();
  Push(0, Sine(480, 0.25), 40);      // RMS 0.25/sqrt(2): -15.05 dBFS
  Push(1, Constant(0.0f), 40);       // sends, but digital silence
  // Input 2 sends nothing until the end.
  EndOfStream(0);
  EndOfStream(1);
  EndOfStream(2);

  // Levels are posted before the tick's program goes out: once the program
  // has ended, every message is on the bus.
  Pull(Program());
  ASSERT_TRUE(gst_app_sink_is_eos(Program()));
  GstBus *bus = gst_element_get_bus(pipeline_);
  int messages = 0;
  bool saw2 = false;
  while (GstMessage *msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT)) {
    const GstStructure *s = gst_message_get_structure(msg);
    if (gst_structure_has_name(s, "mixminus-levels")) {
      messages++;
      const GValue *pads = gst_structure_get_value(s, "pads");
      const GValue *rms = gst_structure_get_value(s, "rms-db");
      ASSERT_EQ(gst_value_array_get_size(pads), gst_value_array_get_size(rms));
      for (guint i = 0; i < gst_value_array_get_size(pads); i++) {
        const std::string name = g_value_get_string(gst_value_array_get_value(pads, i));
        const double db = g_value_get_double(gst_value_array_get_value(rms, i));
        if (name == "sink_0") {
          EXPECT_NEAR(db, -15.05, 0.3);
        } else if (name == "sink_1") {
          EXPECT_LT(db, -100.0);
        } else if (name == "sink_2") {
          saw2 = true;
        }
      }
    }
    gst_message_unref(msg);
  }
  gst_object_unref(bus);
  EXPECT_EQ(messages, 4) << "400 ms of audio at a 100 ms interval";
  EXPECT_FALSE(saw2) << "an input that sent nothing is not reported";
}

// Live: an input that stops sending (a dropped speaker, DTX) is not waited
// for; the mix goes on with the others.
TEST_F(MixMinus, LiveInputThatStopsIsNotWaitedFor) {
  GError *error = nullptr;
  pipeline_ = gst_parse_launch(
      (std::string("mixminus name=m audiotestsrc is-live=true freq=440 ! ") + kCaps +
       " ! m.sink_0 appsrc name=in1 is-live=true do-timestamp=true format=time caps=\"" + kCaps +
       "\" ! m.sink_1  m.src ! queue ! appsink name=prog sync=false")
          .c_str(),
      &error);
  ASSERT_NE(pipeline_, nullptr) << error->message;
  mix_ = gst_bin_get_by_name(GST_BIN(pipeline_), "m");
  next_frame_.assign(2, 0);
  Play();
  Push(1, Sine(660, 0.25), 20);  // 200 ms at once, then nothing, ever
  // When the appsrc delivers depends on the machine's load: follow the output instead. Its
  // 660 Hz comes and goes; after that the program keeps flowing (nobody waits for input 1)
  // with the other input alone.
  bool heard660 = false;
  int quietChunks = 0;  // consecutive 100 ms chunks without 660 Hz after it was heard
  for (int chunk = 0; chunk < 200 && quietChunks < 10; chunk++) {
    const auto audio = Pull(Program(), 4800);
    ASSERT_GE(audio.size(), 4800u) << "the program stalled";
    const std::vector<float> last(audio.end() - 4800, audio.end());
    const bool has660 = GoertzelPower(last, 660) > 0.01 * GoertzelPower(last, 440);
    if (has660) heard660 = true, quietChunks = 0;
    else if (heard660) quietChunks++;
  }
  EXPECT_TRUE(heard660) << "input 1 was mixed while it sent";
  EXPECT_EQ(quietChunks, 10) << "then a second of the remaining input alone, without waiting";
}

// Live: an input whose packets arrive 1 ms after each tick is due starts out mixed a tick
// late (each frame waits ~19 ms in the FIFO). At its first quiet frame the mixer drops that
// frame and waits for the next, so from then on each frame is mixed as it arrives; no loud
// frame is ever dropped. Frames are pushed on the pipeline clock, 1 ms after the ticks the
// program shows; a push the machine delays beyond max-wait puts the input back a tick late,
// to be realigned at a later quiet frame: at most twice here.
TEST_F(MixMinus, LiveInputJustAfterTheTickIsRealignedAtAQuietFrame) {
  constexpr int kTickFrames = 960;  // the element's 20 ms
  constexpr GstClockTime kTick = 20 * GST_MSECOND;
  constexpr int kPushes = 150;
  // Every 10th frame is quiet (below -40 dBFS); the others are loud. Each value is unique
  // among its neighbours, so a tick's value names the input frame in it.
  auto valueOf = [](int i) { return (i % 10 == 5 ? 0.002f : 0.02f) + 0.0001f * static_cast<float>(i % 50); };
  auto quiet = [](int i) { return i % 10 == 5; };
  GError *error = nullptr;
  pipeline_ = gst_parse_launch(
      // A muted silent input gives the mixer its format and is never waited for.
      (std::string("mixminus name=m max-wait=15000000 sink_1::mute=true appsrc name=in0 is-live=true format=time caps=\"") +
       kCaps + "\" ! m.sink_0  audiotestsrc is-live=true wave=silence ! " + kCaps +
       " ! m.sink_1  m.src ! appsink name=prog sync=false")
          .c_str(),
      &error);
  ASSERT_NE(pipeline_, nullptr) << error->message;
  mix_ = gst_bin_get_by_name(GST_BIN(pipeline_), "m");
  // Tick outputs, as the mixer thread pushes them: clock time, PTS, the input value in it.
  struct Out {
    GstClockTime at, pts;
    float value;
  };
  struct Seen {
    GstElement *pipeline;
    GMutex lock;
    std::vector<Out> out;
  } seen{pipeline_, {}, {}};
  g_mutex_init(&seen.lock);
  GstPad *progSink = gst_element_get_static_pad(Child("prog"), "sink");
  gst_pad_add_probe(
      progSink, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad *, GstPadProbeInfo *info, gpointer data) {
        auto *seen = static_cast<Seen *>(data);
        GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
        GstClock *clock = gst_element_get_clock(seen->pipeline);
        const GstClockTime at = clock ? gst_clock_get_time(clock) : GST_CLOCK_TIME_NONE;
        if (clock) gst_object_unref(clock);
        float v = 0;
        gst_buffer_extract(b, sizeof(float) * (kTickFrames / 2), &v, sizeof v);
        g_mutex_lock(&seen->lock);
        seen->out.push_back({at, GST_BUFFER_PTS(b), v});
        g_mutex_unlock(&seen->lock);
        return GST_PAD_PROBE_OK;
      },
      &seen, nullptr);
  gst_object_unref(progSink);
  Play();
  // The grid: tick k has PTS pts0 + k * 20 ms and is due on the clock at base + PTS + 20 ms.
  GstAppSink *sink = Program();
  for (int i = 0; i < 3; i++) {  // the first ticks; the probe has what we need, the appsink drains
    GstSample *sample = gst_app_sink_try_pull_sample(sink, kPullTimeout);
    ASSERT_NE(sample, nullptr) << "the mixer produced no tick";
    gst_sample_unref(sample);
  }
  g_mutex_lock(&seen.lock);
  const size_t ticks = seen.out.size();
  const GstClockTime pts0 = seen.out[0].pts;
  g_mutex_unlock(&seen.lock);
  GstClock *clock = gst_element_get_clock(pipeline_);
  ASSERT_NE(clock, nullptr);
  const GstClockTime base = gst_element_get_base_time(pipeline_);
  const GstClockTime firstDue = base + pts0 + (ticks + 2) * kTick + kTick;
  GstAppSrc *src = GST_APP_SRC(Child("in0"));
  std::vector<GstClockTime> pushedAt(kPushes);
  for (int i = 0; i < kPushes; i++) {
    // The first frame 5 ms before a tick is due (that tick mixes it), every other one 1 ms
    // after the next ticks: each waits in the FIFO for the tick after the one it missed.
    const GstClockTime at = i == 0 ? firstDue - 5 * GST_MSECOND : firstDue + (i - 1) * kTick + GST_MSECOND;
    GstClockID id = gst_clock_new_single_shot_id(clock, at);
    gst_clock_id_wait(id, nullptr);  // a live source's pace
    gst_clock_id_unref(id);
    GstBuffer *b = gst_buffer_new_allocate(nullptr, kTickFrames * sizeof(float), nullptr);
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_WRITE);
    std::fill_n(reinterpret_cast<float *>(map.data), kTickFrames, valueOf(i));
    gst_buffer_unmap(b, &map);
    pushedAt[static_cast<size_t>(i)] = gst_clock_get_time(clock);
    GST_BUFFER_PTS(b) = pushedAt[static_cast<size_t>(i)] - base;
    GST_BUFFER_DURATION(b) = kTick;
    ASSERT_EQ(gst_app_src_push_buffer(src, b), GST_FLOW_OK);
    if (GstSample *sample = gst_app_sink_try_pull_sample(sink, 0)) gst_sample_unref(sample);
  }
  gst_object_unref(clock);
  // Until a tick carries the last frame out (each pull waits for the next tick, bounded).
  auto lastFrameOut = [&] {
    g_mutex_lock(&seen.lock);
    const bool out = std::any_of(seen.out.begin(), seen.out.end(),
                                 [&](const Out &o) {
                                   return o.at >= pushedAt.back() && std::fabs(o.value - valueOf(kPushes - 1)) < 1e-6f;
                                 });
    g_mutex_unlock(&seen.lock);
    return out;
  };
  for (int tick = 0; tick < 50 && !lastFrameOut(); tick++) {
    GstSample *sample = gst_app_sink_try_pull_sample(sink, kPullTimeout);
    ASSERT_NE(sample, nullptr) << "the mixer stopped";
    gst_sample_unref(sample);
  }
  // Each input frame's time from its push to the tick that carried it out (-1: never mixed).
  std::vector<double> waitMs(kPushes, -1);
  g_mutex_lock(&seen.lock);
  int next = 0;  // inputs come out in order: match each tick's value to the next inputs
  for (const Out &o : seen.out) {
    for (int i = next; i < kPushes && i < next + 4; i++) {
      if (std::fabs(o.value - valueOf(i)) < 1e-6f && o.at >= pushedAt[static_cast<size_t>(i)]) {
        waitMs[static_cast<size_t>(i)] = static_cast<double>(o.at - pushedAt[static_cast<size_t>(i)]) / GST_MSECOND;
        next = i + 1;
        break;
      }
    }
  }
  g_mutex_unlock(&seen.lock);
  g_mutex_clear(&seen.lock);
  auto median = [&](int from, int to) {
    std::vector<double> v;
    for (int i = from; i < to; i++)
      if (waitMs[static_cast<size_t>(i)] >= 0) v.push_back(waitMs[static_cast<size_t>(i)]);
    if (v.empty()) return -1.0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  int loudDropped = 0;
  for (int i = 0; i < kPushes; i++)
    if (!quiet(i) && waitMs[static_cast<size_t>(i)] < 0) loudDropped++;
  const double before = median(1, 5), after = median(kPushes - 20, kPushes);
  GstStructure *stats = nullptr;
  g_object_get(mix_, "stats", &stats, nullptr);
  guint64 realigned = 0, underruns = 0;
  gst_structure_get_uint64(stats, "realigned-samples", &realigned);
  gst_structure_get_uint64(stats, "underruns", &underruns);
  gst_structure_free(stats);
  printf("push to mix: median %.1f ms before the first quiet frame, %.1f ms in the last 20 frames; realigned %"
         G_GUINT64_FORMAT " samples, %" G_GUINT64_FORMAT " underruns\n", before, after, realigned, underruns);
  EXPECT_GT(before, 12.0) << "at first each frame waits for the next tick";
  EXPECT_GE(after, 0.0);
  EXPECT_LT(after, 6.0) << "after realigning, a frame is mixed as it arrives";
  EXPECT_GE(realigned, static_cast<guint64>(kTickFrames));
  EXPECT_LE(realigned, static_cast<guint64>(2 * kTickFrames)) << "once (twice if the machine stalled a push)";
  EXPECT_EQ(loudDropped, 0) << "only quiet frames are dropped to realign";
}

// Live: a muted input is heard nowhere.
TEST_F(MixMinus, LiveMutedInputIsNotHeard) {
  GError *error = nullptr;
  pipeline_ = gst_parse_launch(
      (std::string("mixminus name=m sink_1::mute=true"
                   " audiotestsrc is-live=true freq=440 volume=0.25 ! ") + kCaps + " ! m.sink_0"
       " audiotestsrc is-live=true freq=660 volume=0.25 ! " + kCaps + " ! m.sink_1"
       " m.src ! queue ! appsink name=prog sync=false"
       " m.minus_0 ! queue ! appsink name=out0 sync=false")
          .c_str(),
      &error);
  ASSERT_NE(pipeline_, nullptr) << error->message;
  mix_ = gst_bin_get_by_name(GST_BIN(pipeline_), "m");
  Play();
  Pull(Program(), 10 * kFrames);  // settle
  const auto prog = Pull(Program(), 48000 / 2);
  EXPECT_GT(GoertzelPower(prog, 440), 1e6 * (GoertzelPower(prog, 660) + 1e-12));
  const auto m0 = Pull(Minus(0), 48000 / 2 + 10 * kFrames);
  EXPECT_LT(Peak(std::vector<float>(m0.end() - 48000 / 2, m0.end())), 1e-6)
      << "input 0 hears nobody: the only other input is muted";
}

// EOS sent to the element (a room closing) ends the program and every minus.
TEST_F(MixMinus, EosSentToElementEndsEveryOutput) {
  GError *error = nullptr;
  pipeline_ = gst_parse_launch(
      (std::string("mixminus name=m eos-after-inputs=false"
                   " audiotestsrc is-live=true freq=440 ! ") + kCaps + " ! m.sink_0"
       " m.src ! queue ! appsink name=prog sync=false"
       " m.minus_0 ! queue ! appsink name=out0 sync=false")
          .c_str(),
      &error);
  ASSERT_NE(pipeline_, nullptr) << error->message;
  mix_ = gst_bin_get_by_name(GST_BIN(pipeline_), "m");
  Play();
  ASSERT_GE(Pull(Program(), 5 * kFrames).size(), 5u * kFrames);
  ASSERT_TRUE(gst_element_send_event(mix_, gst_event_new_eos()));
  Pull(Program());  // until EOS
  Pull(Minus(0));
  EXPECT_TRUE(gst_app_sink_is_eos(Program()));
  EXPECT_TRUE(gst_app_sink_is_eos(Minus(0)));
}

// Live: an output branch that stops (FLUSHING, as an element being torn down answers) does
// not stop the mix for the others.
TEST_F(MixMinus, LiveFlushingProgramBranchDoesNotStopTheMix) {
  GError *error = nullptr;
  pipeline_ = gst_parse_launch(
      (std::string("mixminus name=m audiotestsrc is-live=true freq=440 ! ") + kCaps +
       " ! m.sink_0  m.src ! identity name=dying ! fakesink async=false"
       "  m.minus_0 ! queue ! appsink name=out0 sync=false")
          .c_str(),
      &error);
  ASSERT_NE(pipeline_, nullptr) << error->message;
  mix_ = gst_bin_get_by_name(GST_BIN(pipeline_), "m");
  Play();
  ASSERT_GE(Pull(Minus(0), 5 * kFrames).size(), 5u * kFrames);
  GstElement *dying = Child("dying");
  gst_element_set_locked_state(dying, TRUE);
  gst_element_set_state(dying, GST_STATE_NULL);  // its pads flush: the program push fails
  EXPECT_GE(Pull(Minus(0), 25 * kFrames).size(), 25u * kFrames) << "minus_0 keeps flowing";
}

// The record output leaves out inputs that opted out of the recording; they are still in the
// program and in everyone else's minus.
TEST_F(MixMinus, OptedOutInputIsLeftOutOfTheRecordOnly) {
  GError *error = nullptr;
  std::string desc = std::string("mixminus name=m live=false sink_1::in-record=false") +
                     " m.src ! queue ! appsink name=prog sync=false m.record ! queue ! appsink name=rec sync=false";
  for (int i = 0; i < 2; i++) {
    const std::string idx = std::to_string(i);
    desc += " appsrc name=in" + idx + " format=time caps=\"" + kCaps + "\" ! m.sink_" + idx + " m.minus_" + idx +
            " ! queue ! appsink name=out" + idx + " sync=false";
  }
  pipeline_ = gst_parse_launch(desc.c_str(), &error);
  ASSERT_NE(pipeline_, nullptr) << error->message;
  mix_ = gst_bin_get_by_name(GST_BIN(pipeline_), "m");
  next_frame_.assign(2, 0);
  Play();
  Push(0, Constant(0.1f), 20);
  Push(1, Constant(0.2f), 20);
  EndOfStream(0);
  EndOfStream(1);
  EXPECT_LT(MaxError(Pull(Program()), 0.3), 1e-5) << "live: both";
  EXPECT_LT(MaxError(Pull(Minus(0)), 0.2), 1e-5) << "input 0 hears input 1";
  const auto rec = Pull(GST_APP_SINK(Child("rec")));
  ASSERT_EQ(rec.size(), 20u * kFrames);
  EXPECT_LT(MaxError(rec, 0.1), 1e-5) << "the recording has input 0 only";
}

// Live holding: an input whose frames arrive just after their ticks are due (each tick waits
// for it, so it is mixed as it arrives) loses one in 60 (it comes
// a tick late, with the next one, as opusfecdec delivers a frame rebuilt from FEC). The first
// late frame misses its tick; the input then keeps that frame of delay, so the later ones are
// mixed in time: one underrun, not one per loss (without holding, trimming takes the extra
// frame away within a second and every loss misses its tick). A push the machine stalls past
// max-wait may cost one more.
TEST_F(MixMinus, LiveInputWithLateRebuiltFramesHoldsAFrameOfDelay) {
  constexpr int kTickFrames = 960;
  constexpr GstClockTime kTick = 20 * GST_MSECOND;
  constexpr int kPushes = 300;
  auto late = [](int i) { return i >= 30 && i % 60 == 30; };
  GError *error = nullptr;
  pipeline_ = gst_parse_launch(
      (std::string("mixminus name=m sink_1::mute=true appsrc name=in0 is-live=true format=time caps=\"") + kCaps +
       "\" ! m.sink_0  audiotestsrc is-live=true wave=silence ! " + kCaps +
       " ! m.sink_1  m.src ! appsink name=prog sync=false max-buffers=1 drop=true")
          .c_str(),
      &error);
  ASSERT_NE(pipeline_, nullptr) << error->message;
  mix_ = gst_bin_get_by_name(GST_BIN(pipeline_), "m");
  Play();
  GstAppSink *sink = Program();
  GstSample *first = gst_app_sink_try_pull_sample(sink, kPullTimeout);
  ASSERT_NE(first, nullptr) << "the mixer produced no tick";
  const GstClockTime pts0 = GST_BUFFER_PTS(gst_sample_get_buffer(first));
  gst_sample_unref(first);
  GstClock *clock = gst_element_get_clock(pipeline_);
  ASSERT_NE(clock, nullptr);
  const GstClockTime base = gst_element_get_base_time(pipeline_);
  // Tick k is due at base + pts0 + (k + 1) * 20 ms; frames come 2 ms after, from tick 10 on.
  const GstClockTime start = base + pts0 + 11 * kTick + 2 * GST_MSECOND;
  GstAppSrc *src = GST_APP_SRC(Child("in0"));
  // The first 20 frames are quiet: the mixer realigns there (see the test above), and from
  // then on each frame is mixed as it arrives, so one that comes a tick late misses its tick.
  auto push = [&](int i) {
    GstBuffer *b = gst_buffer_new_allocate(nullptr, kTickFrames * sizeof(float), nullptr);
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_WRITE);
    std::fill_n(reinterpret_cast<float *>(map.data), kTickFrames, i < 20 ? 0.001f : 0.25f);
    gst_buffer_unmap(b, &map);
    GST_BUFFER_PTS(b) = start - base + static_cast<GstClockTime>(i) * kTick;
    GST_BUFFER_DURATION(b) = kTick;
    return gst_app_src_push_buffer(src, b);
  };
  for (int i = 0; i < kPushes; i++) {
    if (late(i)) continue;  // comes with the next one
    GstClockID id = gst_clock_new_single_shot_id(clock, start + static_cast<GstClockTime>(i) * kTick);
    gst_clock_id_wait(id, nullptr);
    gst_clock_id_unref(id);
    if (i > 0 && late(i - 1)) ASSERT_EQ(push(i - 1), GST_FLOW_OK);
    ASSERT_EQ(push(i), GST_FLOW_OK);
  }
  gst_object_unref(clock);
  GstStructure *stats = nullptr;
  g_object_get(mix_, "stats", &stats, nullptr);
  guint64 underruns = 0, holds = 0;
  gst_structure_get_uint64(stats, "underruns", &underruns);
  gst_structure_get_uint64(stats, "holds", &holds);
  gst_structure_free(stats);
  printf("%d late frames: %" G_GUINT64_FORMAT " underruns, %" G_GUINT64_FORMAT " holds\n", (kPushes - 30) / 60 + 1,
         underruns, holds);
  EXPECT_GE(holds, 1u) << "the first late frame starts a hold";
  EXPECT_LE(underruns, 2u) << "later late frames are mixed in time";
}
