#include "protocol/json.h"

#include <algorithm>

#include "protocol/json_guard.h"

namespace roomcast::protocol {

using core::Error;
using core::ErrorCode;

core::Result<JsonNodePtr> parseObject(std::string_view text, size_t maxBytes, int maxDepth) {
  if (auto bounds = checkJsonBounds(text, maxBytes, maxDepth); !bounds) return bounds.error();
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return Error{ErrorCode::InvalidJson, "empty body: expected a JSON object"};
  g_autoptr(JsonParser) parser = json_parser_new_immutable();
  g_autoptr(GError) error = nullptr;
  if (!json_parser_load_from_data(parser, text.data(), static_cast<gssize>(text.size()), &error)) {
    std::string message = std::string("not valid JSON: ") + (error ? error->message : "parse error");
    return Error{ErrorCode::InvalidJson, message};
  }
  JsonNode* root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) return Error{ErrorCode::BadRequest, "expected a JSON object"};
  return JsonNodePtr(json_node_ref(root));
}

core::Status FieldReader::onlyKnown(std::initializer_list<std::string_view> allowed) const {
  return onlyKnown(std::span<const std::string_view>(allowed.begin(), allowed.size()));
}

core::Status FieldReader::onlyKnown(std::span<const std::string_view> allowed) const {
  g_autoptr(GList) members = json_object_get_members(object_);
  for (GList* m = members; m; m = m->next) {
    std::string_view name(static_cast<const char*>(m->data));
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
      return Error{ErrorCode::BadRequest, "unknown field '" + std::string(name) + "'"};
  }
  return core::Ok{};
}

static Error wrongType(const char* name, const char* expected) {
  return {ErrorCode::BadRequest, std::string("field '") + name + "' must be " + expected};
}

core::Result<std::optional<std::string>> FieldReader::optionalString(const char* name, size_t maxBytes) const {
  JsonNode* node = json_object_get_member(object_, name);
  if (!node) return std::optional<std::string>{};
  if (JSON_NODE_TYPE(node) != JSON_NODE_VALUE || json_node_get_value_type(node) != G_TYPE_STRING)
    return wrongType(name, "a string");
  const char* value = json_node_get_string(node);
  std::string out = value ? value : "";
  if (out.size() > maxBytes)
    return Error{ErrorCode::TooLarge, std::string("field '") + name + "' is longer than " +
                                          std::to_string(maxBytes) + " bytes"};
  return std::optional<std::string>{std::move(out)};
}

core::Result<std::string> FieldReader::requiredString(const char* name, size_t maxBytes) const {
  auto value = optionalString(name, maxBytes);
  if (!value) return value.error();
  if (!value.value()) return Error{ErrorCode::BadRequest, std::string("missing field '") + name + "'"};
  return std::move(*value.value());
}

core::Result<int64_t> FieldReader::requiredInt(const char* name, int64_t min, int64_t max) const {
  JsonNode* node = json_object_get_member(object_, name);
  if (!node) return Error{ErrorCode::BadRequest, std::string("missing field '") + name + "'"};
  if (JSON_NODE_TYPE(node) != JSON_NODE_VALUE || json_node_get_value_type(node) != G_TYPE_INT64)
    return wrongType(name, "an integer");
  int64_t v = json_node_get_int(node);
  if (v < min || v > max)
    return Error{ErrorCode::BadRequest, std::string("field '") + name + "' is out of range [" +
                                            std::to_string(min) + ", " + std::to_string(max) + "]"};
  return v;
}

core::Result<std::optional<int64_t>> FieldReader::optionalInt(const char* name, int64_t min, int64_t max) const {
  if (!json_object_get_member(object_, name)) return std::optional<int64_t>{};
  auto v = requiredInt(name, min, max);
  if (!v) return v.error();
  return std::optional<int64_t>{v.value()};
}

core::Result<std::optional<bool>> FieldReader::optionalBool(const char* name) const {
  JsonNode* node = json_object_get_member(object_, name);
  if (!node) return std::optional<bool>{};
  if (JSON_NODE_TYPE(node) != JSON_NODE_VALUE || json_node_get_value_type(node) != G_TYPE_BOOLEAN)
    return wrongType(name, "a boolean");
  return std::optional<bool>{json_node_get_boolean(node) != FALSE};
}

std::string toJson(JsonNode* node) {
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_root(gen, node);
  g_autofree char* text = json_generator_to_data(gen, nullptr);
  return text ? text : "";
}

JsonWriter::JsonWriter() : builder_(json_builder_new_immutable()) {}
JsonWriter::~JsonWriter() { g_object_unref(builder_); }
JsonWriter& JsonWriter::beginObject() { json_builder_begin_object(builder_); return *this; }
JsonWriter& JsonWriter::endObject() { json_builder_end_object(builder_); return *this; }
JsonWriter& JsonWriter::beginArray(const char* k) {
  if (k) json_builder_set_member_name(builder_, k);
  json_builder_begin_array(builder_);
  return *this;
}
JsonWriter& JsonWriter::endArray() { json_builder_end_array(builder_); return *this; }
JsonWriter& JsonWriter::key(const char* name) { json_builder_set_member_name(builder_, name); return *this; }
JsonWriter& JsonWriter::str(const char* k, std::string_view v) {
  if (k) json_builder_set_member_name(builder_, k);
  std::string copy(v);
  json_builder_add_string_value(builder_, copy.c_str());
  return *this;
}
JsonWriter& JsonWriter::integer(const char* k, int64_t v) {
  if (k) json_builder_set_member_name(builder_, k);
  json_builder_add_int_value(builder_, v);
  return *this;
}
JsonWriter& JsonWriter::number(const char* k, double v) {
  if (k) json_builder_set_member_name(builder_, k);
  json_builder_add_double_value(builder_, v);
  return *this;
}
JsonWriter& JsonWriter::boolean(const char* k, bool v) {
  if (k) json_builder_set_member_name(builder_, k);
  json_builder_add_boolean_value(builder_, v);
  return *this;
}
JsonWriter& JsonWriter::null(const char* k) {
  if (k) json_builder_set_member_name(builder_, k);
  json_builder_add_null_value(builder_);
  return *this;
}
std::string JsonWriter::finish() {
  JsonNode* root = json_builder_get_root(builder_);
  std::string text = toJson(root);
  json_node_unref(root);
  return text;
}

}  // namespace roomcast::protocol
