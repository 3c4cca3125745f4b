// RAII for GObject-based GStreamer objects. Floating references (fresh elements) are sunk
// on adoption, so ownership is always explicit: GstPtr<T>::adopt for transfer-full results,
// GstPtr<T>::ref to take a new reference to a borrowed pointer.
#pragma once

#include <gst/gst.h>

#include <utility>

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

}  // namespace roomcast::media
