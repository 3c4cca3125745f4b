// RAII for GObject-based GStreamer objects. Floating references (fresh elements) are sunk
// on adoption, so ownership is always explicit: GstPtr<T>::adopt for transfer-full results,
// GstPtr<T>::ref to take a new reference to a borrowed pointer.
#pragma once

#include <gst/gst.h>

#include <string>
#include <vector>

#include <utility>

#include "glib_support/owned_data.h"
#include "glib_support/source.h"

namespace roomcast::media {

template <typename T>
class GstPtr {
 public:
  GstPtr() = default;
  static GstPtr adopt(T* p) {
    GstPtr out;
    if (p && g_object_is_floating(p)) g_object_ref_sink(p);
    out.p_ = p;
    return out;
  }
  static GstPtr ref(T* p) {
    GstPtr out;
    out.p_ = p ? static_cast<T*>(g_object_ref_sink(p)) : nullptr;
    return out;
  }
  GstPtr(const GstPtr& o) : p_(o.p_ ? static_cast<T*>(g_object_ref(o.p_)) : nullptr) {}
  GstPtr(GstPtr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  GstPtr& operator=(GstPtr o) noexcept { std::swap(p_, o.p_); return *this; }
  ~GstPtr() { if (p_) g_object_unref(p_); }

  T* get() const { return p_; }
  T* operator->() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }
  void reset() { GstPtr().swap(*this); }
  void swap(GstPtr& o) noexcept { std::swap(p_, o.p_); }

 private:
  T* p_ = nullptr;
};

using ElementPtr = GstPtr<GstElement>;
using PadPtr = GstPtr<GstPad>;

// gst_element_factory_make that sinks the floating ref; null when the plugin is missing.
inline ElementPtr makeElement(const char* factory, const char* name = nullptr) {
  return ElementPtr::adopt(gst_element_factory_make(factory, name));
}

// makeElement named "<prefix>-<role>", kept in `branch` (elements that are added, linked and
// torn down together); null, and not kept, when the plugin is missing.
inline ElementPtr makeBranchElement(std::vector<ElementPtr>& branch, const std::string& prefix, const char* factory,
                                    const char* role) {
  ElementPtr e = makeElement(factory, (prefix + "-" + role).c_str());
  if (e) branch.push_back(e);
  return e;
}

// A buffer probe on `pad` that owns `state` (freed with the probe: when it is removed or the pad
// goes) and calls `onBuffer(state, info)`, a plain function (a lambda without captures).
template <class State>
gulong addOwningBufferProbe(GstPad* pad, State state, GstPadProbeReturn (*onBuffer)(State&, GstPadProbeInfo*)) {
  struct Probe {
    State state;
    GstPadProbeReturn (*onBuffer)(State&, GstPadProbeInfo*);
  };
  auto held = glib_support::handOff(Probe{std::move(state), onBuffer});
  return gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad*, GstPadProbeInfo* info, gpointer data) {
        auto& probe = glib_support::handedOff<Probe>(data);
        return probe.onBuffer(probe.state, info);
      },
      held.data, held.destroy);
}

// Stops an element and takes it out of a bin that may be running. The bin (a room's pipeline)
// can be finishing an asynchronous change to PLAYING in a GStreamer thread, child by child,
// while the control thread removes a speaker: unguarded, that thread sets the element back to
// PLAYING right after it reached NULL, and it is disposed while running. A webrtcbin disposed
// so never stops its transports: its DTLS connection, DTLS and ICE transports and ICE stream
// stay alive for good (tests/media/test_peer_release.cpp saw them on a loaded machine, with
// "Trying to dispose element peer-..., but it is in PLAYING"). Under the bin's state lock no
// change of the bin's state is in progress, and the locked state keeps the next one from
// touching the element.
inline void removeFromRunningBin(GstBin* bin, GstElement* element) {
  GST_STATE_LOCK(bin);
  gst_element_set_locked_state(element, TRUE);
  gst_element_set_state(element, GST_STATE_NULL);
  if (GST_OBJECT_PARENT(element) == GST_OBJECT(bin)) gst_bin_remove(bin, element);
  GST_STATE_UNLOCK(bin);
}

// A signal connection that disconnects when destroyed (or when reset).
class SignalConnection {
 public:
  SignalConnection() = default;
  SignalConnection(gpointer instance, gulong id) : instance_(instance), id_(id) {
    if (instance_) g_object_weak_ref(G_OBJECT(instance_), &SignalConnection::instanceGone, this);
  }
  SignalConnection(const SignalConnection&) = delete;
  SignalConnection& operator=(const SignalConnection&) = delete;
  ~SignalConnection() { reset(); }
  void reset() {
    if (instance_) {
      g_object_weak_unref(G_OBJECT(instance_), &SignalConnection::instanceGone, this);
      g_signal_handler_disconnect(instance_, id_);
    }
    instance_ = nullptr;
  }

 private:
  static void instanceGone(gpointer self, GObject*) { static_cast<SignalConnection*>(self)->instance_ = nullptr; }
  gpointer instance_ = nullptr;
  gulong id_ = 0;
};

// A watch on `bus` dispatched on `context` (nullptr: the global default), destroyed with the
// returned owner. Unlike gst_bus_add_watch, which hands back an id, nothing is left attached
// once the owner goes.
inline glib_support::Source watchBus(GstBus* bus, GMainContext* context, GstBusFunc onMessage, gpointer data) {
  // A bus source calls a GstBusFunc through the GSourceFunc slot; the double cast says so.
  return glib_support::Source::attach(gst_bus_create_watch(bus), context,
                                      reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)()>(onMessage)), data);
}

}  // namespace roomcast::media
