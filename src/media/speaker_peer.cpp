#include "media/speaker_peer.h"

#include "media/debug.h"
#include "media/direct_rtp_return.h"
#include "media/webrtc_util.h"

#define GST_CAT_DEFAULT roomcast_media_debug

namespace roomcast::media {

using core::Error;
using core::ErrorCode;

SpeakerPeer::SpeakerPeer(RoomTaps room, std::string name, SpeakerSettings settings)
    : room_(room), name_(std::move(name)), settings_(settings), gates_(newPeerGates(room.sharedListeners)) {}

SpeakerPeer::~SpeakerPeer() {
  removeElements();
  unrefPeerGates(gates_);
}

core::Status SpeakerPeer::start(std::unique_ptr<PeerTransport> transport, int payloadType, bool mixed) {
  if (transport_) return Error{ErrorCode::Conflict, "this speaker already has a media session"};
  transport_ = std::move(transport);
  // Everything plays before any thread can push into it (an element still in NULL answers
  // FLUSHING, which tee and the mixer take as the end of the stream): the branches, then the
  // transport, and the room's returns last.
  auto built = buildBranches(payloadType, mixed);
  if (built) {
    for (auto& e : elements_) gst_element_sync_state_with_parent(e.get());
    built = transport_->attach(room_.pipeline, uplinkSink_.get(), returnSrc_.get(), gates_);
    if (built) transport_->setUplinkWanted(mixed);
  }
  if (built) built = linkReturns();
  // elements_[2] is the return encoder (buildBranches).
  if (built && transport_->webrtcbin())
    lossFeedback_ = std::make_unique<LossFeedback>(transport_->webrtcbin(), elements_[2].get());
  if (!built) {
    removeElements();
    return built.error();
  }
  GST_INFO("%s: branches built (opus pt %d, %s)", name_.c_str(), payloadType, mixerPadName().c_str());
  return core::Ok{};
}

void SpeakerPeer::setMixed(bool mixed) {
  g_atomic_int_set(&gates_->mixed, mixed ? 1 : 0);
  // Also at the mixer, so audio already decoded when the gate closes is not heard either.
  if (mixerSink_) g_object_set(mixerSink_.get(), "mute", mixed ? FALSE : TRUE, nullptr);
  if (transport_) transport_->setUplinkWanted(mixed);
}

void SpeakerPeer::setInRecording(bool inRecording) {
  if (mixerSink_) g_object_set(mixerSink_.get(), "in-record", inRecording ? TRUE : FALSE, nullptr);
}

ElementPtr SpeakerPeer::part(const char* factory, const char* role) {
  return makeBranchElement(elements_, name_, factory, role);
}

std::string SpeakerPeer::mixerPadName() const {
  return mixerSink_ ? GST_OBJECT_NAME(mixerSink_.get()) : "";
}

core::Status SpeakerPeer::buildBranches(int payloadType, bool mixed) {
  ElementPtr depay = part("rtpopusdepay", "depay");
  // Ours (plugins/roomcast): decodes each packet at once and uses FEC only after a loss;
  // opusdec with FEC holds every packet back 20 ms.
  ElementPtr decoder = part("opusfecdec", "dec");
  ElementPtr encoder = part("opusenc", "enc");
  ElementPtr funnel = part("funnel", "return");
  ElementPtr payloader = part("rtpopuspay", "pay");
  ElementPtr rtpCaps = part("capsfilter", "rtpcaps");
  if (elements_.size() != 6) return Error{ErrorCode::Internal, "a GStreamer plugin for the speaker branch is missing"};

  configureVoiceOpusEncoder(encoder.get(), settings_.opusBitrate, false);
  g_object_set(payloader.get(), "pt", payloadType, nullptr);
  g_autofree char* rtpCapsText = g_strdup_printf(
      "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=%d", payloadType);
  g_autoptr(GstCaps) rtpCapsValue = gst_caps_from_string(rtpCapsText);
  g_object_set(rtpCaps.get(), "caps", rtpCapsValue, nullptr);

  for (auto& e : elements_) gst_bin_add(room_.pipeline, e.get());
  if (!gst_element_link(depay.get(), decoder.get()) ||
      !gst_element_link_many(encoder.get(), funnel.get(), payloader.get(), rtpCaps.get(), nullptr))
    return Error{ErrorCode::Internal, "cannot link the speaker branch"};

  uplinkSink_ = PadPtr::adopt(gst_element_get_static_pad(depay.get(), "sink"));
  returnSrc_ = PadPtr::adopt(gst_element_get_static_pad(rtpCaps.get(), "src"));
  g_atomic_int_set(&gates_->mixed, mixed ? 1 : 0);
  addUplinkGate(uplinkSink_.get(), gates_);
  addTransportGate(returnSrc_.get(), gates_);

  // The uplink into the mix is linked before the transport starts, so the first packets meet
  // a negotiated path. Muted first: a pre-warming hand is never heard.
  mixerSink_ = PadPtr::adopt(gst_element_request_pad_simple(room_.mixer, "sink_%u"));
  if (!mixerSink_) return Error{ErrorCode::Internal, "the mixer refused a new input"};
  g_object_set(mixerSink_.get(), "mute", mixed ? FALSE : TRUE, "skip-silent", TRUE, nullptr);
  g_autoptr(GstPad) decoderSrc =
      settings_.transcribe ? branchRecognizer(decoder.get()) : gst_element_get_static_pad(decoder.get(), "src");
  if (!decoderSrc || gst_pad_link(decoderSrc, mixerSink_.get()) != GST_PAD_LINK_OK)
    return Error{ErrorCode::Internal, "cannot link the speaker to the mixer"};
  return core::Ok{};
}

// decoder ─ tee ─┬─▶ (returned: to the mixer)
//                └─ queue (leaky, 2 s) ─ audioconvert ─ audioresample ─ 16 kHz ─ pocketsphinx ─ fakesink
// The recognizer runs on the queue's thread: a slow recognizer loses words, never delays the
// room. Without the pocketsphinx plugin the speaker is simply not transcribed.
GstPad* SpeakerPeer::branchRecognizer(GstElement* decoder) {
  ElementPtr recognizer = makeElement("pocketsphinx", recognizerName().c_str());
  if (!recognizer) {
    GST_WARNING("%s: no pocketsphinx element (gstreamer1.0-pocketsphinx): not transcribed", name_.c_str());
    return gst_element_get_static_pad(decoder, "src");
  }
  ElementPtr tee = part("tee", "uplink");
  ElementPtr queue = part("queue", "asrq");
  ElementPtr convert = part("audioconvert", "asrconv");
  ElementPtr resample = part("audioresample", "asrres");
  ElementPtr caps = part("capsfilter", "asrcaps");
  elements_.push_back(recognizer);
  ElementPtr sink = part("fakesink", "asrsink");
  if (!tee || !queue || !convert || !resample || !caps || !sink) return nullptr;
  g_object_set(queue.get(), "max-size-time", G_GUINT64_CONSTANT(2000000000), "max-size-buffers", 0u, "max-size-bytes", 0u,
               nullptr);
  gst_util_set_object_arg(G_OBJECT(queue.get()), "leaky", "downstream");
  g_autoptr(GstCaps) asrCaps = gst_caps_from_string("audio/x-raw,format=S16LE,rate=16000,channels=1");
  g_object_set(caps.get(), "caps", asrCaps, nullptr);
  g_object_set(sink.get(), "sync", FALSE, "async", FALSE, nullptr);
  recognizerQueue_ = queue;
  recognizerSink_ = sink;
  for (ElementPtr* e : {&tee, &queue, &convert, &resample, &caps, &recognizer, &sink})
    gst_bin_add(room_.pipeline, e->get());
  if (!gst_element_link(decoder, tee.get()) ||
      !gst_element_link_many(queue.get(), convert.get(), resample.get(), caps.get(), recognizer.get(), sink.get(),
                             nullptr))
    return nullptr;
  g_autoptr(GstPad) toRecognizer = gst_element_request_pad_simple(tee.get(), "src_%u");
  g_autoptr(GstPad) queueSink = gst_element_get_static_pad(queue.get(), "sink");
  if (!toRecognizer || gst_pad_link(toRecognizer, queueSink) != GST_PAD_LINK_OK) return nullptr;
  return gst_element_request_pad_simple(tee.get(), "src_%u");
}

core::Status SpeakerPeer::linkReturns() {
  ElementPtr encoder = elements_[2], funnel = elements_[3];
  // mixminus creates minus_N together with sink_N: the speaker's mix without themselves.
  const std::string minusName = "minus_" + mixerPadName().substr(5);
  g_autoptr(GstPad) minus = gst_element_get_static_pad(room_.mixer, minusName.c_str());
  g_autoptr(GstPad) encoderSink = gst_element_get_static_pad(encoder.get(), "sink");
  if (!minus) return Error{ErrorCode::Internal, "the mixer has no " + minusName};
  addReturnSwitch(minus, gates_);
  if (gst_pad_link(minus, encoderSink) != GST_PAD_LINK_OK)
    return Error{ErrorCode::Internal, "cannot link the speaker's return mix"};

  // A plain-RTP speaker's silent return leaves from the room's fanout, without a branch.
  if ((directReturn_ = transport_->directReturn())) {
    room_.directReturns->add(gates_, directReturn_);
    return core::Ok{};
  }
  programOpusPad_ = PadPtr::adopt(gst_element_request_pad_simple(room_.programOpus, "src_%u"));
  g_autoptr(GstPad) sharedSink = gst_element_request_pad_simple(funnel.get(), "sink_%u");
  if (!programOpusPad_ || !sharedSink) return Error{ErrorCode::Internal, "cannot branch the shared program encoding"};
  addSharedReturnGate(programOpusPad_.get(), gates_);
  if (gst_pad_link(programOpusPad_.get(), sharedSink) != GST_PAD_LINK_OK)
    return Error{ErrorCode::Internal, "cannot link the shared program encoding"};
  return core::Ok{};
}

bool SpeakerPeer::beginFlush() {
  disconnect();
  if (!recognizerQueue_ || !recognizerSink_) return false;
  // Nothing pushes into the branch any more (the transport is stopped): the end of the stream
  // follows the audio still queued, and the recognizer's last words go to the bus before it.
  g_autoptr(GstPad) sinkPad = gst_element_get_static_pad(recognizerSink_.get(), "sink");
  gst_pad_add_probe(sinkPad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, [](GstPad* pad, GstPadProbeInfo* info, gpointer) {
    if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) != GST_EVENT_EOS) return GST_PAD_PROBE_OK;
    GstElement* sink = GST_PAD_PARENT(pad);
    gst_element_post_message(sink, gst_message_new_element(GST_OBJECT(sink), gst_structure_new_empty(kRecognizerFlushed)));
    return GST_PAD_PROBE_REMOVE;
  }, nullptr, nullptr);
  g_autoptr(GstPad) queueSink = gst_element_get_static_pad(recognizerQueue_.get(), "sink");
  if (!gst_pad_send_event(queueSink, gst_event_new_eos())) return false;
  GST_INFO("%s: flushing the recognizer", name_.c_str());
  return true;
}

