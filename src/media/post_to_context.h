// How a streaming thread hands work to the thread that runs a GMainContext (the control
// thread, or the CLI's main loop).
#pragma once

#include <glib.h>

#include <functional>
#include <utility>

namespace roomcast::media {

// Runs `fn` on the thread that iterates `context` (nullptr: the global default), always from an
// idle source, never in the calling thread. g_main_context_invoke() would run it right there
// when the calling thread can acquire the context: any thread can while its owner is between
// iterations (a test driving the loop by hand, a loop not yet running or already stopped), and
// then a callback meant for the control thread races with it, or runs before the object it
// names is registered and is dropped (a speaker's ICE candidates were lost so).
inline void postToContext(GMainContext* context, std::function<void()> fn, int priority = G_PRIORITY_DEFAULT) {
  GSource* source = g_idle_source_new();
  g_source_set_priority(source, priority);
  g_source_set_callback(
      source,
      [](gpointer p) -> gboolean {
        (*static_cast<std::function<void()>*>(p))();
        return G_SOURCE_REMOVE;
      },
      new std::function<void()>(std::move(fn)), [](gpointer p) { delete static_cast<std::function<void()>*>(p); });
  g_source_attach(source, context);
  g_source_unref(source);
}

}  // namespace roomcast::media
