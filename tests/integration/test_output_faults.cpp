// Rooms survive their outputs: on a full disk (its data dir on a small tmpfs in a private mount
// namespace) and on an exhausted file descriptor limit (roomcastd's RLIMIT_NOFILE lowered below
// the descriptors it holds) the room and its two WebRTC speakers live on (each speaker's return
// still carries the other's tone, by tone analysis of what they received). HLS segments go to
// memory, so HLS plays on through both (segments keep being listed without a break, and the
// newest decode to the room's tones); the recording, a file, fails on the full disk and ends up
// `failed` in the store.
#include <arpa/inet.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <string>
#include <vector>

#include "audio/tone.h"
#include "audio/wav.h"
#include "hls_playlist.h"
#include "full_disk.h"
#include "processes.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {

constexpr double kSpeakSeconds = 60;  // long enough for the fault and the recovery

// The last "heard N s" a speaker printed: seconds of the room's return it has received. Its
// output is read while one of its waits runs: a short one takes in what it printed so far.
long long heardSeconds(Process& speaker) {
  speaker.waitForOutput("\n(none)\n", 0.02);
  const std::string& out = speaker.output();
  const size_t at = out.rfind("heard ");
  return at == std::string::npos ? 0 : std::atoll(out.c_str() + at + 6);
}

bool waitHeard(Process& speaker, long long seconds, double timeoutSeconds) {
  return speaker.waitForOutput("heard " + std::to_string(seconds) + " s\n", timeoutSeconds);
}

TestRoom createRoomRecorded(const Daemon& daemon, bool record) {
  auto r = http("POST", daemon.url() + "/api/v1/rooms",
                std::string(R"({"title":"Faults","topic":"tests","record":)") + (record ? "true" : "false") + "}");
  EXPECT_EQ(r.status, 201) << r.body;
  return {jsonString(r.body, "id"), jsonString(r.body, "host_token")};
}

// Two WebRTC speakers: the host at 440 Hz, a guest at 660 Hz; each records what it hears.
struct Speakers {
  std::unique_ptr<Process> host, guest;
  std::string hostWav, guestWav;
};

Speakers startSpeakers(const Daemon& daemon, const TestRoom& room, const std::string& dir) {
  Speakers s;
  s.hostWav = dir + "/host.wav";
  s.guestWav = dir + "/guest.wav";
  const std::string seconds = std::to_string(static_cast<int>(kSpeakSeconds));
  s.host = std::make_unique<Process>(std::vector<std::string>{cli(), "--server", daemon.url(), "speak", room.id, "--token",
                                                              room.hostToken, "--tone", "440", "--seconds", seconds,
                                                              "--out", s.hostWav});
  s.guest = std::make_unique<Process>(std::vector<std::string>{
      cli(), "--server", daemon.url(), "speak", room.id, "--token", issueToken(daemon, room, "speaker", "Guest"), "--tone",
      "660", "--seconds", seconds, "--out", s.guestWav});
  return s;
}

// Before a fault: both speakers connected, HLS listing segments, the host hearing the room.
void waitUntilTheRoomPlays(const Daemon& daemon, const Speakers& speakers, const std::string& playlist) {
  ASSERT_TRUE(speakers.host->waitForOutput("connected", 30)) << daemon.log();
  ASSERT_TRUE(speakers.guest->waitForOutput("connected", 30)) << daemon.log();
  ASSERT_TRUE(waitForSegments(playlist, 3, 20)) << daemon.log();
  ASSERT_TRUE(waitHeard(*speakers.host, 3, 30));
}

// Fraction of 200 ms windows of [from, to) in which `frequency` dominates.
double shareOfWindowsWithTone(const PcmAudio& audio, double frequency, double from, double to) {
  auto mono = roomcast::audio::toMonoFloat(audio);
  const size_t begin = static_cast<size_t>(from * audio.sampleRate), end = static_cast<size_t>(to * audio.sampleRate);
  if (end <= begin || end > mono.size()) return 0;
  std::vector<float> span(mono.begin() + static_cast<std::ptrdiff_t>(begin), mono.begin() + static_cast<std::ptrdiff_t>(end));
  return roomcast::audio::fractionOfWindowsWithTone(span, audio.sampleRate, frequency);
}

