// The launch line of `roomcast speak`'s media: the source (a tone, or a WAV file paced to real
// time), Opus out, and the room's return decoded into an appsink named "heard".
#pragma once

#include <string>

#include "client/speak.h"

namespace roomcast::client {

constexpr int kOpusPayloadType = 111;  // what browsers use; any dynamic type works

// `plainRtp`: one UDP socket (elements "rtpout", "rtpin") instead of webrtcbin ("webrtc").
std::string speakerPipelineDescription(const SpeakOptions& options, bool plainRtp);

}  // namespace roomcast::client
