#include "speaker_cycles.h"

#include <memory>

#include "children.h"
#include "processes.h"   // buildPath

namespace roomcast::bench::soak {

namespace {

std::string lastLine(const std::string& text) {
  std::string t = text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  const auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

}  // namespace

CycleResult runSpeakerCycles(const CycleOptions& o) {
  CycleResult result;
  const std::string cli = testing::buildPath("src/client/roomcast");
  struct Slot {
    std::unique_ptr<Child> child;
    double startedAt = 0;
    std::string log;
  };
  std::vector<Slot> slots(o.slotTokens.size());
  for (size_t i = 0; i < slots.size(); i++) slots[i].log = o.logDir + "/cycle-" + std::to_string(i) + ".log";
  const double started = monotonicSeconds(), deadline = started + o.timeout;
  for (;;) {
    bool busy = false;
    for (size_t i = 0; i < slots.size(); i++) {
      Slot& s = slots[i];
      if (s.child) {
        const double now = monotonicSeconds();
        if (s.child->running()) {
          if (now - s.startedAt <= o.cycleTimeout && now <= deadline) {
            busy = true;
            continue;
          }
          s.child->stop(10);  // SIGTERM (by its PID), SIGKILL after 10 s
          result.timedOut++;
          result.failures["timed out: " + lastLine(readFile(s.log))]++;
          s.child.reset();
        } else {
          const int status = s.child->wait(0);
          bool connected = false;
          for (const auto& line : s.child->lines()) connected = connected || line.text == "connected";
          if (status == 0 && connected) {
            result.completed++;
            result.cycleSeconds.push_back(now - s.startedAt);
          } else {
            result.failed++;
            result.failures["exit " + std::to_string(status) + (connected ? "" : " (never connected)") + ": " +
                            lastLine(readFile(s.log))]++;
          }
          s.child.reset();
        }
      }
      if (result.started >= o.cycles || monotonicSeconds() > deadline) continue;
      s.child = std::make_unique<Child>(
          std::vector<std::string>{cli, "--server", o.server, "speak", o.room, "--token", o.slotTokens[i], "--tone",
                                   "660", "--volume", "0.05", "--seconds", std::to_string(o.speakSeconds)},
          -1, s.log);
      s.startedAt = monotonicSeconds();
      result.started++;
      busy = true;
    }
    if (!busy) break;
    sleepFor(0.02);  // the children's exits are polled (waitpid WNOHANG), bounded by the deadlines above
  }
  result.phaseTimedOut = result.started < o.cycles;
  result.seconds = monotonicSeconds() - started;
  return result;
}

}  // namespace roomcast::bench::soak
