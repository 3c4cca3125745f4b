// The whole path on real components: roomcastd, a WebRTC speaker (roomcast speak), an HLS
// listener (roomcast listen), the recording decoded by ffmpeg. Proved by signal analysis.
#include <glib.h>
#include <cmath>
#include <gtest/gtest.h>

#include "audio/tone.h"
#include "audio/wav.h"
#include "hls_playlist.h"
#include "processes.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {


// Seconds of audio in which `frequency` dominates (0.2 s windows).
double secondsWithTone(const PcmAudio& audio, double frequency) {
  auto mono = roomcast::audio::toMonoFloat(audio);
  const double fraction = roomcast::audio::fractionOfWindowsWithTone(mono, audio.sampleRate, frequency);
  const double windows = std::floor(mono.size() / (0.2 * audio.sampleRate));
  return fraction * windows * 0.2;
}

TEST(EndToEnd, SpeakerToHlsListenerAndRecording) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();

  const auto created = run({cli(), "--server", daemon.url(), "create", "--title", "Tone test", "--topic", "440 Hz", "--record"}, 30);
  ASSERT_EQ(created.exitStatus, 0) << created.stderrText;
  const std::string roomId = jsonString(created.stdoutText, "id");
  const std::string hostToken = jsonString(created.stdoutText, "host_token");
  const std::string hlsUrl = jsonString(created.stdoutText, "hls_url");
  ASSERT_FALSE(roomId.empty());
  ASSERT_NE(hlsUrl.find("master.m3u8"), std::string::npos) << hlsUrl;
  const gint64 createdAt = g_get_monotonic_time();

  const std::string dir = daemon.dataDir();
  Process speaker({cli(), "--server", daemon.url(), "speak", roomId, "--token", hostToken, "--tone", "440",
                   "--seconds", "10", "--out", dir + "/speaker.wav"});
  // The listener joins once the speaker's tone fills the playlist's live end: a player starts
  // three segments back from it (hold-back), and what it hears must all be from after the
  // speaker went live. Six 750 ms segments later is 4.5 s into the speaker's 10 s.
  ASSERT_TRUE(speaker.waitForOutput("connected", 30)) << speaker.errors() << daemon.log();
  const std::string mediaPlaylist = hlsUrl.substr(0, hlsUrl.find("master.m3u8")) + "index.m3u8";
  const long long liveAt = newestSegmentSequence(mediaPlaylist);
  ASSERT_TRUE(waitForSegmentSequence(mediaPlaylist, liveAt + 6, 15)) << daemon.log();
  Process listener({cli(), "--server", daemon.url(), "listen", roomId, "--seconds", "5", "--out", dir + "/listener.wav"});
  const auto heard = listener.wait(60);
  const auto spoke = speaker.wait(60);
  ASSERT_EQ(spoke.exitStatus, 0) << spoke.stderrText << daemon.log();
  ASSERT_EQ(heard.exitStatus, 0) << heard.stderrText << daemon.log();

  // (a) What the HLS listener downloaded and decoded: 440 Hz dominates.
  PcmAudio listenerAudio;
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/listener.wav", listenerAudio));
  EXPECT_GE(listenerAudio.seconds(), 4.5);
  const double listenerToneSeconds = secondsWithTone(listenerAudio, 440);
  RecordProperty("listener_tone_seconds", std::to_string(listenerToneSeconds));
  EXPECT_GE(listenerToneSeconds, 3.5) << "the listener should hear the speaker's tone";
  EXPECT_LT(secondsWithTone(listenerAudio, 660), 0.5);

  // A lone speaker hears nobody: their own voice is not in their return.
  PcmAudio speakerAudio;
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/speaker.wav", speakerAudio));
  EXPECT_GE(speakerAudio.seconds(), 8.0) << "the speaker should receive the room's return mix";
  auto speakerMono = roomcast::audio::toMonoFloat(speakerAudio);
  EXPECT_LT(roomcast::audio::rmsDbfs(speakerMono.data(), speakerMono.size()), -50)
      << "a speaker must never hear themselves";

  // Ending the room: 200 only once HLS has its ENDLIST and the recording is finished.
  const auto ended = http("DELETE", daemon.url() + "/api/v1/rooms/" + roomId, {}, {{"Authorization", "Bearer " + hostToken}});
  const double roomSeconds = static_cast<double>(g_get_monotonic_time() - createdAt) / G_USEC_PER_SEC;
  ASSERT_EQ(ended.status, 200) << ended.body;
  const std::string recording = jsonString(ended.body, "recording");
  ASSERT_FALSE(recording.empty()) << ended.body;
  const auto master = http("GET", hlsUrl);
  ASSERT_EQ(master.status, 200);
  EXPECT_NE(master.body.find("index.m3u8"), std::string::npos) << master.body;
  const auto playlist = http("GET", mediaPlaylist);
  ASSERT_EQ(playlist.status, 200);
  EXPECT_NE(playlist.body.find("#EXT-X-ENDLIST"), std::string::npos) << playlist.body;

  // (b) The recording decodes to the end and carries the tone.
  const std::string decoded = dir + "/recording.wav";
  const auto ffmpeg = run({"ffmpeg", "-nostdin", "-v", "error", "-i", recording, "-ac", "1", "-ar", "48000", "-y", decoded}, 60);
  ASSERT_EQ(ffmpeg.exitStatus, 0) << ffmpeg.stderrText;
  EXPECT_EQ(ffmpeg.stderrText, "") << "the recording must decode without errors";
  PcmAudio recordingAudio;
  ASSERT_TRUE(roomcast::audio::readWav(decoded, recordingAudio));
  EXPECT_NEAR(recordingAudio.seconds(), roomSeconds, 2.5) << "the recording covers the room's whole life";
  EXPECT_GE(secondsWithTone(recordingAudio, 440), 8.0) << "the recording should hold the speaker's 10 s tone";

  // The HLS stream as a whole is valid for ffmpeg too.
  const auto probe = run({"ffmpeg", "-nostdin", "-v", "error", "-i", hlsUrl, "-f", "null", "-"}, 60);
  EXPECT_EQ(probe.exitStatus, 0);
  EXPECT_EQ(probe.stderrText, "");
}

}  // namespace

