// How a streaming thread hands work to the thread that runs a GMainContext (the control
// thread, or the CLI's main loop).
#pragma once

#include <glib.h>

#include <functional>
#include <utility>

#include "glib_support/owned_data.h"

namespace roomcast::glib_support {

// Runs `fn` on the thread that iterates `context` (nullptr: the global default), always from an
// idle source, never in the calling thread. g_main_context_invoke() would run it right there
// when the calling thread can acquire the context: any thread can while its owner is between
// iterations (a test driving the loop by hand, a loop not yet running or already stopped), and
// then a callback meant for the control thread races with it, or runs before the object it
// names is registered and is dropped (a speaker's ICE candidates were lost so).
inline void postToContext(GMainContext* context, std::function<void()> fn, int priority = G_PRIORITY_DEFAULT) {
  using Task = std::function<void()>;
  GSource* source = g_idle_source_new();
  g_source_set_priority(source, priority);
  auto task = handOff<Task>(std::move(fn));
  g_source_set_callback(
      source,
      [](gpointer data) -> gboolean {
        handedOff<Task>(data)();
        return G_SOURCE_REMOVE;
      },
      task.data, task.destroy);
  g_source_attach(source, context);
  g_source_unref(source);
}

}  // namespace roomcast::glib_support
