#include "protocol/message_reference.h"

#include <limits>
#include <span>
#include <sstream>
#include <vector>

#include "protocol/bounds.h"
#include "protocol/message_table.h"

namespace roomcast::protocol {

namespace {

std::string bytes(size_t count) {
  if (count >= 1024 && count % 1024 == 0) return std::to_string(count / 1024) + " KiB";
  return std::to_string(count) + " bytes";
}

std::string quotedList(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& value : values) out += (out.empty() ? "`" : ", `") + value + "`";
  return out;
}

// What one field accepts, as the table's third column: kind, limit, allowed values, counts.
std::string accepted(const FieldSpec& field) {
  std::string out;
  switch (field.kind) {
    case FieldKind::String:
      out = field.roomMaxBytes ? "string, ≤ " + bytes(field.roomMaxBytes) + " (the room's limit; the decoder's is " +
                                     bytes(field.maxBytes) + ")"
                               : "string, ≤ " + bytes(field.maxBytes);
      if (field.oneOf) out += ", one of " + quotedList(field.oneOf());
      break;
    case FieldKind::Integer:
      if (field.exactly) out = "integer, exactly " + std::to_string(*field.exactly) + " (else `" +
                               std::string(core::errorCodeName(field.mismatch)) + "`)";
      else if (field.max == std::numeric_limits<int64_t>::max()) out = "integer, ≥ " + std::to_string(field.min);
      else out = "integer, " + std::to_string(field.min) + "–" + std::to_string(field.max);
      break;
    case FieldKind::Boolean: out = "boolean"; break;
  }
  if (field.maxCount) out += "; at most " + std::to_string(field.maxCount) + " " + std::string(field.counted);
  if (!field.note.empty()) out += "; " + std::string(field.note);
  return out;
}

// The message types (consecutive rows sharing one field list, like the stage actions) as
// the first column.
std::string typesCell(std::span<const ClientMessageSpec> messages, size_t first, size_t last) {
  std::string out;
  for (size_t i = first; i <= last; ++i) out += (i == first ? "`" : ", `") + std::string(messages[i].type) + "`";
  return out;
}

}  // namespace

std::string fieldLimitsReference() {
  std::ostringstream out;
  out << "A string over its limit is refused with `too_large`; a missing field, a value of the wrong\n"
         "type or an integer out of range with `bad_request`. `?` marks an optional field; messages\n"
         "without fields are not listed.\n\n"
         "| type | field | accepts |\n|---|---|---|\n"
      << "| every message | `type` | string, ≤ " << bytes(kMaxTypeBytes) << " |\n"
      << "| every message | `id`? | string, ≤ " << bytes(kMaxRefBytes) << "; echoed as an error's `ref` |\n";
  const auto messages = clientMessages();
  for (size_t first = 0; first < messages.size(); ++first) {
    if (messages[first].fields.empty()) continue;
    size_t last = first;
    while (last + 1 < messages.size() && messages[last + 1].fields.data() == messages[first].fields.data()) ++last;
    for (const FieldSpec& field : messages[first].fields)
      out << "| " << typesCell(messages, first, last) << " | `" << field.name << "`" << (field.required ? "" : "?")
          << " | " << accepted(field) << " |\n";
    first = last;
  }
  return out.str();
}

std::optional<std::string> withFieldLimitsReference(const std::string& doc) {
  const size_t begin = doc.find(std::string(kReferenceBegin) + "\n");
  if (begin == std::string::npos) return std::nullopt;
  const size_t bodyStart = begin + kReferenceBegin.size() + 1;
  const size_t end = doc.find("\n" + std::string(kReferenceEnd), bodyStart - 1);
  if (end == std::string::npos) return std::nullopt;
  // Blank lines around it, so Markdown ends the table before the closing comment.
  return doc.substr(0, bodyStart) + "\n" + fieldLimitsReference() + "\n" + doc.substr(end + 1);
}

}  // namespace roomcast::protocol
