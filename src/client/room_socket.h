// The CLI's side of a room's WebSocket, shared by `speak` and `chat`: connect to
// <server>/ws/<room>, say hello with a token, then hand every text message and the close to
// the caller, on the main loop.
#pragma once

#include <libsoup/soup.h>

#include <functional>
#include <string>

namespace roomcast::client {

struct RoomSocketCallbacks {
  std::function<void(const std::string& text)> onMessage;
  std::function<void()> onClosed;
  std::function<void(const std::string& why)> onFailed;  // could not connect
  std::function<void()> beforeHello;                      // optional: the socket is open
};

// Starts connecting; false (and nothing started) when the server URL is not usable. Once
// open, `*connection` is the socket: the caller closes it with closeRoomSocket and unrefs it.
// `resume`: the resume_token of an earlier welcome, sent in the hello (a reconnect).
// `cancellable`: cancelling it ends a connect still under way with onFailed.
bool openRoomSocket(SoupSession* session, const std::string& server, const std::string& room, const std::string& token,
                    SoupWebsocketConnection** connection, RoomSocketCallbacks callbacks,
                    const std::string& resume = {}, GCancellable* cancellable = nullptr);

// Closes the socket without calling onClosed (the caller is leaving on its own).
void closeRoomSocket(SoupWebsocketConnection* connection, const char* reason);

}  // namespace roomcast::client
