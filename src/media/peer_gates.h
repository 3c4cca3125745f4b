// Per-packet switches of one speaker's branches, read by streaming threads on every buffer
// and flipped from any thread without locks. Shared by the pad probes that enforce them,
// each holding a reference (GLib atomic refcounted box), so a probe that fires during
// teardown never sees freed memory.
#pragma once

#include <gst/gst.h>

namespace roomcast::media {

// How many of a room's speakers hear the shared program encoding now; the room encodes it
// only while someone does. Refcounted like the gates that update it.
struct SharedListeners {
  gint count;
};
SharedListeners* newSharedListeners();
SharedListeners* refSharedListeners(SharedListeners* listeners);
void unrefSharedListeners(gpointer listeners);  // a GDestroyNotify

struct PeerGates {
  gint mixed;           // the uplink reaches the decoder (not muted, not pre-warming)
  gint sharedReturn;    // the return is the room's shared program encoding (speaker silent)
  gint transportReady;  // the transport takes packets without blocking (DTLS is up)
  SharedListeners* room;  // one reference
};

PeerGates* newPeerGates(SharedListeners* room);
// Sets sharedReturn, keeping the room's count right (any thread).
void setSharedReturn(PeerGates* gates, bool shared);
PeerGates* refPeerGates(PeerGates* gates);
void unrefPeerGates(gpointer gates);  // a GDestroyNotify

// Drops RTP on `pad` while the speaker is not mixed: a muted or pre-warming speaker's audio
// is never decoded.
void addUplinkGate(GstPad* pad, PeerGates* gates);
// On minus_N: a buffer means "the speaker talks, use their own mix-minus"; the GAP that
// mixminus (skip-silent) sends when they fall silent means "use the shared program". The GAP
// is dropped here: it only carries the switch.
void addReturnSwitch(GstPad* minusPad, PeerGates* gates);
// On this speaker's branch of the shared program encoding: passes only while shared.
void addSharedReturnGate(GstPad* pad, PeerGates* gates);
// Before the room's shared encoder: drops the program while no speaker hears it.
void addSharedEncoderGate(GstPad* pad, SharedListeners* listeners);
// Before the transport: drops the return until the transport is ready, so the room's mixer
// thread, which pushes every return, never blocks on one speaker's handshake.
void addTransportGate(GstPad* pad, PeerGates* gates);

}  // namespace roomcast::media
