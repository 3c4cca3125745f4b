// Tone analysis (Goertzel power, tone share, windows with a tone) on synthesized sines and
// noise, continuity of a tone with holes in it, and the 16-bit PCM WAV writer/reader round trip through a temporary file.
#include <gtest/gtest.h>
#include <glib.h>
#include <glib/gstdio.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "audio/continuity.h"
#include "audio/tone.h"
#include "audio/wav.h"

namespace roomcast::audio {
namespace {

constexpr int kRate = 48000;
constexpr double kPi = 3.14159265358979323846;

std::vector<float> sine(double frequency, double amplitude, double seconds, int rate = kRate, double phase = 0) {
  std::vector<float> out(static_cast<size_t>(seconds * rate));
  for (size_t i = 0; i < out.size(); i++)
    out[i] = static_cast<float>(amplitude * std::sin(2 * kPi * frequency * static_cast<double>(i) / rate + phase));
  return out;
}

std::vector<float> mix(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> out(a);
  for (size_t i = 0; i < out.size() && i < b.size(); i++) out[i] += b[i];
  return out;
}

// Deterministic white noise, uniform in [-amplitude, amplitude].
std::vector<float> noise(double amplitude, double seconds, unsigned seed = 1234) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(static_cast<float>(-amplitude), static_cast<float>(amplitude));
  std::vector<float> out(static_cast<size_t>(seconds * kRate));
  for (float& x : out) x = dist(gen);
  return out;
}

double db(double powerRatio) { return 10 * std::log10(powerRatio); }

// ---------------------------------------------------------------------------------------
// tonePower / toneShare

TEST(TonePower, FullScaleSineReadsHalf) {
  const auto x = sine(440, 1.0, 1.0);
  EXPECT_NEAR(tonePower(x.data(), x.size(), kRate, 440), 0.5, 0.01);
}

TEST(TonePower, ScalesWithAmplitudeSquared) {
  const auto x = sine(1000, 0.5, 1.0);
  EXPECT_NEAR(tonePower(x.data(), x.size(), kRate, 1000), 0.125, 0.005);
  const auto quiet = sine(1000, 0.01, 1.0);
  EXPECT_NEAR(tonePower(quiet.data(), quiet.size(), kRate, 1000), 0.5e-4, 0.5e-5);
}

TEST(TonePower, IndependentOfPhase) {
  for (double phase : {0.0, 0.7, kPi / 2, 2.5}) {
    const auto x = sine(440, 0.8, 0.5, kRate, phase);
    EXPECT_NEAR(tonePower(x.data(), x.size(), kRate, 440), 0.32, 0.01) << "phase " << phase;
  }
}

TEST(TonePower, EmptyAndSilentInput) {
  EXPECT_EQ(tonePower(nullptr, 0, kRate, 440), 0.0);
  const std::vector<float> silence(kRate, 0.0f);
  EXPECT_EQ(tonePower(silence.data(), silence.size(), kRate, 440), 0.0);
  EXPECT_EQ(toneShare(silence.data(), silence.size(), kRate, 440), 0.0);
  EXPECT_EQ(toneShare(nullptr, 0, kRate, 440), 0.0);
}

TEST(ToneShare, PureSineIsAlmostAllAtItsFrequency) {
  const auto x = sine(440, 0.5, 1.0);
  const double at440 = toneShare(x.data(), x.size(), kRate, 440);
  const double at660 = toneShare(x.data(), x.size(), kRate, 660);
  EXPECT_GT(at440, 0.9);
  EXPECT_LE(at440, 1.0);
  EXPECT_LT(at660, 0.05);
}

TEST(ToneShare, ShortWindowStillSeparates440And660) {
  // 200 ms: the window fractionOfWindowsWithTone uses by default.
  const auto x = sine(440, 0.5, 0.2);
  EXPECT_GT(toneShare(x.data(), x.size(), kRate, 440), 0.9);
  EXPECT_LT(toneShare(x.data(), x.size(), kRate, 660), 0.05);
}

TEST(ToneShare, WorksAtOtherSampleRates) {
  const auto x = sine(1000, 0.5, 1.0, 16000);
  EXPECT_GT(toneShare(x.data(), x.size(), 16000, 1000), 0.9);
  EXPECT_LT(toneShare(x.data(), x.size(), 16000, 1500), 0.05);
}

TEST(ToneShare, MixtureAtMinus30DbHasA30DbPowerRatio) {
  const double a440 = 0.5;
  const double a660 = a440 * std::pow(10.0, -30.0 / 20.0);
  const auto x = mix(sine(440, a440, 1.0), sine(660, a660, 1.0));
  const double p440 = tonePower(x.data(), x.size(), kRate, 440);
  const double p660 = tonePower(x.data(), x.size(), kRate, 660);
  ASSERT_GT(p660, 0);
  EXPECT_NEAR(db(p440 / p660), 30.0, 2.0);
  // The louder tone dominates the share; the quieter holds about 1/1000 of the energy.
  EXPECT_GT(toneShare(x.data(), x.size(), kRate, 440), 0.9);
  EXPECT_LT(toneShare(x.data(), x.size(), kRate, 660), 0.01);
  EXPECT_GT(toneShare(x.data(), x.size(), kRate, 660), 0.0001);
}

TEST(ToneShare, EqualMixtureSplitsTheEnergy) {
  const auto x = mix(sine(440, 0.3, 1.0), sine(660, 0.3, 1.0));
  EXPECT_NEAR(toneShare(x.data(), x.size(), kRate, 440), 0.5, 0.05);
  EXPECT_NEAR(toneShare(x.data(), x.size(), kRate, 660), 0.5, 0.05);
}

TEST(ToneShare, NoiseHasNoTone) {
  const auto x = noise(0.5, 1.0);
  for (double f : {440.0, 660.0, 1000.0, 5000.0}) EXPECT_LT(toneShare(x.data(), x.size(), kRate, f), 0.05) << f;
}

TEST(ToneShare, ToneBuriedInNoise) {
  // Tone power 0.125, noise power 0.25²/3 ≈ 0.0208: the tone holds ~86 % of the energy.
  const auto x = mix(sine(440, 0.5, 1.0), noise(0.25, 1.0));
  const double share = toneShare(x.data(), x.size(), kRate, 440);
  EXPECT_GT(share, 0.8);
  EXPECT_LT(share, 0.92);
}

// ---------------------------------------------------------------------------------------
// Levels

TEST(Levels, RmsAndPeak) {
  const auto full = sine(440, 1.0, 1.0);
  EXPECT_NEAR(rmsDbfs(full.data(), full.size()), -3.01, 0.05);
  EXPECT_NEAR(peakAbs(full.data(), full.size()), 1.0, 1e-3);
  const auto quiet = sine(440, 0.1, 1.0);
  EXPECT_NEAR(rmsDbfs(quiet.data(), quiet.size()), -23.01, 0.05);
  const std::vector<float> silence(100, 0.0f);
  EXPECT_LE(rmsDbfs(silence.data(), silence.size()), -100);
  EXPECT_EQ(peakAbs(silence.data(), silence.size()), 0.0);
  const std::vector<float> spike{0.0f, -0.75f, 0.25f};
  EXPECT_FLOAT_EQ(static_cast<float>(peakAbs(spike.data(), spike.size())), 0.75f);
}

// ---------------------------------------------------------------------------------------
// fractionOfWindowsWithTone

TEST(FractionOfWindows, SteadyToneFillsEveryWindow) {
  const auto x = sine(440, 0.5, 2.0);
  EXPECT_DOUBLE_EQ(fractionOfWindowsWithTone(x, kRate, 440), 1.0);
  EXPECT_DOUBLE_EQ(fractionOfWindowsWithTone(x, kRate, 660), 0.0);
}

TEST(FractionOfWindows, HalfToneHalfSilence) {
  auto x = sine(440, 0.5, 1.0);
  x.resize(2 * kRate, 0.0f);  // one second of tone, one of silence: 5 + 5 windows
  EXPECT_NEAR(fractionOfWindowsWithTone(x, kRate, 440), 0.5, 1e-9);
}

TEST(FractionOfWindows, NoiseAndSilenceHaveNoTone) {
  EXPECT_DOUBLE_EQ(fractionOfWindowsWithTone(noise(0.5, 2.0), kRate, 440), 0.0);
  EXPECT_DOUBLE_EQ(fractionOfWindowsWithTone(std::vector<float>(2 * kRate, 0.0f), kRate, 440), 0.0);
}

TEST(FractionOfWindows, QuietToneIsBelowTheLevelFloor) {
  const auto x = sine(440, 0.001, 1.0);  // about -63 dBFS, under the -40 dBFS default
  EXPECT_DOUBLE_EQ(fractionOfWindowsWithTone(x, kRate, 440), 0.0);
  EXPECT_DOUBLE_EQ(fractionOfWindowsWithTone(x, kRate, 440, 0.2, 0.5, -80), 1.0);
}

TEST(FractionOfWindows, ShareThresholdApplies) {
  // 440 holds about half the energy: passes minShare 0.4, fails minShare 0.6.
  const auto x = mix(sine(440, 0.3, 1.0), sine(660, 0.3, 1.0));
  EXPECT_DOUBLE_EQ(fractionOfWindowsWithTone(x, kRate, 440, 0.2, 0.4), 1.0);
  EXPECT_DOUBLE_EQ(fractionOfWindowsWithTone(x, kRate, 440, 0.2, 0.6), 0.0);
}

TEST(FractionOfWindows, ShorterThanOneWindowIsZero) {
  EXPECT_EQ(fractionOfWindowsWithTone({}, kRate, 440), 0.0);
  EXPECT_EQ(fractionOfWindowsWithTone(sine(440, 0.5, 0.1), kRate, 440), 0.0);  // 100 ms < 200 ms
  EXPECT_EQ(fractionOfWindowsWithTone(sine(440, 0.5, 1.0), kRate, 440, 0.0), 0.0);  // empty window
}

// ---------------------------------------------------------------------------------------
// toMonoFloat

TEST(ToMonoFloat, ScalesAndAveragesChannels) {
  PcmAudio stereo;
  stereo.channels = 2;
  stereo.samples = {16384, 0, -32768, -32768, 32767, -32767, 100, 100};
  const auto mono = toMonoFloat(stereo);
  ASSERT_EQ(mono.size(), 4u);
  EXPECT_FLOAT_EQ(mono[0], 0.25f);
  EXPECT_FLOAT_EQ(mono[1], -1.0f);
  EXPECT_NEAR(mono[2], 0.0f, 1e-4);
  EXPECT_NEAR(mono[3], 100 / 32768.0f, 1e-7);

  PcmAudio none;
  none.channels = 0;
  none.samples = {1, 2, 3};
  EXPECT_TRUE(toMonoFloat(none).empty());
}

// ---------------------------------------------------------------------------------------
// WAV files

class WavFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    GError* error = nullptr;
    gchar* dir = g_dir_make_tmp("roomcast-unit-XXXXXX", &error);
    ASSERT_NE(dir, nullptr) << (error ? error->message : "g_dir_make_tmp failed");
    dir_ = dir;
    g_free(dir);
  }
  void TearDown() override {
    for (const auto& path : files_) g_remove(path.c_str());
    if (!dir_.empty()) g_rmdir(dir_.c_str());
  }
  std::string path(const std::string& name) {
    std::string p = dir_ + G_DIR_SEPARATOR_S + name;
    files_.push_back(p);
    return p;
  }
  static void writeBytes(const std::string& p, const std::string& bytes) {
    ASSERT_TRUE(g_file_set_contents(p.c_str(), bytes.data(), static_cast<gssize>(bytes.size()), nullptr));
  }
  static std::string readBytes(const std::string& p) {
    gchar* contents = nullptr;
    gsize length = 0;
    if (!g_file_get_contents(p.c_str(), &contents, &length, nullptr)) return {};
    std::string out(contents, length);
    g_free(contents);
    return out;
  }

  std::string dir_;
  std::vector<std::string> files_;
};

