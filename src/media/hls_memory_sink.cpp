#include "media/hls_memory_sink.h"

#include <gio/gio.h>

#include <functional>
#include <utility>

#include "glib_support/owned_data.h"
#include "media/debug.h"

#define GST_CAT_DEFAULT roomcast_room_debug

namespace {

// An output stream that keeps what is written in memory and, when it is closed (hlssink2
// never closes its streams: their last unref does), hands the bytes to `closed` if set.
struct ByteStreamState {
  std::mutex mutex;
  std::string bytes;
  std::function<void(std::string&&)> closed;
};

struct RoomcastByteStream {
  GOutputStream parent;
  ByteStreamState* state;
};
struct RoomcastByteStreamClass {
  GOutputStreamClass parent_class;
};

G_DEFINE_TYPE(RoomcastByteStream, roomcast_byte_stream, G_TYPE_OUTPUT_STREAM)

ByteStreamState* stateOf(gpointer stream) {
  return reinterpret_cast<RoomcastByteStream*>(stream)->state;
}

gssize writeBytes(GOutputStream* stream, const void* buffer, gsize count, GCancellable*, GError**) {
  ByteStreamState* state = stateOf(stream);
  std::lock_guard lock(state->mutex);
  state->bytes.append(static_cast<const char*>(buffer), count);
  return static_cast<gssize>(count);
}

gboolean closeBytes(GOutputStream* stream, GCancellable*, GError**) {
  ByteStreamState* state = stateOf(stream);
  std::function<void(std::string&&)> closed;
  std::string bytes;
  {
    std::lock_guard lock(state->mutex);
    closed = std::move(state->closed);
    if (closed) bytes = std::move(state->bytes);
  }
  if (closed) closed(std::move(bytes));
  return TRUE;
}

// The instance struct is plain C (zeroed, never constructed): it holds the state by pointer,
// made in init and freed here, once per stream.
void finalizeBytes(GObject* object) {
  roomcast::glib_support::destroyHandedOff<ByteStreamState>(stateOf(object));
  G_OBJECT_CLASS(roomcast_byte_stream_parent_class)->finalize(object);
}

void roomcast_byte_stream_class_init(RoomcastByteStreamClass* klass) {
  G_OUTPUT_STREAM_CLASS(klass)->write_fn = writeBytes;
  G_OUTPUT_STREAM_CLASS(klass)->close_fn = closeBytes;
  G_OBJECT_CLASS(klass)->finalize = finalizeBytes;
}

void roomcast_byte_stream_init(RoomcastByteStream* self) {
  self->state = std::make_unique<ByteStreamState>().release();
}

GOutputStream* newByteStream(std::function<void(std::string&&)> closed = nullptr) {
  auto* stream = static_cast<GOutputStream*>(g_object_new(roomcast_byte_stream_get_type(), nullptr));
  stateOf(stream)->closed = std::move(closed);
  return stream;
}

std::shared_ptr<const std::string> bytesOf(GOutputStream* stream) {
  ByteStreamState* state = stateOf(stream);
  std::lock_guard lock(state->mutex);
  return std::make_shared<const std::string>(std::move(state->bytes));
}

std::string baseName(const char* location) {
  g_autofree char* name = g_path_get_basename(location);
  return name;
}

}  // namespace

namespace roomcast::media {

std::shared_ptr<HlsMemorySink> HlsMemorySink::attach(GstElement* hlssink2) {
  auto sink = std::make_shared<HlsMemorySink>(Passkey());
  // Each handler holds the sink; the last one disconnected (hlssink2 finalized) lets go.
  auto connect = [&](const char* signal, GCallback handler) {
    auto held = glib_support::handOff(std::shared_ptr<HlsMemorySink>(sink));
    g_signal_connect_data(hlssink2, signal, handler, held.data, held.closureDestroy, GConnectFlags(0));
  };
  connect("get-fragment-stream", G_CALLBACK(&HlsMemorySink::onFragmentStream));
  connect("get-playlist-stream", G_CALLBACK(&HlsMemorySink::onPlaylistStream));
  connect("delete-fragment", G_CALLBACK(&HlsMemorySink::onDeleteFragment));
  return sink;
}

HlsMemorySink::~HlsMemorySink() {
  for (auto& [name, stream] : writing_) g_object_unref(stream);
}

HlsMemorySink::Closed HlsMemorySink::take() {
  std::lock_guard lock(mutex_);
  return std::exchange(closed_, {});
}

// On splitmuxsink's thread, as a segment begins. hlssink2 takes the returned reference.
GOutputStream* HlsMemorySink::onFragmentStream(GstElement*, const char* location, gpointer data) {
  auto* self = glib_support::handedOff<std::shared_ptr<HlsMemorySink>>(data).get();
  GOutputStream* stream = newByteStream();
  std::lock_guard lock(self->mutex_);
  GOutputStream*& kept = self->writing_[baseName(location)];
  if (kept) g_object_unref(kept);  // a name used again (cannot happen: start-index numbers on)
  kept = G_OUTPUT_STREAM(g_object_ref(stream));
  return stream;
}

// On the thread that closed a segment (or posted EOS): hlssink2 writes the whole playlist at
// once and drops the stream, which closes it.
GOutputStream* HlsMemorySink::onPlaylistStream(GstElement*, const char*, gpointer data) {
  std::weak_ptr<HlsMemorySink> weak = glib_support::handedOff<std::shared_ptr<HlsMemorySink>>(data);
  return newByteStream([weak](std::string&& text) {
    if (auto self = weak.lock()) self->onPlaylistWritten(text);
  });
}

// hlssink2 keeps max-files segments and asks for the oldest to be deleted as a new one is
// listed. Answered, so that hlssink2 does not remove a file of that name itself (relative to the
// process's working directory); the room's window (hls::Rendition) decides what leaves, in
// memory and on disk.
void HlsMemorySink::onDeleteFragment(GstElement*, const char*, gpointer) {}

// Every segment that hlssink2 lists is whole; those still in writing_ are new.
void HlsMemorySink::onPlaylistWritten(const std::string& text) {
  std::lock_guard lock(mutex_);
  for (auto& listed : hls::parseMediaPlaylist(text)) {
    auto it = writing_.find(listed.name);
    if (it == writing_.end()) continue;
    closed_.bytes.push_back(bytesOf(it->second));
    closed_.segments.push_back(std::move(listed));
    g_object_unref(it->second);
    writing_.erase(it);
  }
}

}  // namespace roomcast::media
