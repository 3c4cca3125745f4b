// RoomManager: room lifecycle, membership and roles, driven against FakeMediaBackend and
// RecordingEventSink. Pure logic: no GStreamer, no sockets, no real timers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/room_manager.h"
#include "fake_media_backend.h"

namespace roomcast::core {
namespace {

using unittest::FakeMediaBackend;
using unittest::RecordingEventSink;

constexpr int64_t kStartMs = 1'800'000'000'000;

// The bits of Environment a test wants to observe.
struct EnvProbe {
  std::vector<std::string> ids;  // handed out by newRoomId, in order; falls back to "r<N>"
  size_t nextId = 0;
  int64_t nowMs = kStartMs;
  std::vector<RoomInfo> created;
  std::optional<Error> storeError;  // set: the store fails to keep new rooms
  std::vector<std::pair<RoomInfo, RoomMediaSummary>> finished;
  struct Timer {
    unsigned ms = 0;
    std::function<void()> fn;
  };
  std::map<uint64_t, Timer> timers;  // pending, by id
  uint64_t nextTimer = 0;
  int resumeCounter = 0;

  Environment make() {
    Environment env;
    env.newRoomId = [this] {
      std::string id = nextId < ids.size() ? ids[nextId] : "r" + std::to_string(nextId);
      nextId++;
      return id;
    };
    env.nowUnixMs = [this] { return nowMs; };
    env.roomCreated = [this](const RoomInfo& info) -> Status {
      if (storeError) return *storeError;
      created.push_back(info);
      return Ok{};
    };
    env.roomFinished = [this](const RoomInfo& info, const RoomMediaSummary& s) { finished.emplace_back(info, s); };
    env.schedule = [this](unsigned ms, std::function<void()> fn) {
      timers[++nextTimer] = {ms, std::move(fn)};
      return nextTimer;
    };
    env.cancel = [this](uint64_t id) { timers.erase(id); };
    env.newResumeToken = [this] { return "resume-" + std::to_string(++resumeCounter); };
    return env;
  }

  // Fires every pending timer (as if its time had come), oldest first.
  void fireTimers() {
    auto due = std::move(timers);
    timers.clear();
    for (auto& [id, timer] : due) timer.fn();
  }
};

RoomLimits smallLimits() {
  RoomLimits limits;
  limits.maxRooms = 3;
  limits.maxSpeakers = 2;
  limits.maxTitleBytes = 20;
  limits.maxTopicBytes = 40;
  return limits;
}

class RoomManagerTest : public ::testing::Test {
 protected:
  explicit RoomManagerTest(RoomLimits limits = smallLimits()) : manager(media, sink, probe.make(), limits) {}

  std::string createRoom(const std::string& title = "Morning show", bool record = false) {
    auto result = manager.createRoom({title, "", record});
    EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
    return result.ok() ? result.value().id : std::string{};
  }

  Participant joinAs(const std::string& room, const std::string& id, Role role) {
    auto result = manager.join(room, {id, "Name " + id, role});
    EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
    return result.ok() ? result.value() : Participant{};
  }

  template <typename T>
  static ErrorCode codeOf(const Result<T>& result) {
    EXPECT_FALSE(result.ok());
    return result.ok() ? ErrorCode::Internal : result.error().code;
  }

  EnvProbe probe;
  FakeMediaBackend media;
  RecordingEventSink sink;
  RoomManager manager;
};

// ---------------------------------------------------------------------------------------
// Creation and validation

TEST_F(RoomManagerTest, RegistersItselfAsMediaObserverAndUnregistersOnDestruction) {
  EXPECT_EQ(media.observer(), &manager);
  {
    FakeMediaBackend other;
    RecordingEventSink otherSink;
    EnvProbe otherProbe;
    {
      RoomManager scoped(other, otherSink, otherProbe.make());
      EXPECT_EQ(other.observer(), &scoped);
    }
    EXPECT_EQ(other.observer(), nullptr);
  }
}

TEST_F(RoomManagerTest, CreateRoomFillsInfoAndStartsMediaWithRecordFlag) {
  probe.ids = {"abc"};
  auto result = manager.createRoom({"Title", "Topic", true});
  ASSERT_TRUE(result.ok());
  const RoomInfo& info = result.value();
  EXPECT_EQ(info.id, "abc");
  EXPECT_EQ(info.title, "Title");
  EXPECT_EQ(info.topic, "Topic");
  EXPECT_TRUE(info.record);
  EXPECT_EQ(info.createdAtUnixMs, kStartMs);
  EXPECT_FALSE(info.hostIdentity.empty());

  ASSERT_EQ(media.startCalls.size(), 1u);
  EXPECT_EQ(media.startCalls[0].roomId, "abc");
  EXPECT_TRUE(media.startCalls[0].record);

  ASSERT_EQ(probe.created.size(), 1u);
  EXPECT_EQ(probe.created[0].id, "abc");

  const Room* room = manager.find("abc");
  ASSERT_NE(room, nullptr);
  EXPECT_EQ(room->info.title, "Title");
  EXPECT_TRUE(room->participants.empty());
}

// A room the store failed to keep is not created: its media stops and the caller gets the
// store's error; once the store works again, rooms are created as usual.
TEST_F(RoomManagerTest, CreateRoomFailsAndStopsItsMediaWhenTheStoreFails) {
  probe.ids = {"lost", "kept"};
  probe.storeError = Error{ErrorCode::StoreUnavailable, "store: database is locked"};
  EXPECT_EQ(codeOf(manager.createRoom({"Title", "", false})), ErrorCode::StoreUnavailable);
  EXPECT_EQ(manager.find("lost"), nullptr);
  EXPECT_TRUE(manager.rooms().empty());
  ASSERT_EQ(media.startCalls.size(), 1u);
  ASSERT_EQ(media.stopCalls.size(), 1u) << "the started media is stopped again";
  EXPECT_EQ(media.stopCalls[0].roomId, "lost");
  probe.storeError.reset();
  EXPECT_EQ(createRoom("Again"), "kept");
  EXPECT_EQ(manager.rooms().size(), 1u);
}

TEST_F(RoomManagerTest, CreateRoomPassesRecordFalse) {
  createRoom("Unrecorded", false);
  ASSERT_EQ(media.startCalls.size(), 1u);
  EXPECT_FALSE(media.startCalls[0].record);
}

TEST_F(RoomManagerTest, CreateRoomSkipsIdsAlreadyInUse) {
  probe.ids = {"same", "same", "other"};
  EXPECT_EQ(createRoom("One"), "same");
  EXPECT_EQ(createRoom("Two"), "other");
  EXPECT_EQ(manager.rooms().size(), 2u);
}

TEST_F(RoomManagerTest, CreateRoomRejectsEmptyOrWhitespaceTitle) {
  EXPECT_EQ(codeOf(manager.createRoom({"", "", false})), ErrorCode::ValidationFailed);
  EXPECT_EQ(codeOf(manager.createRoom({" ", "", false})), ErrorCode::ValidationFailed);
  EXPECT_EQ(codeOf(manager.createRoom({" \t  \t", "", false})), ErrorCode::ValidationFailed);
  EXPECT_TRUE(media.startCalls.empty());
  EXPECT_TRUE(manager.rooms().empty());
  EXPECT_TRUE(probe.created.empty());
}

TEST_F(RoomManagerTest, CreateRoomCountsTitleAndTopicLengthInBytes) {
  // maxTitleBytes = 20, maxTopicBytes = 40.
  EXPECT_TRUE(manager.createRoom({std::string(20, 'a'), std::string(40, 'b'), false}).ok());
  EXPECT_EQ(codeOf(manager.createRoom({std::string(21, 'a'), "", false})), ErrorCode::ValidationFailed);
  EXPECT_EQ(codeOf(manager.createRoom({"ok", std::string(41, 'b'), false})), ErrorCode::ValidationFailed);

  // "é" is two bytes: 10 of them are 20 bytes (fits), 11 are 22 bytes (does not), even
  // though 11 characters is far below 20.
  std::string ten, eleven;
  for (int i = 0; i < 10; i++) ten += "\xc3\xa9";
  eleven = ten + "\xc3\xa9";
  EXPECT_TRUE(manager.createRoom({ten, "", false}).ok());
  EXPECT_EQ(codeOf(manager.createRoom({eleven, "", false})), ErrorCode::ValidationFailed);

  // Topic: 14 × "€" (3 bytes) = 42 bytes > 40.
  std::string euros;
  for (int i = 0; i < 14; i++) euros += "\xe2\x82\xac";
  EXPECT_EQ(codeOf(manager.createRoom({"ok", euros, false})), ErrorCode::ValidationFailed);
}

TEST_F(RoomManagerTest, CreateRoomRejectsInvalidUtf8) {
  EXPECT_EQ(codeOf(manager.createRoom({"bad \xff title", "", false})), ErrorCode::InvalidUtf8);
  EXPECT_EQ(codeOf(manager.createRoom({"ok", "topic \xc3", false})), ErrorCode::InvalidUtf8);
  EXPECT_EQ(codeOf(manager.createRoom({"\xed\xa0\x80", "", false})), ErrorCode::InvalidUtf8);  // surrogate
  EXPECT_TRUE(media.startCalls.empty());
}

TEST_F(RoomManagerTest, CreateRoomRejectsControlCharacters) {
  EXPECT_EQ(codeOf(manager.createRoom({"a\x01z", "", false})), ErrorCode::ValidationFailed);
  EXPECT_EQ(codeOf(manager.createRoom({"line\nbreak", "", false})), ErrorCode::ValidationFailed);
  EXPECT_EQ(codeOf(manager.createRoom({"tab\tinside", "", false})), ErrorCode::ValidationFailed);
  EXPECT_EQ(codeOf(manager.createRoom({"del\x7f", "", false})), ErrorCode::ValidationFailed);
  EXPECT_EQ(codeOf(manager.createRoom({std::string("nul\0x", 5), "", false})), ErrorCode::ValidationFailed);
  EXPECT_EQ(codeOf(manager.createRoom({"ok", "esc\x1b[31m", false})), ErrorCode::ValidationFailed);
  // The topic may span lines and use tabs.
  EXPECT_TRUE(manager.createRoom({"ok", "line one\nline\ttwo", false}).ok());
}

TEST_F(RoomManagerTest, ValidateNewRoomIsUsableOnItsOwn) {
  RoomLimits limits;
  EXPECT_TRUE(validateNewRoom({"Fine", "", false}, limits).ok());
  auto empty = validateNewRoom({"", "", false}, limits);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::ValidationFailed);
  EXPECT_FALSE(empty.error().message.empty());
}

TEST_F(RoomManagerTest, DefaultLimitsAreTheDocumentedByteCounts) {
  // docs/protocol.md: title 120 bytes, topic 500 bytes.
  RoomLimits limits;
  EXPECT_TRUE(validateNewRoom({std::string(120, 'a'), std::string(500, 'b'), false}, limits).ok());
  EXPECT_EQ(codeOf(validateNewRoom({std::string(121, 'a'), "", false}, limits)), ErrorCode::ValidationFailed);
  EXPECT_EQ(codeOf(validateNewRoom({"ok", std::string(501, 'b'), false}, limits)), ErrorCode::ValidationFailed);
  // Bytes, not characters: 40 × "€" (3 bytes) is 120 bytes and fits, 41 do not.
  std::string euros40;
  for (int i = 0; i < 40; i++) euros40 += "\xe2\x82\xac";
  EXPECT_TRUE(validateNewRoom({euros40, "", false}, limits).ok());
  EXPECT_EQ(codeOf(validateNewRoom({euros40 + "\xe2\x82\xac", "", false}, limits)), ErrorCode::ValidationFailed);
}

TEST_F(RoomManagerTest, CreateRoomRefusesBeyondMaxRooms) {
  for (int i = 0; i < 3; i++) createRoom("Room " + std::to_string(i));
  EXPECT_EQ(manager.rooms().size(), 3u);
  auto fourth = manager.createRoom({"One too many", "", false});
  EXPECT_EQ(codeOf(fourth), ErrorCode::Conflict);
  EXPECT_EQ(media.startCalls.size(), 3u);
  EXPECT_EQ(manager.rooms().size(), 3u);

  // Ending one frees a slot. (A copy of the id: see EndRoomWithTheRoomsOwnIdString.)
  const std::string first = manager.rooms().front()->info.id;
  ASSERT_TRUE(manager.endRoom(first, "done").ok());
  EXPECT_TRUE(manager.createRoom({"Now it fits", "", false}).ok());
}

TEST_F(RoomManagerTest, MediaStartFailureLeavesNoRoom) {
  media.failStartRoom({ErrorCode::Internal, "pipeline failed"});
  probe.ids = {"x"};
  auto result = manager.createRoom({"Title", "", true});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::Internal);
  EXPECT_EQ(media.startCalls.size(), 1u);
  EXPECT_EQ(manager.find("x"), nullptr);
  EXPECT_TRUE(manager.rooms().empty());
  EXPECT_TRUE(probe.created.empty());
  EXPECT_TRUE(sink.records.empty());
}

