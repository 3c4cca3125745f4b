#include "wait.h"

namespace roomcast::testing {

bool iterateUntil(GMainContext* context, const std::function<bool()>& done, double timeoutSeconds) {
  bool expired = false;
  GSource* timer = g_timeout_source_new(static_cast<guint>(timeoutSeconds * 1000));
  g_source_set_callback(timer, [](gpointer flag) -> gboolean { *static_cast<bool*>(flag) = true; return G_SOURCE_REMOVE; },
                        &expired, nullptr);
  g_source_attach(timer, context);
  while (!done() && !expired) g_main_context_iteration(context, TRUE);
  g_source_destroy(timer);
  g_source_unref(timer);
  return done();
}

bool pollUntil(const std::function<bool()>& done, double timeoutSeconds, double intervalSeconds) {
  GMainContext* context = g_main_context_new();
  GSource* tick = g_timeout_source_new(static_cast<guint>(intervalSeconds * 1000));
  g_source_set_callback(tick, [](gpointer) -> gboolean { return G_SOURCE_CONTINUE; }, nullptr, nullptr);
  g_source_attach(tick, context);
  const bool held = iterateUntil(context, done, timeoutSeconds);
  g_source_destroy(tick);
  g_source_unref(tick);
  g_main_context_unref(context);
  return held;
}

}  // namespace roomcast::testing
