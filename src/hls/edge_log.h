// Counting HLS listeners who are served by a caching edge (nginx): the edge sends one syslog
// line over UDP per playlist request ("<room> <session>", see data/nginx/roomcast-edge.conf)
// and this receiver marks that listening session as seen, as a playlist request served here
// would. UDP costs the edge nothing per request (no subrequest, nothing to wait for) and a
// lost datagram only delays one refresh of a count that tolerates seconds of silence.
// While lines flow, they are read in batches on a short timer rather than one wake-up of the
// main loop each (10 000 listeners send 10 000 lines a second); when a batch finds nothing,
// the receiver goes back to waiting on the socket, so an idle server never wakes for it.
#pragma once

#include <gio/gio.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "glib_support/source.h"

namespace roomcast::hls {

class ListenerCounting;

// What a line says, if it is one: the text after the syslog header's "roomcast: " tag.
struct EdgeLogLine {
  std::string room;
  std::string session;
};
core::Result<EdgeLogLine> parseEdgeLogLine(std::string_view datagram);

class EdgeLogReceiver {
 public:
  EdgeLogReceiver(GMainContext* context, ListenerCounting& listeners);
  ~EdgeLogReceiver();
  EdgeLogReceiver(const EdgeLogReceiver&) = delete;
  EdgeLogReceiver& operator=(const EdgeLogReceiver&) = delete;

  // Binds HOST:PORT (UDP; keep it on loopback or a private network: anyone who can send to
  // it can only refresh sessions that the server itself signed, but it is work).
  core::Status bind(const std::string& host, int port);
  uint64_t accepted() const { return accepted_; }
  uint64_t rejected() const { return rejected_; }

 private:
  static gboolean onReadable(GSocket* socket, GIOCondition condition, gpointer self);
  static gboolean onBatchTimer(gpointer self);
  // Reads what is queued (at most a bound); returns how many datagrams there were.
  int drain();
  void watchSocket();
  void handle(std::string_view datagram);

  GMainContext* context_;
  ListenerCounting& listeners_;
  GSocket* socket_ = nullptr;
  glib_support::Source source_;  // the socket watch, or the batch timer while lines flow
  uint64_t accepted_ = 0;
  uint64_t rejected_ = 0;
};

}  // namespace roomcast::hls
