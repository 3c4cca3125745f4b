#include "protocol/json_guard.h"

#include <string>

#include "core/room_manager.h"

namespace roomcast::protocol {

using core::Error;
using core::ErrorCode;

core::Status checkJsonBounds(std::string_view text, size_t maxBytes, int maxDepth) {
  if (text.size() > maxBytes)
    return Error{ErrorCode::TooLarge, "message is " + std::to_string(text.size()) + " bytes; the limit is " +
                                          std::to_string(maxBytes)};
  if (!core::isValidUtf8(text)) return Error{ErrorCode::InvalidUtf8, "message is not valid UTF-8"};
  int depth = 0;
  bool inString = false;
  bool escaped = false;
  for (size_t i = 0; i < text.size(); i++) {
    const char c = text[i];
    if (c == '\0') return Error{ErrorCode::InvalidJson, "not valid JSON: a NUL byte"};
    if (inString) {
      if (escaped) {
        escaped = false;
        // json-glib keeps strings as C strings: an escaped NUL would silently cut the text
        // short (a name "a\u0000admin" would arrive as "a").
        if (c == 'u' && text.substr(i + 1, 4) == "0000")
          return Error{ErrorCode::ValidationFailed, "text must not contain NUL characters"};
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        inString = false;
      }
      continue;
    }
    switch (c) {
      case '"': inString = true; break;
      case '{':
      case '[':
        if (++depth > maxDepth)
          return Error{ErrorCode::TooDeep, "JSON nests deeper than " + std::to_string(maxDepth) + " levels"};
        break;
      case '}':
      case ']': depth = depth > 0 ? depth - 1 : 0; break;
      // json-glib also takes 'single-quoted' strings and /* comments */, which this scan
      // would not see through: they are not JSON, so refuse them here.
      case '\'':
      case '/': return Error{ErrorCode::InvalidJson, "not valid JSON: quotes and comments outside strings"};
      default: break;
    }
  }
  return core::Ok{};
}

}  // namespace roomcast::protocol
