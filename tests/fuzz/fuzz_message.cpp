// Fuzz target: the WebSocket message decoder (protocol/messages.h), bounds checks included.
#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string ref;
  auto decoded = roomcast::protocol::decodeClientMessage(
      std::string_view(reinterpret_cast<const char*>(data), size), &ref);
  // Whatever came in, the error (or nothing) encodes without trouble.
  if (!decoded) (void)roomcast::protocol::encodeError(decoded.error(), ref);
  return 0;
}
