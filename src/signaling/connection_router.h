// roomcastd's listening socket. Each new connection's first bytes are peeked at (not read):
// if it begins with an HLS request it goes to the listener thread (ListenerHttp), otherwise to
// libsoup on the control thread (through SoupConnections), which then reads the request from
// the start. Players and edges open a connection and ask for playlists and segments on it;
// browsers, the CLI and WebSockets begin with anything else.
//
// Every connection is admitted against the caps first (per client address, in total, and the
// process's descriptors less the rooms' reserve), and must say what it wants by the header
// deadline. Waiting for more first bytes is event-driven: the socket's receive low-water mark
// is raised past what has arrived, so it is not readable again until more does.
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "glib_support/source.h"
#include "hls/first_request.h"
#include "signaling/connection_limits.h"
#include "signaling/soup_connections.h"
#include "signaling/tls_terminator.h"

namespace roomcast::hls {
class ListenerHttp;
}

namespace roomcast::signaling {

class TlsCredentials;
class TlsTerminator;

class ConnectionRouter {
 public:
  // New connections taken per wake-up (the rest on the next).
  static constexpr int kAcceptBatch = 64;
  // When accept fails for want of descriptors or memory (EMFILE, ENFILE, ...), accepting stops
  // for this long, doubling up to the maximum while it keeps failing, instead of spinning on a
  // listening socket that stays readable.
  static constexpr guint kBackoffFirstMs = 100;
  static constexpr guint kBackoffMaxMs = 1000;

  // `listener` may be null: then every connection goes to libsoup. With `tls`, every
  // connection is TLS: TlsTerminator decrypts it and hands it back as a plain one.
  ConnectionRouter(GMainContext* context, SoupServer* server, hls::ListenerHttp* listener, ConnectionPolicy policy = {},
                   const TlsCredentials* tls = nullptr);
  ~ConnectionRouter();
  ConnectionRouter(const ConnectionRouter&) = delete;
  ConnectionRouter& operator=(const ConnectionRouter&) = delete;

  // Binds and listens; returns the bound URL ("http://127.0.0.1:8080/", https:// with TLS),
  // useful with port 0.
  core::Result<std::string> listen(const std::string& host, int port);

  // Client connections counted against the caps: undecided ones and libsoup's (the listener
  // thread's HLS connections are libmicrohttpd's to limit).
  size_t connections() const { return counts_.total(); }

 private:
  struct Undecided;
  static gboolean onAcceptable(GSocket* socket, GIOCondition condition, gpointer self);
  static gboolean onResumeAccepting(gpointer self);
  static gboolean onFirstBytes(gint fd, GIOCondition condition, gpointer undecided);
  static gboolean onTimeout(gpointer undecided);
  bool admit(int fd, const sockaddr_storage& address, socklen_t length);
  void backOff();
  void startAccepting();
  void look(Undecided* u);
  void finish(Undecided* u);  // forgets it (the connection has gone somewhere, or is closed)
  void serve(const PlainConnection& c);  // a decrypted TLS connection

  GMainContext* context_;  // a reference of ours
  SoupServer* server_;
  hls::ListenerHttp* listener_;
  ConnectionPolicy policy_;
  unsigned descriptorCeiling_;  // an accepted descriptor numbered this high is refused
  AddressCounts counts_;
  std::unique_ptr<SoupConnections> soup_;
  std::unique_ptr<TlsTerminator> tls_;  // null without TLS
  GSocket* socket_ = nullptr;
  glib_support::Source acceptSource_;
  glib_support::Source resumeSource_;  // backing off
  guint backoffMs_ = kBackoffFirstMs;
  unsigned refusedSinceLog_ = 0;  // refusals not yet logged
  int64_t lastRefusalLogUs_ = 0;
  std::map<Undecided*, std::unique_ptr<Undecided>> undecided_;  // by address: callbacks carry the Undecided*
};

}  // namespace roomcast::signaling