TEST_F(RoomManagerTest, FindAndRooms) {
  EXPECT_EQ(manager.find("nope"), nullptr);
  EXPECT_TRUE(manager.rooms().empty());
  probe.ids = {"a", "b"};
  createRoom("A");
  createRoom("B");
  ASSERT_NE(manager.find("a"), nullptr);
  ASSERT_NE(manager.find("b"), nullptr);
  EXPECT_EQ(manager.find("a")->info.title, "A");
  EXPECT_EQ(manager.find("b")->info.title, "B");
  EXPECT_EQ(manager.find("c"), nullptr);
  auto all = manager.rooms();
  ASSERT_EQ(all.size(), 2u);
  std::vector<std::string> ids{all[0]->info.id, all[1]->info.id};
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b"}));
}

// ---------------------------------------------------------------------------------------
// Joining

TEST_F(RoomManagerTest, JoinEachRoleBroadcastsAndCounts) {
  const std::string room = createRoom();
  Participant host = joinAs(room, "h", Role::Host);
  EXPECT_EQ(host.identity, "h");
  EXPECT_EQ(host.name, "Name h");
  EXPECT_EQ(host.role, Role::Host);
  EXPECT_FALSE(host.mediaConnected);
  EXPECT_EQ(host.presence, Presence::Connected);

  joinAs(room, "s", Role::Speaker);
  joinAs(room, "l1", Role::Listener);
  joinAs(room, "l2", Role::Listener);

  // The stage is announced to everyone; listeners are counted, not announced (N² otherwise).
  auto joined = sink.broadcasts<ParticipantJoined>(room);
  ASSERT_EQ(joined.size(), 2u);
  EXPECT_EQ(joined[0].participant.identity, "h");
  EXPECT_EQ(joined[0].participant.role, Role::Host);
  EXPECT_EQ(joined[1].participant.identity, "s");
  EXPECT_EQ(joined[1].participant.role, Role::Speaker);
  // Join events are broadcasts, not private messages.
  EXPECT_EQ(sink.count<ParticipantJoined>(), 2u);

  const Room* r = manager.find(room);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->participants.size(), 4u);
  EXPECT_EQ(r->speakerCount(), 2);
  EXPECT_EQ(r->listenerCount(), 2);
  // Slots follow the join order.
  EXPECT_LT(r->participants.at("h").joinOrder, r->participants.at("s").joinOrder);
  EXPECT_LT(r->participants.at("s").joinOrder, r->participants.at("l1").joinOrder);
}

TEST_F(RoomManagerTest, JoinDoesNotTouchMedia) {
  const std::string room = createRoom();
  joinAs(room, "s", Role::Speaker);
  EXPECT_TRUE(media.offerCalls.empty());
  EXPECT_TRUE(media.removePeerCalls.empty());
}

TEST_F(RoomManagerTest, JoinWithDuplicateIdentityIsConflict) {
  const std::string room = createRoom();
  joinAs(room, "dup", Role::Listener);
  sink.clear();
  EXPECT_EQ(codeOf(manager.join(room, {"dup", "Someone else", Role::Speaker})), ErrorCode::Conflict);
  EXPECT_EQ(sink.count<ParticipantJoined>(), 0u);
  const Room* r = manager.find(room);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->participants.size(), 1u);
  EXPECT_EQ(r->participants.at("dup").role, Role::Listener);
  EXPECT_EQ(r->participants.at("dup").name, "Name dup");
}

TEST_F(RoomManagerTest, JoinStageIsCappedButListenersStillFit) {
  const std::string room = createRoom();  // maxSpeakers = 2, host counts
  joinAs(room, "h", Role::Host);
  joinAs(room, "s1", Role::Speaker);
  EXPECT_EQ(codeOf(manager.join(room, {"s2", "S2", Role::Speaker})), ErrorCode::RoomFull);
  EXPECT_EQ(codeOf(manager.join(room, {"c", "C", Role::CoHost})), ErrorCode::RoomFull);
  EXPECT_TRUE(manager.join(room, {"l", "L", Role::Listener}).ok());
  EXPECT_EQ(manager.find(room)->speakerCount(), 2);
  EXPECT_EQ(manager.find(room)->listenerCount(), 1);

  // A stage seat frees up when a speaker leaves.
  manager.leave(room, "s1", "bye");
  EXPECT_TRUE(manager.join(room, {"s2", "S2", Role::Speaker}).ok());
}

