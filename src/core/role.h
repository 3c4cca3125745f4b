#pragma once

#include <optional>
#include <string_view>

namespace roomcast::core {

// Roles, most privileged first. A later issue adds grants per role; today the host owns the
// room and speakers send audio, listeners only hear the HLS program.
enum class Role { Host, CoHost, Speaker, Listener };

std::string_view roleName(Role role);
std::optional<Role> roleFromName(std::string_view name);

// Roles whose audio is mixed into the program.
inline bool isOnStage(Role role) { return role != Role::Listener; }

// Roles that run the stage: hands, promotion, muting, removal.
inline bool canModerate(Role role) { return role == Role::Host || role == Role::CoHost; }

}  // namespace roomcast::core
