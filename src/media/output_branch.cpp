#include "media/output_branch.h"

#include "media/debug.h"

#define GST_CAT_DEFAULT roomcast_room_debug

namespace roomcast::media {

namespace {

// The ghost pad's own chain function (gst_proxy_pad_chain_default) forwards the buffer into
// the bin; only its return is replaced. A buffer probe cannot do this: probes see a buffer
// before it is pushed, never what the push returned.
GstFlowReturn chainIsolated(GstPad* pad, GstObject* parent, GstBuffer* buffer) {
  const GstFlowReturn ret = gst_proxy_pad_chain_default(pad, parent, buffer);
  if (ret < GST_FLOW_EOS) GST_LOG_OBJECT(pad, "output branch returned %s; dropped", gst_flow_get_name(ret));
  return GST_FLOW_OK;
}

GstFlowReturn chainListIsolated(GstPad* pad, GstObject* parent, GstBufferList* list) {
  const GstFlowReturn ret = gst_proxy_pad_chain_list_default(pad, parent, list);
  if (ret < GST_FLOW_EOS) GST_LOG_OBJECT(pad, "output branch returned %s; dropped", gst_flow_get_name(ret));
  return GST_FLOW_OK;
}

}  // namespace

void isolateBranchInput(GstElement* bin) {
  g_autoptr(GstPad) input = gst_element_get_static_pad(bin, "sink");
  if (!input || !GST_IS_GHOST_PAD(input)) return;
  gst_pad_set_chain_function(input, chainIsolated);
  gst_pad_set_chain_list_function(input, chainListIsolated);
}

void discardBranch(ElementPtr bin) {
  if (!bin) return;
  // The call holds its own reference until the state change is done.
  gst_element_call_async(
      bin.get(),
      [](GstElement* element, gpointer) {
        gst_element_set_state(element, GST_STATE_NULL);
        GST_DEBUG_OBJECT(element, "discarded");
      },
      nullptr, nullptr);
}

bool isInside(GstObject* object, GstElement* ancestor) {
  if (!object || !ancestor) return false;
  return object == GST_OBJECT(ancestor) || gst_object_has_as_ancestor(object, GST_OBJECT(ancestor));
}

}  // namespace roomcast::media