std::string le32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; i++) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}
std::string le16(uint16_t v) { return std::string{static_cast<char>(v & 0xff), static_cast<char>(v >> 8)}; }

std::string fmtChunk(uint16_t format, uint16_t channels, uint32_t rate, uint16_t bits) {
  return "fmt " + le32(16) + le16(format) + le16(channels) + le32(rate) + le32(rate * channels * bits / 8) +
         le16(static_cast<uint16_t>(channels * bits / 8)) + le16(bits);
}

TEST_F(WavFiles, RoundTripMono) {
  PcmAudio audio;
  audio.sampleRate = 48000;
  audio.channels = 1;
  for (int i = 0; i < 4800; i++)
    audio.samples.push_back(static_cast<int16_t>(20000 * std::sin(2 * kPi * 440 * i / 48000.0)));
  audio.samples.push_back(32767);
  audio.samples.push_back(-32768);
  audio.samples.push_back(0);

  const std::string file = path("mono.wav");
  ASSERT_TRUE(writeWav(file, audio));
  EXPECT_EQ(readBytes(file).size(), 44 + 2 * audio.samples.size());

  PcmAudio back;
  ASSERT_TRUE(readWav(file, back));
  EXPECT_EQ(back.sampleRate, 48000);
  EXPECT_EQ(back.channels, 1);
  EXPECT_EQ(back.samples, audio.samples);
  EXPECT_NEAR(back.seconds(), audio.seconds(), 1e-12);
}

