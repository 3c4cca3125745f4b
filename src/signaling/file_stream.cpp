#include "signaling/file_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "glib_support/owned_data.h"
#include "hls/hls_responder.h"

namespace roomcast::signaling {

namespace {

constexpr goffset kChunkBytes = 64 * 1024;
// Chunks read ahead of the socket: enough to keep a fast client busy while the next is read.
constexpr unsigned kChunksAhead = 2;

// One response body on its way out. Held by the message's signal handlers until the message
// finishes (sent, or the client went), and by the read in flight.
struct FileStream {
  int refs = 1;
  int fd = -1;
  SoupServerMessage* msg = nullptr;  // null once the message finished
  goffset next = 0;                  // the next byte to read
  goffset end = 0;                   // one past the last byte to send
  unsigned queued = 0;               // chunks handed to libsoup, not yet written
  bool reading = false;
  gulong wroteChunkHandler = 0;
  gulong finishedHandler = 0;
};

void release(FileStream* stream) {
  if (--stream->refs > 0) return;
  close(stream->fd);
  glib_support::destroyHandedOff<FileStream>(stream);
}

struct ChunkRead {
  int fd;
  goffset offset;
  gsize length;
};

// On a worker thread: one chunk, whole (pread may return less than asked).
void readChunk(GTask* task, gpointer, gpointer data, GCancellable*) {
  const auto* job = &glib_support::handedOff<const ChunkRead>(data);
  auto* buffer = static_cast<char*>(g_malloc(job->length));
  gsize done = 0;
  while (done < job->length) {
    const ssize_t n = pread(job->fd, buffer + done, job->length - done, job->offset + static_cast<goffset>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int code = n < 0 ? errno : 0;
      g_free(buffer);
      g_task_return_new_error(task, G_IO_ERROR, code ? g_io_error_from_errno(code) : G_IO_ERROR_FAILED, "%s",
                              code ? g_strerror(code) : "the file is shorter than when it was opened");
      return;
    }
    done += static_cast<gsize>(n);
  }
  g_task_return_pointer(task, g_bytes_new_take(buffer, job->length), reinterpret_cast<GDestroyNotify>(g_bytes_unref));
}

void readMore(FileStream* stream);

// Back on the control thread: hand the chunk to libsoup and wake the message's writer.
void onChunkRead(GObject*, GAsyncResult* result, gpointer data) {
  auto* stream = static_cast<FileStream*>(data);
  stream->reading = false;
  g_autoptr(GError) error = nullptr;
  g_autoptr(GBytes) chunk = static_cast<GBytes*>(g_task_propagate_pointer(G_TASK(result), &error));
  if (stream->msg && !chunk) {
    // The length is promised in the headers: the only honest end is to drop the connection.
    g_warning("cannot read a file being served: %s", error->message);
    if (GSocket* socket = soup_server_message_get_socket(stream->msg)) g_socket_close(socket, nullptr);
    soup_server_message_unpause(stream->msg);  // the writer meets the closed socket and finishes
  } else if (stream->msg) {
    stream->next += static_cast<goffset>(g_bytes_get_size(chunk));
    stream->queued++;
    soup_message_body_append_bytes(soup_server_message_get_response_body(stream->msg), chunk);
    soup_server_message_unpause(stream->msg);
    readMore(stream);
  }
  release(stream);
}

void readMore(FileStream* stream) {
  if (!stream->msg || stream->reading || stream->next >= stream->end || stream->queued >= kChunksAhead) return;
  stream->reading = true;
  stream->refs++;
  auto job = glib_support::handOff(
      ChunkRead{stream->fd, stream->next, static_cast<gsize>(std::min(kChunkBytes, stream->end - stream->next))});
  GTask* task = g_task_new(nullptr, nullptr, onChunkRead, stream);
  g_task_set_task_data(task, job.data, job.destroy);
  g_task_run_in_thread(task, readChunk);
  g_object_unref(task);
}

void onWroteChunk(SoupServerMessage*, gpointer data) {
  auto* stream = static_cast<FileStream*>(data);
  if (stream->queued) stream->queued--;
  readMore(stream);
}

void onFinished(SoupServerMessage* msg, gpointer data) {
  auto* stream = static_cast<FileStream*>(data);
  g_signal_handler_disconnect(msg, stream->wroteChunkHandler);
  g_signal_handler_disconnect(msg, stream->finishedHandler);
  stream->msg = nullptr;
  g_object_unref(msg);
  release(stream);
}

std::string httpDate(time_t seconds) {
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(seconds);
  g_autofree char* text = t ? soup_date_time_to_string(t, SOUP_DATE_HTTP) : nullptr;
  return text ? text : "";
}

void sendBodiless(SoupServerMessage* msg, guint status) {
  soup_message_headers_set_content_length(soup_server_message_get_response_headers(msg), 0);
  soup_server_message_set_status(msg, status, nullptr);
}

}  // namespace

void streamFile(SoupServerMessage* msg, const std::string& path, const char* contentType, const char* cacheControl) {
  SoupMessageHeaders* in = soup_server_message_get_request_headers(msg);
  SoupMessageHeaders* out = soup_server_message_get_response_headers(msg);
  const std::string method = soup_server_message_get_method(msg);
  soup_message_headers_replace(out, "Access-Control-Allow-Origin", "*");
  if (method == "OPTIONS") {  // CORS preflight (a player sending Range)
    soup_message_headers_replace(out, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
    soup_message_headers_replace(out, "Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since");
    soup_message_headers_replace(out, "Access-Control-Max-Age", "86400");
    return soup_server_message_set_status(msg, 204, nullptr);
  }
  if (method != "GET" && method != "HEAD") {
    soup_message_headers_replace(out, "Allow", "GET, HEAD, OPTIONS");
    static const char body[] = R"({"error":{"code":"method_not_allowed","message":"allowed methods: GET, HEAD, OPTIONS"}})";
    soup_server_message_set_status(msg, 405, nullptr);
    return soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_STATIC, body, sizeof body - 1);
  }
  // Opening and fstat are metadata, cheap enough for the control thread; O_NONBLOCK so that a
  // FIFO in the directory cannot hold it either.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    static const char body[] = R"({"error":{"code":"not_found","message":"not found"}})";
    soup_message_headers_replace(out, "Cache-Control", "no-store");
    soup_server_message_set_status(msg, 404, nullptr);
    return soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_STATIC, body, sizeof body - 1);
  }
  const goffset total = st.st_size;
  const std::string etag = "\"f" + std::to_string(static_cast<long long>(st.st_mtime)) + "-" + std::to_string(total) + "\"";
  soup_message_headers_replace(out, "Access-Control-Expose-Headers", "Content-Length, Content-Range, ETag");
  soup_message_headers_replace(out, "Cache-Control", cacheControl);
  soup_message_headers_replace(out, "ETag", etag.c_str());
  soup_message_headers_replace(out, "Last-Modified", httpDate(st.st_mtime).c_str());
  soup_message_headers_replace(out, "Accept-Ranges", "bytes");

  const char* ifNoneMatch = soup_message_headers_get_one(in, "If-None-Match");
  if (ifNoneMatch && (etag == ifNoneMatch || std::string_view(ifNoneMatch) == "*")) {
    close(fd);
    return soup_server_message_set_status(msg, 304, nullptr);
  }
  goffset start = 0, end = total;  // end: one past the last byte
  guint status = 200;
  if (const char* rangeHeader = soup_message_headers_get_one(in, "Range")) {
    const hls::ByteRange range = hls::parseByteRange(rangeHeader, static_cast<size_t>(total));
    if (range.kind == hls::ByteRange::Kind::Unsatisfiable) {
      close(fd);
      soup_message_headers_replace(out, "Content-Range", ("bytes */" + std::to_string(total)).c_str());
      return sendBodiless(msg, 416);
    }
    if (range.kind == hls::ByteRange::Kind::Single) {
      status = 206;
      start = static_cast<goffset>(range.start);
      end = static_cast<goffset>(range.end) + 1;
      soup_message_headers_set_content_range(out, start, end - 1, total);
    }
  }
  soup_message_headers_set_content_type(out, contentType, nullptr);
  soup_message_headers_set_content_length(out, end - start);
  soup_server_message_set_status(msg, status, nullptr);
  if (method == "HEAD" || start == end) {
    close(fd);
    return;
  }
  // The body follows chunk by chunk; libsoup pauses the message whenever it has written all it
  // was given, and each chunk read wakes it. Written chunks are dropped, not kept.
  soup_message_body_set_accumulate(soup_server_message_get_response_body(msg), FALSE);
  // Counted by hand (refs): the last release() frees it.
  FileStream* stream = std::make_unique<FileStream>().release();
  stream->fd = fd;
  stream->msg = msg;
  stream->next = start;
  stream->end = end;
  g_object_ref(msg);
  stream->wroteChunkHandler = g_signal_connect(msg, "wrote-chunk", G_CALLBACK(onWroteChunk), stream);
  stream->finishedHandler = g_signal_connect(msg, "finished", G_CALLBACK(onFinished), stream);
  readMore(stream);
}

}  // namespace roomcast::signaling
