// `roomcast listen`: an HLS listener. It opens a listening session (so the room counts it),
// hlsdemux fetches the playlist and segments, the AAC is decoded, and the PCM is kept for
// --out.
#include "client/listen.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <cstring>

#include "audio/wav.h"
#include "client/rest_client.h"
#include "glib_support/post_to_context.h"
#include "glib_support/source.h"
#include "media/gst_ptr.h"

namespace roomcast::client {

namespace {

// The playlist appears with the room's first segment: wait for it (bounded).
bool waitForPlaylist(const std::string& url, double timeoutSeconds) {
  g_autoptr(SoupSession) session = soup_session_new();
  const gint64 deadline = g_get_monotonic_time() + static_cast<gint64>(timeoutSeconds * G_USEC_PER_SEC);
  while (g_get_monotonic_time() < deadline) {
    HttpResult r = httpRequest(session, "GET", url);
    if (r.status == 200 && r.body.find("#EXTINF") != std::string::npos) return true;
    if (r.status == 0) {
      g_printerr("roomcast: %s\n", describeFailure(r).c_str());
      return false;
    }
    g_usleep(200 * 1000);  // a polite retry interval while the first segment is written
  }
  return false;
}

struct Listener {
  GMainLoop* loop = nullptr;
  audio::PcmAudio heard;
  size_t wantSamples = 0;
  int exitCode = 0;
  bool done = false;
};

GstFlowReturn onNewSample(GstAppSink* sink, gpointer data) {
  auto* self = static_cast<Listener*>(data);
  GstSample* sample = gst_app_sink_pull_sample(sink);
  if (!sample) return GST_FLOW_EOS;
  GstBuffer* buffer = gst_sample_get_buffer(sample);
  GstMapInfo map;
  if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    const auto* s = reinterpret_cast<const int16_t*>(map.data);
    // Appsink callbacks run on one streaming thread; the main loop reads `heard` only
    // after the pipeline has stopped.
    self->heard.samples.insert(self->heard.samples.end(), s, s + map.size / 2);
    gst_buffer_unmap(buffer, &map);
  }
  gst_sample_unref(sample);
  if (self->heard.samples.size() >= self->wantSamples) {
    glib_support::postToContext(nullptr, [self] { g_main_loop_quit(self->loop); });
    return GST_FLOW_EOS;
  }
  return GST_FLOW_OK;
}

// POST /api/v1/rooms/{id}/listen: the session's playlist URL.
std::string openSession(const ListenOptions& options) {
  g_autoptr(SoupSession) session = soup_session_new();
  HttpResult r = httpRequest(session, "POST", options.server + "/api/v1/rooms/" + options.room + "/listen", "{}");
  if (r.status != 201) {
    g_printerr("roomcast: %s\n", describeFailure(r).c_str());
    return "";
  }
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, r.body.c_str(), -1, nullptr)) return "";
  JsonObject* obj = json_node_get_object(json_parser_get_root(parser));
  return json_object_get_string_member_with_default(obj, "hls_url", "");
}

}  // namespace

int runListen(const ListenOptions& options) {
  std::string url = openSession(options);
  if (url.empty()) return 1;
  if (options.rendition != "auto") {  // one media playlist instead of the master
    const std::string playlist = options.rendition == "low" ? "low.m3u8" : "index.m3u8";
    url.replace(url.find("master.m3u8"), std::strlen("master.m3u8"), playlist);
  }
  // The first segment takes a second to appear: wait for a media playlist that lists one.
  std::string mediaUrl = url;
  if (auto at = mediaUrl.find("master.m3u8"); at != std::string::npos)
    mediaUrl.replace(at, std::strlen("master.m3u8"), "index.m3u8");
  if (!waitForPlaylist(mediaUrl, 20)) {
    g_printerr("roomcast: no playable playlist at %s\n", url.c_str());
    return 1;
  }
  const std::string description = "uridecodebin name=source ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=1"
                                  " ! appsink name=heard sync=true";
  g_autoptr(GError) error = nullptr;
  media::ElementPtr pipeline = media::ElementPtr::adopt(gst_parse_launch(description.c_str(), &error));
  if (!pipeline) {
    g_printerr("roomcast: %s\n", error ? error->message : "cannot build the player");
    return 1;
  }
  g_autoptr(GstElement) source = gst_bin_get_by_name(GST_BIN(pipeline.get()), "source");
  g_object_set(source, "uri", url.c_str(), nullptr);
  Listener listener;
  listener.loop = g_main_loop_new(nullptr, FALSE);
  listener.wantSamples = static_cast<size_t>(options.seconds * 48000);
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline.get()), "heard");
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = onNewSample;
  gst_app_sink_set_callbacks(GST_APP_SINK(sink), &callbacks, &listener, nullptr);

  g_autoptr(GstBus) bus = gst_pipeline_get_bus(GST_PIPELINE(pipeline.get()));
  glib_support::Source busWatch = media::watchBus(bus, nullptr, [](GstBus*, GstMessage* m, gpointer l) -> gboolean {
    auto* self = static_cast<Listener*>(l);
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
      g_autoptr(GError) e = nullptr;
      gst_message_parse_error(m, &e, nullptr);
      g_printerr("roomcast: player error: %s\n", e->message);
      self->exitCode = 1;
      g_main_loop_quit(self->loop);
    } else if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS) {
      g_printerr("roomcast: the room's stream ended\n");
      g_main_loop_quit(self->loop);
    }
    return G_SOURCE_CONTINUE;
  }, &listener);
  const auto patienceMs = static_cast<guint>((options.seconds + 30) * 1000);
  glib_support::Source deadline = glib_support::Source::timeout(nullptr, patienceMs, [](gpointer l) -> gboolean {
    g_printerr("roomcast: timed out\n");
    static_cast<Listener*>(l)->exitCode = 1;
    g_main_loop_quit(static_cast<Listener*>(l)->loop);
    return G_SOURCE_REMOVE;
  }, &listener);
  gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
  g_main_loop_run(listener.loop);
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  busWatch.reset();
  deadline.reset();
  g_main_loop_unref(listener.loop);

  g_printerr("roomcast: listened to %.1f s of the room\n", listener.heard.seconds());
  if (!options.out.empty() && !audio::writeWav(options.out, listener.heard)) {
    g_printerr("roomcast: cannot write %s\n", options.out.c_str());
    return 1;
  }
  return listener.heard.samples.empty() ? 1 : listener.exitCode;
}

}  // namespace roomcast::client
