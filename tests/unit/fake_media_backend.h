// Test doubles for room logic, with no GStreamer and no sockets:
//  - FakeMediaBackend records every call the room manager makes, can be told to fail
//    startRoom/acceptOffer/addRemoteCandidate, keeps each stopRoom's StopDone so a test
//    decides when the media "finishes", and lets the test play the media engine's part by
//    firing MediaObserver callbacks (answer, candidate, level, peer failure, room failure).
//    mixedNow() says whether a peer's uplink would be in the mix, from the calls so far.
//  - RecordingEventSink records what clients would have been told:
//    (roomId, identity or broadcast, Event), plus disconnects.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/events.h"
#include "core/media_backend.h"

namespace roomcast::unittest {

class FakeMediaBackend : public core::MediaBackend {
 public:
  struct OfferCall {
    std::string roomId;
    std::string peerId;
    std::string sdp;
    bool mixed = false;
  };
  struct CandidateCall {
    std::string roomId;
    std::string peerId;
    unsigned mlineIndex = 0;
    std::string candidate;
  };
  struct PeerCall {
    std::string roomId;
    std::string peerId;
  };
  struct MixCall {
    std::string roomId;
    std::string peerId;
    bool mixed = false;
  };
  struct StopCall {
    std::string roomId;
    StopDone done;
    bool completed = false;
  };

  // --- core::MediaBackend ---------------------------------------------------------------
  void setObserver(core::MediaObserver* observer) override {
    observer_ = observer;
    observerSets++;
  }

  core::Status startRoom(const core::RoomMediaConfig& config) override {
    startCalls.push_back(config);
    if (startError) return *startError;
    return core::Ok{};
  }

  void stopRoom(const std::string& roomId, StopDone done) override {
    stopCalls.push_back({roomId, std::move(done), false});
  }

  core::Status acceptOffer(const std::string& roomId, const std::string& peerId, const std::string& offerSdp,
                           bool mixed) override {
    offerCalls.push_back({roomId, peerId, offerSdp, mixed});
    if (offerError) return *offerError;
    mixing_[{roomId, peerId}] = mixed;
    return core::Ok{};
  }