// What each speaker heard over [from, to) seconds of its return: the other's tone, all along.
// The thresholds leave room for a loaded machine (a few late frames); a return that stops,
// as it does when the room ends, fails them by far.
void expectEachHearsTheOther(const Speakers& s, double hostFrom, double hostTo, double guestFrom, double guestTo) {
  PcmAudio hostHeard, guestHeard;
  ASSERT_TRUE(roomcast::audio::readWav(s.hostWav, hostHeard));
  ASSERT_TRUE(roomcast::audio::readWav(s.guestWav, guestHeard));
  ASSERT_GE(hostHeard.seconds(), hostTo) << "the host's return stopped at " << hostHeard.seconds() << " s";
  ASSERT_GE(guestHeard.seconds(), guestTo) << "the guest's return stopped at " << guestHeard.seconds() << " s";
  ASSERT_GT(hostTo - hostFrom, 4);
  const double hostHearsGuest = toneDb(hostHeard, 660, hostFrom, hostTo);
  const double guestHearsHost = toneDb(guestHeard, 440, guestFrom, guestTo);
  const double hostShare = shareOfWindowsWithTone(hostHeard, 660, hostFrom, hostTo);
  const double guestShare = shareOfWindowsWithTone(guestHeard, 440, guestFrom, guestTo);
  printf("during the fault: host hears guest %.1f dB (%.0f %% of 200 ms windows), guest hears host %.1f dB (%.0f %%)\n",
         hostHearsGuest, 100 * hostShare, guestHearsHost, 100 * guestShare);
  EXPECT_GT(hostHearsGuest, -30) << "during the fault the host hears the guest's 660 Hz";
  EXPECT_GT(guestHearsHost, -30) << "during the fault the guest hears the host's 440 Hz";
  EXPECT_GE(hostShare, 0.75) << "the host's return never stops";
  EXPECT_GE(guestShare, 0.75) << "the guest's return never stops";
  EXPECT_LT(toneDb(hostHeard, 440, hostFrom, hostTo), hostHearsGuest - 30) << "and never itself";
}

// HLS played on through a fault of `faultSeconds` that began after segment `beforeSequence`:
// the segments went on being numbered at the pace of the room (a few missing ones are allowed
// on a loaded machine), the playlist marks no break for players, and the newest segments decode
// to the room's two tones.
void expectHlsPlayedOn(const Daemon& daemon, const TestRoom& room, long long beforeSequence, double faultSeconds,
                       const std::string& dir) {
  const std::string base = daemon.url() + "/hls/" + room.id + "/";
  const auto playlist = http("GET", base + "index.m3u8");
  ASSERT_EQ(playlist.status, 200);
  EXPECT_EQ(playlist.body.find("#EXT-X-DISCONTINUITY"), std::string::npos) << "no break:\n" << playlist.body;
  auto listed = parsePlaylist(playlist.body);
  ASSERT_GE(listed.size(), 3u);
  const double segmentSeconds = listed.back().duration;
  ASSERT_GT(segmentSeconds, 0.1);
  EXPECT_GE(listed.back().sequence - beforeSequence, static_cast<long long>(0.8 * faultSeconds / segmentSeconds))
      << "segments listed through the fault:\n" << playlist.body << daemon.log();
  // The newest segments, each decoded on its own (as a player fetches them), until 2 s of audio.
  PcmAudio heard;
  for (size_t i = listed.size() >= 4 ? listed.size() - 4 : 0; i < listed.size() && heard.seconds() < 2.0; i++) {
    const auto segment = http("GET", base + listed[i].name);
    ASSERT_EQ(segment.status, 200) << listed[i].name;
    const std::string ts = dir + "/" + listed[i].name, wav = ts + ".wav";
    ASSERT_TRUE(g_file_set_contents(ts.c_str(), segment.body.data(), static_cast<gssize>(segment.body.size()), nullptr));
    const auto decoded = run({"ffmpeg", "-nostdin", "-v", "error", "-i", ts, "-ac", "1", "-ar", "48000", "-y", wav}, 60);
    ASSERT_EQ(decoded.exitStatus, 0) << listed[i].name << " (" << segment.body.size() << " bytes): " << decoded.stderrText
                                     << playlist.body;
    PcmAudio part;
    ASSERT_TRUE(roomcast::audio::readWav(wav, part));
    EXPECT_GT(part.seconds(), 0.01) << listed[i].name;
    heard.sampleRate = part.sampleRate;
    heard.channels = part.channels;
    heard.samples.insert(heard.samples.end(), part.samples.begin(), part.samples.end());
  }
  ASSERT_GT(heard.seconds(), 1.5);
  EXPECT_GT(toneDb(heard, 440, 0.1, heard.seconds() - 0.1), -25) << "HLS carries the host";
  EXPECT_GT(toneDb(heard, 660, 0.1, heard.seconds() - 0.1), -25) << "and the guest";
}