TEST_F(RoomManagerTest, JoinRespectsMaxParticipants) {
  FakeMediaBackend m;
  RecordingEventSink s;
  EnvProbe p;
  RoomLimits limits;
  limits.maxParticipants = 2;
  RoomManager small(m, s, p.make(), limits);
  auto room = small.createRoom({"Tiny", "", false});
  ASSERT_TRUE(room.ok());
  EXPECT_TRUE(small.join(room->id, {"a", "A", Role::Listener}).ok());
  EXPECT_TRUE(small.join(room->id, {"b", "B", Role::Listener}).ok());
  EXPECT_EQ(codeOf(small.join(room->id, {"c", "C", Role::Listener})), ErrorCode::RoomFull);
}

TEST_F(RoomManagerTest, JoinUnknownRoomIsNotFound) {
  EXPECT_EQ(codeOf(manager.join("missing", {"a", "A", Role::Listener})), ErrorCode::NotFound);
  EXPECT_TRUE(sink.records.empty());
}

// ---------------------------------------------------------------------------------------
// Offers, answers and candidates

TEST_F(RoomManagerTest, OfferFromListenerIsForbidden) {
  const std::string room = createRoom();
  joinAs(room, "l", Role::Listener);
  EXPECT_EQ(codeOf(manager.offer(room, "l", "v=0 offer")), ErrorCode::Forbidden);
  EXPECT_TRUE(media.offerCalls.empty());
  EXPECT_FALSE(manager.find(room)->participants.at("l").mediaConnected);
}

TEST_F(RoomManagerTest, OfferBeforeJoinIsConflict) {
  const std::string room = createRoom();
  EXPECT_EQ(codeOf(manager.offer(room, "stranger", "v=0")), ErrorCode::Conflict);
  EXPECT_TRUE(media.offerCalls.empty());
}

TEST_F(RoomManagerTest, OfferToUnknownRoomIsNotFound) {
  EXPECT_EQ(codeOf(manager.offer("missing", "s", "v=0")), ErrorCode::NotFound);
  EXPECT_TRUE(media.offerCalls.empty());
}

TEST_F(RoomManagerTest, OfferFromSpeakerGoesToBackendMixed) {
  const std::string room = createRoom();
  joinAs(room, "s", Role::Speaker);
  ASSERT_TRUE(manager.offer(room, "s", "v=0 speaker offer").ok());
  ASSERT_EQ(media.offerCalls.size(), 1u);
  EXPECT_EQ(media.offerCalls[0].roomId, room);
  EXPECT_EQ(media.offerCalls[0].peerId, "s");
  EXPECT_EQ(media.offerCalls[0].sdp, "v=0 speaker offer");
  EXPECT_TRUE(media.offerCalls[0].mixed);
  EXPECT_TRUE(manager.find(room)->participants.at("s").mediaConnected);
}

TEST_F(RoomManagerTest, OfferFromHostAndCoHostAccepted) {
  FakeMediaBackend m;
  RecordingEventSink s;
  EnvProbe p;
  RoomManager big(m, s, p.make());  // default limits: 16 speakers
  auto room = big.createRoom({"Room", "", false});
  ASSERT_TRUE(room.ok());
  ASSERT_TRUE(big.join(room->id, {"h", "H", Role::Host}).ok());
  ASSERT_TRUE(big.join(room->id, {"c", "C", Role::CoHost}).ok());
  EXPECT_TRUE(big.offer(room->id, "h", "sdp-h").ok());
  EXPECT_TRUE(big.offer(room->id, "c", "sdp-c").ok());
  EXPECT_EQ(m.offerCalls.size(), 2u);
}

TEST_F(RoomManagerTest, OfferRefusedByBackendReturnsItsError) {
  const std::string room = createRoom();
  joinAs(room, "s", Role::Speaker);
  media.failAcceptOffer({ErrorCode::MediaError, "no opus"});
  auto status = manager.offer(room, "s", "garbage");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::MediaError);
  EXPECT_EQ(status.error().message, "no opus");
  EXPECT_EQ(media.offerCalls.size(), 1u);
  EXPECT_FALSE(manager.find(room)->participants.at("s").mediaConnected);
}

TEST_F(RoomManagerTest, LocalAnswerIsSentOnlyToThatParticipant) {
  const std::string room = createRoom();
  joinAs(room, "s", Role::Speaker);
  joinAs(room, "l", Role::Listener);
  ASSERT_TRUE(manager.offer(room, "s", "offer").ok());
  sink.clear();

  media.emitAnswer(room, "s", "v=0 answer");
  ASSERT_EQ(sink.records.size(), 1u);
  const auto& record = sink.records[0];
  EXPECT_EQ(record.roomId, room);
  ASSERT_TRUE(record.identity.has_value());
  EXPECT_EQ(*record.identity, "s");
  ASSERT_TRUE(std::holds_alternative<SdpAnswer>(record.event));
  EXPECT_EQ(std::get<SdpAnswer>(record.event).sdp, "v=0 answer");
  EXPECT_TRUE(sink.sentTo<SdpAnswer>(room, "l").empty());
  EXPECT_TRUE(sink.broadcasts<SdpAnswer>(room).empty());
}

TEST_F(RoomManagerTest, AnswerForParticipantWhoLeftIsIgnored) {
  const std::string room = createRoom();
  joinAs(room, "s", Role::Speaker);
  ASSERT_TRUE(manager.offer(room, "s", "offer").ok());
  manager.leave(room, "s", "bye");
  sink.clear();
  media.emitAnswer(room, "s", "late answer");
  media.emitCandidate(room, "s", 0, "candidate:late");
  media.emitAnswer("no-such-room", "s", "late answer");
  EXPECT_TRUE(sink.records.empty());
}

TEST_F(RoomManagerTest, LocalCandidateIsSentOnlyToThatParticipant) {
  const std::string room = createRoom();
  joinAs(room, "s", Role::Speaker);
  joinAs(room, "s2", Role::Speaker);
  sink.clear();
  media.emitCandidate(room, "s", 3, "candidate:1 1 UDP 1 10.0.0.1 5000 typ host");
  auto sent = sink.sentTo<IceCandidate>(room, "s");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].mlineIndex, 3u);
  EXPECT_EQ(sent[0].candidate, "candidate:1 1 UDP 1 10.0.0.1 5000 typ host");
  EXPECT_EQ(sink.records.size(), 1u);
}

TEST_F(RoomManagerTest, RemoteCandidateForwardedForStageRolesOnly) {
  const std::string room = createRoom();
  joinAs(room, "s", Role::Speaker);
  joinAs(room, "l", Role::Listener);
  ASSERT_TRUE(manager.remoteCandidate(room, "s", 0, "candidate:x").ok());
  ASSERT_EQ(media.candidateCalls.size(), 1u);
  EXPECT_EQ(media.candidateCalls[0].peerId, "s");
  EXPECT_EQ(media.candidateCalls[0].mlineIndex, 0u);
  EXPECT_EQ(media.candidateCalls[0].candidate, "candidate:x");

  EXPECT_EQ(codeOf(manager.remoteCandidate(room, "l", 0, "candidate:y")), ErrorCode::Forbidden);
  EXPECT_EQ(codeOf(manager.remoteCandidate(room, "nobody", 0, "candidate:z")), ErrorCode::Conflict);
  EXPECT_EQ(codeOf(manager.remoteCandidate("missing", "s", 0, "candidate:z")), ErrorCode::NotFound);
  EXPECT_EQ(media.candidateCalls.size(), 1u);

  media.failAddRemoteCandidate({ErrorCode::MediaError, "bad"});
  EXPECT_EQ(codeOf(manager.remoteCandidate(room, "s", 0, "candidate:bad")), ErrorCode::MediaError);
}

TEST_F(RoomManagerTest, PeerFailureTellsOnlyThatParticipantAndAllowsANewOffer) {
  const std::string room = createRoom();
  joinAs(room, "s", Role::Speaker);
  ASSERT_TRUE(manager.offer(room, "s", "offer").ok());
  sink.clear();
  media.emitPeerFailed(room, "s", "ICE failed");
  auto errors = sink.sentTo<ErrorEvent>(room, "s");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].error.code, ErrorCode::MediaError);
  EXPECT_EQ(sink.records.size(), 1u);
  const Room* r = manager.find(room);
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->participants.at("s").mediaConnected);
  EXPECT_EQ(r->participants.at("s").role, Role::Speaker);  // keeps the role
  EXPECT_TRUE(manager.offer(room, "s", "offer again").ok());
  EXPECT_EQ(media.offerCalls.size(), 2u);

  sink.clear();
  media.emitPeerFailed(room, "ghost", "whatever");
  EXPECT_TRUE(sink.records.empty());
}

// ---------------------------------------------------------------------------------------
// Leaving

