#include "media/peer_gates.h"

namespace roomcast::media {

SharedListeners* newSharedListeners() {
  return static_cast<SharedListeners*>(g_atomic_rc_box_alloc0(sizeof(SharedListeners)));
}

SharedListeners* refSharedListeners(SharedListeners* listeners) {
  return static_cast<SharedListeners*>(g_atomic_rc_box_acquire(listeners));
}

void unrefSharedListeners(gpointer listeners) { g_atomic_rc_box_release(listeners); }

PeerGates* newPeerGates(SharedListeners* room) {
  auto* gates = static_cast<PeerGates*>(g_atomic_rc_box_alloc0(sizeof(PeerGates)));
  gates->room = refSharedListeners(room);
  return gates;
}

PeerGates* refPeerGates(PeerGates* gates) { return static_cast<PeerGates*>(g_atomic_rc_box_acquire(gates)); }

void unrefPeerGates(gpointer gates) {
  g_atomic_rc_box_release_full(gates, [](gpointer p) { unrefSharedListeners(static_cast<PeerGates*>(p)->room); });
}

void setSharedReturn(PeerGates* gates, bool shared) {
  const gint from = shared ? 0 : 1, to = shared ? 1 : 0;
  if (g_atomic_int_compare_and_exchange(&gates->sharedReturn, from, to))
    g_atomic_int_add(&gates->room->count, shared ? 1 : -1);
}

namespace {

constexpr auto kData = static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST);

GstPadProbeReturn passWhileMixed(GstPad*, GstPadProbeInfo*, gpointer data) {
  return g_atomic_int_get(&static_cast<PeerGates*>(data)->mixed) ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

// On a branch of the room's shared tee: besides gating, it delivers the buffer itself and
// reports OK, because tee stops serving every later branch when one returns an error or
// FLUSHING (a speaker being torn down must not cost the others their audio).
GstPadProbeReturn passWhileShared(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  if (!g_atomic_int_get(&static_cast<PeerGates*>(data)->sharedReturn)) return GST_PAD_PROBE_DROP;
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  GstPad* peer = buffer ? gst_pad_get_peer(pad) : nullptr;
  if (!peer) return GST_PAD_PROBE_DROP;
  // Sticky events went out before the probe ran (gst_pad_push sends them first).
  const GstFlowReturn ret = gst_pad_chain(peer, buffer);
  if (ret < GST_FLOW_EOS) GST_DEBUG_OBJECT(peer, "shared return: %s", gst_flow_get_name(ret));
  gst_object_unref(peer);
  GST_PAD_PROBE_INFO_DATA(info) = nullptr;
  GST_PAD_PROBE_INFO_FLOW_RETURN(info) = GST_FLOW_OK;
  return GST_PAD_PROBE_HANDLED;
}

GstPadProbeReturn passWhenReady(GstPad*, GstPadProbeInfo*, gpointer data) {
  return g_atomic_int_get(&static_cast<PeerGates*>(data)->transportReady) ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

GstPadProbeReturn switchReturn(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* gates = static_cast<PeerGates*>(data);
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
    setSharedReturn(gates, false);
    return GST_PAD_PROBE_OK;
  }
  GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
  if (event && GST_EVENT_TYPE(event) == GST_EVENT_GAP) {
    setSharedReturn(gates, true);
    return GST_PAD_PROBE_DROP;
  }
  return GST_PAD_PROBE_OK;
}

void addProbe(GstPad* pad, GstPadProbeType type, GstPadProbeCallback callback, PeerGates* gates) {
  gst_pad_add_probe(pad, type, callback, refPeerGates(gates), unrefPeerGates);
}

}  // namespace

void addUplinkGate(GstPad* pad, PeerGates* gates) { addProbe(pad, kData, passWhileMixed, gates); }

void addReturnSwitch(GstPad* minusPad, PeerGates* gates) {
  addProbe(minusPad, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
           switchReturn, gates);
}

void addSharedReturnGate(GstPad* pad, PeerGates* gates) {
  addProbe(pad, GST_PAD_PROBE_TYPE_BUFFER, passWhileShared, gates);
}

void addTransportGate(GstPad* pad, PeerGates* gates) { addProbe(pad, kData, passWhenReady, gates); }

void addSharedEncoderGate(GstPad* pad, SharedListeners* listeners) {
  gst_pad_add_probe(
      pad, kData,
      [](GstPad*, GstPadProbeInfo*, gpointer data) {
        return g_atomic_int_get(&static_cast<SharedListeners*>(data)->count) > 0 ? GST_PAD_PROBE_OK
                                                                                 : GST_PAD_PROBE_DROP;
      },
      refSharedListeners(listeners), unrefSharedListeners);
}

}  // namespace roomcast::media
