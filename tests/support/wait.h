// Event waits with deadlines for tests: spin a private main context until a condition
// holds or the deadline passes. Nothing here sleeps for a fixed time.
#pragma once

#include <glib.h>

#include <functional>

namespace roomcast::testing {

// Iterates `context` (blocking on its sources) until `done()` or `timeoutSeconds` elapse.
// Returns done().
bool iterateUntil(GMainContext* context, const std::function<bool()>& done, double timeoutSeconds);

// For state that announces no event (a file growing, a row appearing): checks `done()` every
// `intervalSeconds` until it holds or `timeoutSeconds` elapse. Returns done().
bool pollUntil(const std::function<bool()>& done, double timeoutSeconds, double intervalSeconds = 0.1);

}  // namespace roomcast::testing
