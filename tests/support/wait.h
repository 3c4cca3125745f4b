// Event waits with deadlines for tests: spin a private main context until a condition
// holds or the deadline passes. Nothing here sleeps for a fixed time.
#pragma once

#include <glib.h>

#include <functional>

namespace roomcast::testing {

// Iterates `context` (blocking on its sources) until `done()` or `timeoutSeconds` elapse.
// Returns done().
bool iterateUntil(GMainContext* context, const std::function<bool()>& done, double timeoutSeconds);

}  // namespace roomcast::testing