TEST_F(RoomManagerTest, LeaveRemovesPeerForStageRolesOnly) {
  const std::string room = createRoom();
  joinAs(room, "h", Role::Host);
  joinAs(room, "s", Role::Speaker);
  joinAs(room, "l", Role::Listener);
  sink.clear();

  manager.leave(room, "l", "bye");
  EXPECT_TRUE(media.removePeerCalls.empty());

  manager.leave(room, "s", "bye");
  ASSERT_EQ(media.removePeerCalls.size(), 1u);
  EXPECT_EQ(media.removePeerCalls[0].roomId, room);
  EXPECT_EQ(media.removePeerCalls[0].peerId, "s");

  manager.leave(room, "h", "bye");
  ASSERT_EQ(media.removePeerCalls.size(), 2u);
  EXPECT_EQ(media.removePeerCalls[1].peerId, "h");

  auto left = sink.broadcasts<ParticipantLeft>(room);
  ASSERT_EQ(left.size(), 2u) << "the listener was never announced, so her leaving is not either";
  EXPECT_EQ(left[0].identity, "s");
  EXPECT_EQ(left[0].reason, "bye");
  EXPECT_EQ(left[1].identity, "h");
  EXPECT_TRUE(manager.find(room)->participants.empty());
  EXPECT_NE(manager.find(room), nullptr);  // the room outlives its participants
}

TEST_F(RoomManagerTest, ListenerWithARaisedHandIsAnnouncedLeaving) {
  const std::string room = createRoom();
  joinAs(room, "h", Role::Host);
  joinAs(room, "l", Role::Listener);
  ASSERT_TRUE(manager.setHand(room, "l", true).ok());
  sink.clear();
  manager.leave(room, "l", "bye");
  auto left = sink.broadcasts<ParticipantLeft>(room);
  ASSERT_EQ(left.size(), 1u) << "the hosts saw her hand: they must see it go";
  EXPECT_EQ(left[0].identity, "l");
}

TEST_F(RoomManagerTest, LeaveOfUnknownParticipantOrRoomIsSilent) {
  const std::string room = createRoom();
  sink.clear();
  manager.leave(room, "nobody", "bye");
  manager.leave("missing", "nobody", "bye");
  EXPECT_TRUE(sink.records.empty());
  EXPECT_TRUE(media.removePeerCalls.empty());
}

TEST_F(RoomManagerTest, LeaveThenRejoinIsAllowed) {
  const std::string room = createRoom();
  joinAs(room, "a", Role::Listener);
  manager.leave(room, "a", "bye");
  EXPECT_TRUE(manager.join(room, {"a", "A", Role::Listener}).ok());
}

// ---------------------------------------------------------------------------------------
// Ending rooms

TEST_F(RoomManagerTest, EndRoomBroadcastsRemovesAndStopsMedia) {
  probe.ids = {"end-me"};
  const std::string room = createRoom("Title", true);
  joinAs(room, "h", Role::Host);
  joinAs(room, "l", Role::Listener);
  sink.clear();

  std::vector<std::pair<RoomInfo, RoomMediaSummary>> doneCalls;
  auto status = manager.endRoom(room, "host ended", [&](const RoomInfo& info, const RoomMediaSummary& s) {
    doneCalls.emplace_back(info, s);
  });
  ASSERT_TRUE(status.ok());

  auto ended = sink.broadcasts<RoomEnded>(room);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].reason, "host ended");

  // Gone at once for new joins and lookups, even though media is still finishing.
  EXPECT_EQ(manager.find(room), nullptr);
  EXPECT_TRUE(manager.rooms().empty());
  EXPECT_EQ(codeOf(manager.join(room, {"late", "Late", Role::Listener})), ErrorCode::NotFound);

  ASSERT_EQ(media.stopCalls.size(), 1u);
  EXPECT_EQ(media.stopCalls[0].roomId, room);
  EXPECT_TRUE(doneCalls.empty());
  EXPECT_TRUE(probe.finished.empty());

  RoomMediaSummary summary;
  summary.recordingPath = "/tmp/end-me.ogg";
  summary.recordedSeconds = 12.5;
  summary.cleanEnd = true;
  media.completeStop(room, summary);

  ASSERT_EQ(doneCalls.size(), 1u);
  EXPECT_EQ(doneCalls[0].first.id, room);
  EXPECT_EQ(doneCalls[0].first.title, "Title");
  EXPECT_TRUE(doneCalls[0].first.record);
  EXPECT_EQ(doneCalls[0].second.recordingPath, "/tmp/end-me.ogg");
  EXPECT_DOUBLE_EQ(doneCalls[0].second.recordedSeconds, 12.5);
  EXPECT_TRUE(doneCalls[0].second.cleanEnd);

  ASSERT_EQ(probe.finished.size(), 1u);
  EXPECT_EQ(probe.finished[0].first.id, room);
  EXPECT_EQ(probe.finished[0].second.recordingPath, "/tmp/end-me.ogg");
}

TEST_F(RoomManagerTest, EndRoomWithTheRoomsOwnIdString) {
  // main.cpp ends rooms on SIGTERM with endRoom(room->info.id, ...): the id must be copied
  // before the room (which owns the string) is erased. Under ASan a dangling use is a
  // heap-use-after-free; without it the backend may get a garbage id and never stop the room.
  probe.ids = {"a-room-id-long-enough-to-live-on-the-heap"};
  const std::string room = createRoom();
  const Room* live = manager.find(room);
  ASSERT_NE(live, nullptr);
  ASSERT_TRUE(manager.endRoom(live->info.id, "server shutting down").ok());
  ASSERT_EQ(media.stopCalls.size(), 1u);
  EXPECT_EQ(media.stopCalls[0].roomId, room);
  EXPECT_EQ(sink.broadcasts<RoomEnded>(room).size(), 1u);
  media.completeStop(size_t{0});
  ASSERT_EQ(probe.finished.size(), 1u);
  EXPECT_EQ(probe.finished[0].first.id, room);
}

TEST_F(RoomManagerTest, EndRoomWithoutDoneStillRunsRoomFinished) {
  const std::string room = createRoom();
  ASSERT_TRUE(manager.endRoom(room, "bye").ok());
  EXPECT_TRUE(probe.finished.empty());
  media.completeStop(room);
  ASSERT_EQ(probe.finished.size(), 1u);
  EXPECT_EQ(probe.finished[0].first.id, room);
}

TEST_F(RoomManagerTest, EndRoomCompletionAfterManagerIsGoneIsSafe) {
  FakeMediaBackend m;
  RecordingEventSink s;
  EnvProbe p;
  bool done = false;
  {
    RoomManager scoped(m, s, p.make());
    auto room = scoped.createRoom({"Room", "", false});
    ASSERT_TRUE(room.ok());
    ASSERT_TRUE(scoped.endRoom(room->id, "shutdown", [&](const RoomInfo&, const RoomMediaSummary&) { done = true; })
                    .ok());
  }
  // The backend finishes writing after the manager is destroyed (daemon shutdown).
  m.completeStop(size_t{0});
  EXPECT_TRUE(done);
  EXPECT_EQ(p.finished.size(), 1u);
}

TEST_F(RoomManagerTest, EndUnknownRoomIsNotFound) {
  EXPECT_EQ(codeOf(manager.endRoom("missing", "bye")), ErrorCode::NotFound);
  EXPECT_TRUE(media.stopCalls.empty());
  EXPECT_TRUE(sink.records.empty());
}

TEST_F(RoomManagerTest, EndRoomTwiceIsNotFoundTheSecondTime) {
  const std::string room = createRoom();
  ASSERT_TRUE(manager.endRoom(room, "one").ok());
  EXPECT_EQ(codeOf(manager.endRoom(room, "two")), ErrorCode::NotFound);
  EXPECT_EQ(media.stopCalls.size(), 1u);
  EXPECT_EQ(sink.count<RoomEnded>(), 1u);
}

TEST_F(RoomManagerTest, EndAllEndsEveryRoom) {
  probe.ids = {"a", "b", "c"};
  createRoom("A");
  createRoom("B");
  createRoom("C");
  manager.endAll("shutdown");
  EXPECT_TRUE(manager.rooms().empty());
  EXPECT_EQ(media.stopCalls.size(), 3u);
  EXPECT_EQ(sink.count<RoomEnded>(), 3u);
  for (const char* id : {"a", "b", "c"}) {
    auto ended = sink.broadcasts<RoomEnded>(id);
    ASSERT_EQ(ended.size(), 1u) << id;
    EXPECT_EQ(ended[0].reason, "shutdown");
  }
  media.completeStop(size_t{0});
  media.completeStop(size_t{1});
  media.completeStop(size_t{2});
  EXPECT_EQ(probe.finished.size(), 3u);
}

TEST_F(RoomManagerTest, EventsAfterEndAreIgnored) {
  const std::string room = createRoom();
  joinAs(room, "s", Role::Speaker);
  ASSERT_TRUE(manager.offer(room, "s", "offer").ok());
  ASSERT_TRUE(manager.endRoom(room, "bye").ok());
  sink.clear();
  media.emitAnswer(room, "s", "late");
  media.emitCandidate(room, "s", 0, "late");
  media.emitPeerFailed(room, "s", "late");
  media.emitPeerLevel(room, "s", -10);
  media.emitRoomMediaFailed(room, "late failure");
  EXPECT_TRUE(sink.records.empty());
  EXPECT_EQ(media.stopCalls.size(), 1u);
  EXPECT_EQ(codeOf(manager.offer(room, "s", "offer")), ErrorCode::NotFound);
}

