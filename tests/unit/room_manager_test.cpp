// Room lifecycle and roles against a fake media backend: no GStreamer, no sockets.
#include <gtest/gtest.h>

#include "core/room_manager.h"
#include "fakes.h"

#include <algorithm>
#include <set>

using namespace roomcast::core;
using roomcast::testing::FakeMediaBackend;
using roomcast::testing::RecordingEventSink;

namespace {

class RoomManagerTest : public ::testing::Test {
 protected:
  explicit RoomManagerTest(size_t stageCap = 3) : rooms(media, events, environment(), limits(stageCap)) {}

  Environment environment() {
    Environment env;
    env.newRoomId = [this] { return "room" + std::to_string(++nextId); };
    env.nowUnixMs = [this] { return timers.now(); };
    env.schedule = [this](unsigned ms, std::function<void()> fn) { return timers.schedule(ms, std::move(fn)); };
    env.cancel = [this](uint64_t id) { timers.cancel(id); };
    env.newResumeToken = [this] { return "resume" + std::to_string(++nextResume); };
    env.roomCreated = [this](const RoomInfo& info) { created.push_back(info.id); };
    env.roomFinished = [this](const RoomInfo& info, const RoomMediaSummary&) { finished.push_back(info.id); };
    return env;
  }
  static RoomLimits limits(size_t stageCap) {
    RoomLimits l;
    l.maxSpeakers = stageCap;
    l.maxRooms = 2;
    return l;
  }
  std::string openRoom(bool record = false) {
    auto r = rooms.createRoom({"Title", "Topic", record});
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->id : "";
  }

  int nextId = 0;
  int nextResume = 0;
  roomcast::testing::FakeTimers timers;
  std::vector<std::string> created, finished;
  FakeMediaBackend media;
  RecordingEventSink events;
  RoomManager rooms;
};

TEST_F(RoomManagerTest, CreateStartsMediaWithTheRecordFlag) {
  auto r = rooms.createRoom({"Friday", "topic", true});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->title, "Friday");
  EXPECT_TRUE(r->record);
  EXPECT_EQ(r->createdAtUnixMs, 1700000000000);
  ASSERT_EQ(media.started.size(), 1u);
  EXPECT_EQ(media.started[0].roomId, r->id);
  EXPECT_TRUE(media.started[0].record);
  EXPECT_NE(rooms.find(r->id), nullptr);
  EXPECT_EQ(created, std::vector<std::string>{r->id});
  EXPECT_EQ(media.observer, &rooms);
}

TEST_F(RoomManagerTest, CreateValidatesTitleAndTopic) {
  auto code = [&](NewRoom n) { auto r = rooms.createRoom(n); return r.ok() ? ErrorCode::Internal : r.error().code; };
  EXPECT_EQ(code({"", "", false}), ErrorCode::ValidationFailed);
  EXPECT_EQ(code({"   ", "", false}), ErrorCode::ValidationFailed);
  EXPECT_EQ(code({std::string(121, 'a'), "", false}), ErrorCode::ValidationFailed);
  EXPECT_EQ(code({"ok", std::string(501, 'a'), false}), ErrorCode::ValidationFailed);
  EXPECT_EQ(code({"a\x01" "b", "", false}), ErrorCode::ValidationFailed);
  EXPECT_EQ(code({"\xff", "", false}), ErrorCode::InvalidUtf8);
  EXPECT_EQ(code({"ok", "\xc3", false}), ErrorCode::InvalidUtf8);
  // Multi-byte text counts bytes: 40 × 3-byte characters fit in 120 bytes, 41 do not.
  std::string euro40, euro41;
  for (int i = 0; i < 40; i++) euro40 += "\xe2\x82\xac";
  euro41 = euro40 + "\xe2\x82\xac";
  EXPECT_TRUE(rooms.createRoom({euro40, "line one\nline two", false}).ok());
  EXPECT_EQ(code({euro41, "", false}), ErrorCode::ValidationFailed);
  EXPECT_EQ(media.started.size(), 1u) << "no media for refused rooms";
}

TEST_F(RoomManagerTest, MaxRoomsAndMediaFailure) {
  openRoom();
  openRoom();
  auto third = rooms.createRoom({"Third", "", false});
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::Conflict);

  FakeMediaBackend failing;
  failing.failStart = true;
  RecordingEventSink sink;
  RoomManager other(failing, sink, environment());
  auto r = other.createRoom({"T", "", false});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Internal);
  EXPECT_TRUE(other.rooms().empty());
}

