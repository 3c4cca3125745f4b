// The protocol table (protocol/message_table.h) against everything that repeats it: the
// decoder decodes what each row declares, the encoders write only the server rows' fields,
// docs/protocol.md's two WebSocket tables list exactly the table's types and top-level fields,
// and the web client (data/web/*.js) and the CLI (src/client/*.cpp) send and handle no message
// type the table lacks. ROOMCAST_SOURCE_DIR (set by meson) is where the sources are read from.
#include <gtest/gtest.h>
#include <json-glib/json-glib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/events.h"
#include "core/room.h"
#include "protocol/json.h"
#include "protocol/message_reference.h"
#include "protocol/message_table.h"
#include "protocol/messages.h"

namespace roomcast::protocol {
namespace {

namespace fs = std::filesystem;

fs::path sourceDir() {
  const char* dir = std::getenv("ROOMCAST_SOURCE_DIR");
  return dir ? fs::path(dir) : fs::path(".");
}

std::string readText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every first capture group of `pattern` in `text`.
std::vector<std::string> captures(const std::string& text, const std::regex& pattern) {
  std::vector<std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), pattern), end; it != end; ++it) out.push_back((*it)[1]);
  return out;
}

std::vector<std::string> quotedStrings(const std::string& expression) {
  return captures(expression, std::regex(R"(['"]([^'"]*)['"])"));
}

std::set<std::string> clientTypes() {
  std::set<std::string> types;
  for (const ClientMessageSpec& spec : clientMessages()) types.emplace(spec.type);
  return types;
}

std::set<std::string> serverTypes() {
  std::set<std::string> types;
  for (const ServerMessageSpec& spec : serverMessages()) types.emplace(spec.type);
  return types;
}

// ---------------------------------------------------------------------------------------
// docs/protocol.md

// One row of a Markdown table: its message types and the top-level fields it names.
struct DocRow {
  std::vector<std::string> types;
  std::set<std::string> fields;
};

// Cells split on '|' outside backticks.
std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (char c : line) {
    if (c == '`') quoted = !quoted;
    if (c == '|' && !quoted) out.emplace_back();
    else out.back() += c;
  }
  return out;
}

// Notes in parentheses and nested members in braces or brackets are not top-level fields.
std::string withoutNested(const std::string& cell) {
  std::string out;
  int depth = 0;
  for (char c : cell) {
    if (c == '(' || c == '[' || c == '{') ++depth;
    else if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
    else if (depth == 0) out += c;
  }
  return out;
}

std::vector<std::string> backticked(const std::string& text) { return captures(text, std::regex("`([^`]+)`")); }

// The table under the heading `heading` (a line of its own) in docs/protocol.md.
std::vector<DocRow> docTable(const std::string& doc, const std::string& heading) {
  std::vector<DocRow> rows;
  const size_t start = doc.find("\n" + heading + "\n");
  EXPECT_NE(start, std::string::npos) << "no heading '" << heading << "' in docs/protocol.md";
  if (start == std::string::npos) return rows;
  std::istringstream lines(doc.substr(start + heading.size() + 2));
  std::string line;
  bool inTable = false;
  while (std::getline(lines, line)) {
    if (line.rfind("| type |", 0) == 0 || line.rfind("|---", 0) == 0) {
      inTable = true;
      continue;
    }
    if (line.rfind("|", 0) != 0) {
      if (inTable) break;  // the table ended
      continue;
    }
    const auto row = cells(line);
    if (row.size() < 3) continue;
    DocRow parsed{backticked(row[1]), {}};
    for (std::string field : backticked(withoutNested(row[2]))) {
      if (!field.empty() && field.back() == '?') field.pop_back();
      parsed.fields.insert(field);
    }
    rows.push_back(std::move(parsed));
  }
  return rows;
}

template <typename Spec>
std::set<std::string> tableFields(const Spec& spec) {
  std::set<std::string> names;
  for (const auto& field : spec.fields) names.emplace(field.name);
  return names;
}

