// docs/protocol.md's field limits, generated from the message table (message_table.h) so
// that the limits clients read are the ones the server applies. `ninja -C build protocol-doc`
// rewrites the block; test_protocol_table fails while the committed block differs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace roomcast::protocol {

// The lines that open and close the generated block in docs/protocol.md.
inline constexpr std::string_view kReferenceBegin =
    "<!-- generated from src/protocol/message_table.cpp by `ninja -C build protocol-doc`: "
    "edit the table, not this block -->";
inline constexpr std::string_view kReferenceEnd = "<!-- end of the generated block -->";

// The field limits as Markdown: a sentence on the errors, then one table row per field.
std::string fieldLimitsReference();

// `doc` with the text between its two marker lines replaced by fieldLimitsReference();
// nothing when the markers are missing or out of order.
std::optional<std::string> withFieldLimitsReference(const std::string& doc);

}  // namespace roomcast::protocol
