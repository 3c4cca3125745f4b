// A room reopened after a failover (RoomMediaConfig::continueHls): GstMediaBackend's live
// playlists start at the given media sequence, their first segment marked
// EXT-X-DISCONTINUITY with the discontinuity sequence counted right, in every rendition; the
// segments are named apart from anything the dead owner served (the edge caches by path); the
// room reports its position on; and ffmpeg decodes the speaker's tone from the playlist
// exactly as it is served. Then the hand-over itself: a first owner's position continued by a
// second backend (numbers and names past the first's, on the same disk), and a live ffmpeg
// reading over HTTP that goes on from the first owner's segments into the second's. Real
// rooms: the pipelines from pipelines/, the mixminus plugin, a plain-RTP speaker sending a
// tone over loopback.
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gtest/gtest.h>
#include <libsoup/soup.h>
#include <signal.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "audio/tone.h"
#include "audio/wav.h"
#include "hls_playlist.h"
#include "media/gst_media_backend.h"
#include "processes.h"
#include "wait.h"

using roomcast::core::HlsPosition;
using roomcast::media::GstMediaBackend;
using roomcast::media::MediaConfig;

namespace {

constexpr double kToneHz = 440;

struct Observer : roomcast::core::MediaObserver {
  std::vector<std::string> failures;
  void onLocalAnswer(const std::string&, const std::string&, const std::string&) override {}
  void onLocalCandidate(const std::string&, const std::string&, unsigned, const std::string&) override {}
  void onPeerLevels(const std::string&, const std::vector<PeerLevel>&) override {}
  void onPeerFailed(const std::string&, const std::string& peer, const std::string& reason) override {
    failures.push_back(peer + ": " + reason);
  }
  void onRoomMediaFailed(const std::string&, const std::string& reason) override { failures.push_back(reason); }
  void onPeerTranscript(const std::string&, const std::string&, const std::string&, int64_t, int64_t) override {}
  void onRecordingStarted(const std::string&, const roomcast::core::RecordingInfo&) override {}
  void onRecordingStopped(const std::string&, const roomcast::core::RecordingInfo&) override {}
};

bool iterate(const std::function<bool()>& done, double seconds) {
  return roomcast::testing::iterateUntil(g_main_context_default(), done, seconds);
}

std::string text(const roomcast::hls::PublishedFile& file) { return *file.bytes; }

class HlsContinuation : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.dataDir = scratch_.path() + "/data";
    config_.pipelinesDir = roomcast::testing::sourcePath("pipelines");
    config_.hls = &registry_;
    backend_ = std::make_unique<GstMediaBackend>(config_, g_main_context_default());
    backend_->setObserver(&observer_);
  }
  void TearDown() override {
    if (speaker_) {
      gst_element_set_state(speaker_, GST_STATE_NULL);
      gst_object_unref(speaker_);
    }
    if (started_) {
      bool stopped = false;
      backend_->stopRoom("room", [&](roomcast::core::RoomMediaSummary) { stopped = true; });
      EXPECT_TRUE(iterate([&] { return stopped; }, 20)) << "the room did not stop";
    }
    backend_.reset();
    if (speakerSocket_) g_object_unref(speakerSocket_);
  }

  // A plain-RTP speaker on stage, sending a tone: Opus in RTP from its own loopback socket.
  void startTonalSpeaker(int hz = static_cast<int>(kToneHz)) {
    if (speaker_) {  // the same speaker, sending to the room's new owner
      gst_element_set_state(speaker_, GST_STATE_NULL);
      gst_object_unref(speaker_);
      speaker_ = nullptr;
      g_clear_object(&speakerSocket_);
    }
    speakerSocket_ = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, nullptr);
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
    ASSERT_TRUE(g_socket_bind(speakerSocket_, any, FALSE, nullptr));
    g_autoptr(GSocketAddress) local = g_socket_get_local_address(speakerSocket_, nullptr);
    const int port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
    auto server = backend_->acceptPlainRtp("room", "speaker", {"127.0.0.1", port}, 111, true);
    ASSERT_TRUE(server) << server.error().message;
    g_autoptr(GError) error = nullptr;
    speaker_ = gst_parse_launch(
        ("audiotestsrc is-live=true wave=sine freq=" + std::to_string(hz) + " volume=0.5 samplesperbuffer=960 "
                 "! audio/x-raw,rate=48000,channels=1 ! opusenc ! rtpopuspay pt=111 ! udpsink name=out sync=false async=false")
            .c_str(),
        &error);
    ASSERT_NE(speaker_, nullptr) << error->message;
    g_autoptr(GstElement) out = gst_bin_get_by_name(GST_BIN(speaker_), "out");
    g_object_set(out, "socket", speakerSocket_, "close-socket", FALSE, "host", server.value().host.c_str(), "port",
                 server.value().port, nullptr);
    ASSERT_NE(gst_element_set_state(speaker_, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  }

  // The served copy of a media playlist once it lists at least `count` segments.
  std::string servedPlaylist(const std::string& name, size_t count) {
    std::string served;
    const bool listed = iterate([&] {
      auto room = registry_.published("room");
      if (!room || !room->playlists.count(name) || !room->playlists.at(name)) return false;
      served = text(*room->playlists.at(name));
      return roomcast::testing::parsePlaylist(served).size() >= count;
    }, 30);
    EXPECT_TRUE(listed) << name << " lists fewer than " << count << " segments: " << served
                        << (observer_.failures.empty() ? "" : " (failed: " + observer_.failures.front() + ")");
    return served;
  }

  roomcast::testing::TempDir scratch_{"roomcast-hls-continuation-"};
  roomcast::hls::Registry registry_{6};
  MediaConfig config_;
  Observer observer_;
  std::unique_ptr<GstMediaBackend> backend_;
  bool started_ = false;
  GSocket* speakerSocket_ = nullptr;
  GstElement* speaker_ = nullptr;
};

