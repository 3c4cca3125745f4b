/* Registers the roomcast plugin's elements. */
#include <gst/gst.h>

#include "gstmixminus.h"
#include "gstopusfecdec.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ok = GST_ELEMENT_REGISTER (mixminus, plugin);
  ok &= GST_ELEMENT_REGISTER (opusfecdec, plugin);
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, roomcast,
    "Roomcast audio elements (mix-minus mixer, low-delay Opus FEC decoder)", plugin_init, VERSION,
    "MIT/X11", PACKAGE, "roomcast")
