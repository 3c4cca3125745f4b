#pragma once

#include <optional>
#include <string_view>

namespace roomcast::core {

// Roles, most privileged first. What each may do is in core/permissions.h.
enum class Role { Host, CoHost, Speaker, Listener };

std::string_view roleName(Role role);
std::optional<Role> roleFromName(std::string_view name);

// Roles whose audio is mixed into the program.
inline bool isOnStage(Role role) { return role != Role::Listener; }


}  // namespace roomcast::core