TEST_F(HlsContinuation, ReopenedRoomContinuesTheDeadOwnersPlaylistsAfterADiscontinuity) {
  // The dead owner's last position: segment 4999 was its newest, 2 discontinuities so far.
  const int64_t nowMs = g_get_real_time() / 1000;
  const HlsPosition last{5000, 2, 750, nowMs - 1500};
  const HlsPosition next = roomcast::core::continueAfter(last, nowMs);
  ASSERT_EQ(next.nextSequence, 5003u);
  roomcast::core::RoomMediaConfig room;
  room.roomId = "room";
  room.continueHls = next;
  ASSERT_TRUE(backend_->startRoom(room));
  started_ = true;
  ASSERT_NO_FATAL_FAILURE(startTonalSpeaker());

  const std::string playlist = servedPlaylist("index.m3u8", 5);
  SCOPED_TRACE(playlist);
  const auto segments = roomcast::testing::parsePlaylist(playlist);
  ASSERT_GE(segments.size(), 5u);
  EXPECT_EQ(playlist.find("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:5003\n"
                          "#EXT-X-DISCONTINUITY-SEQUENCE:2\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:"),
            0u)
      << "starts at the continued sequence; its first segment is the third discontinuity";
  EXPECT_EQ(playlist.find("#EXT-X-DISCONTINUITY\n", playlist.find("#EXTINF")), std::string::npos)
      << "one discontinuity only: the room's own segments follow on from each other";
  EXPECT_EQ(segments.front().sequence, 5003);
  for (const auto& segment : segments) {
    // Not segment00000.ts, which the dead owner served (and the edge may hold) too.
    EXPECT_EQ(segment.name.rfind("segment-", 0), 0u) << segment.name;
  }
  const std::string low = servedPlaylist("low.m3u8", 1);
  EXPECT_EQ(low.find("#EXT-X-MEDIA-SEQUENCE:5003\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n#EXT-X-DISCONTINUITY\n"),
            low.find("#EXT-X-MEDIA-SEQUENCE"))
      << low;
  EXPECT_EQ(roomcast::testing::parsePlaylist(low).front().name.rfind("low-", 0), 0u) << low;

  // The position this room reports on: past every segment it listed, one discontinuity more.
  const auto position = backend_->hlsPosition("room");
  ASSERT_TRUE(position);
  EXPECT_GE(position->nextSequence, static_cast<uint64_t>(segments.back().sequence + 1));
  EXPECT_EQ(position->discontinuitySequence, 3u);
  EXPECT_EQ(position->segmentMs, config_.hlsSegmentMs);
  EXPECT_FALSE(backend_->hlsPosition("no-such-room"));

  // ffmpeg reads the playlist as served (live, so it starts at the first listed segment and
  // stops after what is listed) and decodes the tone.
  auto served = registry_.published("room");
  ASSERT_TRUE(served);
  const std::string dir = scratch_.path() + "/served";
  ASSERT_EQ(g_mkdir_with_parents(dir.c_str(), 0755), 0);
  double listedSeconds = 0;
  for (const auto& segment : segments) {
    auto file = served->segments.find(segment.name);
    ASSERT_NE(file, served->segments.end()) << segment.name << " is listed but not served";
    ASSERT_TRUE(g_file_set_contents((dir + "/" + segment.name).c_str(), file->second.bytes->data(),
                                    static_cast<gssize>(file->second.bytes->size()), nullptr));
    listedSeconds += segment.duration;
  }
  ASSERT_TRUE(g_file_set_contents((dir + "/index.m3u8").c_str(), playlist.data(),
                                  static_cast<gssize>(playlist.size()), nullptr));
  const std::string wav = dir + "/heard.wav";
  auto decoded = roomcast::testing::run(
      {"ffmpeg", "-nostdin", "-v", "error", "-y", "-live_start_index", "0", "-i", dir + "/index.m3u8", "-t",
       std::to_string(listedSeconds - 0.5), "-ac", "1", "-ar", "48000", wav},
      30);
  ASSERT_TRUE(decoded.finished && decoded.exitStatus == 0) << decoded.stderrText;
  roomcast::audio::PcmAudio audio;
  ASSERT_TRUE(roomcast::audio::readWav(wav, audio));
  const std::vector<float> mono = roomcast::audio::toMonoFloat(audio);
  const double seconds = static_cast<double>(mono.size()) / audio.sampleRate;
  EXPECT_GT(seconds, listedSeconds - 1.5) << "ffmpeg decoded less than was listed";
  // The first segment may begin before the speaker was heard; most of the rest is the tone.
  const double toneFraction = roomcast::audio::fractionOfWindowsWithTone(mono, audio.sampleRate, kToneHz);
  std::printf("continued playlist: %zu segments from %lld, %.2f s decoded, tone in %.0f %% of windows\n",
              segments.size(), segments.front().sequence, seconds, toneFraction * 100);
  EXPECT_GT(toneFraction, 0.5);
}

