// The lossy link of bench-loss: nftables rules on the lab router's bridge port that leads to
// the lossy speaker. Dropping there (a bridge "forward" chain) and not in the speaker's own
// output chain matters: a packet dropped on the local output path makes sendto() fail with
// EPERM, which no real lossy link does.
#pragma once

#include <string>

namespace roomcast::bench::loss {

enum class Direction { None, Up, Down };  // up: the speaker's UDP towards the server
enum class Pattern { Random, Burst3 };

struct LossSpec {
  Direction direction = Direction::None;
  Pattern pattern = Pattern::Random;
  int percent = 0;
  std::string name() const;  // "0", "up-rand-5", "down-burst3-20"
};

// Parses a name as printed by LossSpec::name(); false if it is not one.
bool parseLossSpec(const std::string& name, LossSpec& out);

// The ruleset (table bridge roomcast_loss) for `port`, the bridge port facing the speaker.
// Random: each UDP packet is dropped with probability p. Burst3: a packet outside a burst
// starts one with probability q = p / (3 - 2p), and that flow's next 45 ms (two more packets
// at 20 ms) are dropped too, so the mean loss is p in bursts of three.
std::string lossRuleset(const LossSpec& spec, const std::string& port);

// What the counters saw: UDP packets towards the server (up) and towards the speaker (down),
// and how many of each were dropped.
struct LossCount {
  long long upSeen = 0, upDropped = 0, downSeen = 0, downDropped = 0;
  double upPercent() const { return upSeen ? 100.0 * upDropped / upSeen : 0; }
  double downPercent() const { return downSeen ? 100.0 * downDropped / downSeen : 0; }
};
// Parses `nft list table bridge roomcast_loss`.
LossCount parseLossCounters(const std::string& listing);

}  // namespace roomcast::bench::loss
