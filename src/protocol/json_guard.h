#pragma once

#include <string_view>

#include "core/result.h"

namespace roomcast::protocol {

// Size, UTF-8 and nesting depth of a JSON text, checked with a linear scan that
// understands strings and escapes. Runs before json-glib sees the text.
core::Status checkJsonBounds(std::string_view text, size_t maxBytes, int maxDepth);

}  // namespace roomcast::protocol
