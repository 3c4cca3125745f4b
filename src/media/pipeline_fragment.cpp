#include "media/pipeline_fragment.h"

#include <glib.h>

#include <sstream>

namespace roomcast::media {

using core::Error;
using core::ErrorCode;

core::Result<std::string> readFragment(const std::string& pipelinesDir, const std::string& name) {
  g_autofree char* path = g_build_filename(pipelinesDir.c_str(), (name + ".pipeline").c_str(), nullptr);
  g_autofree char* contents = nullptr;
  g_autoptr(GError) error = nullptr;
  if (!g_file_get_contents(path, &contents, nullptr, &error)) {
    Error e{ErrorCode::Internal, std::string("cannot read pipeline fragment: ") + error->message};
    return e;
  }
  std::istringstream lines(contents);
  std::string line, description;
  while (std::getline(lines, line)) {
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    description += line + " ";
  }
  return description;
}

// The unlinked sink pad among the bin's direct children (not its children's children).
static GstPad* firstUnlinkedSinkPad(GstBin* bin) {
  GstPad* found = nullptr;
  GstIterator* elements = gst_bin_iterate_elements(bin);
  GValue item = G_VALUE_INIT;
  while (!found && gst_iterator_next(elements, &item) == GST_ITERATOR_OK) {
    auto* element = GST_ELEMENT(g_value_get_object(&item));
    GstIterator* pads = gst_element_iterate_sink_pads(element);
    GValue padItem = G_VALUE_INIT;
    while (!found && gst_iterator_next(pads, &padItem) == GST_ITERATOR_OK) {
      auto* pad = GST_PAD(g_value_get_object(&padItem));
      if (!gst_pad_is_linked(pad)) found = GST_PAD(gst_object_ref(pad));
      g_value_reset(&padItem);
    }
    g_value_unset(&padItem);
    gst_iterator_free(pads);
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(elements);
  return found;
}

core::Result<ElementPtr> loadFragmentBin(const std::string& pipelinesDir, const std::string& name,
                                         const std::string& binName) {
  auto description = readFragment(pipelinesDir, name);
  if (!description) return description.error();
  g_autoptr(GError) error = nullptr;
  // Ghost pads by hand: the parser's ghost_unlinked_pads searches nested bins too and would
  // grab a pad inside hlssink2's splitmuxsink (its muxer's src), breaking it.
  GstElement* bin = gst_parse_bin_from_description_full(description.value().c_str(), FALSE, nullptr,
                                                        GST_PARSE_FLAG_FATAL_ERRORS, &error);
  if (!bin) {
    Error e{ErrorCode::Internal, "pipeline fragment '" + name + "' does not parse: " +
                                     (error ? error->message : "unknown error")};
    return e;
  }
  gst_object_set_name(GST_OBJECT(bin), binName.c_str());
  ElementPtr owned = ElementPtr::adopt(bin);
  GstPad* input = firstUnlinkedSinkPad(GST_BIN(bin));
  if (!input) return Error{ErrorCode::Internal, "pipeline fragment '" + name + "' has no free sink pad"};
  gst_element_add_pad(bin, gst_ghost_pad_new("sink", input));
  gst_object_unref(input);
  return owned;
}

}  // namespace roomcast::media
