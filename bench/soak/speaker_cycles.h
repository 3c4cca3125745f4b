// Speakers who join and leave over real WebRTC, a few at a time: each cycle is one
// `roomcast speak` (WebSocket hello with a speaker token, SDP offer, ICE and DTLS on loopback,
// audio both ways for a moment, then "leave" and exit). Tokens are reused per slot, so the
// same identities come back again and again, as real speakers do.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace roomcast::bench::soak {

struct CycleOptions {
  std::string server;  // http://127.0.0.1:PORT
  std::string room;
  std::vector<std::string> slotTokens;  // one speaker token per concurrent slot
  long cycles = 500;
  double speakSeconds = 0.5;  // on stage after connecting
  double cycleTimeout = 90;   // s, one cycle
  double timeout = 1800;      // s, the whole phase
  std::string logDir;         // each slot's stderr goes to <logDir>/cycle-<slot>.log
};

struct CycleResult {
  long started = 0;
  long completed = 0;  // exit 0 after "connected" (media flowed both ways)
  long failed = 0;
  long timedOut = 0;
  bool phaseTimedOut = false;
  double seconds = 0;
  std::vector<double> cycleSeconds;         // start to exit, completed cycles
  std::map<std::string, long> failures;     // "exit N: last stderr line" -> count
  long errors() const { return failed + timedOut; }
};

CycleResult runSpeakerCycles(const CycleOptions& options);

}  // namespace roomcast::bench::soak
