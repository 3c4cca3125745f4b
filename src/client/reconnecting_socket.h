// A room's WebSocket that comes back by itself: the speaker's side of issue 22's failover.
// When the socket closes for any reason but a final one (a policy close, 1008: a token refused,
// a removal, a rate limit), it is opened again with the same token and the last welcome's
// resume_token, after 250 ms doubling to 2 s, for at most `reconnectForSeconds`; each failed
// attempt moves on to the next of `servers` (the nodes of a cluster). What the room says (its
// end, a removal) is the caller's to act on: it stops the socket.
#pragma once

#include <libsoup/soup.h>

#include <functional>
#include <string>
#include <vector>

#include "glib_support/source.h"

namespace roomcast::client {

struct ReconnectingSocketCallbacks {
  std::function<void(const std::string& text)> onMessage;
  std::function<void()> beforeHello;                        // a socket is open: its hello goes now
  std::function<void(const std::string& why)> onReconnecting;  // the socket is gone: trying again
  // No socket and no more tries: the first connection failed on every server, a final close,
  // or the reconnect time ran out. Exit code 1 and why.
  std::function<void(const std::string& why)> onGone;
};

class ReconnectingSocket {
 public:
  ReconnectingSocket(std::vector<std::string> servers, std::string room, std::string token, double reconnectForSeconds,
                     ReconnectingSocketCallbacks callbacks);
  ~ReconnectingSocket();
  ReconnectingSocket(const ReconnectingSocket&) = delete;
  ReconnectingSocket& operator=(const ReconnectingSocket&) = delete;

  // Starts the first connection; false when a server URL is not usable.
  bool start();
  // The current socket got its welcome: later drops reconnect (with this resume token).
  void welcomed(const std::string& resumeToken);
  void send(const char* text);
  // The current socket's hello was refused for a reason that may pass (a node that does not
  // have the room yet, a connection of ours it has not seen drop): close it and try again.
  void abandonAttempt(const std::string& why);
  // Leaving: a last message (if any) and a normal close; nothing reconnects after this.
  void stop(const char* lastMessage);

 private:
  void connect();
  void onOpenFailed(int attempt, const std::string& why);
  void onClosed(int attempt);
  void dropSocket();
  void retry(const std::string& why);
  void fail(const std::string& why);

  std::vector<std::string> servers_;
  std::string room_, token_, resume_;
  double reconnectForS_;
  ReconnectingSocketCallbacks callbacks_;
  SoupSession* session_ = nullptr;
  SoupWebsocketConnection* ws_ = nullptr;
  GCancellable* connecting_ = nullptr;  // the attempt under way, until it opens or fails
  size_t server_ = 0;                   // index into servers_ of the current attempt
  int attempt_ = 0;                     // bumped by every attempt: callbacks of older ones are dropped
  bool everWelcomed_ = false;           // before the first welcome, nothing is retried but other servers
  bool welcomedHere_ = false;           // the current socket's welcome came
  bool stopped_ = false;
  int failures_ = 0;                    // attempts since the last welcome
  gint64 lostUs_ = 0;                   // when the last welcomed socket went
  glib_support::Source retryTimer_;     // the next attempt
  glib_support::Source patience_;       // the current attempt's wait for its welcome
  glib_support::Source closedLater_;    // handles a close outside the socket's own signal
};

// "a,b,c" → {"a","b","c"}, each without trailing slashes; empty parts dropped.
std::vector<std::string> splitServers(const std::string& commaSeparated);

}  // namespace roomcast::client
