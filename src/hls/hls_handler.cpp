#include "hls/hls_handler.h"

#include "glib_support/owned_data.h"

namespace roomcast::hls {

namespace {

std::string queryParam(SoupServerMessage* msg, const char* name) {
  GUri* uri = soup_server_message_get_uri(msg);
  const char* query = uri ? g_uri_get_query(uri) : nullptr;
  if (!query) return "";
  g_autoptr(GHashTable) params = g_uri_parse_params(query, -1, "&", G_URI_PARAMS_NONE, nullptr);
  const char* value = params ? static_cast<const char*>(g_hash_table_lookup(params, name)) : nullptr;
  return value ? value : "";
}

std::string header(SoupMessageHeaders* headers, const char* name) {
  const char* value = soup_message_headers_get_one(headers, name);
  return value ? value : "";
}

// Applies a response to a libsoup message.
void sendHlsResponse(SoupServerMessage* msg, const HlsResponse& response) {
  SoupMessageHeaders* out = soup_server_message_get_response_headers(msg);
  for (const auto& [name, value] : response.headers) soup_message_headers_replace(out, name, value.c_str());
  soup_server_message_set_status(msg, static_cast<guint>(response.status), nullptr);
  if (!response.contentType) return;
  // The body shares the segment's memory: a reference, not a copy.
  auto keep = glib_support::handOff(std::shared_ptr<const std::string>(response.body));
  g_autoptr(GBytes) data =
      g_bytes_new_with_free_func(response.body->data() + response.offset, response.length, keep.destroy, keep.data);
  soup_message_headers_set_content_type(out, response.contentType, nullptr);
  soup_message_body_append_bytes(soup_server_message_get_response_body(msg), data);
}

}  // namespace

HlsRequest HlsHandler::requestOf(SoupServerMessage* msg, std::string_view path) const {
  SoupMessageHeaders* in = soup_server_message_get_request_headers(msg);
  return {soup_server_message_get_method(msg), path, queryParam(msg, "session"), header(in, "If-None-Match"),
          header(in, "Range")};
}

void HlsHandler::handle(SoupServerMessage* msg, std::string_view path) {
  const HlsRequest request = requestOf(msg, path);
  const HlsResponse response = responder_.respond(request);
  if (!response.countSession.empty()) listeners_.count(response.countRoom, response.countSession);
  if (response.unknownRoom.empty() || !ownerOf_) return sendHlsResponse(msg, response);
  // Not here: maybe on another node. The message waits (paused, and referenced: the client may
  // go meanwhile) for the lookup, which may answer at once.
  const bool viaEdge = header(soup_server_message_get_request_headers(msg), kEdgeHeader) == "1";
  soup_server_message_pause(msg);
  g_object_ref(msg);
  ownerOf_(response.unknownRoom, [msg, response, viaEdge, path = std::string(path),
                                   session = request.session](RoomOwner owner) {
    std::optional<HlsResponse> redirect = ownerAnswer(owner, path, session, viaEdge);
    sendHlsResponse(msg, redirect ? *redirect : response);
    soup_server_message_unpause(msg);
    g_object_unref(msg);
  });
}

}  // namespace roomcast::hls