TEST_F(RoomManagerTest, RoomMediaFailureEndsTheRoom) {
  const std::string room = createRoom();
  joinAs(room, "h", Role::Host);
  sink.clear();
  media.emitRoomMediaFailed(room, "mixer crashed");
  EXPECT_EQ(manager.find(room), nullptr);
  auto ended = sink.broadcasts<RoomEnded>(room);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_NE(ended[0].reason.find("mixer crashed"), std::string::npos);
  ASSERT_EQ(media.stopCalls.size(), 1u);
  EXPECT_EQ(media.stopCalls[0].roomId, room);
  media.completeStop(room);
  ASSERT_EQ(probe.finished.size(), 1u);
  EXPECT_EQ(probe.finished[0].first.id, room);
}

TEST_F(RoomManagerTest, RoomMediaFailureForUnknownRoomIsHarmless) {
  createRoom();
  media.emitRoomMediaFailed("missing", "boom");
  EXPECT_EQ(manager.rooms().size(), 1u);
  EXPECT_TRUE(media.stopCalls.empty());
}

// ---------------------------------------------------------------------------------------
// The stage: hands, promotion, invitations, mutes, removal, reconnection, active speakers

RoomLimits stageLimits() {
  RoomLimits limits = smallLimits();
  limits.maxSpeakers = 4;
  return limits;
}

// A room with host "h", co-host "c" and speaker "s" on stage, and listeners "l1" and "l2".
// The stage holds 4, so one listener fits on it.
class StageTest : public RoomManagerTest {
 protected:
  StageTest() : RoomManagerTest(stageLimits()) {}

  void SetUp() override {
    room = createRoom();
    joinAs(room, "h", Role::Host);
    joinAs(room, "c", Role::CoHost);
    joinAs(room, "s", Role::Speaker);
    joinAs(room, "l1", Role::Listener);
    joinAs(room, "l2", Role::Listener);
    sink.clear();
  }

  const Participant& who(const std::string& identity) const { return manager.find(room)->participants.at(identity); }

  const Actor host{"h", Role::Host};
  const Actor cohost{"c", Role::CoHost};
  const Actor speaker{"s", Role::Speaker};
  std::string room;
};

TEST_F(StageTest, HandQueueFollowsRaisingOrderAndIsSeenByModeratorsAndTheRaiser) {
  ASSERT_TRUE(manager.setHand(room, "l2", true).ok());
  ASSERT_TRUE(manager.setHand(room, "l1", true).ok());
  auto queue = manager.find(room)->handQueue();
  ASSERT_EQ(queue.size(), 2u);
  EXPECT_EQ(queue[0]->identity, "l2") << "first raised, first in the queue";
  EXPECT_EQ(queue[1]->identity, "l1");

  // Each hand goes to the host, the co-host and its owner: not to the speaker, not to the
  // other listener, never to the whole room.
  std::map<std::string, std::set<std::string>> toldAbout;  // whose hand -> who was told
  for (const auto& record : sink.all<HandChanged>()) {
    ASSERT_FALSE(record.isBroadcast());
    toldAbout[std::get<HandChanged>(record.event).identity].insert(*record.identity);
  }
  EXPECT_EQ(toldAbout["l2"], (std::set<std::string>{"h", "c", "l2"}));
  EXPECT_EQ(toldAbout["l1"], (std::set<std::string>{"h", "c", "l1"}));

  EXPECT_EQ(codeOf(manager.setHand(room, "s", true)), ErrorCode::Conflict) << "already on stage";
  ASSERT_TRUE(manager.setHand(room, "l2", false).ok());
  queue = manager.find(room)->handQueue();
  ASSERT_EQ(queue.size(), 1u);
  EXPECT_EQ(queue[0]->identity, "l1");
}

TEST_F(StageTest, PrewarmedHandIsNotMixedUntilPromoted) {
  EXPECT_EQ(codeOf(manager.offer(room, "l1", "v=0")), ErrorCode::Forbidden) << "no WebRTC without a hand up";
  ASSERT_TRUE(manager.setHand(room, "l1", true).ok());
  ASSERT_TRUE(manager.offer(room, "l1", "v=0").ok());
  ASSERT_EQ(media.offerCalls.size(), 1u);
  EXPECT_FALSE(media.offerCalls[0].mixed) << "pre-warm: hears the room, is not heard";
  EXPECT_EQ(media.mixedNow(room, "l1"), false);
  sink.clear();

  ASSERT_TRUE(manager.promote(room, host, "l1").ok());
  EXPECT_EQ(media.mixedNow(room, "l1"), true) << "promotion switches mixing on";
  EXPECT_EQ(media.offerCalls.size(), 1u) << "no renegotiation";
  EXPECT_TRUE(media.removePeerCalls.empty());
  EXPECT_EQ(who("l1").role, Role::Speaker);
  EXPECT_FALSE(who("l1").handRaised);
  auto roles = sink.broadcasts<RoleChanged>(room);
  ASSERT_EQ(roles.size(), 1u) << "everyone sees the stage change";
  EXPECT_EQ(roles[0].identity, "l1");
  EXPECT_EQ(roles[0].role, Role::Speaker);
  EXPECT_EQ(sink.count<RoleChanged>(), 1u);
}

TEST_F(StageTest, PromotionRules) {
  EXPECT_EQ(codeOf(manager.promote(room, speaker, "l1")), ErrorCode::Forbidden);
  EXPECT_EQ(codeOf(manager.promote(room, {"l1", Role::Listener}, "l2")), ErrorCode::Forbidden);
  EXPECT_EQ(codeOf(manager.promote(room, host, "s")), ErrorCode::Conflict) << "already on stage";
  EXPECT_EQ(codeOf(manager.promote(room, host, "nobody")), ErrorCode::NotFound);
  EXPECT_TRUE(manager.promote(room, cohost, "l1").ok()) << "co-hosts run the stage too";
  EXPECT_EQ(codeOf(manager.promote(room, host, "l2")), ErrorCode::RoomFull) << "the stage holds 4";
  EXPECT_EQ(who("l2").role, Role::Listener);
}

TEST_F(StageTest, DemoteSendsTheSpeakerBackToHls) {
  ASSERT_TRUE(manager.offer(room, "s", "v=0").ok());
  ASSERT_TRUE(manager.demote(room, cohost, "s").ok());
  EXPECT_EQ(who("s").role, Role::Listener);
  EXPECT_FALSE(who("s").mediaConnected);
  ASSERT_EQ(media.removePeerCalls.size(), 1u);
  EXPECT_EQ(media.removePeerCalls[0].roomId, room);
  EXPECT_EQ(media.removePeerCalls[0].peerId, "s");
  EXPECT_EQ(media.mixedNow(room, "s"), std::nullopt);

  EXPECT_EQ(codeOf(manager.demote(room, cohost, "h")), ErrorCode::Forbidden);
  EXPECT_EQ(codeOf(manager.demote(room, cohost, "c")), ErrorCode::Forbidden) << "only the host demotes co-hosts";
  EXPECT_TRUE(manager.demote(room, host, "c").ok());
  EXPECT_EQ(who("c").role, Role::Listener);
}

TEST_F(StageTest, InviteAcceptAndDecline) {
  ASSERT_TRUE(manager.invite(room, host, "l1").ok());
  auto invites = sink.all<Invited>();
  ASSERT_EQ(invites.size(), 1u);
  EXPECT_EQ(invites[0].identity, "l1") << "only the invited listener is told";
  ASSERT_TRUE(manager.offer(room, "l1", "v=0").ok()) << "an invited listener may pre-warm";
  EXPECT_EQ(media.mixedNow(room, "l1"), false);
  ASSERT_TRUE(manager.answerInvite(room, "l1", true).ok());
  EXPECT_EQ(who("l1").role, Role::Speaker);
  EXPECT_EQ(media.mixedNow(room, "l1"), true);

  ASSERT_TRUE(manager.invite(room, host, "l2").ok());
  ASSERT_TRUE(manager.answerInvite(room, "l2", false).ok());
  EXPECT_EQ(who("l2").role, Role::Listener);
  EXPECT_EQ(codeOf(manager.answerInvite(room, "l2", true)), ErrorCode::Conflict) << "nothing left to accept";

  auto answers = sink.sentTo<InviteAnswered>(room, "h");
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].identity, "l1");
  EXPECT_TRUE(answers[0].accepted);
  EXPECT_EQ(answers[1].identity, "l2");
  EXPECT_FALSE(answers[1].accepted);
}