TEST_F(RoomManagerTest, JoinCountsRolesAndTellsEveryone) {
  const auto id = openRoom();
  ASSERT_TRUE(rooms.join(id, {"h", "Host", Role::Host}).ok());
  ASSERT_TRUE(rooms.join(id, {"s", "Speaker", Role::Speaker}).ok());
  ASSERT_TRUE(rooms.join(id, {"l1", "L1", Role::Listener}).ok());
  ASSERT_TRUE(rooms.join(id, {"l2", "L2", Role::Listener}).ok());
  const Room* room = rooms.find(id);
  EXPECT_EQ(room->speakerCount(), 2);
  EXPECT_EQ(room->listenerCount(), 2);
  auto joined = events.of<ParticipantJoined>();
  ASSERT_EQ(joined.size(), 2u) << "the stage is announced; listeners are counted, not announced";
  EXPECT_EQ(joined[1].to, "") << "joins are broadcast";
  EXPECT_EQ(std::get<ParticipantJoined>(joined[1].event).participant.name, "Speaker");
}

TEST_F(RoomManagerTest, JoinRefusals) {
  const auto id = openRoom();
  EXPECT_EQ(rooms.join("nope", {"a", "A", Role::Host}).error().code, ErrorCode::NotFound);
  ASSERT_TRUE(rooms.join(id, {"a", "A", Role::Host}).ok());
  EXPECT_EQ(rooms.join(id, {"a", "A", Role::Host}).error().code, ErrorCode::Conflict);
  ASSERT_TRUE(rooms.join(id, {"b", "B", Role::Speaker}).ok());
  ASSERT_TRUE(rooms.join(id, {"c", "C", Role::CoHost}).ok());
  EXPECT_EQ(rooms.join(id, {"d", "D", Role::Speaker}).error().code, ErrorCode::RoomFull) << "stage cap is 3";
  EXPECT_TRUE(rooms.join(id, {"e", "E", Role::Listener}).ok()) << "listeners do not count against the stage";
}

TEST_F(RoomManagerTest, OffersOnlyFromStageRoles) {
  const auto id = openRoom();
  EXPECT_EQ(rooms.offer(id, "ghost", "sdp").error().code, ErrorCode::Conflict);
  ASSERT_TRUE(rooms.join(id, {"l", "L", Role::Listener}).ok());
  EXPECT_EQ(rooms.offer(id, "l", "sdp").error().code, ErrorCode::Forbidden);
  EXPECT_EQ(rooms.remoteCandidate(id, "l", 0, "c").error().code, ErrorCode::Forbidden);
  ASSERT_TRUE(rooms.join(id, {"s", "S", Role::Speaker}).ok());
  EXPECT_TRUE(rooms.offer(id, "s", "v=0").ok());
  EXPECT_TRUE(rooms.remoteCandidate(id, "s", 0, "candidate:1").ok());
  ASSERT_EQ(media.offers.size(), 1u);
  EXPECT_EQ(media.offers[0].peerId, "s");
  EXPECT_EQ(media.candidates.size(), 1u);
  EXPECT_EQ(rooms.offer("nope", "s", "v=0").error().code, ErrorCode::NotFound);
  media.failOffer = true;
  EXPECT_EQ(rooms.offer(id, "s", "v=0").error().code, ErrorCode::MediaError);
}

TEST_F(RoomManagerTest, AnswersAndCandidatesGoOnlyToThatSpeaker) {
  const auto id = openRoom();
  ASSERT_TRUE(rooms.join(id, {"s", "S", Role::Speaker}).ok());
  ASSERT_TRUE(rooms.offer(id, "s", "offer-sdp").ok());
  media.observer->onLocalAnswer(id, "s", "answer-sdp");
  media.observer->onLocalCandidate(id, "s", 0, "cand");
  media.observer->onLocalAnswer(id, "gone", "x");  // left meanwhile: dropped
  media.observer->onLocalAnswer("gone-room", "s", "x");
  auto answers = events.of<SdpAnswer>();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].to, "s");
  EXPECT_EQ(std::get<SdpAnswer>(answers[0].event).sdp, "answer-sdp");
  ASSERT_EQ(events.of<IceCandidate>().size(), 1u);
  EXPECT_TRUE(rooms.find(id)->participants.at("s").mediaConnected);
}

