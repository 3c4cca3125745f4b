// TLS for roomcastd's one port. Each admitted connection is handshaken here (GnuTLS, on the
// control thread, non-blocking, with TlsCredentials' current certificate), its first decrypted
// bytes are classified like a plain connection's (HLS or not), and then it is handed on as a
// plain connection: one end of a Unix socket pair goes to the listener thread or to
// SoupConnections, exactly as an unencrypted TCP connection would, and this class pumps bytes
// between the pair and the TLS session until either side is done.
//
// Why a socket pair rather than giving libsoup a TLS stream: everything that keeps client
// connections bounded works on the plain connection's descriptor (SoupConnections takes each
// connection back from libsoup between requests, peeks at it while idle, reaps it when the
// client closes, answers 413 on it; the listener thread hands HLS connections to
// libmicrohttpd). Over the pair all of that runs unchanged under TLS, with the same deadlines
// and caps, and HLS keeps its own thread. The price: two more descriptors per TLS connection,
// and encryption on the control thread (a large audience belongs behind the caching edge).
//
// Why GnuTLS directly rather than GIO's GTlsServerConnection: GIO runs every handshake as a
// blocking job on its shared worker pool, so a few dozen clients that start a handshake and
// stall hold every worker, and everyone else's handshake waits for them (measured: 60 stalled
// handshakes made a health check take 3 s). Here a stalled handshake costs a descriptor and a
// few kilobytes until the header deadline.
//
// Deadlines: the handshake and the first bytes of the first request must be in by the header
// deadline (a handshake that never ends is closed then); after the hand-over, the plain
// connection's own deadlines apply and closing it closes the TLS connection. When the client
// closes, the plain connection sees end-of-file, as with a TCP client.
#pragma once

#include <glib.h>
#include <sys/socket.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "hls/first_request.h"

namespace roomcast::signaling {

class TlsCredentials;

// A decrypted connection, ready to be served like an accepted one.
struct PlainConnection {
  int fd;  // the server's end of the pair (theirs to close)
  hls::FirstRequest kind;
  const sockaddr* remote;  // the TLS client's address
  socklen_t remoteLength;
  const sockaddr* local;  // the address it reached (the listening socket's)
  socklen_t localLength;
  const std::string& key;  // as counted by the router
  int64_t headerDeadlineUs;
};

class TlsTerminator {
 public:
  // `handOn`: a connection's plain end, to serve. `released(key)`: a connection closed before
  // it was handed on (after that, whoever serves the plain end releases it).
  TlsTerminator(GMainContext* context, const TlsCredentials& credentials,
                std::function<void(const PlainConnection&)> handOn, std::function<void(const std::string&)> released);
  ~TlsTerminator();
  TlsTerminator(const TlsTerminator&) = delete;
  TlsTerminator& operator=(const TlsTerminator&) = delete;

  // Takes an accepted TCP connection (closed in any case when done).
  void adopt(int fd, const sockaddr_storage& address, socklen_t length, std::string key, int64_t headerDeadlineUs);
  size_t size() const { return links_.size(); }

 private:
  struct Link;
  static gboolean onHandshakeReady(gint fd, GIOCondition, gpointer link);
  static gboolean onDeadline(gpointer link);
  static gboolean onClientReadable(gpointer link);
  static gboolean onClientWritable(gint fd, GIOCondition, gpointer link);
  static gboolean onPlainReadable(gint fd, GIOCondition, gpointer link);
  static gboolean onPlainWritable(gint fd, GIOCondition, gpointer link);
  void handshake(Link* l);
  void handOn(Link* l, hls::FirstRequest kind);
  void pumpUp(Link* l);
  void pumpDown(Link* l);
  void serverDone(Link* l);
  void watchClientIn(Link* l);
  void finish(Link* l);

  GMainContext* context_;  // a reference of ours
  const TlsCredentials& credentials_;
  std::function<void(const PlainConnection&)> handOn_;
  std::function<void(const std::string&)> released_;
  std::map<Link*, std::unique_ptr<Link>> links_;  // by address: callbacks carry the Link*
};

}  // namespace roomcast::signaling
