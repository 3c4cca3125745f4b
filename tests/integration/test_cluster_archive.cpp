// The archive of a cluster: every node answers list and search the same, and nothing that
// reached Redis is lost with a node. Real redis-server, real roomcastd nodes with transcription
// on: a recorded room on node A with a spoken phrase (flite, recognized by pocketsphinx on A) is
// listed and found through node B with A's answer; the file plays through B (307 to A); a second
// part of the same room's session (a fact another node appended) shows as part 2 on every node;
// A killed with SIGKILL, B still lists and finds it; a node started on an empty data dir catches
// up from the log.
#include <glib.h>
#include <gtest/gtest.h>
#include <json-glib/json-glib.h>

#include <memory>

#include "audio/wav.h"
#include "hand_made_jws.h"
#include "processes.h"
#include "redis_server.h"
#include "room_helpers.h"
#include "wait.h"
#include "ws_client.h"

using namespace roomcast::testing;
using roomcast::audio::PcmAudio;

namespace {

const std::string kApiSecret = "ops-secret-for-cluster-tests-0123456789abcdef";
const std::string kRoomSecret = "room-secret-shared-by-every-node-0123456789";

std::vector<std::string> nodeArgs(const std::string& redisUrl) {
  std::vector<std::string> args = configFileArgs("[server]\nsecret = " + kRoomSecret + "\n[auth]\napi_key = ops\napi_secret = " +
                                                 kApiSecret + "\n[transcription]\nenabled = true\n[cluster]\n");
  args.push_back("--redis");
  args.push_back(redisUrl);
  return args;
}

// An archive answer as every node must give it: the per-node row `id` and `storage` (where the
// file is, seen from the answering node) left out, `url` without the answering node's origin.
std::string normalized(const std::string& body, const std::string& origin) {
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, body.c_str(), -1, nullptr)) return "unparsable: " + body;
  JsonNode* root = json_parser_get_root(parser);
  auto fix = [&](JsonObject* recording) {
    json_object_remove_member(recording, "id");
    json_object_remove_member(recording, "storage");
    if (json_object_has_member(recording, "url") && !json_object_get_null_member(recording, "url")) {
      std::string url = json_object_get_string_member(recording, "url");
      if (url.rfind(origin, 0) == 0) url = url.substr(origin.size());
      json_object_set_string_member(recording, "url", url.c_str());
    }
  };
  JsonObject* object = json_node_get_object(root);
  if (JsonArray* rows = json_object_has_member(object, "recordings") ? json_object_get_array_member(object, "recordings") : nullptr)
    for (guint i = 0; i < json_array_get_length(rows); i++) fix(json_array_get_object_element(rows, i));
  if (JsonArray* hits = json_object_has_member(object, "hits") ? json_object_get_array_member(object, "hits") : nullptr)
    for (guint i = 0; i < json_array_get_length(hits); i++)
      fix(json_object_get_object_member(json_array_get_object_element(hits, i), "recording"));
  g_autofree char* text = json_to_string(root, FALSE);
  return text;
}

std::string listing(const Daemon& node) { return normalized(http("GET", node.url() + "/api/v1/recordings").body, node.url()); }
std::string search(const Daemon& node, const std::string& words) {
  return normalized(http("GET", node.url() + "/api/v1/recordings?q=" + words).body, node.url());
}

// Waits until `node` answers `expected` (what another node answers), bounded.
bool answersAlike(const std::function<std::string()>& get, const std::string& expected, std::string& last, double seconds) {
  return pollUntil([&] {
    last = get();
    return last == expected;
  }, seconds, 0.2);
}

class ClusterArchive : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.start()) << redis_.log(); }
  std::unique_ptr<Daemon> startNode() {
    auto node = std::make_unique<Daemon>(nodeArgs(redis_.url()));
    EXPECT_TRUE(node->ready()) << node->log();
    return node;
  }
  RedisServer redis_;
};