TEST_F(WavFiles, RoundTripStereoOtherRate) {
  PcmAudio audio;
  audio.sampleRate = 44100;
  audio.channels = 2;
  for (int i = 0; i < 44100; i++) {
    audio.samples.push_back(static_cast<int16_t>(i % 65536 - 32768));
    audio.samples.push_back(static_cast<int16_t>(-(i % 1000)));
  }
  const std::string file = path("stereo.wav");
  ASSERT_TRUE(writeWav(file, audio));
  PcmAudio back;
  ASSERT_TRUE(readWav(file, back));
  EXPECT_EQ(back.sampleRate, 44100);
  EXPECT_EQ(back.channels, 2);
  EXPECT_EQ(back.samples, audio.samples);
  EXPECT_NEAR(back.seconds(), 1.0, 1e-12);
}

TEST_F(WavFiles, RoundTripEmpty) {
  // An empty PcmAudio: no fwrite of a null data() pointer (UBSan, with halt_on_error as
  // scripts/test.sh sets it, fails the run on that).
  PcmAudio audio;
  const std::string file = path("empty.wav");
  ASSERT_TRUE(writeWav(file, audio));
  PcmAudio back;
  back.samples = {1, 2, 3};
  ASSERT_TRUE(readWav(file, back));
  EXPECT_TRUE(back.samples.empty());
  EXPECT_EQ(back.seconds(), 0.0);
}

