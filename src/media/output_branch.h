// What keeps a room's outputs (the recording, the HLS renditions) from taking the room down
// with them when they fail: the recording's file on a full disk (ENOSPC), with no file
// descriptors left (EMFILE), on an I/O error (EIO); any output on an element's error. (HLS
// segments go to memory: the disk cannot fail them.)
//
// Such an output is a bin (a pipelines/*.pipeline fragment) on the program tee or the mixer's
// record pad. When one of its sinks fails, GStreamer posts an ERROR on the bus and returns
// GST_FLOW_ERROR upstream; the tee hands that return to the mixer, and mixminus, on an error
// from its program pad, ends every output, the speakers' returns included. So the error must
// stop at the branch's input, and the branch is then replaced as a whole on the control
// thread (RoomPipeline): GStreamer 1.22 has no way to reset an errored hlssink2/splitmuxsink
// in place, and a fresh bin is a known state.
#pragma once

#include <gst/gst.h>

#include <string>

#include "media/gst_ptr.h"

namespace roomcast::media {

// Whatever the branch returns for a buffer, its input (the bin's ghost "sink" pad) tells the
// upstream element OK: a failing output drops its audio and reports on the bus; it never
// stops the element that feeds it. The branch starts with a leaky queue (see the fragments),
// so a branch that is slow or stuck never blocks that element either.
void isolateBranchInput(GstElement* bin);

// Brings a branch that was removed from its pipeline to NULL on a thread of GStreamer's pool,
// not the control thread: a sink stuck in write() (a hung disk) would block the state change.
void discardBranch(ElementPtr bin);

// True when `object` is `ancestor` or inside it.
bool isInside(GstObject* object, GstElement* ancestor);


}  // namespace roomcast::media