TEST_F(RoomManagerTest, LeaveRemovesMediaOnlyForStageRoles) {
  const auto id = openRoom();
  ASSERT_TRUE(rooms.join(id, {"s", "S", Role::Speaker}).ok());
  ASSERT_TRUE(rooms.join(id, {"l", "L", Role::Listener}).ok());
  rooms.leave(id, "l", "bye");
  EXPECT_TRUE(media.removed.empty());
  rooms.leave(id, "s", "disconnected");
  ASSERT_EQ(media.removed.size(), 1u);
  EXPECT_EQ(media.removed[0].peerId, "s");
  auto left = events.of<ParticipantLeft>();
  ASSERT_EQ(left.size(), 1u) << "a listener who was never announced leaves silently";
  EXPECT_EQ(std::get<ParticipantLeft>(left[0].event).reason, "disconnected");
  rooms.leave(id, "s", "again");  // idempotent
  EXPECT_EQ(events.of<ParticipantLeft>().size(), 1u);
  EXPECT_TRUE(rooms.find(id)->participants.empty());
}

TEST_F(RoomManagerTest, EndRoomTellsEveryoneAndFinishesMediaLater) {
  const auto id = openRoom(true);
  ASSERT_TRUE(rooms.join(id, {"s", "S", Role::Speaker}).ok());
  bool done = false;
  RoomMediaSummary seen;
  ASSERT_TRUE(rooms.endRoom(id, "ended by host", [&](const RoomInfo& info, const RoomMediaSummary& summary) {
    done = true;
    seen = summary;
    EXPECT_EQ(info.id, id);
  }).ok());
  EXPECT_EQ(rooms.find(id), nullptr) << "gone at once for everyone";
  ASSERT_EQ(events.of<RoomEnded>().size(), 1u);
  EXPECT_EQ(media.stopped, std::vector<std::string>{id});
  EXPECT_FALSE(done) << "waits for the media to finish";
  media.finishStop({"/rec.ogg", 12.5, true});
  EXPECT_TRUE(done);
  EXPECT_EQ(seen.recordingPath, "/rec.ogg");
  EXPECT_EQ(finished, std::vector<std::string>{id});
  EXPECT_EQ(rooms.endRoom(id, "again").error().code, ErrorCode::NotFound);
}

TEST_F(RoomManagerTest, MediaFailureEndsTheRoomAndPeerFailureTellsThePeer) {
  const auto id = openRoom();
  ASSERT_TRUE(rooms.join(id, {"s", "S", Role::Speaker}).ok());
  ASSERT_TRUE(rooms.offer(id, "s", "sdp").ok());
  media.observer->onPeerFailed(id, "s", "ICE failed");
  auto errors = events.of<ErrorEvent>();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to, "s");
  EXPECT_EQ(std::get<ErrorEvent>(errors[0].event).error.code, ErrorCode::MediaError);
  EXPECT_FALSE(rooms.find(id)->participants.at("s").mediaConnected);
  media.observer->onRoomMediaFailed(id, "pipeline error");
  EXPECT_EQ(rooms.find(id), nullptr);
  EXPECT_EQ(events.of<RoomEnded>().size(), 1u);
}

TEST_F(RoomManagerTest, EndAllEndsEveryRoom) {
  openRoom();
  openRoom();
  rooms.endAll("shutdown");
  EXPECT_TRUE(rooms.rooms().empty());
  EXPECT_EQ(media.stopped.size(), 2u);
}

// --- the stage -------------------------------------------------------------------------

class StageTest : public RoomManagerTest {
 protected:
  StageTest() : RoomManagerTest(4) {}
  void SetUp() override {
    id = openRoom();
    ASSERT_TRUE(rooms.join(id, {"host", "Host", Role::Host}).ok());
    ASSERT_TRUE(rooms.join(id, {"co", "Co", Role::CoHost}).ok());
    ASSERT_TRUE(rooms.join(id, {"spk", "Spk", Role::Speaker}).ok());
    ASSERT_TRUE(rooms.join(id, {"ann", "Ann", Role::Listener}).ok());
    ASSERT_TRUE(rooms.join(id, {"bob", "Bob", Role::Listener}).ok());
    events.deliveries.clear();
  }
  const Participant& who(const std::string& identity) { return rooms.find(id)->participants.at(identity); }
  Actor host{"host", Role::Host};
  Actor cohost{"co", Role::CoHost};
  Actor speaker{"spk", Role::Speaker};
  std::string id;
};