TEST_F(ClusterArchive, EveryNodeListsAndFindsTheSameAndNothingIsLostWithANode) {
  const TempDir scratch("roomcast-cluster-archive-");
  const double seconds = synthesizeSpeech("good morning everybody", 3, scratch.path() + "/grace.wav");
  ASSERT_GT(seconds, 5) << "flite should synthesize the phrase";
  auto a = startNode();
  auto b = startNode();
  ASSERT_TRUE(a->ready() && b->ready());

  // A recorded room pinned to A, a speaker on A whose words A transcribes.
  HttpResponse created = http("POST", a->url() + "/api/v1/rooms", R"({"title":"Morning show","record":true,"host_name":"Alan"})",
                              {{"Content-Type", "application/json"}, {"X-Roomcast-Placed", "1"}});
  ASSERT_EQ(created.status, 201) << created.body << a->log();
  const TestRoom room{jsonString(created.body, "id"), jsonString(created.body, "host_token")};
  ASSERT_EQ(jsonString(created.body, "node"), a->url()) << created.body;
  Process grace({cli(), "--server", a->url(), "speak", room.id, "--token", issueToken(*a, room, "speaker", "Grace"),
                 "--file", scratch.path() + "/grace.wav", "--seconds", std::to_string(seconds + 1)});
  ASSERT_TRUE(grace.waitForOutput("connected", 30)) << a->log();
  std::string onA, onB;
  ASSERT_TRUE(pollUntil([&] {
    onA = search(*a, "morning");
    return jsonCount(onA, "hits") > 0;
  }, 90, 0.25)) << onA << a->log();
  EXPECT_EQ(jsonString(onA, "hits.0.speaker"), "Grace") << onA;
  EXPECT_EQ(grace.wait(60).exitStatus, 0);
  ASSERT_EQ(http("DELETE", a->url() + "/api/v1/rooms/" + room.id, {}, {{"Authorization", "Bearer " + room.hostToken}}).status,
            200);

  // The recording ends on A; then B lists it and finds the words exactly as A does.
  ASSERT_TRUE(pollUntil([&] {
    onA = listing(*a);
    return jsonString(onA, "recordings.0.status") == "finished";
  }, 30, 0.2)) << onA << a->log();
  ASSERT_EQ(jsonCount(onA, "recordings"), 1) << onA;
  EXPECT_EQ(jsonString(onA, "recordings.0.session"), room.id + "@" + std::to_string(jsonInt(created.body, "created_at_ms")))
      << onA << created.body;
  EXPECT_EQ(jsonInt(onA, "recordings.0.part"), 1) << onA;
  EXPECT_TRUE(answersAlike([&] { return listing(*b); }, onA, onB, 10)) << "A: " << onA << "\nB: " << onB << b->log();
  std::string foundOnA = search(*a, "morning");
  EXPECT_TRUE(answersAlike([&] { return search(*b, "morning"); }, foundOnA, onB, 10))
      << "A: " << foundOnA << "\nB: " << onB;

  // The file plays through B: B answers 307 to A, which has it.
  const std::string file = jsonString(onA, "recordings.0.url");
  ASSERT_EQ(file.rfind("/recordings/", 0), 0u) << onA;
  const HttpResponse direct = http("GET", a->url() + file);
  const HttpResponse viaB = http("GET", b->url() + file);
  EXPECT_EQ(direct.status, 200);
  EXPECT_EQ(viaB.status, 200);
  EXPECT_GT(direct.body.size(), 1000u);
  EXPECT_TRUE(viaB.body == direct.body) << "played through B: " << viaB.body.size() << " bytes, "
                                        << direct.body.size() << " from A";

  // A second part of the same session (the room reopened by a failover on another node, here
  // appended to the log as that node would): both nodes show the two parts as one session.
  const std::string session = jsonString(onA, "recordings.0.session");
  const long long startedAt = jsonInt(onA, "recordings.0.started_at_ms");
  const std::string fact = R"({"kind":"recording","id":"part-two-of-)" + room.id + R"(","from":"http://127.0.0.1:9","node":"http://127.0.0.1:9","room":")" +
                           room.id + R"(","title":"Morning show","path":"/var/lib/roomcast/recordings/)" + room.id +
                           R"(-part2.ogg","session":")" + session + R"(","started_at_ms":)" + std::to_string(startedAt + 60000) +
                           R"(,"ended_at_ms":)" + std::to_string(startedAt + 90000) +
                           R"(,"duration_s":30.5,"status":"finished","note":"","storage_url":"","upload_error":"","revision":1})";
  ASSERT_NE(redis_.cli({"XADD", "roomcast:archive", "*", "fact", fact}), "");
  ASSERT_TRUE(pollUntil([&] {
    onA = listing(*a);
    return jsonCount(onA, "recordings") == 2;
  }, 10, 0.2)) << onA;
  EXPECT_EQ(jsonString(onA, "recordings.0.session"), session) << onA;
  EXPECT_EQ(jsonInt(onA, "recordings.0.part"), 2) << onA;
  EXPECT_EQ(jsonInt(onA, "recordings.1.part"), 1) << onA;
  EXPECT_EQ(jsonInt(onA, "recordings.0.parts"), 2) << onA;
  EXPECT_EQ(jsonInt(onA, "recordings.1.parts"), 2) << onA;
  EXPECT_TRUE(answersAlike([&] { return listing(*b); }, onA, onB, 10)) << "A: " << onA << "\nB: " << onB;
  foundOnA = search(*a, "morning");  // its hit's recording is part 1 of 2 now
  EXPECT_EQ(jsonInt(foundOnA, "hits.0.recording.parts"), 2) << foundOnA;
  EXPECT_TRUE(answersAlike([&] { return search(*b, "morning"); }, foundOnA, onB, 10))
      << "A: " << foundOnA << "\nB: " << onB;

  // A dies: B still lists and finds everything.
  a->kill();
  EXPECT_EQ(listing(*b), onA);
  EXPECT_EQ(search(*b, "morning"), foundOnA);

  // A node new to the cluster (an empty data dir) reads the log from its start.
  auto c = startNode();
  ASSERT_TRUE(c->ready());
  EXPECT_TRUE(answersAlike([&] { return listing(*c); }, onA, onB, 10)) << "A: " << onA << "\nC: " << onB << c->log();
  EXPECT_TRUE(answersAlike([&] { return search(*c, "morning"); }, foundOnA, onB, 10))
      << "A: " << foundOnA << "\nC: " << onB;
}

}  // namespace

