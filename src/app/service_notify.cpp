#include "app/service_notify.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdint>

namespace roomcast::app {

void notifyReady(const std::string& status) {
  const std::string message = "READY=1\nSTATUS=" + status;
  if (sd_notify(0, message.c_str()) < 0) g_warning("sd_notify READY failed");
}

void notifyStopping() { sd_notify(0, "STOPPING=1\nSTATUS=finishing every room's outputs"); }

glib_support::Source startWatchdogPings(GMainContext* context) {
  uint64_t usec = 0;
  // > 0 only when systemd set WATCHDOG_USEC for this very process (WATCHDOG_PID).
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return {};
  // The ping is a main-loop source on purpose: it is the control thread that must be alive.
  auto pings = glib_support::Source::timeout(context, static_cast<guint>(std::max<uint64_t>(usec / 2000, 1)),
                                             [](gpointer) -> gboolean {
                                               sd_notify(0, "WATCHDOG=1");
                                               return G_SOURCE_CONTINUE;
                                             },
                                             nullptr);
  g_message("systemd watchdog: pinging every %llu ms", static_cast<unsigned long long>(usec / 2000));
  return pings;
}

}  // namespace roomcast::app
