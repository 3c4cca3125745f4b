// The control loop's side of the core's environments: the wall clock, one-shot timers on the
// GLib main loop (grace periods; nothing ticks while idle) and random ids.
#pragma once

#include "core/room_manager.h"

namespace roomcast::app {

// A core::Environment with newRoomId, nowUnixMs, schedule, cancel and newResumeToken set;
// the store's and the other components' callbacks are the caller's to add.
core::Environment loopEnvironment();

}  // namespace roomcast::app