namespace {

// Real loss on a real WebRTC uplink: the speaker drops every 10th packet it sends (5 a second,
// never two in a row); webrtcbin's jitter buffer declares each lost, and the room's decoder
// rebuilds it from the next packet's in-band FEC.
TEST(EndToEnd, LostWebRtcUplinkPacketsAreRebuiltFromFec) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const TestRoom room = createRoom(daemon, "Lossy uplink");
  Process speaker({cli(), "--server", daemon.url(), "speak", room.id, "--token", room.hostToken, "--tone", "440",
                   "--seconds", "8", "--drop-every", "10"});
  ASSERT_TRUE(speaker.waitForOutput("connected", 30)) << speaker.errors() << daemon.log();
  long long rebuilt = -1;
  EXPECT_TRUE(pollUntil(
      [&] {
        rebuilt = metric(daemon, "roomcast_uplink_losses_rebuilt");
        return rebuilt >= 10;
      },
      20, 0.2))
      << "rebuilt " << rebuilt << daemon.log();
  const long long concealed = metric(daemon, "roomcast_uplink_losses_concealed");
  EXPECT_GE(concealed, 0);
  // Single losses always have a next packet; only a loaded machine's late packets (lost to
  // the 20 ms jitter buffer next to a dropped one) could make two in a row.
  EXPECT_LT(concealed, rebuilt) << "single losses have a next packet: rebuilt, not only concealed";
  printf("uplink losses: %lld rebuilt, %lld concealed\n", rebuilt, concealed);
  EXPECT_EQ(speaker.wait(60).exitStatus, 0) << speaker.errors();
}