  core::Result<RtpAddress> acceptPlainRtp(const std::string& roomId, const std::string& peerId,
                                          const RtpAddress& remote, int, bool mixed) override {
    offerCalls.push_back({roomId, peerId, "rtp " + remote.host + ":" + std::to_string(remote.port), mixed});
    if (offerError) return *offerError;
    mixing_[{roomId, peerId}] = mixed;
    return RtpAddress{"127.0.0.1", 40000};
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
  void setPeerMixed(const std::string& roomId, const std::string& peerId, bool mixed) override {
    mixCalls.push_back({roomId, peerId, mixed});
    mixing_[{roomId, peerId}] = mixed;
  }

  core::Status addRemoteCandidate(const std::string& roomId, const std::string& peerId, unsigned mlineIndex,
                                  const std::string& candidate) override {
    candidateCalls.push_back({roomId, peerId, mlineIndex, candidate});
    if (candidateError) return *candidateError;
    return core::Ok{};
  }

  void removePeer(const std::string& roomId, const std::string& peerId) override {
    removePeerCalls.push_back({roomId, peerId});
    mixing_.erase({roomId, peerId});
  }

  // --- failure injection ----------------------------------------------------------------
  void failStartRoom(core::Error error = {core::ErrorCode::Internal, "fake: no pipeline"}) {
    startError = std::move(error);
  }
  void failAcceptOffer(core::Error error = {core::ErrorCode::MediaError, "fake: offer refused"}) {
    offerError = std::move(error);
  }
  void failAddRemoteCandidate(core::Error error = {core::ErrorCode::MediaError, "fake: bad candidate"}) {
    candidateError = std::move(error);
  }

  // --- completing stopRoom --------------------------------------------------------------
  // Completes the stopRoom call number `index` (in call order) with `summary`.
  void completeStop(size_t index, core::RoomMediaSummary summary = {}) {
    ASSERT_LT(index, stopCalls.size()) << "no stopRoom call #" << index;
    StopCall& call = stopCalls[index];
    ASSERT_FALSE(call.completed) << "stopRoom #" << index << " already completed";
    call.completed = true;
    // Move the callback out first: it may re-enter the backend.
    StopDone done = std::move(call.done);
    call.done = nullptr;
    ASSERT_TRUE(static_cast<bool>(done)) << "stopRoom #" << index << " was given an empty StopDone";
    done(std::move(summary));
  }
  // Completes the (first, not yet completed) stopRoom for `roomId`.
  void completeStop(const std::string& roomId, core::RoomMediaSummary summary = {}) {
    for (size_t i = 0; i < stopCalls.size(); i++) {
      if (stopCalls[i].roomId == roomId && !stopCalls[i].completed) {
        completeStop(i, std::move(summary));
        return;
      }
    }
    ADD_FAILURE() << "no pending stopRoom for room '" << roomId << "'";
  }
  size_t pendingStops() const {
    size_t n = 0;
    for (const auto& call : stopCalls) n += call.completed ? 0 : 1;
    return n;
  }

  // --- playing the media engine (observer callbacks) ------------------------------------
  core::MediaObserver* observer() const { return observer_; }

  void emitAnswer(const std::string& roomId, const std::string& peerId, const std::string& sdp) {
    if (auto* o = requireObserver()) o->onLocalAnswer(roomId, peerId, sdp);
  }
  void emitCandidate(const std::string& roomId, const std::string& peerId, unsigned mlineIndex,
                     const std::string& candidate) {
    if (auto* o = requireObserver()) o->onLocalCandidate(roomId, peerId, mlineIndex, candidate);
  }
  void emitPeerLevel(const std::string& roomId, const std::string& peerId, double rmsDbfs) {
    if (auto* o = requireObserver()) o->onPeerLevels(roomId, {{peerId, rmsDbfs}});
  }
  void emitPeerFailed(const std::string& roomId, const std::string& peerId, const std::string& reason) {
    if (auto* o = requireObserver()) o->onPeerFailed(roomId, peerId, reason);
  }
  void emitRoomMediaFailed(const std::string& roomId, const std::string& reason) {
    if (auto* o = requireObserver()) o->onRoomMediaFailed(roomId, reason);
  }

  // --- what the media engine would be doing --------------------------------------------
  // Whether a peer's uplink is in the mix now: the `mixed` of the last accepted offer
  // (WebRTC or plain RTP) or setPeerMixed for it; std::nullopt if it has no media session
  // (never accepted, or removed since).
  std::optional<bool> mixedNow(const std::string& roomId, const std::string& peerId) const {
    auto it = mixing_.find({roomId, peerId});
    if (it == mixing_.end()) return std::nullopt;
    return it->second;
  }

  // --- what was asked -------------------------------------------------------------------
  std::vector<core::RoomMediaConfig> startCalls;
  std::vector<StopCall> stopCalls;
  std::vector<OfferCall> offerCalls;
  std::vector<CandidateCall> candidateCalls;
  std::vector<PeerCall> removePeerCalls;
  std::vector<MixCall> mixCalls;
  int observerSets = 0;

  std::optional<core::Error> startError;
  std::optional<core::Error> offerError;
  std::optional<core::Error> candidateError;

 private:
  core::MediaObserver* requireObserver() {
    if (!observer_) ADD_FAILURE() << "FakeMediaBackend: no observer registered";
    return observer_;
  }

  core::MediaObserver* observer_ = nullptr;
  std::map<std::pair<std::string, std::string>, bool> mixing_;  // (room, peer) -> in the mix
};

class RecordingEventSink : public core::RoomEventSink {
 public:
  struct Record {
    std::string roomId;
    std::optional<std::string> identity;  // std::nullopt: a broadcast to the whole room
    core::Event event;

    bool isBroadcast() const { return !identity.has_value(); }
  };
  struct Disconnect {
    std::string roomId;
    std::string identity;
    std::string reason;
  };

  void sendTo(const std::string& roomId, const std::string& identity, const core::Event& event) override {
    records.push_back({roomId, identity, event});
  }
  void broadcast(const std::string& roomId, const core::Event& event) override {
    records.push_back({roomId, std::nullopt, event});
  }
  void disconnect(const std::string& roomId, const std::string& identity, const std::string& reason) override {
    disconnects.push_back({roomId, identity, reason});
  }

  // Every record holding an event of type T, in order.
  template <typename T>
  std::vector<Record> all() const {
    std::vector<Record> out;
    for (const auto& r : records)
      if (std::holds_alternative<T>(r.event)) out.push_back(r);
    return out;
  }
  template <typename T>
  size_t count() const {
    return all<T>().size();
  }
  // Broadcasts of type T.
  template <typename T>
  std::vector<T> broadcasts(const std::string& roomId) const {
    std::vector<T> out;
    for (const auto& r : records)
      if (r.roomId == roomId && r.isBroadcast() && std::holds_alternative<T>(r.event))
        out.push_back(std::get<T>(r.event));
    return out;
  }
  // Events of type T sent to one participant only.
  template <typename T>
  std::vector<T> sentTo(const std::string& roomId, const std::string& identity) const {
    std::vector<T> out;
    for (const auto& r : records)
      if (r.roomId == roomId && r.identity == identity && std::holds_alternative<T>(r.event))
        out.push_back(std::get<T>(r.event));
    return out;
  }
  void clear() {
    records.clear();
    disconnects.clear();
  }

  std::vector<Record> records;
  std::vector<Disconnect> disconnects;
};

}  // namespace roomcast::unittest