TEST_F(StageTest, HandQueueIsOrderedAndSeenByModeratorsOnly) {
  ASSERT_TRUE(rooms.setHand(id, "bob", true).ok());
  ASSERT_TRUE(rooms.setHand(id, "ann", true).ok());
  auto queue = rooms.find(id)->handQueue();
  ASSERT_EQ(queue.size(), 2u);
  EXPECT_EQ(queue[0]->identity, "bob") << "first raised, first in the queue";
  std::set<std::string> told;
  for (const auto& d : events.of<HandChanged>()) told.insert(d.to);
  EXPECT_EQ(told, (std::set<std::string>{"host", "co", "bob", "ann"})) << "not the other speaker or listeners";
  EXPECT_EQ(rooms.setHand(id, "spk", true).error().code, ErrorCode::Conflict);
  ASSERT_TRUE(rooms.setHand(id, "bob", false).ok());
  EXPECT_EQ(rooms.find(id)->handQueue().size(), 1u);
}

TEST_F(StageTest, PrewarmedHandIsNotMixedUntilPromoted) {
  EXPECT_EQ(rooms.offer(id, "ann", "sdp").error().code, ErrorCode::Forbidden) << "no WebRTC without a hand up";
  ASSERT_TRUE(rooms.setHand(id, "ann", true).ok());
  ASSERT_TRUE(rooms.offer(id, "ann", "sdp").ok());
  EXPECT_FALSE(media.mixedState.at("ann")) << "pre-warm: hears the room, is not heard";
  const size_t offers = media.offers.size();
  ASSERT_TRUE(rooms.promote(id, host, "ann").ok());
  EXPECT_TRUE(media.mixedState.at("ann")) << "promotion switches mixing on";
  EXPECT_EQ(media.offers.size(), offers) << "no renegotiation";
  EXPECT_EQ(who("ann").role, Role::Speaker);
  EXPECT_FALSE(who("ann").handRaised);
  auto roles = events.of<RoleChanged>();
  ASSERT_EQ(roles.size(), 1u);
  EXPECT_EQ(roles[0].to, "") << "everyone sees the stage change";
}

TEST_F(StageTest, PromotionRules) {
  EXPECT_EQ(rooms.promote(id, speaker, "ann").error().code, ErrorCode::Forbidden);
  EXPECT_EQ(rooms.promote(id, {"ann", Role::Listener}, "bob").error().code, ErrorCode::Forbidden);
  EXPECT_EQ(rooms.promote(id, host, "spk").error().code, ErrorCode::Conflict);
  EXPECT_EQ(rooms.promote(id, host, "nobody").error().code, ErrorCode::NotFound);
  EXPECT_TRUE(rooms.promote(id, cohost, "ann").ok()) << "co-hosts run the stage too";
  EXPECT_EQ(rooms.promote(id, host, "bob").error().code, ErrorCode::RoomFull) << "cap is 4 in this fixture";
}

TEST_F(StageTest, DemoteSendsTheSpeakerBackToHls) {
  ASSERT_TRUE(rooms.offer(id, "spk", "sdp").ok());
  ASSERT_TRUE(rooms.demote(id, cohost, "spk").ok());
  EXPECT_EQ(who("spk").role, Role::Listener);
  ASSERT_FALSE(media.removed.empty());
  EXPECT_EQ(media.removed.back().peerId, "spk");
  EXPECT_EQ(rooms.demote(id, cohost, "host").error().code, ErrorCode::Forbidden);
  EXPECT_EQ(rooms.demote(id, cohost, "co").error().code, ErrorCode::Forbidden) << "only the host demotes co-hosts";
  EXPECT_TRUE(rooms.demote(id, host, "co").ok());
}

TEST_F(StageTest, InviteAcceptAndDecline) {
  ASSERT_TRUE(rooms.invite(id, host, "ann").ok());
  auto invites = events.of<Invited>();
  ASSERT_EQ(invites.size(), 1u);
  EXPECT_EQ(invites[0].to, "ann");
  ASSERT_TRUE(rooms.offer(id, "ann", "sdp").ok()) << "an invited listener may pre-warm";
  EXPECT_FALSE(media.mixedState.at("ann"));
  ASSERT_TRUE(rooms.answerInvite(id, "ann", true).ok());
  EXPECT_EQ(who("ann").role, Role::Speaker);
  EXPECT_TRUE(media.mixedState.at("ann"));

  ASSERT_TRUE(rooms.invite(id, host, "bob").ok());
  ASSERT_TRUE(rooms.answerInvite(id, "bob", false).ok());
  EXPECT_EQ(who("bob").role, Role::Listener);
  EXPECT_EQ(rooms.answerInvite(id, "bob", true).error().code, ErrorCode::Conflict) << "nothing left to accept";
  auto answers = events.of<InviteAnswered>();
  ASSERT_FALSE(answers.empty());
  EXPECT_FALSE(std::get<InviteAnswered>(answers.back().event).accepted);
}

