// roomcastd's /metrics (Prometheus text format), as the benchmarks read it. Header-only so
// that every benchmark can use it whichever helper library it links.
#pragma once

#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

namespace roomcast::bench {

// name{labels} value → value (the full name with labels as key).
inline std::map<std::string, double> parseMetrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    out[line.substr(0, sp)] = std::strtod(line.c_str() + sp + 1, nullptr);
  }
  return out;
}

}  // namespace roomcast::bench
