// Serves a file on libsoup from its descriptor, in chunks read on GLib's worker threads: the
// control thread never reads a file, and a request holds at most two chunks in memory however
// large the file (recordings run to hundreds of MB). Answers GET and HEAD with validators (an
// ETag, Last-Modified; If-None-Match gets 304), one byte range (206 with Content-Range, 416
// when unsatisfiable) and CORS, like the HLS answers (hls_responder.h).
#pragma once

#include <libsoup/soup.h>

#include <string>

namespace roomcast::signaling {

// Answers `msg` with the file at `path` (404 when it cannot be opened). The body, if any,
// follows after the handler returns; the stream ends by itself when the client goes.
void streamFile(SoupServerMessage* msg, const std::string& path, const char* contentType, const char* cacheControl);

}  // namespace roomcast::signaling
