// Fakes for unit tests of room logic: a media backend that records what it was asked to do,
// and an event sink that records what clients would have been told.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/events.h"
#include "core/media_backend.h"

namespace roomcast::testing {

class FakeMediaBackend : public core::MediaBackend {
 public:
  void setObserver(core::MediaObserver* o) override { observer = o; }
  core::Status startRoom(const core::RoomMediaConfig& config) override {
    started.push_back(config);
    if (failStart) return core::Error{core::ErrorCode::Internal, "no media"};
    return core::Ok{};
  }
  void stopRoom(const std::string& roomId, StopDone done) override {
    stopped.push_back(roomId);
    pendingStops.push_back(std::move(done));
  }
  core::Status acceptOffer(const std::string& roomId, const std::string& peerId, const std::string& sdp,
                           bool mixed) override {
    offers.push_back({roomId, peerId, sdp});
    mixedState[peerId] = mixed;
    if (failOffer) return core::Error{core::ErrorCode::MediaError, "refused"};
    return core::Ok{};
  }
  core::Result<RtpAddress> acceptPlainRtp(const std::string& roomId, const std::string& peerId,
                                          const RtpAddress& remote, int, bool mixed) override {
    offers.push_back({roomId, peerId, "rtp " + remote.host + ":" + std::to_string(remote.port)});
    mixedState[peerId] = mixed;
    if (failOffer) return core::Error{core::ErrorCode::MediaError, "refused"};
    return RtpAddress{"127.0.0.1", 40000};
  }
  core::Status addRemoteCandidate(const std::string& roomId, const std::string& peerId, unsigned mline,
                                  const std::string& candidate) override {
    candidates.push_back({roomId, peerId, std::to_string(mline) + " " + candidate});
    return core::Ok{};
  }
  core::Status startRecording(const std::string& roomId) override {
    recordingCalls.push_back(roomId + ":start");
    return core::Ok{};
  }
  void stopRecording(const std::string& roomId) override { recordingCalls.push_back(roomId + ":stop"); }
  void setPeerInRecording(const std::string&, const std::string& peerId, bool in) override {
    recordingCalls.push_back(peerId + (in ? ":in" : ":out"));
  }
  std::vector<std::string> recordingCalls;
  core::Result<std::string> keepEvidence(const std::string& roomId, const std::string& label) override {
    recordingCalls.push_back(roomId + ":evidence:" + label);
    return std::string("/evidence/" + label + ".ts");
  }
  void setPeerMixed(const std::string&, const std::string& peerId, bool mixed) override { mixedState[peerId] = mixed; }
  void removePeer(const std::string& roomId, const std::string& peerId) override {
    removed.push_back({roomId, peerId, ""});
    mixedState.erase(peerId);
  }
  // Completes the oldest pending stopRoom.
  void finishStop(core::RoomMediaSummary summary = {}) {
    auto done = std::move(pendingStops.front());
    pendingStops.erase(pendingStops.begin());
    if (done) done(summary);
  }

  struct Call { std::string roomId, peerId, detail; };
  core::MediaObserver* observer = nullptr;
  bool failStart = false;
  bool failOffer = false;
  std::vector<core::RoomMediaConfig> started;
  std::vector<std::string> stopped;
  std::vector<StopDone> pendingStops;
  std::vector<Call> offers, candidates, removed;
  std::map<std::string, bool> mixedState;  // what the mixer would do with each peer's uplink
};

class RecordingEventSink : public core::RoomEventSink {
 public:
  struct Delivery {
    std::string roomId;
    std::string to;  // empty: broadcast
    core::Event event;
  };
  void sendTo(const std::string& roomId, const std::string& identity, const core::Event& event) override {
    deliveries.push_back({roomId, identity, event});
  }
  void broadcast(const std::string& roomId, const core::Event& event) override {
    deliveries.push_back({roomId, "", event});
  }
  void disconnect(const std::string& roomId, const std::string& identity, const std::string&) override {
    disconnected.push_back(roomId + "/" + identity);
  }
  std::vector<std::string> disconnected;
  template <typename T>
  std::vector<Delivery> of() const {
    std::vector<Delivery> out;
    for (const auto& d : deliveries)
      if (std::holds_alternative<T>(d.event)) out.push_back(d);
    return out;
  }
  std::vector<Delivery> deliveries;
};

// A manual clock for timers: run() fires what is due.
class FakeTimers {
 public:
  uint64_t schedule(unsigned ms, std::function<void()> fn) {
    timers_[++next_] = {now_ + ms, std::move(fn)};
    return next_;
  }
  void cancel(uint64_t id) { timers_.erase(id); }
  void advance(int64_t ms) {
    now_ += ms;
    for (bool fired = true; fired;) {
      fired = false;
      for (auto it = timers_.begin(); it != timers_.end(); ++it) {
        if (it->second.first <= now_) {
          auto fn = std::move(it->second.second);
          timers_.erase(it);
          fn();
          fired = true;
          break;
        }
      }
    }
  }
  int64_t now() const { return now_; }
  size_t pending() const { return timers_.size(); }

 private:
  int64_t now_ = 1700000000000;
  uint64_t next_ = 0;
  std::map<uint64_t, std::pair<int64_t, std::function<void()>>> timers_;
};

}  // namespace roomcast::testing