TEST_F(WavFiles, HeaderIsStandardPcm) {
  PcmAudio audio;
  audio.sampleRate = 16000;
  audio.channels = 2;
  audio.samples = {1, 2, 3, 4};
  const std::string file = path("header.wav");
  ASSERT_TRUE(writeWav(file, audio));
  const std::string bytes = readBytes(file);
  ASSERT_EQ(bytes.size(), 44u + 8u);
  EXPECT_EQ(bytes.substr(0, 4), "RIFF");
  EXPECT_EQ(bytes.substr(4, 4), le32(36 + 8));
  EXPECT_EQ(bytes.substr(8, 4), "WAVE");
  EXPECT_EQ(bytes.substr(12, 24), fmtChunk(1, 2, 16000, 16));
  EXPECT_EQ(bytes.substr(36, 4), "data");
  EXPECT_EQ(bytes.substr(40, 4), le32(8));
}

TEST_F(WavFiles, ToneSurvivesTheRoundTrip) {
  PcmAudio audio;
  audio.sampleRate = kRate;
  audio.channels = 2;
  const auto left = sine(440, 0.5, 1.0);
  for (float x : left) {
    const auto s = static_cast<int16_t>(std::lround(x * 32767));
    audio.samples.push_back(s);
    audio.samples.push_back(s);
  }
  const std::string file = path("tone.wav");
  ASSERT_TRUE(writeWav(file, audio));
  PcmAudio back;
  ASSERT_TRUE(readWav(file, back));
  const auto mono = toMonoFloat(back);
  ASSERT_EQ(mono.size(), left.size());
  EXPECT_GT(toneShare(mono.data(), mono.size(), back.sampleRate, 440), 0.9);
  EXPECT_LT(toneShare(mono.data(), mono.size(), back.sampleRate, 660), 0.05);
  EXPECT_DOUBLE_EQ(fractionOfWindowsWithTone(mono, back.sampleRate, 440), 1.0);
}

