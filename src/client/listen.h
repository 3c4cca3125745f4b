#pragma once

#include <string>

namespace roomcast::client {

struct ListenOptions {
  std::string server;
  std::string room;
  double seconds = 10;
  std::string out;  // write what the listener heard here
  std::string rendition = "auto";  // auto (the master playlist), main or low
};

// Pulls the room's HLS like a player and decodes it; returns the process exit code.
int runListen(const ListenOptions& options);

}  // namespace roomcast::client
