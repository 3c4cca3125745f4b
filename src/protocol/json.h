// Small json-glib helpers: parse a bounded text into an object, read typed fields with
// clear errors, and write objects back to text.
#pragma once

#include <json-glib/json-glib.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace roomcast::protocol {

struct JsonNodeDeleter { void operator()(JsonNode* n) const { json_node_unref(n); } };
using JsonNodePtr = std::unique_ptr<JsonNode, JsonNodeDeleter>;

// Bounds-checks, parses and requires an object at the root.
core::Result<JsonNodePtr> parseObject(std::string_view text, size_t maxBytes, int maxDepth);

// Typed access to one object's members. Every getter fails with BadRequest naming the field.
class FieldReader {
 public:
  explicit FieldReader(JsonObject* object) : object_(object) {}
  core::Status onlyKnown(std::initializer_list<std::string_view> allowed) const;
  core::Status onlyKnown(std::span<const std::string_view> allowed) const;
  core::Result<std::string> requiredString(const char* name, size_t maxBytes) const;
  core::Result<std::optional<std::string>> optionalString(const char* name, size_t maxBytes) const;
  core::Result<int64_t> requiredInt(const char* name, int64_t min, int64_t max) const;
  core::Result<std::optional<int64_t>> optionalInt(const char* name, int64_t min, int64_t max) const;
  core::Result<std::optional<bool>> optionalBool(const char* name) const;

 private:
  JsonObject* object_;
};

std::string toJson(JsonNode* node);

// Builds JSON with a JsonBuilder and returns the text.
class JsonWriter {
 public:
  JsonWriter();
  ~JsonWriter();
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray(const char* key = nullptr);
  JsonWriter& endArray();
  JsonWriter& key(const char* name);
  JsonWriter& str(const char* key, std::string_view value);
  JsonWriter& integer(const char* key, int64_t value);
  JsonWriter& number(const char* key, double value);
  JsonWriter& boolean(const char* key, bool value);
  JsonWriter& null(const char* key);
  std::string finish();
  JsonBuilder* raw() { return builder_; }

 private:
  JsonBuilder* builder_;
};

}  // namespace roomcast::protocol