TEST_F(WavFiles, SkipsUnknownChunksIncludingOddSizedOnes) {
  // RIFF/WAVE, fmt, a 3-byte "LIST" chunk (padded to 4), then data.
  const std::string data = le16(1000) + le16(static_cast<uint16_t>(-1000)) + le16(7);
  const std::string body = "WAVE" + fmtChunk(1, 1, 8000, 16) + "LIST" + le32(3) + "abc" + std::string(1, '\0') +
                           "data" + le32(static_cast<uint32_t>(data.size())) + data;
  const std::string file = path("list.wav");
  writeBytes(file, "RIFF" + le32(static_cast<uint32_t>(body.size())) + body);
  PcmAudio back;
  ASSERT_TRUE(readWav(file, back));
  EXPECT_EQ(back.sampleRate, 8000);
  EXPECT_EQ(back.channels, 1);
  EXPECT_EQ(back.samples, (std::vector<int16_t>{1000, -1000, 7}));
}

TEST_F(WavFiles, StreamedDataSizeReadsToTheEnd) {
  // Writers streaming to a pipe put 0xFFFFFFFF in the data size.
  const std::string data = le16(1) + le16(2) + le16(3) + le16(4);
  const std::string body = "WAVE" + fmtChunk(1, 2, 48000, 16) + "data" + le32(0xffffffffu) + data;
  const std::string file = path("stream.wav");
  writeBytes(file, "RIFF" + le32(0xffffffffu) + body);
  PcmAudio back;
  ASSERT_TRUE(readWav(file, back));
  EXPECT_EQ(back.samples, (std::vector<int16_t>{1, 2, 3, 4}));
}