TEST_F(StageTest, MuteByHostAndSelf) {
  ASSERT_TRUE(rooms.offer(id, "spk", "sdp").ok());
  EXPECT_TRUE(media.mixedState.at("spk"));
  ASSERT_TRUE(rooms.setMuted(id, host, "spk", true).ok());
  EXPECT_FALSE(media.mixedState.at("spk")) << "out of every mix at once";
  auto mutes = events.of<MuteChanged>();
  ASSERT_EQ(mutes.size(), 1u);
  EXPECT_TRUE(std::get<MuteChanged>(mutes[0].event).byHost);
  // Unmuting yourself does not lift the host's mute.
  ASSERT_TRUE(rooms.setMuted(id, speaker, "spk", false).ok());
  EXPECT_FALSE(media.mixedState.at("spk"));
  ASSERT_TRUE(rooms.setMuted(id, host, "spk", false).ok());
  EXPECT_TRUE(media.mixedState.at("spk"));
  ASSERT_TRUE(rooms.setMuted(id, speaker, "spk", true).ok());
  EXPECT_FALSE(media.mixedState.at("spk"));
  EXPECT_EQ(rooms.setMuted(id, speaker, "host", true).error().code, ErrorCode::Forbidden);
  EXPECT_EQ(rooms.setMuted(id, cohost, "host", true).error().code, ErrorCode::Forbidden);
  EXPECT_EQ(rooms.setMuted(id, host, "ann", true).error().code, ErrorCode::Conflict) << "listeners are not on stage";
}

TEST_F(StageTest, RemovedIdentityCannotRejoin) {
  ASSERT_TRUE(rooms.remove(id, cohost, "spk").ok());
  EXPECT_EQ(rooms.find(id)->participants.count("spk"), 0u);
  EXPECT_EQ(events.disconnected, std::vector<std::string>{id + "/spk"});
  ASSERT_EQ(events.of<Removed>().size(), 1u);
  EXPECT_EQ(events.of<Removed>()[0].to, "spk");
  EXPECT_EQ(rooms.join(id, {"spk", "Spk", Role::Speaker}).error().code, ErrorCode::Forbidden);
  EXPECT_EQ(rooms.remove(id, cohost, "host").error().code, ErrorCode::Forbidden);
  EXPECT_EQ(rooms.remove(id, speaker, "ann").error().code, ErrorCode::Forbidden);
}

TEST_F(StageTest, DroppedSpeakerKeepsRoleAndSlotWithinGrace) {
  ASSERT_TRUE(rooms.offer(id, "spk", "sdp").ok());
  const uint64_t slot = who("spk").joinOrder;
  const std::string resume = who("spk").resumeToken;
  rooms.disconnected(id, "spk");
  EXPECT_EQ(who("spk").presence, Presence::Reconnecting);
  ASSERT_EQ(events.of<PresenceChanged>().size(), 1u);
  EXPECT_TRUE(std::get<PresenceChanged>(events.of<PresenceChanged>()[0].event).reconnecting);
  timers.advance(19000);
  auto back = rooms.join(id, {"spk", "Spk", Role::Speaker});
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->role, Role::Speaker);
  EXPECT_EQ(back->joinOrder, slot);
  EXPECT_NE(back->resumeToken, resume) << "a fresh resume token each time";
  timers.advance(60000);
  EXPECT_TRUE(events.of<ParticipantLeft>().empty()) << "the grace timer was cancelled";
  EXPECT_EQ(timers.pending(), 0u);
}

TEST_F(StageTest, GraceExpiryGivesExactlyOneLeft) {
  ASSERT_TRUE(rooms.offer(id, "spk", "sdp").ok());
  rooms.disconnected(id, "spk");
  rooms.disconnected(id, "spk");  // reported twice (socket and WebRTC): still one timer
  timers.advance(20001);
  auto left = events.of<ParticipantLeft>();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(std::get<ParticipantLeft>(left[0].event).reason, "timeout");
  EXPECT_EQ(rooms.find(id)->participants.count("spk"), 0u);
  timers.advance(60000);
  EXPECT_EQ(events.of<ParticipantLeft>().size(), 1u);
}