TEST_F(StageTest, MuteByHostAndSelf) {
  ASSERT_TRUE(manager.offer(room, "s", "v=0").ok());
  EXPECT_EQ(media.mixedNow(room, "s"), true);
  ASSERT_TRUE(manager.setMuted(room, host, "s", true).ok());
  EXPECT_EQ(media.mixedNow(room, "s"), false) << "out of every mix at once";
  auto mutes = sink.broadcasts<MuteChanged>(room);
  ASSERT_EQ(mutes.size(), 1u);
  EXPECT_EQ(mutes[0].identity, "s");
  EXPECT_TRUE(mutes[0].muted);
  EXPECT_TRUE(mutes[0].byHost);

  // Unmuting yourself does not lift the host's mute.
  ASSERT_TRUE(manager.setMuted(room, speaker, "s", false).ok());
  EXPECT_EQ(media.mixedNow(room, "s"), false);
  ASSERT_TRUE(manager.setMuted(room, host, "s", false).ok());
  EXPECT_EQ(media.mixedNow(room, "s"), true);
  ASSERT_TRUE(manager.setMuted(room, speaker, "s", true).ok());
  EXPECT_EQ(media.mixedNow(room, "s"), false);

  EXPECT_EQ(codeOf(manager.setMuted(room, speaker, "h", true)), ErrorCode::Forbidden);
  EXPECT_EQ(codeOf(manager.setMuted(room, cohost, "h", true)), ErrorCode::Forbidden);
  EXPECT_EQ(codeOf(manager.setMuted(room, host, "l1", true)), ErrorCode::Conflict) << "listeners are not on stage";
}

// RoomManager::apply, which REST and the WebSocket both call: each action does what its
// name says, with the permission checks of the call behind it.
TEST_F(StageTest, ApplyRunsEachStageAction) {
  ASSERT_TRUE(manager.apply(room, host, StageAction::Invite, "l1").ok());
  EXPECT_EQ(sink.all<Invited>().size(), 1u);
  ASSERT_TRUE(manager.apply(room, cohost, StageAction::Promote, "l2").ok());
  EXPECT_EQ(who("l2").role, Role::Speaker);

  ASSERT_TRUE(manager.offer(room, "s", "v=0").ok());
  ASSERT_TRUE(manager.apply(room, host, StageAction::Mute, "s").ok());
  EXPECT_EQ(media.mixedNow(room, "s"), false);
  ASSERT_TRUE(manager.apply(room, host, StageAction::Unmute, "s").ok());
  EXPECT_EQ(media.mixedNow(room, "s"), true);

  EXPECT_EQ(codeOf(manager.apply(room, cohost, StageAction::AppointCohost, "s")), ErrorCode::Forbidden);
  ASSERT_TRUE(manager.apply(room, host, StageAction::AppointCohost, "s").ok());
  EXPECT_EQ(who("s").role, Role::CoHost);
  ASSERT_TRUE(manager.apply(room, host, StageAction::RevokeCohost, "s").ok());
  EXPECT_EQ(who("s").role, Role::Speaker);

  ASSERT_TRUE(manager.apply(room, host, StageAction::Demote, "l2").ok());
  EXPECT_EQ(who("l2").role, Role::Listener);
  EXPECT_EQ(codeOf(manager.apply(room, speaker, StageAction::Remove, "l1")), ErrorCode::Forbidden);
  ASSERT_TRUE(manager.apply(room, host, StageAction::Remove, "l1").ok());
  EXPECT_EQ(manager.find(room)->participants.count("l1"), 0u);
}

TEST_F(StageTest, RemovedIdentityCannotRejoin) {
  ASSERT_TRUE(manager.remove(room, cohost, "s").ok());
  EXPECT_EQ(manager.find(room)->participants.count("s"), 0u);
  ASSERT_EQ(sink.disconnects.size(), 1u);
  EXPECT_EQ(sink.disconnects[0].roomId, room);
  EXPECT_EQ(sink.disconnects[0].identity, "s");
  EXPECT_EQ(sink.sentTo<Removed>(room, "s").size(), 1u);
  EXPECT_EQ(sink.count<Removed>(), 1u) << "told to the removed participant only";
  EXPECT_EQ(codeOf(manager.join(room, {"s", "Name s", Role::Speaker})), ErrorCode::Forbidden);
  EXPECT_EQ(codeOf(manager.remove(room, cohost, "h")), ErrorCode::Forbidden);
  EXPECT_EQ(codeOf(manager.remove(room, speaker, "l1")), ErrorCode::Forbidden);
}

TEST_F(StageTest, DroppedSpeakerKeepsRoleAndSlotWithinGrace) {
  ASSERT_TRUE(manager.offer(room, "s", "v=0").ok());
  const uint64_t slot = who("s").joinOrder;
  const std::string resume = who("s").resumeToken;
  manager.disconnected(room, "s");
  EXPECT_EQ(who("s").presence, Presence::Reconnecting);
  auto presence = sink.broadcasts<PresenceChanged>(room);
  ASSERT_EQ(presence.size(), 1u);
  EXPECT_EQ(presence[0].identity, "s");
  EXPECT_TRUE(presence[0].reconnecting);
  ASSERT_EQ(probe.timers.size(), 1u);
  EXPECT_EQ(probe.timers.begin()->second.ms, 20'000u) << "the default grace period";

  // Back before the grace timer fires: same role and slot, a fresh resume token.
  auto back = manager.join(room, {"s", "Name s", Role::Speaker});
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->role, Role::Speaker);
  EXPECT_EQ(back->joinOrder, slot);
  EXPECT_NE(back->resumeToken, resume) << "a fresh resume token each time";
  EXPECT_TRUE(probe.timers.empty()) << "the grace timer was cancelled";
  EXPECT_TRUE(sink.broadcasts<ParticipantLeft>(room).empty());
}

TEST_F(StageTest, GraceExpiryGivesExactlyOneLeft) {
  ASSERT_TRUE(manager.offer(room, "s", "v=0").ok());
  manager.disconnected(room, "s");
  manager.disconnected(room, "s");  // reported twice (socket and WebRTC): still one timer
  ASSERT_EQ(probe.timers.size(), 1u);
  probe.fireTimers();
  auto left = sink.broadcasts<ParticipantLeft>(room);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].identity, "s");
  EXPECT_EQ(left[0].reason, "timeout");
  EXPECT_EQ(manager.find(room)->participants.count("s"), 0u);
  EXPECT_TRUE(probe.timers.empty()) << "nothing left to fire a second leave";
}

TEST_F(StageTest, ListenersLeaveAtOnceAndLiveSocketsNeedTheResumeToken) {
  manager.disconnected(room, "l2");
  EXPECT_EQ(manager.find(room)->participants.count("l2"), 0u) << "no grace for listeners";
  EXPECT_TRUE(probe.timers.empty());
  // A second connection while the first is still up: refused without the resume token.
  EXPECT_EQ(codeOf(manager.join(room, {"s", "Name s", Role::Speaker})), ErrorCode::Conflict);
  const std::string resume = who("s").resumeToken;
  EXPECT_TRUE(manager.join(room, {"s", "Name s", Role::Speaker}, resume).ok());
}

TEST_F(StageTest, ActiveSpeakersOnlyOnChangeAndRateBounded) {
  ASSERT_TRUE(manager.offer(room, "s", "v=0").ok());
  ASSERT_TRUE(manager.offer(room, "h", "v=0").ok());
  for (int i = 0; i < 20; i++) {  // 2 s of level reports, 100 ms apart
    media.emitPeerLevel(room, "s", -20);
    media.emitPeerLevel(room, "h", -90);
    probe.nowMs += 100;
  }
  auto sent = sink.broadcasts<ActiveSpeakers>(room);
  ASSERT_EQ(sent.size(), 1u) << "one event for one change";
  EXPECT_EQ(sent[0].identities, std::vector<std::string>{"s"});

  // Flapping: the loud speaker alternates, 100 ms and then 600 ms apart, so the set changes
  // at nearly every report. Events stay at least 250 ms apart (at most 4 a second).
  std::vector<int64_t> sentAt;
  size_t seen = sink.count<ActiveSpeakers>();
  for (int i = 0; i < 20; i++) {
    media.emitPeerLevel(room, i % 2 ? "s" : "h", -20);
    if (sink.count<ActiveSpeakers>() > seen) {
      seen = sink.count<ActiveSpeakers>();
      sentAt.push_back(probe.nowMs);
    }
    probe.nowMs += i % 2 ? 600 : 100;
  }
  ASSERT_GE(sentAt.size(), 2u);
  for (size_t k = 1; k < sentAt.size(); k++)
    EXPECT_GE(sentAt[k] - sentAt[k - 1], 250) << "events " << k - 1 << " and " << k;
  EXPECT_LT(sentAt.size(), 19u) << "changes inside the interval are held back, not each sent";

  // A muted speaker is never active.
  ASSERT_TRUE(manager.setMuted(room, host, "s", true).ok());
  probe.nowMs += 1000;
  media.emitPeerLevel(room, "s", -10);
  probe.nowMs += 300;
  media.emitPeerLevel(room, "s", -10);
  auto last = sink.broadcasts<ActiveSpeakers>(room).back().identities;
  EXPECT_EQ(std::count(last.begin(), last.end(), "s"), 0);
}