TEST_F(WavFiles, RejectsWhatItCannotRead) {
  PcmAudio out;
  EXPECT_FALSE(readWav(dir_ + "/does-not-exist.wav", out));

  const std::string garbage = path("garbage.wav");
  writeBytes(garbage, "this is not a wav file at all");
  EXPECT_FALSE(readWav(garbage, out));

  const std::string empty = path("empty-file.wav");
  writeBytes(empty, "");
  EXPECT_FALSE(readWav(empty, out));

  const std::string eightBit = path("8bit.wav");
  writeBytes(eightBit, "RIFF" + le32(36 + 2) + "WAVE" + fmtChunk(1, 1, 8000, 8) + "data" + le32(2) + "ab");
  EXPECT_FALSE(readWav(eightBit, out));

  const std::string floatWav = path("float.wav");
  writeBytes(floatWav, "RIFF" + le32(36 + 4) + "WAVE" + fmtChunk(3, 1, 8000, 32) + "data" + le32(4) + "abcd");
  EXPECT_FALSE(readWav(floatWav, out));

  const std::string dataFirst = path("data-first.wav");
  writeBytes(dataFirst, "RIFF" + le32(4 + 8 + 2) + "WAVE" + "data" + le32(2) + "ab");
  EXPECT_FALSE(readWav(dataFirst, out));

  const std::string noData = path("no-data.wav");
  writeBytes(noData, "RIFF" + le32(4 + 24) + "WAVE" + fmtChunk(1, 1, 8000, 16));
  EXPECT_FALSE(readWav(noData, out));

  const std::string truncatedFmt = path("short-fmt.wav");
  writeBytes(truncatedFmt, "RIFF" + le32(100) + "WAVE" + "fmt " + le32(16) + le16(1) + le16(1));
  EXPECT_FALSE(readWav(truncatedFmt, out));
}

// ---------------------------------------------------------------------------------------
// measureContinuity

// One second of silence, 10 s of a -10 dBFS tone, one second of silence.
std::vector<float> toneBetweenSilences() {
  std::vector<float> out(kRate, 0.0f);
  const auto tone = sine(440, std::sqrt(2.0) * std::pow(10, -10 / 20.0), 10);
  out.insert(out.end(), tone.begin(), tone.end());
  out.resize(out.size() + kRate, 0.0f);
  return out;
}

TEST(Continuity, AnUnbrokenToneIsWhollyContinuousAndTheSilenceAroundItIsLeftOut) {
  const Continuity c = measureContinuity(toneBetweenSilences(), kRate);
  EXPECT_EQ(c.windows, 500);
  EXPECT_DOUBLE_EQ(c.continuous, 1.0);
  EXPECT_DOUBLE_EQ(c.intact, 1.0);
  EXPECT_EQ(c.quiet, 0);
  EXPECT_NEAR(c.medianDbfs, -10, 0.2);
}

TEST(Continuity, HolesAndDipsCountAsTheyShould) {
  auto audio = toneBetweenSilences();
  const size_t window = kRate / 50;
  // Ten windows silenced (lost, not concealed), ten at -4 dB (concealed, but not intact) and
  // five at -8 dB (concealed badly), spread over the tone.
  for (int i = 0; i < 25; i++) {
    const size_t at = kRate + (20 + i * 18) * window;
    const float gain = i < 10 ? 0.0f : i < 20 ? std::pow(10.0f, -4 / 20.0f) : std::pow(10.0f, -8 / 20.0f);
    for (size_t k = 0; k < window; k++) audio[at + k] *= gain;
  }
  const Continuity c = measureContinuity(audio, kRate);
  EXPECT_EQ(c.windows, 500);
  EXPECT_EQ(c.quiet, 10);
  EXPECT_NEAR(c.continuous, 485 / 500.0, 1e-9);
  EXPECT_NEAR(c.intact, 475 / 500.0, 1e-9);
}

TEST(Continuity, TheSpanCanBeLimitedAndSilenceGivesNothing) {
  const Continuity part = measureContinuity(toneBetweenSilences(), kRate, 2, 4);
  EXPECT_EQ(part.windows, 100);
  const Continuity none = measureContinuity(std::vector<float>(kRate, 0.0f), kRate);
  EXPECT_EQ(none.windows, 0);
  EXPECT_EQ(none.continuous, 0);
}

TEST_F(WavFiles, WriteToAMissingDirectoryFails) {
  PcmAudio audio;
  audio.samples = {1, 2};
  EXPECT_FALSE(writeWav(dir_ + "/no/such/dir/out.wav", audio));
}

}  // namespace
}  // namespace roomcast::audio