TEST_F(StageTest, ListenersLeaveAtOnceAndLiveSocketsNeedTheResumeToken) {
  rooms.disconnected(id, "bob");
  EXPECT_EQ(rooms.find(id)->participants.count("bob"), 0u);
  // A second connection while the first is still up: refused without the resume token.
  EXPECT_EQ(rooms.join(id, {"spk", "Spk", Role::Speaker}).error().code, ErrorCode::Conflict);
  EXPECT_TRUE(rooms.join(id, {"spk", "Spk", Role::Speaker}, who("spk").resumeToken).ok());
}

TEST_F(StageTest, ActiveSpeakersOnlyOnChangeAndRateBounded) {
  ASSERT_TRUE(rooms.offer(id, "spk", "sdp").ok());
  ASSERT_TRUE(rooms.offer(id, "host", "sdp").ok());
  for (int i = 0; i < 20; i++) {  // 2 s of level reports, 100 ms apart
    rooms.onPeerLevels(id, {{"spk", -20}});
    rooms.onPeerLevels(id, {{"host", -90}});
    timers.advance(100);
  }
  auto sent = events.of<ActiveSpeakers>();
  ASSERT_EQ(sent.size(), 1u) << "one event for one change";
  EXPECT_EQ(std::get<ActiveSpeakers>(sent[0].event).identities, std::vector<std::string>{"spk"});
  // Flapping every report is bounded to 4 events a second.
  for (int i = 0; i < 20; i++) {
    rooms.onPeerLevels(id, {{i % 2 ? "spk" : "host", -20}});
    timers.advance(500 * (i % 2));
    timers.advance(100);
  }
  EXPECT_LE(events.of<ActiveSpeakers>().size(), 1u + 4 * 7);
  // A muted speaker is never active.
  ASSERT_TRUE(rooms.setMuted(id, host, "spk", true).ok());
  timers.advance(1000);
  rooms.onPeerLevels(id, {{"spk", -10}});
  timers.advance(300);
  rooms.onPeerLevels(id, {{"spk", -10}});
  auto last = std::get<ActiveSpeakers>(events.of<ActiveSpeakers>().back().event).identities;
  EXPECT_EQ(std::count(last.begin(), last.end(), "spk"), 0);
}

TEST(Utf8, AcceptsValidAndRefusesMalformed) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("plain ascii"));
  EXPECT_TRUE(isValidUtf8("\xc3\xa9"));              // é
  EXPECT_TRUE(isValidUtf8("\xe2\x82\xac"));          // €
  EXPECT_TRUE(isValidUtf8("\xf0\x9f\x8e\x99"));      // 🎙
  EXPECT_FALSE(isValidUtf8("\xc0\xaf"));             // overlong '/'
  EXPECT_FALSE(isValidUtf8("\xe0\x80\xaf"));         // overlong
  EXPECT_FALSE(isValidUtf8("\xed\xa0\x80"));         // surrogate U+D800
  EXPECT_FALSE(isValidUtf8("\xf4\x90\x80\x80"));     // > U+10FFFF
  EXPECT_FALSE(isValidUtf8("\xe2\x82"));             // truncated
  EXPECT_FALSE(isValidUtf8("\x80"));                 // lone continuation
  EXPECT_FALSE(isValidUtf8("\xff"));
  EXPECT_FALSE(isValidUtf8(std::string_view("a\xc3", 2)));
}

TEST(ErrorCodes, NamesAndStatusesAreStable) {
  EXPECT_EQ(errorCodeName(ErrorCode::ValidationFailed), "validation_failed");
  EXPECT_EQ(errorCodeName(ErrorCode::TooDeep), "too_deep");
  EXPECT_EQ(httpStatusFor(ErrorCode::TooLarge), 413);
  EXPECT_EQ(httpStatusFor(ErrorCode::ValidationFailed), 422);
  EXPECT_EQ(httpStatusFor(ErrorCode::Unauthorized), 401);
  EXPECT_EQ(httpStatusFor(ErrorCode::Forbidden), 403);
  EXPECT_EQ(httpStatusFor(ErrorCode::NotFound), 404);
}

}  // namespace
