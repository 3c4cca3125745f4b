#include "loss_rules.h"

#include <cstdio>
#include <cstdlib>
#include <regex>

namespace roomcast::bench::loss {

std::string LossSpec::name() const {
  if (direction == Direction::None || percent == 0) return "0";
  return std::string(direction == Direction::Up ? "up" : "down") + (pattern == Pattern::Random ? "-rand-" : "-burst3-") +
         std::to_string(percent);
}

bool parseLossSpec(const std::string& name, LossSpec& out) {
  if (name == "0") {
    out = LossSpec{};
    return true;
  }
  static const std::regex form("(up|down)-(rand|burst3)-([0-9]+)");
  std::smatch m;
  if (!std::regex_match(name, m, form)) return false;
  out.direction = m[1] == "up" ? Direction::Up : Direction::Down;
  out.pattern = m[2] == "rand" ? Pattern::Random : Pattern::Burst3;
  out.percent = std::atoi(m[3].str().c_str());
  return out.percent > 0 && out.percent < 100;
}

namespace {

// One direction's rules: `match` picks its packets, `key` names the flow a burst belongs to.
std::string directionRules(const LossSpec& spec, const std::string& tag, const std::string& match,
                           const std::string& key, bool lossy) {
  std::string r = "    " + match + " meta l4proto udp counter name " + tag + "_seen\n";
  if (!lossy) return r;
  const double p = spec.percent / 100.0;
  if (spec.pattern == Pattern::Random) {
    r += "    " + match + " meta l4proto udp numgen random mod 10000 < " + std::to_string(static_cast<int>(p * 10000 + 0.5)) +
         " counter name " + tag + "_dropped drop\n";
    return r;
  }
  const int q = static_cast<int>(p / (3 - 2 * p) * 10000 + 0.5);
  r += "    " + match + " " + key + " @" + tag + "_burst counter name " + tag + "_dropped drop\n";
  r += "    " + match + " meta l4proto udp numgen random mod 10000 < " + std::to_string(q) + " update @" + tag +
       "_burst { " + key + " timeout 45ms } counter name " + tag + "_dropped drop\n";
  return r;
}

}  // namespace

std::string lossRuleset(const LossSpec& spec, const std::string& port) {
  std::string t = "table bridge roomcast_loss {\n";
  for (const char* tag : {"up", "down"}) {
    t += std::string("  counter ") + tag + "_seen {}\n  counter " + tag + "_dropped {}\n";
    t += std::string("  set ") + tag + "_burst { type ipv4_addr . inet_service; flags dynamic,timeout; }\n";
  }
  t += "  chain lossy {\n    type filter hook forward priority 0; policy accept;\n";
  t += directionRules(spec, "up", "iifname \"" + port + "\"", "ip daddr . udp dport", spec.direction == Direction::Up);
  t += directionRules(spec, "down", "oifname \"" + port + "\"", "ip saddr . udp sport", spec.direction == Direction::Down);
  t += "  }\n}\n";
  return t;
}

LossCount parseLossCounters(const std::string& listing) {
  LossCount c;
  auto packets = [&](const std::string& name) -> long long {
    const std::regex form("counter " + name + " \\{\\s*packets ([0-9]+)");
    std::smatch m;
    return std::regex_search(listing, m, form) ? std::atoll(m[1].str().c_str()) : 0;
  };
  c.upSeen = packets("up_seen");
  c.upDropped = packets("up_dropped");
  c.downSeen = packets("down_seen");
  c.downDropped = packets("down_dropped");
  return c;
}

}  // namespace roomcast::bench::loss
