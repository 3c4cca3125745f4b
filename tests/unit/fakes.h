// Fakes for unit tests of room logic: a media backend that records what it was asked to do,
// and an event sink that records what clients would have been told.
#pragma once

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
  core::Status acceptOffer(const std::string& roomId, const std::string& peerId, const std::string& sdp) override {
    offers.push_back({roomId, peerId, sdp});
    if (failOffer) return core::Error{core::ErrorCode::MediaError, "refused"};
    return core::Ok{};
  }
  core::Status addRemoteCandidate(const std::string& roomId, const std::string& peerId, unsigned mline,
                                  const std::string& candidate) override {
    candidates.push_back({roomId, peerId, std::to_string(mline) + " " + candidate});
    return core::Ok{};
  }
  void removePeer(const std::string& roomId, const std::string& peerId) override {
    removed.push_back({roomId, peerId, ""});
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
  template <typename T>
  std::vector<Delivery> of() const {
    std::vector<Delivery> out;
    for (const auto& d : deliveries)
      if (std::holds_alternative<T>(d.event)) out.push_back(d);
    return out;
  }
  std::vector<Delivery> deliveries;
};

}  // namespace roomcast::testing
