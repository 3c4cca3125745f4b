// The live protocol's decoder and encoders: valid, invalid, oversized and deeply nested input.
#include <gtest/gtest.h>
#include <json-glib/json-glib.h>

#include "protocol/bounds.h"
#include "protocol/json_guard.h"
#include "protocol/messages.h"

using namespace roomcast;
using protocol::decodeClientMessage;

namespace {

core::ErrorCode codeOf(std::string_view text) {
  auto r = decodeClientMessage(text);
  EXPECT_FALSE(r.ok()) << text.substr(0, 80);
  return r.ok() ? core::ErrorCode::Internal : r.error().code;
}

// Parses JSON text and returns the string at a dotted path ("" if missing).
std::string field(const std::string& json, const std::string& path) {
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, json.c_str(), -1, nullptr)) return "<not json>";
  JsonNode* node = json_parser_get_root(parser);
  size_t start = 0;
  while (node) {
    const size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot - start);
    if (!JSON_NODE_HOLDS_OBJECT(node)) return "";
    node = json_object_get_member(json_node_get_object(node), key.c_str());
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!node || JSON_NODE_TYPE(node) != JSON_NODE_VALUE) return "";
  if (json_node_get_value_type(node) == G_TYPE_STRING) return json_node_get_string(node);
  if (json_node_get_value_type(node) == G_TYPE_INT64) return std::to_string(json_node_get_int(node));
  if (json_node_get_value_type(node) == G_TYPE_BOOLEAN) return json_node_get_boolean(node) ? "true" : "false";
  return "";
}

TEST(Decode, ValidMessages) {
  auto hello = decodeClientMessage(R"({"type":"hello","version":1,"token":"abc","id":"m1"})");
  ASSERT_TRUE(hello.ok());
  EXPECT_EQ(std::get<protocol::Hello>(hello->body).token, "abc");
  EXPECT_EQ(hello->ref, "m1");

  auto offer = decodeClientMessage(R"({"type":"offer","sdp":"v=0\r\n"})");
  ASSERT_TRUE(offer.ok());
  EXPECT_EQ(std::get<protocol::Offer>(offer->body).sdp, "v=0\r\n");

  auto cand = decodeClientMessage(R"({"type":"candidate","candidate":"candidate:1 1 UDP 1 127.0.0.1 5000 typ host","sdpMLineIndex":0})");
  ASSERT_TRUE(cand.ok());
  EXPECT_EQ(std::get<protocol::Candidate>(cand->body).mlineIndex, 0u);

  EXPECT_TRUE(std::holds_alternative<protocol::Leave>(decodeClientMessage(R"({"type":"leave"})")->body));
  EXPECT_TRUE(std::holds_alternative<protocol::Ping>(decodeClientMessage(R"( {"type":"ping"} )")->body));
}

TEST(Decode, MalformedAndWrongShapes) {
  EXPECT_EQ(codeOf(""), core::ErrorCode::InvalidJson);
  EXPECT_EQ(codeOf("{"), core::ErrorCode::InvalidJson);
  EXPECT_EQ(codeOf("{\"type\":\"ping\",}"), core::ErrorCode::InvalidJson);
  EXPECT_EQ(codeOf("[]"), core::ErrorCode::BadRequest);
  EXPECT_EQ(codeOf("42"), core::ErrorCode::BadRequest);
  EXPECT_EQ(codeOf("{}"), core::ErrorCode::BadRequest);                              // no type
  EXPECT_EQ(codeOf(R"({"type":7})"), core::ErrorCode::BadRequest);
  EXPECT_EQ(codeOf(R"({"type":"teleport"})"), core::ErrorCode::UnknownType);
  EXPECT_EQ(codeOf(R"({"type":"ping","extra":1})"), core::ErrorCode::BadRequest);    // unknown field
  EXPECT_EQ(codeOf(R"({"type":"hello","version":"1","token":"t"})"), core::ErrorCode::BadRequest);
  EXPECT_EQ(codeOf(R"({"type":"hello","version":2,"token":"t"})"), core::ErrorCode::UnsupportedVersion);
  EXPECT_EQ(codeOf(R"({"type":"hello","version":1})"), core::ErrorCode::BadRequest);
  EXPECT_EQ(codeOf(R"({"type":"hello","version":1,"token":null})"), core::ErrorCode::BadRequest);
  EXPECT_EQ(codeOf(R"({"type":"offer","sdp":{"nested":true}})"), core::ErrorCode::BadRequest);
  EXPECT_EQ(codeOf(R"({"type":"candidate","candidate":"c","sdpMLineIndex":-1})"), core::ErrorCode::BadRequest);
  EXPECT_EQ(codeOf(R"({"type":"candidate","candidate":"c","sdpMLineIndex":16})"), core::ErrorCode::BadRequest);
  EXPECT_EQ(codeOf(R"({"type":"candidate","candidate":"c","sdpMLineIndex":0.5})"), core::ErrorCode::BadRequest);
  EXPECT_EQ(codeOf(R"({"type":"ping","id":5})"), core::ErrorCode::BadRequest);
}

