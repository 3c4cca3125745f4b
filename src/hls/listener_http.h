// The listener thread: HLS for the connections whose first request was for /hls/ (players,
// ffmpeg, CDNs and edges), served by libmicrohttpd on its own epoll thread. Thousands of
// players each polling a playlist every second would otherwise cost the control thread's GLib
// loop a visit to every connection on every iteration (its poll is O(connections)); here they
// cost the control thread nothing but the listener counting, in batches.
//
// The answers are HlsResponder's, the same as on libsoup. If such a connection later asks for
// something else (an API call from the same browser, say), it is answered 307 to the same URL
// with `Connection: close`, so the client repeats it on a new connection, which libsoup serves.
#pragma once

#include <glib.h>
#include <microhttpd.h>
#include <sys/socket.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "glib_support/source.h"
#include "hls/owner_redirect.h"

namespace roomcast::hls {

class HlsResponder;
class ListenerCounting;

class ListenerHttp {
 public:
  // Idle keep-alive connections are closed after this long (players poll every second).
  static constexpr unsigned kIdleTimeoutSeconds = 60;
  // Counting requests waiting for the control thread, at most (beyond: dropped; the next
  // refresh counts them).
  static constexpr size_t kMaxPendingSightings = 200000;

  ListenerHttp(GMainContext* control, HlsResponder& responder, ListenerCounting& listeners);
  ~ListenerHttp();
  ListenerHttp(const ListenerHttp&) = delete;
  ListenerHttp& operator=(const ListenerHttp&) = delete;

  // In a cluster, before start(): where a room not live here is owned. A request for such a
  // room is suspended while the control thread looks (libmicrohttpd's suspend/resume), so the
  // listener thread never waits; local rooms are answered from memory as before.
  void setOwnerOf(OwnerOf ownerOf) { ownerOf_ = std::move(ownerOf); }
  core::Status start();
  // Takes an accepted connection (from any thread); it is closed in any case when done.
  bool adopt(int fd, const sockaddr* address, socklen_t length);

 private:
  struct Exchange;
  static MHD_Result onRequest(void* self, MHD_Connection* connection, const char* url, const char* method,
                              const char* version, const char* upload, size_t* uploadSize, void** context);
  static void* onUri(void* self, const char* uri, MHD_Connection* connection);
  static void onCompleted(void* self, MHD_Connection* connection, void** context, MHD_RequestTerminationCode why);
  void noteListener(std::string room, std::string session);  // listener thread
  static MHD_Result send(MHD_Connection* connection, Exchange& exchange, const HlsResponse& response);
  // Listener thread: suspends the request and asks the control thread for the owner.
  MHD_Result askOwner(MHD_Connection* connection, Exchange& exchange, const HlsResponse& miss, bool viaEdge);
  // Control thread: answers a suspended request (the redirect, or its 404) and resumes it.
  void resolve(MHD_Connection* connection, const RoomOwner& owner);
  static gboolean onFlush(gpointer self);                    // control thread

  GMainContext* control_;  // the control thread's (a reference of ours)
  HlsResponder& responder_;
  ListenerCounting& listeners_;
  MHD_Daemon* daemon_ = nullptr;
  std::mutex mutex_;  // guards what follows
  std::vector<std::pair<std::string, std::string>> sightings_;
  glib_support::Source flush_;  // on the control context, armed by the listener thread
  std::map<MHD_Connection*, Exchange*> suspended_;  // waiting for an owner lookup
  OwnerOf ownerOf_;  // called on the control thread only
  // Lookups answered after this object is gone find it expired (both on the control thread).
  std::shared_ptr<ListenerHttp*> self_ = std::make_shared<ListenerHttp*>(this);
};

}  // namespace roomcast::hls
