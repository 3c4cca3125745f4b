// roomcastd's listening socket. Each new connection's first bytes are peeked at (not read):
// if it begins with an HLS request it goes to the listener thread (ListenerHttp), otherwise to
// libsoup on the control thread, which then reads the request from the start. Players and
// edges open a connection and ask for playlists and segments on it; browsers, the CLI and
// WebSockets begin with anything else.
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <set>
#include <string>
#include <string_view>

#include "core/result.h"

namespace roomcast::signaling {

class ListenerHttp;

enum class FirstRequest { Hls, Other, Undecided };
// What the first bytes of a connection say (Undecided: too few bytes yet).
FirstRequest classifyFirstRequest(std::string_view bytes);

class ConnectionRouter {
 public:
  // A connection that has not said what it wants within this long is closed.
  static constexpr int kFirstBytesTimeoutSeconds = 10;
  // Connections waiting for their first bytes, at most; beyond, new ones go to libsoup as is.
  static constexpr size_t kMaxUndecided = 4096;

  // `listener` may be null: then every connection goes to libsoup.
  ConnectionRouter(GMainContext* context, SoupServer* server, ListenerHttp* listener);
  ~ConnectionRouter();
  ConnectionRouter(const ConnectionRouter&) = delete;
  ConnectionRouter& operator=(const ConnectionRouter&) = delete;

  // Binds and listens; returns the bound URL ("http://127.0.0.1:8080/"), useful with port 0.
  core::Result<std::string> listen(const std::string& host, int port);

 private:
  struct Undecided;
  static gboolean onAcceptable(GSocket* socket, GIOCondition condition, gpointer self);
  static gboolean onFirstBytes(gint fd, GIOCondition condition, gpointer undecided);
  static gboolean onRecheck(gpointer undecided);
  static gboolean onTimeout(gpointer undecided);
  void look(Undecided* u);
  void finish(Undecided* u);  // forgets it (the connection has gone somewhere, or is closed)
  void toSoup(int fd);

  GMainContext* context_;  // a reference of ours
  SoupServer* server_;
  ListenerHttp* listener_;
  GSocket* socket_ = nullptr;
  GSource* acceptSource_ = nullptr;
  std::set<Undecided*> undecided_;
};

}  // namespace roomcast::signaling