// The whole hand-over within one process: a room's first owner (a first start: from 0, no
// discontinuity, the names as ever) reports its position and ends; a new backend (the node
// that reopens the room, on the same data directory: a node may reopen a room it once owned)
// continues from continueAfter(position): past every sequence the first listed, one
// discontinuity on, and no segment name in common with it, served or on disk.
TEST_F(HlsContinuation, NextOwnerContinuesFromTheFirstOwnersPosition) {
  ASSERT_TRUE(backend_->startRoom({"room", false}));
  started_ = true;
  const std::string first = servedPlaylist("index.m3u8", 3);
  EXPECT_EQ(first.find("#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PROGRAM-DATE-TIME:"), first.find("#EXT-X-MEDIA-SEQUENCE"))
      << first;
  EXPECT_EQ(first.find("DISCONTINUITY"), std::string::npos) << first;
  const auto firstSegments = roomcast::testing::parsePlaylist(first);
  ASSERT_FALSE(firstSegments.empty());
  EXPECT_EQ(firstSegments.front().name, "segment00000.ts");
  const auto position = backend_->hlsPosition("room");
  ASSERT_TRUE(position);
  EXPECT_EQ(position->discontinuitySequence, 0u);
  EXPECT_GE(position->nextSequence, static_cast<uint64_t>(firstSegments.back().sequence + 1));
  bool stopped = false;
  backend_->stopRoom("room", [&](roomcast::core::RoomMediaSummary) { stopped = true; });
  ASSERT_TRUE(iterate([&] { return stopped; }, 20)) << "the first owner's room did not stop";
  backend_ = std::make_unique<GstMediaBackend>(config_, g_main_context_default());  // its files written
  backend_->setObserver(&observer_);
  std::set<std::string> leftOnDisk;  // the first owner's copy of its last window
  {
    g_autoptr(GDir) dir = g_dir_open(backend_->hlsDirFor("room").c_str(), 0, nullptr);
    while (const char* name = dir ? g_dir_read_name(dir) : nullptr)
      if (g_str_has_suffix(name, ".ts")) leftOnDisk.insert(name);
  }
  EXPECT_FALSE(leftOnDisk.empty()) << "the first owner left no segment in the room's directory";
  // Its last playlist (with the segment its end closed, after the position was taken).
  g_autofree char* ended = nullptr;
  ASSERT_TRUE(g_file_get_contents((backend_->hlsDirFor("room") + "/index.m3u8").c_str(), &ended, nullptr, nullptr));
  const auto lastSegments = roomcast::testing::parsePlaylist(ended);
  ASSERT_FALSE(lastSegments.empty()) << ended;
  EXPECT_NE(std::string(ended).find("#EXT-X-ENDLIST"), std::string::npos) << ended;

  roomcast::core::RoomMediaConfig reopened;
  reopened.roomId = "room";
  reopened.continueHls = roomcast::core::continueAfter(*position, g_get_real_time() / 1000);
  ASSERT_TRUE(backend_->startRoom(reopened));
  const std::string next = servedPlaylist("index.m3u8", 2);
  const auto nextSegments = roomcast::testing::parsePlaylist(next);
  ASSERT_FALSE(nextSegments.empty());
  EXPECT_GT(nextSegments.front().sequence, lastSegments.back().sequence)
      << "a number the first owner listed, taken again";
  EXPECT_EQ(static_cast<uint64_t>(nextSegments.front().sequence), reopened.continueHls->nextSequence);
  EXPECT_NE(next.find("#EXT-X-DISCONTINUITY\n"), std::string::npos) << next;
  EXPECT_EQ(next.find("#EXT-X-DISCONTINUITY-SEQUENCE"), std::string::npos)
      << "the first owner had no discontinuity: the new first segment's tag makes it 1" << next;
  for (const auto& segment : nextSegments) {
    for (const auto& old : firstSegments) EXPECT_NE(segment.name, old.name);
    for (const auto& old : lastSegments) EXPECT_NE(segment.name, old.name);
    EXPECT_EQ(leftOnDisk.count(segment.name), 0u) << segment.name << " overwrites the first owner's copy";
  }
  const auto reported = backend_->hlsPosition("room");
  ASSERT_TRUE(reported);
  EXPECT_EQ(reported->discontinuitySequence, 1u);
}

