// Handing a C++ object to a GLib callback as its user data: the callback's owner (a source, a
// pad probe, a signal handler, a GTask) frees it through the destroy notify, exactly once,
// whenever that owner lets go. One place writes the new/delete pair so no call site does.
#pragma once

#include <glib-object.h>

#include <memory>
#include <type_traits>
#include <utility>

namespace roomcast::glib_support {

template <class T>
void destroyHandedOff(gpointer data) {
  std::unique_ptr<T> owned(static_cast<T*>(data));
}

// g_signal_connect_data's notify also gets the closure.
template <class T>
void destroyHandedOffClosure(gpointer data, GClosure*) {
  destroyHandedOff<T>(data);
}

template <class T>
struct OwnedData {
  gpointer data;
  GDestroyNotify destroy;
  GClosureNotify closureDestroy;
};

// Moves `value` to the heap; pass `.data` and `.destroy` (or `.closureDestroy`) together.
template <class T>
OwnedData<std::decay_t<T>> handOff(T&& value) {
  using Value = std::decay_t<T>;
  return {std::make_unique<Value>(std::forward<T>(value)).release(), &destroyHandedOff<Value>,
          &destroyHandedOffClosure<Value>};
}

// The object behind the user data of a callback registered with handOff<T>().
template <class T>
T& handedOff(gpointer data) {
  return *static_cast<T*>(data);
}

// For a hand-off without a destroy notify (a thread pool's item, an object that ends its own
// life): the one receiver takes it back and frees it when done.
template <class T>
std::unique_ptr<T> takeBack(gpointer data) {
  return std::unique_ptr<T>(static_cast<T*>(data));
}

}  // namespace roomcast::glib_support
