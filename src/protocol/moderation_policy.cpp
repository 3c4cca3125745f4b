#include "protocol/moderation_policy.h"

#include <glib.h>
#include <json-glib/json-glib.h>

#include "protocol/json.h"

namespace roomcast::protocol {

using core::Error;
using core::ErrorCode;

core::Result<core::ModerationPolicy> parseModerationPolicy(const std::string& json) {
  auto root = parseObject(json, 1 << 20, 8);
  if (!root) return Error{ErrorCode::BadRequest, "moderation policy: " + root.error().message};
  JsonObject* obj = json_node_get_object(root.value().get());
  core::ModerationPolicy policy;
  JsonArray* categories = json_object_has_member(obj, "categories") ? json_object_get_array_member(obj, "categories")
                                                                      : nullptr;
  if (!categories) return Error{ErrorCode::BadRequest, "moderation policy: 'categories' must be an array"};
  for (guint i = 0; i < json_array_get_length(categories); i++) {
    JsonNode* node = json_array_get_element(categories, i);
    if (!JSON_NODE_HOLDS_OBJECT(node)) return Error{ErrorCode::BadRequest, "moderation policy: a category must be an object"};
    JsonObject* c = json_node_get_object(node);
    core::PolicyCategory category;
    category.name = json_object_get_string_member_with_default(c, "name", "");
    auto severity = core::severityFromName(json_object_get_string_member_with_default(c, "severity", ""));
    if (category.name.empty() || !severity)
      return Error{ErrorCode::BadRequest, "moderation policy: each category needs a name and a severity (low, medium, high)"};
    category.severity = *severity;
    JsonArray* terms = json_object_has_member(c, "terms") ? json_object_get_array_member(c, "terms") : nullptr;
    for (guint t = 0; terms && t < json_array_get_length(terms); t++) {
      const char* term = json_array_get_string_element(terms, t);
      if (term && *term) category.terms.emplace_back(term);
    }
    policy.categories.push_back(std::move(category));
  }
  if (json_object_has_member(obj, "actions")) {
    JsonObject* actions = json_object_get_object_member(obj, "actions");
    for (auto severity : {core::Severity::Low, core::Severity::Medium, core::Severity::High}) {
      const std::string key(core::severityName(severity));
      if (!actions || !json_object_has_member(actions, key.c_str())) continue;
      auto action = core::moderationActionFromName(json_object_get_string_member_with_default(actions, key.c_str(), ""));
      if (!action) return Error{ErrorCode::BadRequest, "moderation policy: actions are notify, mute or remove"};
      policy.actions[severity] = *action;
    }
  }
  return policy;
}

core::Result<core::ModerationPolicy> loadModerationPolicy(const std::string& path) {
  g_autofree char* contents = nullptr;
  g_autoptr(GError) error = nullptr;
  if (!g_file_get_contents(path.c_str(), &contents, nullptr, &error)) {
    Error e{ErrorCode::Internal, "cannot read the moderation policy: " + std::string(error->message)};
    return e;
  }
  return parseModerationPolicy(contents);
}

}  // namespace roomcast::protocol
