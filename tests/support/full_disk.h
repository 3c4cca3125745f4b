// A full disk for tests: a small tmpfs in a private mount namespace, filled until it refuses.
#pragma once

#include <cstddef>
#include <string>

namespace roomcast::testing {

// Whether this process may make a private mount namespace with a tmpfs (root, or user namespaces).
bool canMountPrivately();
// Fills the file system behind `path` with a file there until it refuses (ENOSPC); returns the
// bytes written.
size_t fillUp(const std::string& path);

}  // namespace roomcast::testing
