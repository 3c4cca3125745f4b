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

guint startWatchdogPings(GMainContext* context) {
  uint64_t usec = 0;
  // > 0 only when systemd set WATCHDOG_USEC for this very process (WATCHDOG_PID).
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return 0;
  // The ping is a main-loop source on purpose: it is the control thread that must be alive.
  GSource* source = g_timeout_source_new(static_cast<guint>(std::max<uint64_t>(usec / 2000, 1)));
  g_source_set_callback(source, [](gpointer) -> gboolean {
    sd_notify(0, "WATCHDOG=1");
    return G_SOURCE_CONTINUE;
  }, nullptr, nullptr);
  const guint id = g_source_attach(source, context);
  g_source_unref(source);
  g_message("systemd watchdog: pinging every %llu ms", static_cast<unsigned long long>(usec / 2000));
  return id;
}

}  // namespace roomcast::app