TEST(Decode, OversizedInput) {
  EXPECT_EQ(codeOf(R"({"type":"offer","sdp":")" + std::string(protocol::kMaxMessageBytes, 'a') + "\"}"),
            core::ErrorCode::TooLarge);
  EXPECT_EQ(codeOf(R"({"type":"offer","sdp":")" + std::string(protocol::kMaxSdpBytes + 1, 'a') + "\"}"),
            core::ErrorCode::TooLarge);
  EXPECT_EQ(codeOf(R"({"type":"hello","version":1,"token":")" + std::string(protocol::kMaxTokenBytes + 1, 'a') + "\"}"),
            core::ErrorCode::TooLarge);
  EXPECT_EQ(codeOf(R"({"type":"ping","id":")" + std::string(65, 'a') + "\"}"), core::ErrorCode::TooLarge);
}

TEST(Decode, DeepNestingIsRefusedBeforeParsing) {
  // 10 000 levels would exhaust json-glib's recursion; the guard stops it first.
  EXPECT_EQ(codeOf(std::string(10000, '[') + std::string(10000, ']')), core::ErrorCode::TooDeep);
  EXPECT_EQ(codeOf(R"({"type":"ping","a":)" + std::string(20, '{') ), core::ErrorCode::TooDeep);
  // Brackets inside strings are text, not nesting.
  auto ok = decodeClientMessage(R"({"type":"offer","sdp":"[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{\"]]]"})");
  EXPECT_TRUE(ok.ok());
  EXPECT_TRUE(protocol::checkJsonBounds("[[[[[[[[]]]]]]]]", 100, 8).ok());
  EXPECT_FALSE(protocol::checkJsonBounds("[[[[[[[[[]]]]]]]]]", 100, 8).ok());
}

TEST(Decode, InvalidUtf8) {
  EXPECT_EQ(codeOf("{\"type\":\"ping\",\"id\":\"\xc3\x28\"}"), core::ErrorCode::InvalidUtf8);
  EXPECT_EQ(codeOf("{\"type\":\"offer\",\"sdp\":\"\xed\xa0\x80\"}"), core::ErrorCode::InvalidUtf8);
}

TEST(Decode, ReferenceIsEchoedEvenWhenTheMessageIsBad) {
  std::string ref;
  auto r = decodeClientMessage(R"({"type":"teleport","id":"m42"})", &ref);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(ref, "m42");
}

TEST(Encode, ErrorsCarryCodeMessageAndRef) {
  const std::string ws = protocol::encodeError({core::ErrorCode::Forbidden, "no"}, std::string("m1"));
  EXPECT_EQ(field(ws, "type"), "error");
  EXPECT_EQ(field(ws, "ref"), "m1");
  EXPECT_EQ(field(ws, "error.code"), "forbidden");
  EXPECT_EQ(field(ws, "error.message"), "no");
  const std::string rest = protocol::encodeRestError({core::ErrorCode::TooLarge, "big \"quoted\" \n"});
  EXPECT_EQ(field(rest, "error.code"), "too_large");
  EXPECT_EQ(field(rest, "error.message"), "big \"quoted\" \n");
}

TEST(Encode, EventsAndRooms) {
  core::Participant p;
  p.identity = "id1";
  p.name = "Ada";
  p.role = core::Role::Speaker;
  EXPECT_EQ(field(protocol::encodeEvent(core::ParticipantJoined{p}), "participant.role"), "speaker");
  EXPECT_EQ(field(protocol::encodeEvent(core::ParticipantLeft{"id1", "bye"}), "type"), "participant-left");
  EXPECT_EQ(field(protocol::encodeEvent(core::SdpAnswer{"v=0"}), "sdp"), "v=0");
  EXPECT_EQ(field(protocol::encodeEvent(core::IceCandidate{0, "c"}), "sdpMLineIndex"), "0");
  EXPECT_EQ(field(protocol::encodeEvent(core::RoomEnded{"host"}), "type"), "room-ended");

  core::Room room;
  room.info = {"r1", "Title", "Topic \xe2\x82\xac", true, "h", 5};
  room.participants["id1"] = p;
  core::Participant lin;
  lin.identity = "id2";
  lin.name = "Lin";
  lin.role = core::Role::Listener;
  room.participants["id2"] = lin;
  const std::string json = protocol::encodeRoom(room, {"ws://x/ws/r1", "http://x/hls/r1/index.m3u8"});
  EXPECT_EQ(field(json, "id"), "r1");
  EXPECT_EQ(field(json, "topic"), "Topic \xe2\x82\xac");
  EXPECT_EQ(field(json, "record"), "true");
  EXPECT_EQ(field(json, "speaker_count"), "1");
  EXPECT_EQ(field(json, "connected_listeners"), "1");
  EXPECT_EQ(field(json, "listener_count"), "0") << "HLS sessions, none yet";
  EXPECT_EQ(field(json, "hls_url"), "http://x/hls/r1/index.m3u8");
  EXPECT_EQ(field(json, "host_token"), "") << "only the creation response carries the host token";
  EXPECT_EQ(field(protocol::encodeWelcome(room, p), "you.name"), "Ada");
  EXPECT_EQ(field(protocol::encodeCreatedRoom(room.info, "tok", {"w", "h"}), "host_token"), "tok");
}

}  // namespace