bool roomIsLive(const Daemon& daemon, const TestRoom& room) {
  return http("GET", daemon.url() + "/api/v1/rooms/" + room.id).status == 200;
}

TEST(OutputFaults, FullDiskCostsTheRecordingNeverTheRoomNorHls) {
  if (!canMountPrivately()) GTEST_SKIP() << "needs mount namespaces (unshare --mount, as root)";
  const TempDir scratch("roomcast-fulldisk-");
  const std::string dataDir = scratch.path() + "/data";
  ASSERT_EQ(g_mkdir_with_parents(dataDir.c_str(), 0755), 0);
  // The whole data dir (database, HLS, recordings) on 8 MB of its own, as in the report.
  DaemonOptions options;
  options.dataDir = dataDir;
  options.prefix = {"unshare", "--mount", "--propagation", "private", "sh", "-c",
                    "mount -t tmpfs -o size=8m roomcast-test \"$0\" && exec \"$@\"", dataDir};
  Daemon daemon(options);
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  // The daemon's view of its data dir (the tmpfs), from outside its namespace.
  const std::string inside = "/proc/" + std::to_string(daemon.pid()) + "/root" + dataDir;

  const TestRoom room = createRoomRecorded(daemon, true);
  Speakers speakers = startSpeakers(daemon, room, scratch.path());
  const std::string playlist = daemon.url() + "/hls/" + room.id + "/index.m3u8";
  ASSERT_NO_FATAL_FAILURE(waitUntilTheRoomPlays(daemon, speakers, playlist));
  const std::string recording = jsonString(http("GET", daemon.url() + "/api/v1/recordings").body, "recordings.0.storage.local");
  ASSERT_FALSE(recording.empty());

  // The disk fills up.
  const long long before = newestSegmentSequence(playlist);
  EXPECT_GT(fillUp(inside + "/filler"), 1024u * 1024u);
  const long long hostAtFull = heardSeconds(*speakers.host), guestAtFull = heardSeconds(*speakers.guest);
  // Eight seconds of a full disk: more than ten segments that could not be written.
  ASSERT_TRUE(waitHeard(*speakers.host, hostAtFull + 8, 40))
      << speakers.host->errors() << speakers.guest->errors() << daemon.log();
  EXPECT_TRUE(roomIsLive(daemon, room)) << daemon.log();
  EXPECT_GE(metric(daemon, "roomcast_output_failures_total"), 1) << daemon.log();
  // The recording that failed is listed as failed, with what was written.
  const std::string listing = http("GET", daemon.url() + "/api/v1/recordings").body;
  EXPECT_EQ(jsonString(listing, "recordings.0.status"), "failed") << listing;
  EXPECT_GT(jsonNumber(listing, "recordings.0.duration_s", 0), 1) << listing;
  const long long hostFaultEnd = heardSeconds(*speakers.host), guestFaultEnd = heardSeconds(*speakers.guest);
  expectHlsPlayedOn(daemon, room, before, static_cast<double>(hostFaultEnd - hostAtFull), scratch.path());
  EXPECT_EQ(metric(daemon, "roomcast_hls_renditions_down"), 0);

  // Space returns: the recording's row says it failed, in the store itself.
  ASSERT_EQ(g_unlink((inside + "/filler").c_str()), 0);
  // sqlite3 in the daemon's mount namespace: SQLite resolves /proc/PID/root, a symbolic link,
  // to the directory outside it.
  auto query = [&](const std::string& sql) {
    return run({"nsenter", "--target", std::to_string(daemon.pid()), "--mount", "sqlite3", dataDir + "/roomcast.db", sql},
               20);
  };
  ProcessResult stored;
  EXPECT_TRUE(pollUntil(
      [&] {
        stored = query("SELECT status || ' ' || (duration_s > 1) FROM recordings WHERE path = '" + recording + "'");
        return stored.stdoutText == "failed 1\n";
      },
      30, 0.5))
      << "stored: " << stored.stdoutText << stored.stderrText << "\n" << query("SELECT * FROM recordings").stdoutText;

  // What the speakers heard while the disk was full.
  ASSERT_EQ(speakers.host->wait(kSpeakSeconds + 60).exitStatus, 0) << speakers.host->errors();
  ASSERT_EQ(speakers.guest->wait(kSpeakSeconds + 60).exitStatus, 0) << speakers.guest->errors();
  expectEachHearsTheOther(speakers, hostAtFull + 1, hostFaultEnd, guestAtFull + 1, guestFaultEnd);
}

