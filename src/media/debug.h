#pragma once

#include <gst/gst.h>

// roomcast's own GStreamer debug categories: GST_DEBUG=roomcast*:5 shows them.
GST_DEBUG_CATEGORY_EXTERN(roomcast_media_debug);
GST_DEBUG_CATEGORY_EXTERN(roomcast_room_debug);

namespace roomcast::media {
void initDebugCategories();
}
