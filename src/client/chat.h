#pragma once

#include <string>

namespace roomcast::client {

struct ChatOptions {
  std::string server;
  std::string room;
  std::string token;  // empty: join as an anonymous listener
  std::string send;   // a message to send (needs nothing else: any token may chat)
  bool history = false;
};

// `roomcast chat`: sends one message, or prints the recent chat one message per line
// ("name: text"); returns the process exit code.
int runChat(const ChatOptions& options);

}  // namespace roomcast::client