// Both directions: every documented type is in the table with the same fields, and every
// table row is documented.
template <typename Spec, typename Find, typename All>
void expectDocumented(const std::vector<DocRow>& rows, Find find, All all, const char* direction) {
  std::set<std::string> documented;
  for (const DocRow& row : rows)
    for (const std::string& type : row.types) {
      documented.insert(type);
      const Spec* spec = find(type);
      if (!spec) {
        ADD_FAILURE() << "docs/protocol.md (" << direction << ") names message type '" << type
                      << "', which the protocol table (src/protocol/message_table.cpp) lacks";
        continue;
      }
      const std::set<std::string> inTable = tableFields(*spec);
      for (const std::string& field : row.fields)
        EXPECT_TRUE(inTable.count(field)) << "docs/protocol.md gives '" << type << "' a field '" << field
                                          << "' that the protocol table lacks";
      for (const std::string& field : inTable)
        EXPECT_TRUE(row.fields.count(field)) << "the protocol table gives '" << type << "' a field '" << field
                                             << "' that docs/protocol.md (" << direction << ") does not list";
    }
  for (const auto& spec : all())
    EXPECT_TRUE(documented.count(std::string(spec.type)))
        << "message type '" << spec.type << "' is in the protocol table but not in docs/protocol.md (" << direction
        << ")";
}

TEST(ProtocolTable, DocsListExactlyTheClientMessagesAndTheirFields) {
  const auto rows = docTable(readText(sourceDir() / "docs/protocol.md"), "### Client → server");
  ASSERT_GE(rows.size(), 10u) << "the Client → server table was not found or not parsed";
  expectDocumented<ClientMessageSpec>(rows, findClientMessage, clientMessages, "Client → server");
}

TEST(ProtocolTable, DocsListExactlyTheServerMessagesAndTheirFields) {
  const auto rows = docTable(readText(sourceDir() / "docs/protocol.md"), "### Server → client");
  ASSERT_GE(rows.size(), 10u) << "the Server → client table was not found or not parsed";
  expectDocumented<ServerMessageSpec>(rows, findServerMessage, serverMessages, "Server → client");
}

// The first line where `a` and `b` differ, numbered from 1, with both versions of it.
std::string firstDifference(const std::string& a, const std::string& b) {
  std::istringstream left(a), right(b);
  std::string l, r;
  for (int line = 1;; ++line) {
    const bool moreLeft = static_cast<bool>(std::getline(left, l));
    const bool moreRight = static_cast<bool>(std::getline(right, r));
    if (!moreLeft && !moreRight) return "none";
    if (!moreLeft || !moreRight || l != r)
      return "line " + std::to_string(line) + "\n  committed: " + (moreLeft ? l : "(end)") +
             "\n  generated: " + (moreRight ? r : "(end)");
  }
}

// Every limit the docs give a message field is generated from the table: a limit changed in
// the table (or a room's chat limit in core::ConversationLimits) without the docs fails here.
TEST(ProtocolTable, DocsFieldLimitsAreTheTables) {
  const std::string doc = readText(sourceDir() / "docs/protocol.md");
  const auto generated = withFieldLimitsReference(doc);
  ASSERT_TRUE(generated) << "docs/protocol.md lacks the generated field limits' marker lines";
  EXPECT_TRUE(*generated == doc) << "docs/protocol.md's field limits differ from the protocol table "
                                    "(src/protocol/message_table.cpp); regenerate them with "
                                    "`ninja -C build protocol-doc` and commit the result. First difference: "
                                 << firstDifference(doc, *generated);
}

// ---------------------------------------------------------------------------------------
// The clients: what they send and what they handle

struct Named {
  std::set<std::string> sent;     // client → server types
  std::set<std::string> handled;  // server → client types
};

// The `case '...'` labels of every `switch (x.type)` block.
void switchCases(const std::string& text, std::set<std::string>& out) {
  const std::regex head(R"(switch\s*\(\s*[\w.?]+\.type\s*\)\s*\{)");
  for (std::sregex_iterator it(text.begin(), text.end(), head), end; it != end; ++it) {
    size_t pos = static_cast<size_t>(it->position() + it->length());
    int depth = 1;
    const size_t begin = pos;
    while (pos < text.size() && depth > 0) {
      if (text[pos] == '{') ++depth;
      else if (text[pos] == '}') --depth;
      ++pos;
    }
    for (const auto& label : captures(text.substr(begin, pos - begin), std::regex(R"(case\s+'([^']+)'\s*:)")))
      out.insert(label);
  }
}

