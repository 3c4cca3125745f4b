// Reads a moderation policy file (data/moderation/policy.json): see core/moderator.h.
#pragma once

#include <string>

#include "core/moderator.h"
#include "core/result.h"

namespace roomcast::protocol {

core::Result<core::ModerationPolicy> parseModerationPolicy(const std::string& json);
core::Result<core::ModerationPolicy> loadModerationPolicy(const std::string& path);

}  // namespace roomcast::protocol
