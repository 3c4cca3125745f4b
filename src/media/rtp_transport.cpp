#include "media/rtp_transport.h"

#include <linux/filter.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "media/debug.h"
#include "media/direct_rtp_return.h"

#define GST_CAT_DEFAULT roomcast_media_debug

namespace roomcast::media {

using core::Error;
using core::ErrorCode;

RtpTransport::RtpTransport(std::string name, RtpEndpoint remote, std::string bindHost, int payloadType,
                           unsigned jitterLatencyMs)
    : name_(std::move(name)), remote_(std::move(remote)), bindHost_(std::move(bindHost)),
      payloadType_(payloadType), jitterLatencyMs_(jitterLatencyMs) {}

RtpTransport::~RtpTransport() { detach(); }

core::Status RtpTransport::attach(GstBin* pipeline, GstPad* uplinkSink, GstPad* returnSrc, PeerGates* gates) {
  pipeline_ = pipeline;
  g_autoptr(GError) error = nullptr;
  socket_ = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_autoptr(GInetAddress) bindAddress = g_inet_address_new_from_string(bindHost_.c_str());
  if (socket_ && bindAddress) {
    g_autoptr(GSocketAddress) local = g_inet_socket_address_new(bindAddress, 0);
    if (g_socket_bind(socket_, local, FALSE, &error)) {
      g_autoptr(GSocketAddress) bound = g_socket_get_local_address(socket_, &error);
      if (bound) local_ = {bindHost_, g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound))};
    }
  }
  if (!local_.port) {
    std::string why = error ? error->message : "bad bind address " + bindHost_;
    return Error{ErrorCode::Internal, "cannot open a UDP port for plain RTP: " + why};
  }

  auto make = [&](const char* factory, const char* role) { return makeBranchElement(elements_, name_, factory, role); };
  ElementPtr source = make("udpsrc", "udpsrc");
  ElementPtr jitter = make("rtpjitterbuffer", "jitter");
  ElementPtr sink = make("udpsink", "udpsink");
  if (elements_.size() != 3) return Error{ErrorCode::Internal, "udpsrc, udpsink or rtpjitterbuffer is missing"};

  g_autofree char* caps = g_strdup_printf(
      "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=%d", payloadType_);
  g_autoptr(GstCaps) rtpCaps = gst_caps_from_string(caps);
  g_object_set(source.get(), "socket", socket_, "close-socket", FALSE, "caps", rtpCaps, nullptr);
  // Same loss handling as webrtcbin's: a short jitter buffer that reports losses (PLC).
  g_object_set(jitter.get(), "latency", jitterLatencyMs_, "do-lost", TRUE, nullptr);
  // Never sync or preroll: the room's mixer thread pushes every return.
  g_object_set(sink.get(), "socket", socket_, "close-socket", FALSE, "host", remote_.host.c_str(), "port",
               remote_.port, "sync", FALSE, "async", FALSE, nullptr);

  for (auto& e : elements_) gst_bin_add(pipeline, e.get());
  g_autoptr(GstPad) jitterSrc = gst_element_get_static_pad(jitter.get(), "src");
  g_autoptr(GstPad) sinkPad = gst_element_get_static_pad(sink.get(), "sink");
  direct_ = std::make_shared<DirectRtpReturn>(socket_, remote_, payloadType_);
  addReturnRenumbering(sinkPad, direct_);
  if (!gst_element_link(source.get(), jitter.get()) || gst_pad_link(jitterSrc, uplinkSink) != GST_PAD_LINK_OK ||
      gst_pad_link(returnSrc, sinkPad) != GST_PAD_LINK_OK)
    return Error{ErrorCode::Internal, "cannot link the plain-RTP transport"};
  // Downstream first: the source must not push into an element that is not playing yet.
  for (auto it = elements_.rbegin(); it != elements_.rend(); ++it) gst_element_sync_state_with_parent(it->get());
  g_atomic_int_set(&gates->transportReady, 1);
  GST_INFO("%s: plain RTP %s:%d <-> %s:%d", name_.c_str(), local_.host.c_str(), local_.port, remote_.host.c_str(),
           remote_.port);
  return core::Ok{};
}

void RtpTransport::setUplinkWanted(bool wanted) {
  if (!socket_ || wanted != filtering_) return;
  const int fd = g_socket_get_fd(socket_);
  int rc;
  if (wanted) {
    const int unused = 0;  // the kernel wants an int-sized option value, even here
    rc = setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused);
  } else {
    // Classic BPF, one instruction: accept 0 bytes, i.e. drop. Packets already queued are
    // still read (and dropped by the uplink gate); packets sent while muted are never
    // queued, so an unmuted speaker is heard from their next packet, not from stale audio.
    static sock_filter dropAll[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
    const sock_fprog program{1, dropAll};
    rc = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
  }
  if (rc == 0) {
    filtering_ = !wanted;
  } else {
    // Harmless: the uplink gate still keeps the audio out of the mix, at the old cost.
    GST_WARNING("%s: cannot %s the uplink socket filter: %s", name_.c_str(), wanted ? "detach" : "attach",
                strerror(errno));
  }
}

void RtpTransport::detach() {
  for (auto& e : elements_) removeFromRunningBin(pipeline_, e.get());
  elements_.clear();
  direct_.reset();  // a fanout round still sending holds its own reference
  if (socket_) {
    // Not closed here: the descriptor closes with the last reference, so a send still in
    // flight can never reach a descriptor number the kernel has given to another socket.
    g_object_unref(socket_);
    socket_ = nullptr;
    filtering_ = false;
  }
}

}  // namespace roomcast::media
