#include "signaling/rest_forward.h"

#include <utility>

#include "signaling/json_replies.h"

namespace roomcast::signaling {

namespace {

// A node's answer larger than this is not relayed (REST answers are a few KiB; a room list of
// a big cluster some hundreds).
constexpr gsize kMaxRelayedBytes = 8 * 1024 * 1024;

struct Call {
  HeldMessage msg;
  SoupMessage* out;  // owned
  std::function<void(const std::string&)> failed;
  ~Call() { g_object_unref(out); }
};

void copyHeader(SoupMessageHeaders* from, SoupMessageHeaders* to, const char* name) {
  if (const char* value = soup_message_headers_get_one(from, name)) soup_message_headers_replace(to, name, value);
}

void relay(Call& call, GBytes* body) {
  SoupServerMessage* msg = call.msg.get();
  SoupMessageHeaders* from = soup_message_get_response_headers(call.out);
  SoupMessageHeaders* to = soup_server_message_get_response_headers(msg);
  for (const char* name : {"Location", "Retry-After", "Allow", "Cache-Control"}) copyHeader(from, to, name);
  const char* type = soup_message_headers_get_content_type(from, nullptr);
  gsize size = 0;
  const char* data = static_cast<const char*>(g_bytes_get_data(body, &size));
  soup_server_message_set_status(msg, soup_message_get_status(call.out), nullptr);
  soup_server_message_set_response(msg, type ? type : "application/json", SOUP_MEMORY_COPY, data, size);
  soup_server_message_unpause(msg);
}

void onAnswered(GObject* session, GAsyncResult* result, gpointer data) {
  std::unique_ptr<Call> call(static_cast<Call*>(data));
  g_autoptr(GError) error = nullptr;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish(SOUP_SESSION(session), result, &error);
  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) return;  // the forwarder is gone
  if (!body) return call->failed(error ? error->message : "no answer");
  if (g_bytes_get_size(body) > kMaxRelayedBytes) return call->failed("its answer is over 8 MiB");
  relay(*call, body);
}

}  // namespace

HeldMessage holdMessage(SoupServerMessage* msg) {
  soup_server_message_pause(msg);
  return HeldMessage(SOUP_SERVER_MESSAGE(g_object_ref(msg)), g_object_unref);
}

RestForwarder::RestForwarder(unsigned timeoutSeconds)
    : session_(soup_session_new_with_options("timeout", timeoutSeconds, "idle-timeout", 30, nullptr)),
      cancel_(g_cancellable_new()) {}

RestForwarder::~RestForwarder() {
  g_cancellable_cancel(cancel_);
  g_object_unref(cancel_);
  g_object_unref(session_);
}

void RestForwarder::forward(HeldMessage msg, const std::string& nodeUrl,
                            std::function<void(const std::string& reason)> failed) {
  GUri* in = soup_server_message_get_uri(msg.get());
  std::string target = nodeUrl + g_uri_get_path(in);
  if (const char* query = g_uri_get_query(in)) target += std::string("?") + query;
  SoupMessage* out = soup_message_new(soup_server_message_get_method(msg.get()), target.c_str());
  if (!out) return failed("not a URL: " + target);
  SoupMessageHeaders* inHeaders = soup_server_message_get_request_headers(msg.get());
  SoupMessageHeaders* outHeaders = soup_message_get_request_headers(out);
  copyHeader(inHeaders, outHeaders, "Authorization");
  soup_message_headers_replace(outHeaders, kForwardedHeader, "1");
  g_autoptr(GBytes) body = soup_message_body_flatten(soup_server_message_get_request_body(msg.get()));
  if (g_bytes_get_size(body) > 0) {
    const char* type = soup_message_headers_get_content_type(inHeaders, nullptr);
    soup_message_set_request_body_from_bytes(out, type ? type : "application/octet-stream", body);
  }
  auto* call = new Call{std::move(msg), out, std::move(failed)};
  soup_session_send_and_read_async(session_, out, G_PRIORITY_DEFAULT, cancel_, onAnswered, call);
}

}  // namespace roomcast::signaling
