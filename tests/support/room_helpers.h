// What end-to-end tests do to every room: create it with the CLI, issue tokens over REST,
// measure a tone in what a client recorded.
#pragma once

#include <string>

#include "audio/wav.h"
#include "processes.h"

namespace roomcast::testing {

std::string cli();  // the roomcast CLI in the build tree
double nowSeconds();
// `text` spoken by flite `times` times, 1.5 s apart, after 1 s of silence and before 2 s of it
// (a recognizer ends an utterance on silence), written to `path`. Its length in seconds (0: failed).
double synthesizeSpeech(const std::string& text, int times, const std::string& path);

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

// Power of `frequency` in dB over [from, to) seconds of a recording, as one coherent
// measurement; NAN if that span is shorter than 10 ms. Narrow (a click or codec noise barely
// registers), so it is the measure for "this must NOT be there" (a speaker's own voice).
// For "this is there, this loud" use meanToneDb: a phase jump in a long span (a frame lost
// or trimmed on a loaded machine) cancels much of a coherent measurement.
double toneDb(const audio::PcmAudio& audio, double frequency, double from, double to);

// Mean power of `frequency` in dB over ~0.1 s Hann-windowed pieces of [from, to): a short
// drop-out or a phase jump costs only its share of the span. NAN if the span is under 10 ms.
double meanToneDb(const audio::PcmAudio& audio, double frequency, double from, double to);

// Share of ~0.1 s pieces of [from, to) in which `frequency` is above `minDb` (0 if none).
double fractionWithToneAbove(const audio::PcmAudio& audio, double frequency, double from, double to, double minDb);

// Where a tone begins: the start (s) of the first 20 ms window from `from` on in which
// `frequency` is above `minDb`; NAN if it never is. A client's recording starts when its own
// media does, not when another speaker's does: find where that speaker is, never assume it.
double toneOnset(const audio::PcmAudio& audio, double frequency, double minDb, double from = 0);

}  // namespace roomcast::testing
