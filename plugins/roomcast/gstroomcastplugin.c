/* Registers the roomcast plugin's elements. */
#include <gst/gst.h>

#include "gstmixminus.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  return GST_ELEMENT_REGISTER (mixminus, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, roomcast,
    "Roomcast audio elements (mix-minus mixer)", plugin_init, VERSION,
    "MIT/X11", PACKAGE, "roomcast")
