#include "media/lossy_link.h"

namespace roomcast::media {

namespace {

constexpr const char* kRepeatingKey = "roomcast-dtls-repeat";

// Set while a probe pushes its extra copies, so those copies pass through it untouched.
thread_local bool repeating = false;

// Streaming thread, on the ICE sink's sink pad, before the datagram is sent: sends the
// extra copies first, then lets the original through.
GstPadProbeReturn repeatHandshake(GstPad* pad, GstPadProbeInfo* info, gpointer) {
  if (repeating) return GST_PAD_PROBE_OK;
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  GstMapInfo map;
  if (!buffer || !gst_buffer_map(buffer, &map, GST_MAP_READ)) return GST_PAD_PROBE_OK;
  const bool handshake = isDtlsHandshake(map.data, map.size);
  gst_buffer_unmap(buffer, &map);
  if (!handshake) return GST_PAD_PROBE_OK;
  repeating = true;
  // The pad's stream lock is recursive: chaining here is what the upstream push would do.
  for (int i = 1; i < kDtlsHandshakeCopies; i++)
    if (gst_pad_chain(pad, gst_buffer_ref(buffer)) != GST_FLOW_OK) break;
  repeating = false;
  return GST_PAD_PROBE_OK;
}

void watchIceSink(GstElement* element) {
  GstElementFactory* factory = gst_element_get_factory(element);
  if (!factory || g_strcmp0(GST_OBJECT_NAME(factory), "nicesink") != 0) return;
  if (g_object_get_data(G_OBJECT(element), kRepeatingKey)) return;
  g_object_set_data(G_OBJECT(element), kRepeatingKey, GINT_TO_POINTER(1));
  g_autoptr(GstPad) sink = gst_element_get_static_pad(element, "sink");
  if (sink) gst_pad_add_probe(sink, GST_PAD_PROBE_TYPE_BUFFER, repeatHandshake, nullptr, nullptr);
}

// A bin may arrive with its ICE sink already inside (webrtcbin builds a transport's bin
// before adding it), so look inside what was added too.
void watchIceSinksIn(GstElement* element) {
  watchIceSink(element);
  if (!GST_IS_BIN(element)) return;
  GstIterator* it = gst_bin_iterate_recurse(GST_BIN(element));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    watchIceSink(GST_ELEMENT(g_value_get_object(&item)));
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
}

void onDeepElementAdded(GstBin*, GstBin*, GstElement* element, gpointer) { watchIceSinksIn(element); }

}  // namespace

bool isDtlsHandshake(const guint8* data, gsize size) {
  // 13 bytes of DTLS record header; content type 20 (change_cipher_spec) or 22 (handshake).
  return size >= 13 && (data[0] == 20 || data[0] == 22);
}

void prepareForLossyLinks(GstElement* webrtcbin) {
  g_signal_connect(webrtcbin, "deep-element-added", G_CALLBACK(onDeepElementAdded), nullptr);
  watchIceSinksIn(webrtcbin);
}

}  // namespace roomcast::media