// What a player sees across a failover, served as the edge would: the first owner's live
// playlist; while no node owns the room, the last copy of it (nginx's stale cache); then the
// reopened room's. ffmpeg, reading live over HTTP all along, carries on into the second
// owner's segments: the first owner's tone (440 Hz) and then the second's (660 Hz) are both
// in what it decoded.
class ServedAsTheEdgeWould {
 public:
  explicit ServedAsTheEdgeWould(roomcast::hls::Registry& registry) : registry_(registry) {
    server_ = soup_server_new(nullptr, nullptr);
    soup_server_add_handler(server_, "/hls/room/", &ServedAsTheEdgeWould::handle, this, nullptr);
    g_autoptr(GError) error = nullptr;
    EXPECT_TRUE(soup_server_listen_local(server_, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
        << (error ? error->message : "");
    GSList* uris = soup_server_get_uris(server_);
    if (uris) {
      g_autofree char* url = g_uri_to_string(static_cast<GUri*>(uris->data));
      url_ = url;
    }
    g_slist_free_full(uris, reinterpret_cast<GDestroyNotify>(g_uri_unref));
  }
  ~ServedAsTheEdgeWould() { g_object_unref(server_); }
  std::string playlistUrl() const { return url_ + "hls/room/index.m3u8"; }
  // The first owner died: its last playlist is served, until the second owner's is.
  void freeze() { frozen_ = registry_.published("room"); }
  void thaw() {
    frozen_.reset();
    owner_ = 2;
  }
  // The segments fetched from owner 1 or 2.
  std::vector<std::string> fetched(int owner) const {
    std::vector<std::string> out;
    for (const auto& [from, name] : fetched_)
      if (from == owner) out.push_back(name);
    return out;
  }

 private:
  static void handle(SoupServer*, SoupServerMessage* message, const char* path, GHashTable*, gpointer data) {
    auto* self = static_cast<ServedAsTheEdgeWould*>(data);
    auto room = self->frozen_ ? self->frozen_ : self->registry_.published("room");
    const std::string file = std::string(path).substr(std::string("/hls/room/").size());
    std::shared_ptr<const std::string> bytes;
    const char* type = "video/mp2t";
    if (room && room->playlists.count(file) && room->playlists.at(file)) {
      bytes = room->playlists.at(file)->bytes;
      type = "application/vnd.apple.mpegurl";
    } else if (room && room->segments.count(file)) {
      bytes = room->segments.at(file).bytes;
      self->fetched_.emplace_back(self->owner_, file);
    }
    if (!bytes) {
      soup_server_message_set_status(message, 404, nullptr);
      return;
    }
    soup_server_message_set_status(message, 200, nullptr);
    soup_server_message_set_response(message, type, SOUP_MEMORY_COPY, bytes->data(), bytes->size());
  }

  roomcast::hls::Registry& registry_;
  SoupServer* server_ = nullptr;
  std::string url_;
  std::shared_ptr<const roomcast::hls::PublishedRoom> frozen_;
  int owner_ = 1;
  std::vector<std::pair<int, std::string>> fetched_;
};

// ffmpeg as a live player, on the test's main context (the edge it reads from runs there, so
// waiting for it must keep that context going). Its errors go to a file.
class LivePlayer {
 public:
  LivePlayer(const std::string& url, const std::string& wav, const std::string& log) : log_(log) {
    g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
    g_subprocess_launcher_set_stderr_file_path(launcher, log.c_str());
    g_autoptr(GError) error = nullptr;
    process_ = g_subprocess_launcher_spawn(launcher, &error, "ffmpeg", "-nostdin", "-v", "error", "-y", "-i",
                                           url.c_str(), "-ac", "1", "-ar", "48000", wav.c_str(), nullptr);
    EXPECT_NE(process_, nullptr) << (error ? error->message : "");
    if (process_) g_subprocess_wait_async(process_, nullptr, &LivePlayer::exited, &done_);
  }
  ~LivePlayer() {
    if (process_ && !done_) g_subprocess_force_exit(process_);  // ours, by its PID
    iterate([this] { return done_; }, 10);
    g_clear_object(&process_);
  }
  // Asks it to end its file (SIGINT, as a user's ^C) and waits; false if it did not exit.
  bool finish(double seconds) {
    if (!process_) return false;
    if (!done_) g_subprocess_send_signal(process_, SIGINT);
    return iterate([this] { return done_; }, seconds) && g_subprocess_get_if_exited(process_);
  }
  std::string errors() const {
    g_autofree char* text = nullptr;
    return g_file_get_contents(log_.c_str(), &text, nullptr, nullptr) ? text : "";
  }

 private:
  static void exited(GObject*, GAsyncResult*, gpointer done) { *static_cast<bool*>(done) = true; }
  std::string log_;
  GSubprocess* process_ = nullptr;
  bool done_ = false;
};

TEST_F(HlsContinuation, LivePlayerCarriesOnIntoTheNextOwnersSegments) {
  ServedAsTheEdgeWould edge(registry_);
  ASSERT_TRUE(backend_->startRoom({"room", false}));
  started_ = true;
  ASSERT_NO_FATAL_FAILURE(startTonalSpeaker(440));
  servedPlaylist("index.m3u8", 3);
  const std::string wav = scratch_.path() + "/heard.wav";
  LivePlayer ffmpeg(edge.playlistUrl(), wav, scratch_.path() + "/ffmpeg.log");
  ASSERT_TRUE(iterate([&] { return edge.fetched(1).size() >= 5; }, 30))
      << "ffmpeg did not play the first owner's room live: " << ffmpeg.errors();

  // The first owner dies; the edge serves its last playlist until the room is back.
  edge.freeze();
  const int64_t diedUs = g_get_monotonic_time();
  const auto position = backend_->hlsPosition("room");
  ASSERT_TRUE(position);
  bool stopped = false;
  backend_->stopRoom("room", [&](roomcast::core::RoomMediaSummary) { stopped = true; });
  ASSERT_TRUE(iterate([&] { return stopped; }, 20));
  backend_ = std::make_unique<GstMediaBackend>(config_, g_main_context_default());
  backend_->setObserver(&observer_);
  roomcast::core::RoomMediaConfig reopened;
  reopened.roomId = "room";
  reopened.continueHls = roomcast::core::continueAfter(*position, g_get_real_time() / 1000);
  ASSERT_TRUE(backend_->startRoom(reopened));
  ASSERT_NO_FATAL_FAILURE(startTonalSpeaker(660));
  // A few seconds without an owner, as in a failover (the lease runs out first).
  const auto reopenedSegments = roomcast::testing::parsePlaylist(servedPlaylist("index.m3u8", 3));
  ASSERT_FALSE(reopenedSegments.empty());
  edge.thaw();
  const double gapSeconds = (g_get_monotonic_time() - diedUs) / 1e6;

  EXPECT_TRUE(iterate([&] { return edge.fetched(2).size() >= 4; }, 30))
      << "ffmpeg did not go on into the second owner's segments: " << ffmpeg.errors();
  ASSERT_TRUE(ffmpeg.finish(20)) << "ffmpeg did not end its file: " << ffmpeg.errors();
  // From the reopened room's first segment on: a player that took its numbers for old ones
  // would skip them and wait for a number it has not seen yet.
  const auto second = edge.fetched(2);
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(second.front(), reopenedSegments.front().name);

  roomcast::audio::PcmAudio audio;
  ASSERT_TRUE(roomcast::audio::readWav(wav, audio)) << ffmpeg.errors();
  const std::vector<float> mono = roomcast::audio::toMonoFloat(audio);
  const size_t oneSecond = static_cast<size_t>(audio.sampleRate);
  ASSERT_GT(mono.size(), 4 * oneSecond) << ffmpeg.errors();
  const std::vector<float> head(mono.begin(), mono.begin() + 2 * oneSecond);
  const std::vector<float> tail(mono.end() - 2 * oneSecond, mono.end());
  const double firstOwner = roomcast::audio::fractionOfWindowsWithTone(head, audio.sampleRate, 440);
  const double secondOwner = roomcast::audio::fractionOfWindowsWithTone(tail, audio.sampleRate, 660);
  std::printf("owner gap %.2f s; ffmpeg fetched %zu + %zu segments, decoded %.2f s: 440 Hz in %.0f %% of the "
              "first 2 s, 660 Hz in %.0f %% of the last 2 s; ffmpeg said: %s\n",
              gapSeconds, edge.fetched(1).size(), second.size(), mono.size() / double(audio.sampleRate),
              firstOwner * 100, secondOwner * 100, ffmpeg.errors().c_str());
  EXPECT_GT(firstOwner, 0.5);
  EXPECT_GT(secondOwner, 0.5);
}

}  // namespace