// ---------------------------------------------------------------------------------------
// isValidUtf8

TEST(IsValidUtf8, AcceptsValidText) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("plain ASCII"));
  EXPECT_TRUE(isValidUtf8(std::string_view("nul\0inside", 10)));
  EXPECT_TRUE(isValidUtf8("\xc3\xa9"));          // é, 2 bytes
  EXPECT_TRUE(isValidUtf8("\xe2\x82\xac"));      // €, 3 bytes
  EXPECT_TRUE(isValidUtf8("\xf0\x9f\x98\x80"));  // 😀, 4 bytes
  EXPECT_TRUE(isValidUtf8("caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80!"));
  // Boundaries of each length.
  EXPECT_TRUE(isValidUtf8("\xc2\x80"));          // U+0080
  EXPECT_TRUE(isValidUtf8("\xdf\xbf"));          // U+07FF
  EXPECT_TRUE(isValidUtf8("\xe0\xa0\x80"));      // U+0800
  EXPECT_TRUE(isValidUtf8("\xed\x9f\xbf"));      // U+D7FF, just below the surrogates
  EXPECT_TRUE(isValidUtf8("\xee\x80\x80"));      // U+E000, just above
  EXPECT_TRUE(isValidUtf8("\xef\xbf\xbf"));      // U+FFFF
  EXPECT_TRUE(isValidUtf8("\xf0\x90\x80\x80"));  // U+10000
  EXPECT_TRUE(isValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF, the last code point
}

TEST(IsValidUtf8, RejectsOverlongForms) {
  EXPECT_FALSE(isValidUtf8("\xc0\x80"));          // U+0000 in 2 bytes
  EXPECT_FALSE(isValidUtf8("\xc0\xaf"));          // '/' in 2 bytes
  EXPECT_FALSE(isValidUtf8("\xc1\xbf"));          // U+007F in 2 bytes
  EXPECT_FALSE(isValidUtf8("\xe0\x80\xaf"));      // '/' in 3 bytes
  EXPECT_FALSE(isValidUtf8("\xe0\x9f\xbf"));      // U+07FF in 3 bytes
  EXPECT_FALSE(isValidUtf8("\xf0\x80\x80\xaf"));  // '/' in 4 bytes
  EXPECT_FALSE(isValidUtf8("\xf0\x8f\xbf\xbf"));  // U+FFFF in 4 bytes
}

TEST(IsValidUtf8, RejectsSurrogates) {
  EXPECT_FALSE(isValidUtf8("\xed\xa0\x80"));  // U+D800
  EXPECT_FALSE(isValidUtf8("\xed\xaf\xbf"));  // U+DBFF
  EXPECT_FALSE(isValidUtf8("\xed\xb0\x80"));  // U+DC00
  EXPECT_FALSE(isValidUtf8("\xed\xbf\xbf"));  // U+DFFF
  EXPECT_FALSE(isValidUtf8("\xed\xa0\xbd\xed\xb8\x80"));  // a CESU-8 pair
}

TEST(IsValidUtf8, RejectsCodePointsBeyondU10FFFF) {
  EXPECT_FALSE(isValidUtf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(isValidUtf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(isValidUtf8("\xf7\xbf\xbf\xbf"));
  EXPECT_FALSE(isValidUtf8("\xf8\x88\x80\x80\x80"));  // 5-byte form
  EXPECT_FALSE(isValidUtf8("\xfc\x84\x80\x80\x80\x80"));  // 6-byte form
  EXPECT_FALSE(isValidUtf8("\xfe"));
  EXPECT_FALSE(isValidUtf8("\xff"));
}

TEST(IsValidUtf8, RejectsTruncatedSequences) {
  EXPECT_FALSE(isValidUtf8("\xc3"));
  EXPECT_FALSE(isValidUtf8("\xe2\x82"));
  EXPECT_FALSE(isValidUtf8("\xe2"));
  EXPECT_FALSE(isValidUtf8("\xf0\x9f\x98"));
  EXPECT_FALSE(isValidUtf8("ok\xf0\x9f"));
  EXPECT_FALSE(isValidUtf8("\xe2\x82z"));  // cut short by an ASCII byte
  EXPECT_FALSE(isValidUtf8("\xc3\xc3\xa9"));
}

TEST(IsValidUtf8, RejectsStrayContinuationBytes) {
  EXPECT_FALSE(isValidUtf8("\x80"));
  EXPECT_FALSE(isValidUtf8("\xbf"));
  EXPECT_FALSE(isValidUtf8("a\x80z"));
  EXPECT_FALSE(isValidUtf8("\xc3\xa9\xa9"));  // one continuation too many
}

// The room, not the token, says who someone is once it has seen them.
TEST_F(RoomManagerTest, ADemotedSpeakerRejoinsAsAListener) {
  const std::string room = createRoom();
  const std::string host = "host-" + room;
  joinAs(room, host, Role::Host);
  joinAs(room, "grace", Role::Speaker);
  ASSERT_TRUE(manager.demote(room, {host, Role::Host}, "grace").ok());
  manager.leave(room, "grace", "left");
  auto again = manager.join(room, {"grace", "Grace", Role::Speaker});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().role, Role::Listener);
  EXPECT_EQ(manager.authorize(room, {"grace", "Grace", Role::Speaker}).value().role, Role::Listener);
}

TEST_F(RoomManagerTest, RevokedAndRemovedCohostsLoseTheirAuthority) {
  const std::string room = createRoom();
  const std::string host = "host-" + room;
  joinAs(room, "ada", Role::CoHost);  // the stage holds two here: the host acts without joining
  joinAs(room, "bob", Role::CoHost);
  ASSERT_TRUE(manager.setCohost(room, {host, Role::Host}, "ada", false).ok());
  EXPECT_EQ(manager.authorize(room, {"ada", "Ada", Role::CoHost}).value().role, Role::Speaker);
  ASSERT_TRUE(manager.remove(room, {host, Role::Host}, "bob").ok());
  auto removed = manager.authorize(room, {"bob", "Bob", Role::CoHost});
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.error().code, ErrorCode::Forbidden);
  // Tokens Bob had issued stop working; Ada's (issued while a co-host) still admit a speaker.
  auto viaBob = manager.authorize(room, {"guest1", "G1", Role::Speaker, "jti-1", "bob"});
  EXPECT_FALSE(viaBob.ok());
  auto viaAda = manager.authorize(room, {"guest2", "G2", Role::Speaker, "jti-2", "ada"});
  EXPECT_FALSE(viaAda.ok()) << "a revoked co-host's tokens are no longer honoured either";
  auto viaHost = manager.authorize(room, {"guest3", "G3", Role::Speaker, "jti-3", host});
  EXPECT_TRUE(viaHost.ok());
}

TEST_F(RoomManagerTest, RemovalRevokesTheTokenItself) {
  const std::string room = createRoom();
  const std::string host = "host-" + room;
  joinAs(room, host, Role::Host);
  ASSERT_TRUE(manager.join(room, {"eve", "Eve", Role::Listener, "jti-eve"}).ok());
  ASSERT_TRUE(manager.remove(room, {host, Role::Host}, "eve").ok());
  EXPECT_FALSE(manager.authorize(room, {"eve-2", "Eve", Role::Listener, "jti-eve"}).ok());
}

TEST_F(RoomManagerTest, HostAndCohostNamesAreReserved) {
  auto created = manager.createRoom({"Names", "", false, "Margaret"});
  ASSERT_TRUE(created.ok());
  const std::string room = created.value().id;
  auto taken = manager.join(room, {"l1", " MARGARET ", Role::Listener});
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, ErrorCode::Conflict);
  ASSERT_TRUE(manager.join(room, {"ada", "Ada", Role::CoHost}).ok());
  EXPECT_FALSE(manager.join(room, {"l2", "ada", Role::Listener}).ok());
  EXPECT_TRUE(manager.join(room, {"l3", "Adam", Role::Listener}).ok());
  EXPECT_TRUE(manager.checkName(room, "ada", "Ada").ok()) << "one's own name is one's own";
}

