// Tells systemd (Type=notify) how roomcastd is doing: READY=1 once it listens, WATCHDOG=1 from
// the control loop while the loop turns, STOPPING=1 when it begins to shut down. Outside
// systemd (no NOTIFY_SOCKET) every call does nothing.
#pragma once

#include <glib.h>

#include <string>

namespace roomcast::app {

// READY=1 with a status line (systemctl status shows it).
void notifyReady(const std::string& status);
void notifyStopping();
// When the unit sets WatchdogSec=, pings systemd from `context` at half that interval: a
// control loop stuck for longer gets roomcastd restarted. Returns the source id (0: none).
guint startWatchdogPings(GMainContext* context);

}  // namespace roomcast::app
