// The connections the router hands to libsoup (REST, WebSocket, the web app), from hand-over to
// close, with a deadline for every phase.
//
// libsoup 3.2 cannot be left to hold a connection between requests: when a client closes an
// idle keep-alive connection, libsoup's read of the next request fails with nobody listening
// for the failure (soup-server-message-io-http1.c has no completion callback until a request
// has started), so the connection is never disconnected and its socket stays in CLOSE-WAIT for
// ever (fixed upstream in 3.3). It also has no timeouts for connections it did not accept itself.
// So libsoup holds a connection only while a request is on it: after each response we take the
// connection back (soup_server_message_steal_connection, from wrote-body), watch it ourselves
// while it is idle, and hand it over again when the next request's first bytes arrive.
//
// The socket is ours throughout: libsoup gets a fresh GSocketConnection over it for each request,
// which leaves it open when libsoup merely drops it, and we close it once libsoup has let go of
// that (a weak reference tells us), so a descriptor number is never reused under a stream libsoup
// still holds. (When libsoup itself closes the connection, the socket is closed with it.)
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "signaling/connection_limits.h"

namespace roomcast::signaling {

class SoupConnections {
 public:
  // `released(address)`: a connection from `address` is closed (the router counts them).
  SoupConnections(GMainContext* context, SoupServer* server, const ConnectionPolicy& policy,
                  std::function<void(const std::string&)> released);
  ~SoupConnections();
  SoupConnections(const SoupConnections&) = delete;
  SoupConnections& operator=(const SoupConnections&) = delete;

  // Takes an accepted connection (closed in any case when done). Its request line and headers
  // must be in by `headerDeadlineUs` (monotonic time). `local`: the address the client reached,
  // when `fd` is not the client's own socket (TLS: one end of a socket pair); else its own.
  void adopt(int fd, const sockaddr* address, socklen_t length, std::string key, int64_t headerDeadlineUs,
             const sockaddr* local = nullptr, socklen_t localLength = 0);
  size_t size() const { return connections_.size(); }

 private:
  enum class Phase { Headers, Body, Handling, Idle, Resuming, Lingering, Upgraded, Closing };
  struct Connection;

  void handOver(Connection* c, GIOStream* stolen, int64_t headerDeadlineUs);
  void takeBack(Connection* c);
  GIOStream* steal(Connection* c);
  void dropStolen(Connection* c, GIOStream* stolen);
  void refuseBody(Connection* c);
  void closeNow(Connection* c);
  void arm(Connection* c, int64_t deadlineUs);
  void watch(Connection* c, GSourceFunc onReady);
  void clearSources(Connection* c);
  void setMessage(Connection* c, SoupServerMessage* msg);

  static void onRequestStarted(SoupServer*, SoupServerMessage* msg, gpointer self);
  static void onGotHeaders(SoupServerMessage* msg, gpointer c);
  static void onGotChunk(SoupServerMessage* msg, GBytes* chunk, gpointer c);
  static void onGotBody(SoupServerMessage* msg, gpointer c);
  static void onWroteInformational(SoupServerMessage* msg, gpointer c);
  static void onWroteBody(SoupServerMessage* msg, gpointer c);
  static gboolean onDeadline(gpointer c);
  static gboolean onIdleReadable(gint fd, GIOCondition, gpointer c);
  static gboolean onLingerReadable(gint fd, GIOCondition, gpointer c);
  static gboolean onResume(gpointer c);
  static void onStreamGone(gpointer c, GObject* stream);
  static void onMessageGone(gpointer c, GObject* msg);

  GMainContext* context_;  // a reference of ours
  SoupServer* server_;
  ConnectionPolicy policy_;
  std::function<void(const std::string&)> released_;
  gulong requestStarted_ = 0;
  Connection* handingOver_ = nullptr;  // set while soup_server_accept_iostream runs
  std::set<Connection*> connections_;
};

}  // namespace roomcast::signaling