void SpeakerPeer::disconnect() {
  lossFeedback_.reset();
  // Close every gate, then stop the network side, so nothing streams into pads being released.
  g_atomic_int_set(&gates_->transportReady, 0);
  g_atomic_int_set(&gates_->mixed, 0);
  setSharedReturn(gates_, false);
  if (directReturn_) {
    room_.directReturns->remove(directReturn_.get());
    directReturn_.reset();
  }
  if (transport_) transport_->detach();
  // Releasing the mixer pad waits for a push into minus_N in progress; after it, and after
  // the shared pad goes, nothing of the room's pushes into this speaker's branches.
  if (mixerSink_) {
    g_autoptr(GstPad) peer = gst_pad_get_peer(mixerSink_.get());
    if (peer) gst_pad_unlink(peer, mixerSink_.get());
    gst_element_release_request_pad(room_.mixer, mixerSink_.get());
    mixerSink_.reset();
  }
  if (programOpusPad_) {
    g_autoptr(GstPad) peer = gst_pad_get_peer(programOpusPad_.get());
    if (peer) gst_pad_unlink(programOpusPad_.get(), peer);
    gst_element_release_request_pad(room_.programOpus, programOpusPad_.get());
    programOpusPad_.reset();
  }
}

void SpeakerPeer::removeElements() {
  disconnect();
  for (auto it = elements_.rbegin(); it != elements_.rend(); ++it) removeFromRunningBin(room_.pipeline, it->get());
  elements_.clear();
  recognizerQueue_.reset();
  recognizerSink_.reset();
  uplinkSink_.reset();
  returnSrc_.reset();
  transport_.reset();
}

}  // namespace roomcast::media
