// The live protocol declared once: every WebSocket message type with its fields and their
// limits. The decoder (messages.cpp) validates by this table, the stage actions take their
// wire names from it, docs/protocol.md's field limits are generated from it
// (message_reference.h), and tests/unit/test_protocol_table.cpp holds docs/protocol.md, the
// web client and the CLI to it.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"
#include "core/result.h"
#include "core/stage_action.h"
#include "protocol/messages.h"

namespace roomcast::protocol {

class FieldReader;

enum class FieldKind { String, Integer, Boolean };

// One field of a client message. Checked in the table's order, so the first bad field is the
// one an error names.
struct FieldSpec {
  std::string_view name;
  FieldKind kind = FieldKind::String;
  bool required = true;
  size_t maxBytes = 0;                                   // String
  int64_t min = std::numeric_limits<int64_t>::min();     // Integer
  int64_t max = std::numeric_limits<int64_t>::max();     // Integer
  // Integer: the one value accepted; anything else fails with `mismatch` (hello's version).
  std::optional<int64_t> exactly = std::nullopt;
  core::ErrorCode mismatch = core::ErrorCode::BadRequest;
  std::string_view mismatchMessage = {};
  // What clients are told (docs/protocol.md's generated field limits), beyond the checks above:
  // String: the tighter limit the room applies after decoding (core::ConversationLimits, with
  // its own message); 0 when maxBytes is the limit.
  size_t roomMaxBytes = 0;
  // String: the only values the room accepts (reactions); nullptr when any text is.
  const std::vector<std::string>& (*oneOf)() = nullptr;
  // A count bounded elsewhere: at most `maxCount` `counted` ("ICE candidates in it").
  unsigned maxCount = 0;
  std::string_view counted = {};
  std::string_view note = {};  // a rule that is not a number ("an IP address")
};

// The values of one message's fields, in the order of its FieldSpecs (absent optional fields
// are monostate).
class FieldValues {
 public:
  using Value = std::variant<std::monostate, std::string, int64_t, bool>;
  explicit FieldValues(std::vector<Value> values) : values_(std::move(values)) {}
  std::string text(size_t index) const;  // "" when absent
  int64_t integer(size_t index) const;   // 0 when absent
  bool boolean(size_t index) const;      // false when absent

 private:
  std::vector<Value> values_;
};

// One client → server message type: its wire name, its fields, and how their values become
// the ClientBody alternative it decodes to (`alternative`: that alternative's index).
struct ClientMessageSpec {
  std::string_view type;
  std::span<const FieldSpec> fields;
  size_t alternative = 0;
  ClientBody (*build)(std::string_view type, const FieldValues& values) = nullptr;
};

// One server → client message type and its top-level fields (`optional`: not always sent).
struct ServerFieldSpec {
  std::string_view name;
  bool optional = false;
};
struct ServerMessageSpec {
  std::string_view type;
  std::span<const ServerFieldSpec> fields;
};

std::span<const ClientMessageSpec> clientMessages();
std::span<const ServerMessageSpec> serverMessages();
const ClientMessageSpec* findClientMessage(std::string_view type);
const ServerMessageSpec* findServerMessage(std::string_view type);

// Checks `fields` against `spec` (no unknown members besides "type" and "id", then each field
// in order) and returns their values. Errors are the protocol's stable codes and messages.
core::Result<FieldValues> readFields(const ClientMessageSpec& spec, const FieldReader& fields);

// The wire name of a stage action ("promote", "appoint-cohost", ...; stageActionFromName in
// messages.h is the other way round).
std::string_view stageActionName(core::StageAction action);

}  // namespace roomcast::protocol
