// One owner for a GSource attached to a main context: destroying the owner (or reset()) takes
// the source out of its context, on any context, and also when the source already removed
// itself (returned G_SOURCE_REMOVE), which an id and g_source_remove() cannot tell apart from
// an id reused by another source.
#pragma once

#include <glib.h>

#include <utility>

#include "glib_support/owned_data.h"

namespace roomcast::glib_support {

class Source {
 public:
  Source() = default;
  ~Source() { reset(); }
  Source(Source&& other) noexcept : source_(std::exchange(other.source_, nullptr)) {}
  Source& operator=(Source&& other) noexcept {
    if (this != &other) {
      reset();
      source_ = std::exchange(other.source_, nullptr);
    }
    return *this;
  }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  // Attaches `source` (new; its reference is handed over) with its callback to `context`
  // (nullptr: the global default).
  static Source attach(GSource* source, GMainContext* context, GSourceFunc fn, gpointer data,
                       GDestroyNotify destroy = nullptr) {
    g_source_set_callback(source, fn, data, destroy);
    g_source_attach(source, context);
    Source owner;
    owner.source_ = source;
    return owner;
  }
  static Source timeout(GMainContext* context, guint ms, GSourceFunc fn, gpointer data,
                        GDestroyNotify destroy = nullptr) {
    return attach(g_timeout_source_new(ms), context, fn, data, destroy);
  }
  // Whole seconds, woken together with the context's other second timers (g_timeout_add_seconds).
  static Source timeoutSeconds(GMainContext* context, guint seconds, GSourceFunc fn, gpointer data,
                               GDestroyNotify destroy = nullptr) {
    return attach(g_timeout_source_new_seconds(seconds), context, fn, data, destroy);
  }
  template <class T>
  static Source timeout(GMainContext* context, guint ms, GSourceFunc fn, OwnedData<T> data) {
    return timeout(context, ms, fn, data.data, data.destroy);
  }

  // Attached and not destroyed yet: it will still fire (again).
  bool pending() const { return source_ && !g_source_is_destroyed(source_); }

  void reset() {
    if (!source_) return;
    g_source_destroy(source_);  // does nothing to a source already destroyed
    g_source_unref(std::exchange(source_, nullptr));
  }

 private:
  GSource* source_ = nullptr;
};

}  // namespace roomcast::glib_support
