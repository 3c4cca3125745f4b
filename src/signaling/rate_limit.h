// Token buckets for what one connection may send: a burst of `capacity`, then `perSecond`.
#pragma once

#include <algorithm>
#include <cstdint>

namespace roomcast::signaling {

class TokenBucket {
 public:
  TokenBucket(double capacity, double perSecond) : capacity_(capacity), perSecond_(perSecond), tokens_(capacity) {}
  // Takes one token at monotonic time `nowUs`; false when the bucket is empty.
  bool take(int64_t nowUs) {
    if (lastUs_) tokens_ = std::min(capacity_, tokens_ + (nowUs - lastUs_) * perSecond_ / 1e6);
    lastUs_ = nowUs;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double capacity_;
  double perSecond_;
  double tokens_;
  int64_t lastUs_ = 0;
};

// Per-connection limits (docs/protocol.md, Limits; per participant and per address ones are in
// quotas.h). Refusals are counted: a client that keeps going past them is disconnected with 1008
// (policy violation).
struct ConnectionLimits {
  TokenBucket messages{100, 50};   // anything
  int refusals = 0;                // within the current window
  int64_t windowStartUs = 0;

  static constexpr int kMaxRefusals = 20;          // in kWindowUs: then the socket is closed
  static constexpr int64_t kWindowUs = 10000000;   // 10 s
  // Counts a refusal; true when the client has crossed the line.
  bool refuse(int64_t nowUs) {
    if (nowUs - windowStartUs > kWindowUs) {
      windowStartUs = nowUs;
      refusals = 0;
    }
    return ++refusals >= kMaxRefusals;
  }
};

}  // namespace roomcast::signaling
