// The cluster's archive in the store (an in-memory SQLite): facts from the shared log applied
// idempotently, this node's own facts never rolling back a newer local write, deletions, and a
// session's parts numbered by start time whatever order they arrive in; the facts the store tells
// about its own writes; and the stored form of a fact (cluster::encodeArchiveFact and back).
#include <gtest/gtest.h>

#include "cluster/archive_log.h"
#include "store/database.h"

using roomcast::core::ArchiveFact;
using roomcast::store::Database;

namespace {

const std::string kSelf = "http://10.0.0.1:8080";
const std::string kOther = "http://10.0.0.2:8080";

std::unique_ptr<Database> openStore() {
  auto db = Database::open(":memory:");
  EXPECT_TRUE(db.ok());
  return std::move(db.value());
}

ArchiveFact recordingFact(const std::string& id, const std::string& node, const std::string& session, int64_t startMs,
                          const std::string& status = "finished") {
  ArchiveFact f;
  f.kind = ArchiveFact::Kind::Recording;
  f.id = id;
  f.from = node;
  f.recording.archiveId = id;
  f.recording.node = node;
  f.recording.roomId = "room1";
  f.recording.title = "Show";
  f.recording.path = "/data/" + node.substr(node.size() - 4) + "/recordings/" + id + ".ogg";
  f.recording.session = session;
  f.recording.startedAtMs = startMs;
  f.recording.endedAtMs = status == "recording" ? 0 : startMs + 1000;
  f.recording.durationSeconds = status == "recording" ? 0 : 1.25;
  f.recording.status = status;
  f.recording.revision = status == "recording" ? 0 : 1;  // its stop is its first change
  return f;
}

ArchiveFact segmentFact(const std::string& id, const std::string& text, int64_t atMs) {
  ArchiveFact f;
  f.kind = ArchiveFact::Kind::Transcript;
  f.id = id;
  f.from = kOther;
  f.roomId = "room1";
  f.identity = "g";
  f.name = "Grace";
  f.text = text;
  f.startMs = atMs;
  f.endMs = atMs + 500;
  return f;
}

TEST(ArchiveStore, FactsFromTheLogAreAppliedOnceAndTheCursorMoves) {
  auto db = openStore();
  EXPECT_EQ(db->archiveCursor(), "0");
  std::vector<ArchiveFact> facts{recordingFact("r1", kOther, "room1@5", 1000, "recording"),
                                 segmentFact("s1", "good morning everybody", 1200),
                                 recordingFact("r1", kOther, "room1@5", 1000)};
  ASSERT_TRUE(db->applyArchiveFacts(facts, kSelf, "10-0").ok());
  ASSERT_TRUE(db->applyArchiveFacts(facts, kSelf, "10-0").ok());  // read again after a crash: the same
  EXPECT_EQ(db->archiveCursor(), "10-0");
  auto rows = db->recordings(10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].archiveId, "r1");
  EXPECT_EQ(rows[0].node, kOther);
  EXPECT_EQ(rows[0].status, "finished");
  EXPECT_DOUBLE_EQ(rows[0].durationSeconds, 1.25);
  ASSERT_EQ(rows[0].speakers.size(), 1u);
  auto hits = db->search("morning", 10);
  ASSERT_EQ(hits.size(), 1u) << "the segment is indexed once";
  EXPECT_EQ(hits[0].recording.archiveId, "r1");
  EXPECT_EQ(db->recordingHolder("r1.ogg"), kOther);
  EXPECT_EQ(db->recordingHolder("nothing.ogg"), "");
}

TEST(ArchiveStore, PartsOfOneSessionAreNumberedByStartWhateverTheOrderTheyArrive) {
  auto db = openStore();
  ASSERT_TRUE(db->applyArchiveFacts({recordingFact("late", kOther, "room1@5", 9000)}, kSelf, "1-0").ok());
  ASSERT_TRUE(db->applyArchiveFacts({recordingFact("early", "http://10.0.0.3:8080", "room1@5", 1000),
                                     recordingFact("other", kOther, "room1@77", 5000)},
                                    kSelf, "2-0").ok());
  auto rows = db->recordings(10);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].archiveId, "late");  // newest first
  EXPECT_EQ(rows[0].part, 2);
  EXPECT_EQ(rows[0].parts, 2);
  EXPECT_EQ(rows[1].archiveId, "other");
  EXPECT_EQ(rows[1].part, 1);
  EXPECT_EQ(rows[1].parts, 1) << "a room created again under the same id is another session";
  EXPECT_EQ(rows[2].archiveId, "early");
  EXPECT_EQ(rows[2].part, 1);
  EXPECT_EQ(rows[2].parts, 2);
}

