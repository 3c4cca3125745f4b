// Fixed parts of a room pipeline live as gst-launch fragments in pipelines/*.pipeline, so an
// operator can run exactly what the daemon runs. Lines starting with '#' are comments.
#pragma once

#include <string>

#include "core/result.h"
#include "media/gst_ptr.h"

namespace roomcast::media {

// The launch text of a fragment without its comment lines.
core::Result<std::string> readFragment(const std::string& pipelinesDir, const std::string& name);

// A bin built from the fragment, with its unlinked pads ghosted (one sink: the program).
core::Result<ElementPtr> loadFragmentBin(const std::string& pipelinesDir, const std::string& name,
                                         const std::string& binName);

}  // namespace roomcast::media
