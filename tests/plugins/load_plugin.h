// The roomcast plugin, loaded from its build path (ROOMCAST_PLUGIN_FILE, set by meson), so the
// plugin tests depend neither on GST_PLUGIN_PATH nor on the registry's state.
#pragma once

#include <gst/gst.h>
#include <gtest/gtest.h>

inline void LoadRoomcastPlugin() {
  gst_init(nullptr, nullptr);
  GError *error = nullptr;
  GstPlugin *plugin = gst_plugin_load_file(ROOMCAST_PLUGIN_FILE, &error);
  ASSERT_NE(plugin, nullptr) << (error ? error->message : "unknown error");
  gst_object_unref(plugin);
}