namespace {

// A failover: a recorded room on A with a speaker (relayed through B) is reopened on B when A is
// killed, and its recording goes on there in a new part. Both parts show as one session.
TEST_F(ClusterArchive, ARoomReopenedByAFailoverRecordsItsSecondPartInTheSameSession) {
  auto a = startNode();
  auto b = startNode();
  ASSERT_TRUE(a->ready() && b->ready());
  HttpResponse created = http("POST", a->url() + "/api/v1/rooms", R"({"title":"Failover show","record":true})",
                              {{"Content-Type", "application/json"}, {"X-Roomcast-Placed", "1"}});
  ASSERT_EQ(created.status, 201) << created.body << a->log();
  const TestRoom room{jsonString(created.body, "id"), jsonString(created.body, "host_token")};
  const std::string session = room.id + "@" + std::to_string(jsonInt(created.body, "created_at_ms"));
  Process host({cli(), "--server", b->url(), "speak", room.id, "--token", room.hostToken, "--tone", "440", "--seconds",
                "60"});
  ASSERT_TRUE(host.waitForOutput("connected", 30)) << host.errors() << a->log();
  // Part 1 is recording on A, and B knows it (its fact reached Redis).
  std::string onB;
  ASSERT_TRUE(pollUntil([&] {
    onB = http("GET", b->url() + "/api/v1/recordings").body;
    return jsonString(onB, "recordings.0.session") == session;
  }, 20, 0.2)) << onB << a->log();

  a->kill();
  ASSERT_TRUE(pollUntil([&] { return jsonString(http("GET", b->url() + "/api/v1/rooms/" + room.id).body, "node") == b->url(); },
                        25)) << b->log();
  ASSERT_TRUE(host.waitForOutput("reconnected", 30)) << host.errors() << b->log();
  ASSERT_TRUE(pollUntil([&] {
    onB = http("GET", b->url() + "/api/v1/recordings").body;
    return jsonCount(onB, "recordings") == 2;
  }, 30, 0.2)) << onB << b->log();
  g_print("after the failover, B lists: %s\n", onB.c_str());
  for (int i = 0; i < 2; i++) {
    const std::string row = "recordings." + std::to_string(i);
    EXPECT_EQ(jsonString(onB, row + ".session"), session) << onB;
    EXPECT_EQ(jsonInt(onB, row + ".parts"), 2) << onB;
  }
  EXPECT_EQ(jsonInt(onB, "recordings.0.part"), 2) << "newest first: B's part" << onB;
  EXPECT_EQ(jsonString(onB, "recordings.0.storage.node"), "") << onB;
  EXPECT_EQ(jsonInt(onB, "recordings.1.part"), 1) << onB;
  EXPECT_EQ(jsonString(onB, "recordings.1.storage.node"), a->url()) << "A's part, its file on A" << onB;
  EXPECT_EQ(http("DELETE", b->url() + "/api/v1/rooms/" + room.id, {}, {{"Authorization", "Bearer " + room.hostToken}}).status,
            200);
  host.wait(30);
}

}  // namespace