TEST(ArchiveStore, OwnWritesAreToldAsFactsAndComingBackNeverRollThemBack) {
  auto db = openStore();
  std::vector<ArchiveFact> told;
  db->setArchiveSink([&](ArchiveFact f) { told.push_back(std::move(f)); });
  ASSERT_TRUE(db->recordingStarted("room1", "Show", "/data/a/recordings/x.ogg", 1000, "room1@5").ok());
  ASSERT_TRUE(db->recordingStopped("/data/a/recordings/x.ogg", 3000, 2.0, "finished", "").ok());
  ASSERT_TRUE(db->transcriptAdded({"room1", "g", "Grace", "hello there", 1500, 1800}).ok());
  ASSERT_EQ(told.size(), 3u);
  EXPECT_EQ(told[0].recording.status, "recording");
  EXPECT_EQ(told[0].recording.session, "room1@5");
  EXPECT_EQ(told[1].recording.status, "finished");
  EXPECT_EQ(told[0].id, told[1].id);
  EXPECT_EQ(told[2].kind, ArchiveFact::Kind::Transcript);
  for (auto& f : told) {  // as the app stamps them before appending
    f.from = kSelf;
    if (f.kind == ArchiveFact::Kind::Recording) f.recording.node = kSelf;
  }
  // The log gives back the stale "recording" after the local stop: the row stays finished.
  ASSERT_TRUE(db->applyArchiveFacts({told[0], told[2]}, kSelf, "3-0").ok());
  auto rows = db->recordings(10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].status, "finished");
  EXPECT_EQ(rows[0].node, "") << "this node's own";
  EXPECT_EQ(db->search("hello", 10).size(), 1u);

  // A data dir started afresh under the same node URL gets its rows back from the log.
  auto fresh = openStore();
  ASSERT_TRUE(fresh->applyArchiveFacts(told, kSelf, "3-0").ok());
  ASSERT_EQ(fresh->recordings(10).size(), 1u);
  EXPECT_EQ(fresh->recordings(10)[0].status, "finished");
}

TEST(ArchiveStore, DeletionsTravelBothWays) {
  auto db = openStore();
  std::vector<ArchiveFact> told;
  db->setArchiveSink([&](ArchiveFact f) { told.push_back(std::move(f)); });
  // Another node's recording deleted here: out of this store, its file left to its holder.
  ASSERT_TRUE(db->applyArchiveFacts({recordingFact("theirs", kOther, "room1@5", 1000)}, kSelf, "1-0").ok());
  const int64_t theirs = db->recordings(10)[0].id;
  auto path = db->deleteRecording(theirs);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(path.value(), "") << "not this node's file to remove";
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].kind, ArchiveFact::Kind::RecordingDeleted);
  EXPECT_EQ(told[0].id, "theirs");
  // This node's recording deleted through another node: the file is this node's to remove.
  ASSERT_TRUE(db->recordingStarted("room1", "Show", "/data/a/recordings/mine.ogg", 1000, "room1@5").ok());
  ASSERT_TRUE(db->recordingStopped("/data/a/recordings/mine.ogg", 3000, 2.0, "finished", "").ok());
  ArchiveFact deleted;
  deleted.kind = ArchiveFact::Kind::RecordingDeleted;
  deleted.id = told.back().id;
  deleted.from = kOther;
  auto removed = db->applyArchiveFacts({deleted}, kSelf, "2-0");
  ASSERT_TRUE(removed.ok());
  ASSERT_EQ(removed.value().size(), 1u);
  EXPECT_EQ(removed.value()[0], "/data/a/recordings/mine.ogg");
  EXPECT_TRUE(db->recordings(10).empty());
}

TEST(ArchiveFactCodec, RoundTripsAndRefusesWhatIsNotAFact) {
  ArchiveFact f = recordingFact("r1", kOther, "room1@5", 1000);
  f.recording.durationSeconds = 600.123456789;
  auto back = roomcast::cluster::decodeArchiveFact(roomcast::cluster::encodeArchiveFact(f), 65536);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value().recording.path, f.recording.path);
  EXPECT_EQ(back.value().recording.session, "room1@5");
  EXPECT_EQ(back.value().recording.durationSeconds, f.recording.durationSeconds) << "to the last bit";
  auto segment = roomcast::cluster::decodeArchiveFact(roomcast::cluster::encodeArchiveFact(segmentFact("s1", "hi", 5)), 65536);
  ASSERT_TRUE(segment.ok());
  EXPECT_EQ(segment.value().text, "hi");
  for (const char* bad : {"[]", R"({"kind":"nope","id":"x","from":""})", R"({"kind":"recording","id":"x","from":""})",
                          R"({"kind":"recording-deleted","id":"","from":""})"})
    EXPECT_FALSE(roomcast::cluster::decodeArchiveFact(bad, 65536).ok()) << bad;
  EXPECT_FALSE(roomcast::cluster::decodeArchiveFact(roomcast::cluster::encodeArchiveFact(f), 64).ok()) << "over the bound";
}

}  // namespace