TEST(EndToEnd, TwoSpeakersHearEachOtherNeverThemselves) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const auto created = run({cli(), "--server", daemon.url(), "create", "--title", "Two voices"}, 30);
  ASSERT_EQ(created.exitStatus, 0) << created.stderrText;
  const std::string roomId = jsonString(created.stdoutText, "id");
  const std::string hostToken = jsonString(created.stdoutText, "host_token");
  const auto token = run({cli(), "--server", daemon.url(), "token", roomId, "--role", "speaker", "--name", "Guest",
                          "--token", hostToken}, 30);
  ASSERT_EQ(token.exitStatus, 0) << token.stderrText;
  const std::string guestToken = jsonString(token.stdoutText, "token");
  ASSERT_FALSE(guestToken.empty());

  // The host stays on stage until the room ends, so the guest's whole 6 s overlap with them
  // however long the guest takes to join on a loaded machine.
  const std::string dir = daemon.dataDir();
  Process host({cli(), "--server", daemon.url(), "speak", roomId, "--token", hostToken, "--tone", "440", "--seconds", "60",
                "--out", dir + "/host.wav"});
  ASSERT_TRUE(host.waitForOutput("connected", 30)) << daemon.log();
  Process guest({cli(), "--server", daemon.url(), "speak", roomId, "--token", guestToken, "--tone", "660", "--seconds",
                 "6", "--out", dir + "/guest.wav"});
  ASSERT_TRUE(guest.waitForOutput("connected", 30)) << daemon.log();
  const auto guestRun = guest.wait(60);
  ASSERT_EQ(guestRun.exitStatus, 0) << guestRun.stderrText << daemon.log();
  const auto ended = http("DELETE", daemon.url() + "/api/v1/rooms/" + roomId, {}, {{"Authorization", "Bearer " + hostToken}});
  ASSERT_EQ(ended.status, 200) << ended.body;
  const auto hostRun = host.wait(60);
  ASSERT_EQ(hostRun.exitStatus, 0) << hostRun.stderrText << daemon.log();

  PcmAudio hostHeard, guestHeard;
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/host.wav", hostHeard));
  ASSERT_TRUE(roomcast::audio::readWav(dir + "/guest.wav", guestHeard));
  // Each file starts when its own speaker first heard the room. The guest hears the host
  // from their first moment; the host hears the guest from wherever the guest joined, which
  // on a loaded machine is seconds later: find it rather than assume it.
  const double guestFrom = 0.5, guestTo = guestHeard.seconds() - 0.5;
  ASSERT_GT(guestTo - guestFrom, 4.0) << "the guest should receive its 6 s of return audio";
  const double joined = toneOnset(hostHeard, 660, -30);
  ASSERT_FALSE(std::isnan(joined)) << "the host never heard the guest";
  const double hostFrom = joined + 0.5, hostTo = joined + 5.0;
  ASSERT_GE(hostHeard.seconds(), hostTo) << "the host should hear the room until it ends";

  // Heard: the other's level on average and in most 0.1 s pieces (a loaded machine may drop
  // a frame or two; a speaker who is missing for long fails). Never themselves: their own
  // tone, measured narrowly over the whole file, is ≥ 30 dB below the other's.
  const double hostHearsGuest = meanToneDb(hostHeard, 660, hostFrom, hostTo);
  const double guestHearsHost = meanToneDb(guestHeard, 440, guestFrom, guestTo);
  const double hostHearsSelf = toneDb(hostHeard, 440, 0, hostHeard.seconds());
  const double guestHearsSelf = toneDb(guestHeard, 660, 0, guestHeard.seconds());
  EXPECT_GT(hostHearsGuest, -20) << "the host should hear the guest's 660 Hz";
  EXPECT_GT(guestHearsHost, -20) << "the guest should hear the host's 440 Hz";
  EXPECT_GE(fractionWithToneAbove(hostHeard, 660, hostFrom, hostTo, -20), 0.8);
  EXPECT_GE(fractionWithToneAbove(guestHeard, 440, guestFrom, guestTo, -20), 0.8);
  EXPECT_GE(hostHearsGuest - hostHearsSelf, 30) << "own voice must be ≥ 30 dB below the other in the return";
  EXPECT_GE(guestHearsHost - guestHearsSelf, 30);
  RecordProperty("host_hears_guest_db", std::to_string(hostHearsGuest));
  RecordProperty("host_hears_self_db", std::to_string(hostHearsSelf));
  RecordProperty("guest_joined_at_s", std::to_string(joined));
}

// [media] stun_server is really used: the server's webrtcbin asks the configured STUN server
// for its public address (a STUN Binding Request arrives at a UDP socket this test listens on)
// while the speaker's session is set up, and the speaker still connects.
TEST(EndToEnd, ConfiguredStunServerIsAskedForTheServersAddress) {
  g_autoptr(GSocket) stun = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, nullptr);
  ASSERT_NE(stun, nullptr);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
  ASSERT_TRUE(g_socket_bind(stun, any, TRUE, nullptr));
  g_autoptr(GSocketAddress) bound = g_socket_get_local_address(stun, nullptr);
  const int port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));

  const TempDir scratch("roomcast-stun");
  const std::string& dir = scratch.path();
  const std::string config = dir + "/roomcast.conf";
  const std::string text = "[media]\nstun_server = stun://127.0.0.1:" + std::to_string(port) + "\n";
  ASSERT_TRUE(g_file_set_contents(config.c_str(), text.c_str(), -1, nullptr));
  Daemon daemon({"--config", config});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const auto created = run({cli(), "--server", daemon.url(), "create", "--title", "Behind a NAT"}, 30);
  ASSERT_EQ(created.exitStatus, 0) << created.stderrText;
  Process host({cli(), "--server", daemon.url(), "speak", jsonString(created.stdoutText, "id"), "--token",
                jsonString(created.stdoutText, "host_token"), "--tone", "440", "--seconds", "4"});

  // Wait (at most 20 s) for a datagram; a STUN Binding Request is type 0x0001 with the magic
  // cookie 0x2112A442 (RFC 5389).
  bool request = false;
  const gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
  while (!request && g_get_monotonic_time() < deadline) {
    const gint64 left = deadline - g_get_monotonic_time();
    if (!g_socket_condition_timed_wait(stun, G_IO_IN, left, nullptr, nullptr)) break;
    unsigned char packet[1500];
    const gssize n = g_socket_receive(stun, reinterpret_cast<gchar*>(packet), sizeof packet, nullptr, nullptr);
    request = n >= 20 && packet[0] == 0x00 && packet[1] == 0x01 && packet[4] == 0x21 && packet[5] == 0x12 &&
              packet[6] == 0xA4 && packet[7] == 0x42;
  }
  EXPECT_TRUE(request) << "no STUN Binding Request reached the configured server\n" << daemon.log();
  EXPECT_TRUE(host.waitForOutput("connected", 30)) << "an unanswered STUN server does not stop the session\n"
                                                    << daemon.log();
  EXPECT_EQ(host.wait(60).exitStatus, 0);
}

}  // namespace