// data/web/*.js: `{ type: EXPR` (object literals sent over the socket; the quoted strings in
// EXPR are types), `act('promote', ...)` (the stage buttons), `switch (m.type)` cases and
// `x.type === '...'` (what arrives). WebRTC's own `{ type: 'answer', sdp }` is not ours.
Named namedByWebClient() {
  Named named;
  for (const auto& entry : fs::directory_iterator(sourceDir() / "data/web")) {
    if (entry.path().extension() != ".js") continue;
    const std::string text = readText(entry.path());
    const std::regex literal(R"((Description\s*\(\s*)?\{\s*type:\s*([^,}]+))");
    for (std::sregex_iterator it(text.begin(), text.end(), literal), end; it != end; ++it)
      if (!(*it)[1].matched)
        for (const auto& type : quotedStrings((*it)[2])) named.sent.insert(type);
    for (const auto& type : captures(text, std::regex(R"(\bact\(\s*'([^']+)')"))) named.sent.insert(type);
    switchCases(text, named.handled);
    for (const auto& type : captures(text, std::regex(R"(\.type\s*===?\s*'([^']+)')"))) named.handled.insert(type);
  }
  return named;
}

// src/client/*.cpp (the CLI): `.str("type", "...")` and raw `{"type":"..."}` go out;
// `type == "..."` and `type != "..."` come in.
Named namedByCli() {
  Named named;
  for (const auto& entry : fs::directory_iterator(sourceDir() / "src/client")) {
    if (entry.path().extension() != ".cpp") continue;
    const std::string text = readText(entry.path());
    for (const auto& type : captures(text, std::regex(R"re(\.str\("type",\s*"([^"]+)"\))re"))) named.sent.insert(type);
    for (const auto& type : captures(text, std::regex(R"re(\{"type":"([^"]+)")re"))) named.sent.insert(type);
    for (const auto& type : captures(text, std::regex(R"re(\btype\s*[!=]=\s*"([^"]+)")re"))) named.handled.insert(type);
  }
  return named;
}

void expectInTable(const Named& named, const char* where) {
  const auto client = clientTypes();
  const auto server = serverTypes();
  for (const std::string& type : named.sent)
    EXPECT_TRUE(client.count(type)) << where << " sends message type '" << type
                                    << "', which the protocol table (src/protocol/message_table.cpp) lacks";
  for (const std::string& type : named.handled)
    EXPECT_TRUE(server.count(type)) << where << " handles message type '" << type
                                    << "', which the protocol table (src/protocol/message_table.cpp) lacks";
}

TEST(ProtocolTable, WebClientNamesOnlyMessagesInTheTable) {
  const Named named = namedByWebClient();
  // The scan itself must see the client: the stage, chat and hands, and the ~30 events.
  EXPECT_GE(named.sent.size(), 15u);
  EXPECT_GE(named.handled.size(), 25u);
  EXPECT_TRUE(named.sent.count("promote") && named.sent.count("hello") && named.sent.count("offer"));
  EXPECT_TRUE(named.handled.count("welcome") && named.handled.count("reconnecting"));
  expectInTable(named, "data/web");
}

TEST(ProtocolTable, CliNamesOnlyMessagesInTheTable) {
  const Named named = namedByCli();
  EXPECT_GE(named.sent.size(), 8u);
  EXPECT_GE(named.handled.size(), 8u);
  expectInTable(named, "src/client");
}

// ---------------------------------------------------------------------------------------
// The decoder and the encoders follow the table

// A message of `spec`'s type with every field present and valid, but `except` left out and
// the string field `tooLong` one byte over its limit.
std::string validMessage(const ClientMessageSpec& spec, std::string_view except = {}, std::string_view tooLong = {}) {
  JsonWriter w;
  w.beginObject().str("type", spec.type);
  for (const FieldSpec& field : spec.fields) {
    if (field.name == except) continue;
    const std::string name(field.name);
    if (field.name == tooLong) {
      w.str(name.c_str(), std::string(field.maxBytes + 1, 'a'));
      continue;
    }
    switch (field.kind) {
      case FieldKind::String: w.str(name.c_str(), "x"); break;
      case FieldKind::Integer: w.integer(name.c_str(), field.exactly.value_or(field.min)); break;
      case FieldKind::Boolean: w.boolean(name.c_str(), true); break;
    }
  }
  return w.endObject().finish();
}

TEST(ProtocolTable, EveryRowDecodesToItsAlternativeAndChecksItsFields) {
  for (const ClientMessageSpec& spec : clientMessages()) {
    SCOPED_TRACE(std::string(spec.type));
    auto decoded = decodeClientMessage(validMessage(spec));
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded.value().body.index(), spec.alternative);
    for (const FieldSpec& field : spec.fields) {
      auto without = decodeClientMessage(validMessage(spec, field.name));
      EXPECT_EQ(without.ok(), !field.required) << "without '" << field.name << "'";
      if (!without.ok()) {
        EXPECT_EQ(without.error().message, "missing field '" + std::string(field.name) + "'");
      }
      if (field.kind != FieldKind::String) continue;
      auto tooLong = decodeClientMessage(validMessage(spec, {}, field.name));
      ASSERT_FALSE(tooLong.ok());
      EXPECT_EQ(tooLong.error().code, core::ErrorCode::TooLarge) << tooLong.error().message;
    }
    auto unknown = decodeClientMessage(R"({"type":")" + std::string(spec.type) + R"(","no_such_field":1})");
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error().message, "unknown field 'no_such_field'");
  }
}

TEST(ProtocolTable, StageActionNamesRoundTrip) {
  for (const ClientMessageSpec& spec : clientMessages()) {
    const auto action = stageActionFromName(spec.type);
    EXPECT_EQ(action.has_value(), spec.alternative == ClientBody(Moderate{}).index()) << spec.type;
    if (action) {
      EXPECT_EQ(stageActionName(*action), spec.type);
    }
  }
}

// One encoded server message against its row: a known type, only the row's fields, and every
// field the row does not mark optional.
void expectMatchesTable(const std::string& text, std::set<std::string>& seen) {
  g_autoptr(JsonNode) node = json_from_string(text.c_str(), nullptr);
  ASSERT_TRUE(node && JSON_NODE_HOLDS_OBJECT(node)) << text;
  JsonObject* object = json_node_get_object(node);
  const std::string type = json_object_get_string_member_with_default(object, "type", "");
  const ServerMessageSpec* spec = findServerMessage(type);
  ASSERT_NE(spec, nullptr) << "the server sends type '" << type << "', which the protocol table lacks";
  seen.insert(type);
  std::set<std::string> allowed{"type"};
  for (const ServerFieldSpec& field : spec->fields) {
    allowed.emplace(field.name);
    if (!field.optional) {
      EXPECT_TRUE(json_object_has_member(object, std::string(field.name).c_str())) << type << " lacks " << field.name;
    }
  }
  g_autoptr(GList) members = json_object_get_members(object);
  for (GList* m = members; m; m = m->next)
    EXPECT_TRUE(allowed.count(static_cast<const char*>(m->data)))
        << type << " carries '" << static_cast<const char*>(m->data) << "', which its row lacks";
}

template <size_t I = 0>
void encodeEveryEvent(std::set<std::string>& seen) {
  if constexpr (I < std::variant_size_v<core::Event>) {
    expectMatchesTable(encodeEvent(core::Event(std::in_place_index<I>)), seen);
    encodeEveryEvent<I + 1>(seen);
  }
}

TEST(ProtocolTable, EncodersWriteTheServerRows) {
  std::set<std::string> seen;
  encodeEveryEvent(seen);
  // The variants of one event that write another type or the optional fields.
  core::Participant you;
  you.identity = "u-1";
  you.role = core::Role::Host;
  for (const core::Event& event : std::vector<core::Event>{
           core::HandChanged{"u-1", "Ann", true}, core::HandChanged{"u-1", "Ann", false},
           core::PresenceChanged{"u-1", true}, core::PresenceChanged{"u-1", false},
           core::RecordingChanged{false, "disk full"}, core::RoleChanged{"u-1", core::Role::Speaker, you}})
    expectMatchesTable(encodeEvent(event), seen);
  core::Room room;
  room.info.id = "r";
  expectMatchesTable(encodeWelcome(room, you), seen);
  expectMatchesTable(encodeError({core::ErrorCode::BadRequest, "no"}, std::string("m1")), seen);
  expectMatchesTable(encodePong(), seen);
  expectMatchesTable(encodeRtpAnswer("127.0.0.1", 5000), seen);
  for (const std::string& type : serverTypes())
    EXPECT_TRUE(seen.count(type)) << "no encoder writes '" << type << "', which the protocol table lists";
}

}  // namespace
}  // namespace roomcast::protocol
