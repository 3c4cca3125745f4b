// Tells systemd (Type=notify) how roomcastd is doing: READY=1 once it listens, WATCHDOG=1 from
// the control loop while the loop turns, STOPPING=1 when it begins to shut down. Outside
// systemd (no NOTIFY_SOCKET) every call does nothing.
#pragma once

#include <glib.h>

#include <string>

#include "glib_support/source.h"

namespace roomcast::app {

// READY=1 with a status line (systemctl status shows it).
void notifyReady(const std::string& status);
void notifyStopping();
// When the unit sets WatchdogSec=, pings systemd from `context` at half that interval: a
// control loop stuck for longer gets roomcastd restarted. Returns the pings' source (empty: none).
glib_support::Source startWatchdogPings(GMainContext* context);

}  // namespace roomcast::app