size_t openFds(int pid) {
  size_t n = 0;
  g_autoptr(GDir) dir = g_dir_open(("/proc/" + std::to_string(pid) + "/fd").c_str(), 0, nullptr);
  while (dir && g_dir_read_name(dir)) n++;
  return n;
}

TEST(OutputFaults, ExhaustedFileDescriptorsCostNeitherTheRoomNorHls) {
  constexpr int kLimit = 400;  // roomcastd with a room and two WebRTC speakers uses about 100
  rlimit own{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &own), 0);
  if (own.rlim_max < 4 * kLimit) GTEST_SKIP() << "the open file hard limit is " << own.rlim_max;
  own.rlim_cur = own.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &own), 0);
  const TempDir scratch("roomcast-nofds-");
  DaemonOptions options;
  options.prefix = {"prlimit", "--nofile=" + std::to_string(kLimit) + ":" + std::to_string(kLimit)};
  Daemon daemon(options);
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const TestRoom room = createRoomRecorded(daemon, false);
  Speakers speakers = startSpeakers(daemon, room, scratch.path());
  const std::string playlist = daemon.url() + "/hls/" + room.id + "/index.m3u8";
  ASSERT_NO_FATAL_FAILURE(waitUntilTheRoomPlays(daemon, speakers, playlist));
  const size_t baseline = openFds(daemon.pid());
  ASSERT_LT(baseline, static_cast<size_t>(kLimit) - 50) << "raise kLimit";
  const long long before = newestSegmentSequence(playlist);

  // The limit reached: roomcastd's soft limit lowered below every descriptor number it holds
  // beyond the first few, so that any new descriptor (a segment file, a connection) fails with
  // EMFILE while those it has stay open. (Filling its table with client connections no longer
  // works: the server keeps a reserve of descriptors for the rooms, see integration-connections.)
  const size_t logBefore = daemon.log().size();
  rlimit lowered{16, static_cast<rlim_t>(kLimit)}, previous{};
  ASSERT_EQ(prlimit(daemon.pid(), RLIMIT_NOFILE, &lowered, &previous), 0) << g_strerror(errno);
  printf("roomcastd's descriptor limit lowered to 16 with %zu open (baseline %zu)\n", openFds(daemon.pid()), baseline);
  const long long hostAtLimit = heardSeconds(*speakers.host), guestAtLimit = heardSeconds(*speakers.guest);
  // Eight seconds at the limit.
  ASSERT_TRUE(pollUntil([&] { return heardSeconds(*speakers.host) >= hostAtLimit + 8; }, 40, 0.2))
      << speakers.host->errors() << daemon.log().substr(logBefore);
  const long long hostFaultEnd = heardSeconds(*speakers.host), guestFaultEnd = heardSeconds(*speakers.guest);

  // The descriptors return (HTTP needs them to answer): HLS never stopped.
  ASSERT_EQ(prlimit(daemon.pid(), RLIMIT_NOFILE, &previous, nullptr), 0) << g_strerror(errno);
  EXPECT_TRUE(roomIsLive(daemon, room)) << daemon.log();
  expectHlsPlayedOn(daemon, room, before, static_cast<double>(hostFaultEnd - hostAtLimit), scratch.path());
  EXPECT_EQ(metric(daemon, "roomcast_output_failures_total"), 0) << daemon.log().substr(logBefore);

  ASSERT_EQ(speakers.host->wait(kSpeakSeconds + 60).exitStatus, 0) << speakers.host->errors();
  ASSERT_EQ(speakers.guest->wait(kSpeakSeconds + 60).exitStatus, 0) << speakers.guest->errors();
  expectEachHearsTheOther(speakers, hostAtLimit + 1, hostFaultEnd, guestAtLimit + 1, guestFaultEnd);
}

}  // namespace
