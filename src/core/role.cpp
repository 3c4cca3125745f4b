#include "core/role.h"

namespace roomcast::core {

std::string_view roleName(Role role) {
  switch (role) {
    case Role::Host: return "host";
    case Role::CoHost: return "cohost";
    case Role::Speaker: return "speaker";
    case Role::Listener: return "listener";
  }
  return "listener";
}

std::optional<Role> roleFromName(std::string_view name) {
  if (name == "host") return Role::Host;
  if (name == "cohost") return Role::CoHost;
  if (name == "speaker") return Role::Speaker;
  if (name == "listener") return Role::Listener;
  return std::nullopt;
}

}  // namespace roomcast::core
