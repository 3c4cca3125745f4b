// Gives hlssink2 memory instead of files. hlssink2 asks for an output stream for every segment
// (get-fragment-stream) and for every version of its playlist (get-playlist-stream), and asks
// before it forgets an old segment (delete-fragment); by default it opens files for them. Here
// each stream is a buffer in memory: when hlssink2 has listed a segment in a new version of its
// playlist, the segment is whole (splitmuxsink closed it first), and its bytes, its name and
// the duration hlssink2 measured are kept for the control thread, which takes them when the
// segment's splitmuxsink-fragment-closed message reaches the bus (hlssink2 writes its playlist
// while handling that message, before passing it on). Nothing is written to or read from disk.
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hls/hls_room.h"

namespace roomcast::media {

class HlsMemorySink {
  // Only attach() can make one, so only it constructs: the constructor is public for std::make_unique.
  struct Passkey {
    explicit Passkey() = default;
  };

 public:
  // Segments hlssink2 closed and listed, oldest first.
  struct Closed {
    std::vector<hls::ListedSegment> segments;
    std::vector<std::shared_ptr<const std::string>> bytes;  // one per segment
  };

  // Connects to `hlssink2`'s signals; the sink keeps the returned object alive while it may
  // still call it (and so does the caller, to take what it collected).
  static std::shared_ptr<HlsMemorySink> attach(GstElement* hlssink2);
  explicit HlsMemorySink(Passkey) {}
  ~HlsMemorySink();

  // What was closed since the last call (any thread; the control thread's).
  Closed take();

 private:
  static GOutputStream* onFragmentStream(GstElement*, const char* location, gpointer self);
  static GOutputStream* onPlaylistStream(GstElement*, const char* location, gpointer self);
  static void onDeleteFragment(GstElement*, const char* location, gpointer self);
  void onPlaylistWritten(const std::string& text);  // on the streaming thread

  std::mutex mutex_;
  std::map<std::string, GOutputStream*> writing_;  // segments not listed yet, by name (a reference each)
  Closed closed_;
};

}  // namespace roomcast::media