TEST_F(RoomManagerTest, PrewarmedSessionsAndRaisedHandsAreBoundedPerRoom) {
  RoomLimits limits = smallLimits();
  limits.maxPrewarmedPeers = 2;
  limits.maxRaisedHands = 3;
  FakeMediaBackend media2;
  RecordingEventSink sink2;
  EnvProbe probe2;
  RoomManager bounded(media2, sink2, probe2.make(), limits);
  const std::string room = bounded.createRoom({"Hands"}).value().id;
  for (const char* id : {"a", "b", "c", "d"}) ASSERT_TRUE(bounded.join(room, {id, id, Role::Listener}).ok());
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(bounded.setHand(room, id, true).ok());
  auto fourth = bounded.setHand(room, "d", true);
  ASSERT_FALSE(fourth.ok());
  EXPECT_EQ(fourth.error().code, ErrorCode::RoomFull);
  EXPECT_TRUE(bounded.offer(room, "a", "v=0").ok());
  EXPECT_TRUE(bounded.offer(room, "b", "v=0").ok());
  auto third = bounded.offer(room, "c", "v=0");
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::RoomFull);
  // A hand that goes down frees its session for the next.
  ASSERT_TRUE(bounded.setHand(room, "a", false).ok());
  EXPECT_TRUE(bounded.offer(room, "c", "v=0").ok());
}

// ---------------------------------------------------------------------------------------
// Rooms that end by themselves: nobody on stage for emptyTimeoutMs, or maxDurationMs after
// creation. They end by endRoom, like a host ending them (media stopped, everyone told).

class RoomTimeoutTest : public RoomManagerTest {
 protected:
  static RoomLimits timeoutLimits(unsigned emptyMs, unsigned maxMs) {
    RoomLimits limits = smallLimits();
    limits.emptyTimeoutMs = emptyMs;
    limits.maxDurationMs = maxMs;
    return limits;
  }
  explicit RoomTimeoutTest(unsigned emptyMs = 5000, unsigned maxMs = 0)
      : RoomManagerTest(timeoutLimits(emptyMs, maxMs)) {}
  std::string endReason(const std::string& room) {
    auto ended = sink.broadcasts<RoomEnded>(room);
    return ended.size() == 1 ? ended[0].reason : "(ended " + std::to_string(ended.size()) + " times)";
  }
};

TEST_F(RoomTimeoutTest, ARoomNobodyJoinsEndsAfterTheEmptyTimeout) {
  const std::string room = createRoom();
  ASSERT_EQ(probe.timers.size(), 1u);
  EXPECT_EQ(probe.timers.begin()->second.ms, 5000u);
  EXPECT_EQ(manager.find(room)->stageEmptySinceMs, kStartMs);
  probe.fireTimers();
  EXPECT_EQ(manager.find(room), nullptr);
  EXPECT_EQ(endReason(room).rfind("empty", 0), 0u) << endReason(room);
  ASSERT_EQ(media.stopCalls.size(), 1u) << "its media is stopped: HLS and the recording are finished";
}

TEST_F(RoomTimeoutTest, SomeoneOnStageStopsTheCountdownListenersDoNot) {
  const std::string room = createRoom();
  joinAs(room, "l", Role::Listener);
  EXPECT_EQ(probe.timers.size(), 1u) << "a listener does not keep a room alive";
  joinAs(room, "h", Role::Host);
  EXPECT_TRUE(probe.timers.empty()) << "the host on stage cancelled it";
  EXPECT_EQ(manager.find(room)->stageEmptySinceMs, 0);
  manager.leave(room, "h", "bye");
  ASSERT_EQ(probe.timers.size(), 1u) << "counting again once the stage is empty";
  joinAs(room, "s", Role::Speaker);
  probe.fireTimers();  // nothing pending: the speaker cancelled it
  EXPECT_NE(manager.find(room), nullptr);
}

TEST_F(RoomTimeoutTest, DemotingTheLastSpeakerStartsTheCountdown) {
  const std::string room = createRoom();
  joinAs(room, "s", Role::Speaker);
  ASSERT_TRUE(probe.timers.empty());
  ASSERT_TRUE(manager.demote(room, {"host-" + room, Role::Host}, "s").ok());
  ASSERT_EQ(probe.timers.size(), 1u);
  probe.fireTimers();
  EXPECT_EQ(manager.find(room), nullptr);
}

TEST_F(RoomTimeoutTest, ATimerOfAnEndedRoomIsCancelled) {
  const std::string room = createRoom();
  ASSERT_TRUE(manager.endRoom(room, "host ended").ok());
  EXPECT_TRUE(probe.timers.empty());
  EXPECT_EQ(endReason(room), "host ended");
}

class MaxDurationTest : public RoomTimeoutTest {
 protected:
  MaxDurationTest() : RoomTimeoutTest(0, 3600 * 1000) {}
};

TEST_F(MaxDurationTest, ARoomEndsAtItsMaximumDurationWithPeopleOnStage) {
  const std::string room = createRoom();
  joinAs(room, "h", Role::Host);
  ASSERT_EQ(probe.timers.size(), 1u) << "no empty-stage timer with emptyTimeoutMs 0";
  EXPECT_EQ(probe.timers.begin()->second.ms, 3600u * 1000);
  probe.fireTimers();
  EXPECT_EQ(manager.find(room), nullptr);
  EXPECT_EQ(endReason(room).rfind("max_duration", 0), 0u) << endReason(room);
}


// ---------------------------------------------------------------------------------------
// Failover: a room another node ran, reopened here (restoreRoom)

namespace {

RoomSnapshot movedRoom() {
  RoomSnapshot snapshot;
  snapshot.info = {"moved", "Moved show", "what moved", true, "host-moved", kStartMs - 60000, "Host"};
  snapshot.recording = true;
  snapshot.stage = {{"host-moved", "Host", Role::Host, 1, false}, {"s1", "Sam", Role::Speaker, 3, true}};
  snapshot.banned = {"troll"};
  snapshot.hls = HlsPosition{120, 2, 500, kStartMs - 10000};
  return snapshot;
}

}  // namespace

TEST_F(RoomManagerTest, RestoreRoomBringsTheStageBackReconnectingInItsSlots) {
  auto restored = manager.restoreRoom(movedRoom());
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  EXPECT_EQ(restored->id, "moved");
  EXPECT_EQ(restored->createdAtUnixMs, kStartMs - 60000) << "the room keeps its age";
  ASSERT_EQ(media.startCalls.size(), 1u);
  EXPECT_TRUE(media.startCalls[0].record) << "a room being recorded goes on being recorded";
  ASSERT_TRUE(media.startCalls[0].continueHls.has_value());
  EXPECT_GT(media.startCalls[0].continueHls->nextSequence, 120u + 10000 / 500) << "past what the old owner made since";
  EXPECT_EQ(media.startCalls[0].continueHls->discontinuitySequence, 3u);

  const Room* room = manager.find("moved");
  ASSERT_NE(room, nullptr);
  const Participant& sam = room->participants.at("s1");
  EXPECT_EQ(sam.presence, Presence::Reconnecting);
  EXPECT_EQ(sam.role, Role::Speaker);
  EXPECT_EQ(sam.joinOrder, 3u);
  EXPECT_TRUE(sam.recordingOptOut);
  EXPECT_EQ(room->speakerCount(), 2);

  // Sam comes back with a listener's token (promoted on the old node): the room's word holds.
  auto back = manager.join("moved", {"s1", "Sam", Role::Listener});
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->role, Role::Speaker);
  EXPECT_EQ(back->joinOrder, 3u);
  EXPECT_EQ(back->presence, Presence::Connected);
  // Someone new gets the next slot; whom the host removed stays out.
  EXPECT_EQ(joinAs("moved", "new", Role::Listener).joinOrder, 4u);
  EXPECT_EQ(codeOf(manager.join("moved", {"troll", "Troll", Role::Listener})), ErrorCode::Forbidden);

  // The host never came back: their place goes when the grace period ends.
  probe.fireTimers();
  EXPECT_EQ(room->participants.count("host-moved"), 0u);
  EXPECT_EQ(room->participants.count("s1"), 1u);
}

TEST_F(RoomManagerTest, RestoreRoomRefusesALiveIdAFullNodeAndABadSnapshot) {
  ASSERT_TRUE(manager.restoreRoom(movedRoom()).ok());
  EXPECT_EQ(codeOf(manager.restoreRoom(movedRoom())), ErrorCode::Conflict);
  RoomSnapshot noId = movedRoom();
  noId.info.id.clear();
  EXPECT_EQ(codeOf(manager.restoreRoom(noId)), ErrorCode::ValidationFailed);
  RoomSnapshot listenerOnStage = movedRoom();
  listenerOnStage.info.id = "other";
  listenerOnStage.stage[1].role = Role::Listener;
  EXPECT_EQ(codeOf(manager.restoreRoom(listenerOnStage)), ErrorCode::ValidationFailed);
  createRoom("two");
  createRoom("three");
  RoomSnapshot fourth = movedRoom();
  fourth.info.id = "fourth";
  EXPECT_EQ(codeOf(manager.restoreRoom(fourth)), ErrorCode::Conflict) << "maxRooms is 3";
}

}  // namespace
}  // namespace roomcast::core
