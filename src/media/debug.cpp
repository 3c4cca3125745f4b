#include "media/debug.h"

GST_DEBUG_CATEGORY(roomcast_media_debug);
GST_DEBUG_CATEGORY(roomcast_room_debug);

namespace roomcast::media {

void initDebugCategories() {
  static gsize once = 0;
  if (g_once_init_enter(&once)) {
    GST_DEBUG_CATEGORY_INIT(roomcast_media_debug, "roomcast-media", 0, "roomcast speaker branches and WebRTC");
    GST_DEBUG_CATEGORY_INIT(roomcast_room_debug, "roomcast-room", 0, "roomcast room pipelines");
    g_once_init_leave(&once, 1);
  }
}

}  // namespace roomcast::media
