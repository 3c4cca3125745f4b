// What end-to-end tests do to every room: create it with the CLI, issue tokens over REST,
// measure a tone in what a client recorded.
#pragma once

#include <string>

#include "audio/wav.h"
#include "processes.h"

namespace roomcast::testing {

std::string cli();  // the roomcast CLI in the build tree
double nowSeconds();

struct TestRoom {
  std::string id;
  std::string hostToken;
};

TestRoom createRoom(const Daemon& daemon, const std::string& title = "Test room");
// A token for this room issued by its host (POST /api/v1/rooms/{id}/tokens).
std::string issueToken(const Daemon& daemon, const TestRoom& room, const char* role, const char* name);
std::string wsUrl(const Daemon& daemon, const std::string& roomId);
// A roomcast_... value from the daemon's /metrics; -1 when it is not there.
long long metric(const Daemon& daemon, const std::string& name);

// Power of `frequency` in dB over [from, to) seconds of a recording; NAN if that span is
// shorter than 10 ms.
double toneDb(const audio::PcmAudio& audio, double frequency, double from, double to);

}  // namespace roomcast::testing
