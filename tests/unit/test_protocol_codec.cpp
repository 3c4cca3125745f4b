// The WebSocket/REST codec: decodeClientMessage (bounds, JSON, shape, types, versions) and
// the encoders, whose output is parsed back with json-glib and checked field by field.
#include <gtest/gtest.h>
#include <json-glib/json-glib.h>

#include <memory>
#include <string>
#include <variant>

#include "core/error.h"
#include "core/events.h"
#include "core/room.h"
#include "protocol/bounds.h"
#include "protocol/messages.h"

namespace roomcast::protocol {
namespace {

using core::ErrorCode;

// ---------------------------------------------------------------------------------------
// Helpers

ErrorCode decodeError(std::string_view text, std::string* refOut = nullptr) {
  auto result = decodeClientMessage(text, refOut);
  EXPECT_FALSE(result.ok()) << "expected an error for: " << std::string(text.substr(0, 200));
  return result.ok() ? ErrorCode::Internal : result.error().code;
}

ClientMessage decodeOk(std::string_view text) {
  auto result = decodeClientMessage(text);
  EXPECT_TRUE(result.ok()) << std::string(text.substr(0, 200)) << " -> "
                           << (result.ok() ? "" : std::string(core::errorCodeName(result.error().code)) + ": " +
                                                      result.error().message);
  return result.ok() ? result.value() : ClientMessage{std::nullopt, Ping{}};
}

// A JSON text parsed back with json-glib; the root must be an object.
class Parsed {
 public:
  explicit Parsed(const std::string& text) {
    GError* error = nullptr;
    node_ = json_from_string(text.c_str(), &error);
    if (error) {
      ADD_FAILURE() << "output is not JSON: " << error->message << "\n" << text;
      g_clear_error(&error);
    }
  }
  ~Parsed() {
    if (node_) json_node_unref(node_);
  }
  Parsed(const Parsed&) = delete;
  Parsed& operator=(const Parsed&) = delete;

  bool ok() const { return node_ && JSON_NODE_HOLDS_OBJECT(node_); }
  JsonObject* root() const { return ok() ? json_node_get_object(node_) : nullptr; }

 private:
  JsonNode* node_ = nullptr;
};

JsonNode* member(JsonObject* object, const char* name) {
  return object ? json_object_get_member(object, name) : nullptr;
}

bool has(JsonObject* object, const char* name) { return member(object, name) != nullptr; }

::testing::AssertionResult isString(JsonObject* object, const char* name, const std::string& expected) {
  JsonNode* node = member(object, name);
  if (!node) return ::testing::AssertionFailure() << "no member '" << name << "'";
  if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
    return ::testing::AssertionFailure() << "'" << name << "' is not a string";
  const std::string actual = json_node_get_string(node);
  if (actual != expected)
    return ::testing::AssertionFailure() << "'" << name << "' is \"" << actual << "\", expected \"" << expected
                                         << "\"";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult isInt(JsonObject* object, const char* name, int64_t expected) {
  JsonNode* node = member(object, name);
  if (!node) return ::testing::AssertionFailure() << "no member '" << name << "'";
  if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
    return ::testing::AssertionFailure() << "'" << name << "' is not an integer";
  const int64_t actual = json_node_get_int(node);
  if (actual != expected)
    return ::testing::AssertionFailure() << "'" << name << "' is " << actual << ", expected " << expected;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult isBool(JsonObject* object, const char* name, bool expected) {
  JsonNode* node = member(object, name);
  if (!node) return ::testing::AssertionFailure() << "no member '" << name << "'";
  if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_BOOLEAN)
    return ::testing::AssertionFailure() << "'" << name << "' is not a boolean";
  const bool actual = json_node_get_boolean(node) != FALSE;
  if (actual != expected)
    return ::testing::AssertionFailure() << "'" << name << "' is " << actual << ", expected " << expected;
  return ::testing::AssertionSuccess();
}

JsonObject* objectMember(JsonObject* object, const char* name) {
  JsonNode* node = member(object, name);
  if (!node || !JSON_NODE_HOLDS_OBJECT(node)) {
    ADD_FAILURE() << "'" << name << "' is not an object";
    return nullptr;
  }
  return json_node_get_object(node);
}

JsonArray* arrayMember(JsonObject* object, const char* name) {
  JsonNode* node = member(object, name);
  if (!node || !JSON_NODE_HOLDS_ARRAY(node)) {
    ADD_FAILURE() << "'" << name << "' is not an array";
    return nullptr;
  }
  return json_node_get_array(node);
}

core::Participant participant(const std::string& id, core::Role role, uint64_t slot) {
  core::Participant p;
  p.identity = id;
  p.name = "Name " + id;
  p.role = role;
  p.joinOrder = slot;
  p.resumeToken = "resume-" + id;
  return p;
}

// ---------------------------------------------------------------------------------------
// decodeClientMessage: valid messages

TEST(DecodeClientMessage, Hello) {
  auto msg = decodeOk(R"({"type":"hello","version":1,"token":"abc.def.ghi"})");
  ASSERT_TRUE(std::holds_alternative<Hello>(msg.body));
  const auto& hello = std::get<Hello>(msg.body);
  EXPECT_EQ(hello.version, 1);
  EXPECT_EQ(hello.token, "abc.def.ghi");
  EXPECT_EQ(hello.resume, "");
  EXPECT_FALSE(msg.ref.has_value());
}

TEST(DecodeClientMessage, HelloWithResumeAndId) {
  auto msg = decodeOk(R"({"id":"m1","type":"hello","version":1,"token":"t","resume":"r-42"})");
  ASSERT_TRUE(std::holds_alternative<Hello>(msg.body));
  EXPECT_EQ(std::get<Hello>(msg.body).resume, "r-42");
  ASSERT_TRUE(msg.ref.has_value());
  EXPECT_EQ(*msg.ref, "m1");
}

TEST(DecodeClientMessage, HelloWithWhitespaceAndFieldOrder) {
  auto msg = decodeOk(" \n{ \"token\" : \"t\" ,\n\t\"version\" : 1 , \"type\" : \"hello\" }\r\n ");
  ASSERT_TRUE(std::holds_alternative<Hello>(msg.body));
  EXPECT_EQ(std::get<Hello>(msg.body).token, "t");
}

TEST(DecodeClientMessage, Offer) {
  const std::string sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
  auto msg = decodeOk(R"({"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"})");
  ASSERT_TRUE(std::holds_alternative<Offer>(msg.body));
  EXPECT_EQ(std::get<Offer>(msg.body).sdp, sdp);
}

TEST(DecodeClientMessage, Candidate) {
  auto msg = decodeOk(R"({"type":"candidate","candidate":"candidate:1 1 UDP 2122 10.0.0.2 5000 typ host","sdpMLineIndex":0})");
  ASSERT_TRUE(std::holds_alternative<Candidate>(msg.body));
  EXPECT_EQ(std::get<Candidate>(msg.body).mlineIndex, 0u);
  EXPECT_EQ(std::get<Candidate>(msg.body).candidate, "candidate:1 1 UDP 2122 10.0.0.2 5000 typ host");

  auto last = decodeOk(R"({"type":"candidate","candidate":"c","sdpMLineIndex":15})");
  ASSERT_TRUE(std::holds_alternative<Candidate>(last.body));
  EXPECT_EQ(std::get<Candidate>(last.body).mlineIndex, kMaxMlineIndex);

  // An empty candidate ends the list.
  auto end = decodeOk(R"({"type":"candidate","candidate":"","sdpMLineIndex":0})");
  ASSERT_TRUE(std::holds_alternative<Candidate>(end.body));
  EXPECT_EQ(std::get<Candidate>(end.body).candidate, "");
}

TEST(DecodeClientMessage, LeaveAndPing) {
  EXPECT_TRUE(std::holds_alternative<Leave>(decodeOk(R"({"type":"leave"})").body));
  EXPECT_TRUE(std::holds_alternative<Ping>(decodeOk(R"({"type":"ping"})").body));
  auto withId = decodeOk(R"({"type":"ping","id":"p-1"})");
  EXPECT_TRUE(std::holds_alternative<Ping>(withId.body));
  ASSERT_TRUE(withId.ref.has_value());
  EXPECT_EQ(*withId.ref, "p-1");
}

TEST(DecodeClientMessage, StageMessages) {
  auto raise = decodeOk(R"({"type":"raise-hand"})");
  ASSERT_TRUE(std::holds_alternative<SetHand>(raise.body));
  EXPECT_TRUE(std::get<SetHand>(raise.body).raised);
  auto promote = decodeOk(R"({"type":"promote","identity":"u-1"})");
  ASSERT_TRUE(std::holds_alternative<Moderate>(promote.body));
  EXPECT_EQ(std::get<Moderate>(promote.body).action, StageAction::Promote);
  EXPECT_EQ(std::get<Moderate>(promote.body).identity, "u-1");
  auto mute = decodeOk(R"({"type":"self-mute","muted":true})");
  ASSERT_TRUE(std::holds_alternative<SelfMute>(mute.body));
  EXPECT_TRUE(std::get<SelfMute>(mute.body).muted);
  EXPECT_EQ(decodeError(R"({"type":"self-mute"})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"promote"})"), ErrorCode::BadRequest);
}

// ---------------------------------------------------------------------------------------
// decodeClientMessage: errors

TEST(DecodeClientMessage, InvalidJson) {
  EXPECT_EQ(decodeError("not json at all"), ErrorCode::InvalidJson);
  EXPECT_EQ(decodeError("{"), ErrorCode::InvalidJson);
  EXPECT_EQ(decodeError(R"({"type":})"), ErrorCode::InvalidJson);
  EXPECT_EQ(decodeError(R"({"type":"ping",})"), ErrorCode::InvalidJson);
  EXPECT_EQ(decodeError(R"({"type" "ping"})"), ErrorCode::InvalidJson);
  EXPECT_EQ(decodeError(R"({"type":"ping")"), ErrorCode::InvalidJson);
  EXPECT_EQ(decodeError("]"), ErrorCode::InvalidJson);
}

TEST(DecodeClientMessage, EmptyInputIsInvalidJson) {
  EXPECT_EQ(decodeError(""), ErrorCode::InvalidJson);
  EXPECT_EQ(decodeError(" \t\r\n "), ErrorCode::InvalidJson);
}

TEST(DecodeClientMessage, NonObjectRootIsBadRequest) {
  EXPECT_EQ(decodeError("[]"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"([{"type":"ping"}])"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError("42"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"("ping")"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError("true"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError("null"), ErrorCode::BadRequest);
}

TEST(DecodeClientMessage, MissingOrNonStringTypeIsBadRequest) {
  EXPECT_EQ(decodeError("{}"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"sdp":"v=0"})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":5})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":null})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":["ping"]})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":{"name":"ping"}})"), ErrorCode::BadRequest);
}

TEST(DecodeClientMessage, UnknownType) {
  EXPECT_EQ(decodeError(R"({"type":"teleport"})"), ErrorCode::UnknownType);
  EXPECT_EQ(decodeError(R"({"type":""})"), ErrorCode::UnknownType);
  EXPECT_EQ(decodeError(R"({"type":"PING"})"), ErrorCode::UnknownType);  // names are case-sensitive
  auto result = decodeClientMessage(R"({"type":"teleport"})");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("teleport"), std::string::npos);
}

TEST(DecodeClientMessage, UnknownFieldIsBadRequest) {
  EXPECT_EQ(decodeError(R"({"type":"ping","extra":1})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"leave","sdp":"v=0"})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"hello","version":1,"token":"t","debug":true})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"offer","sdp":"v=0","sdpMLineIndex":0})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"candidate","candidate":"c","sdpMLineIndex":0,"sdpMid":"0"})"),
            ErrorCode::BadRequest);
  auto result = decodeClientMessage(R"({"type":"ping","tpye":"x"})");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("tpye"), std::string::npos);
}

TEST(DecodeClientMessage, MissingRequiredFieldsAreBadRequest) {
  EXPECT_EQ(decodeError(R"({"type":"hello","token":"t"})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"hello","version":1})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"offer"})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"candidate","candidate":"c"})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"candidate","sdpMLineIndex":0})"), ErrorCode::BadRequest);
}

TEST(DecodeClientMessage, WrongFieldTypesAreBadRequest) {
  // version
  EXPECT_EQ(decodeError(R"({"type":"hello","version":"1","token":"t"})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"hello","version":1.0,"token":"t"})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"hello","version":true,"token":"t"})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"hello","version":null,"token":"t"})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"hello","version":[1],"token":"t"})"), ErrorCode::BadRequest);
  // token, sdp, candidate, id
  EXPECT_EQ(decodeError(R"({"type":"hello","version":1,"token":42})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"offer","sdp":null})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"offer","sdp":{"type":"offer"}})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"candidate","candidate":7,"sdpMLineIndex":0})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"ping","id":5})"), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(R"({"type":"self-mute","muted":"yes"})"), ErrorCode::BadRequest);
}

TEST(DecodeClientMessage, SdpMLineIndexMustBeASmallNonNegativeInteger) {
  auto candidate = [](const std::string& index) {
    return R"({"type":"candidate","candidate":"c","sdpMLineIndex":)" + index + "}";
  };
  EXPECT_EQ(decodeError(candidate("-1")), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(candidate("16")), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(candidate("4294967296")), ErrorCode::BadRequest);     // would wrap to 0 as unsigned
  EXPECT_EQ(decodeError(candidate("-4294967296")), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(candidate("18446744073709551616")), ErrorCode::BadRequest);  // past int64
  EXPECT_EQ(decodeError(candidate("0.5")), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(candidate("1.0")), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(candidate("1e0")), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(candidate("\"0\"")), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(candidate("null")), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(candidate("false")), ErrorCode::BadRequest);
}

TEST(DecodeClientMessage, UnsupportedVersion) {
  EXPECT_EQ(decodeError(R"({"type":"hello","version":0,"token":"t"})"), ErrorCode::UnsupportedVersion);
  EXPECT_EQ(decodeError(R"({"type":"hello","version":2,"token":"t"})"), ErrorCode::UnsupportedVersion);
  EXPECT_EQ(decodeError(R"({"type":"hello","version":1000,"token":"t"})"), ErrorCode::UnsupportedVersion);
  // The version is checked before the token: an old client learns about the version first.
  EXPECT_EQ(decodeError(R"({"type":"hello","version":2})"), ErrorCode::UnsupportedVersion);
}

TEST(DecodeClientMessage, AnyVersionOtherThanOneIsUnsupportedVersion) {
  // docs/protocol.md: a hello with any version other than 1 is unsupported_version, even one
  // outside the range the field reader accepts (this once came back as bad_request).
  EXPECT_EQ(decodeError(R"({"type":"hello","version":1001,"token":"t"})"), ErrorCode::UnsupportedVersion);
  EXPECT_EQ(decodeError(R"({"type":"hello","version":-1,"token":"t"})"), ErrorCode::UnsupportedVersion);
}

TEST(DecodeClientMessage, OversizedMessageIsTooLarge) {
  // A ping padded with whitespace to exactly the limit is fine; one byte more is not.
  std::string atLimit = R"({"type":"ping"})";
  atLimit.append(kMaxMessageBytes - atLimit.size(), ' ');
  ASSERT_EQ(atLimit.size(), kMaxMessageBytes);
  EXPECT_TRUE(decodeClientMessage(atLimit).ok());
  EXPECT_EQ(decodeError(atLimit + " "), ErrorCode::TooLarge);

  // Size is checked first: even garbage over the limit is TooLarge, not InvalidJson.
  EXPECT_EQ(decodeError(std::string(kMaxMessageBytes + 1, 'x')), ErrorCode::TooLarge);
  EXPECT_EQ(decodeError(std::string(4 * kMaxMessageBytes, '[')), ErrorCode::TooLarge);

  const std::string bigSdp(kMaxMessageBytes, 'a');
  EXPECT_EQ(decodeError(R"({"type":"offer","sdp":")" + bigSdp + "\"}"), ErrorCode::TooLarge);
}

TEST(DecodeClientMessage, OversizedFieldsAreTooLarge) {
  // Each field has its own limit, below the message limit.
  const std::string sdp(kMaxSdpBytes + 1, 's');
  EXPECT_EQ(decodeError(R"({"type":"offer","sdp":")" + sdp + "\"}"), ErrorCode::TooLarge);
  EXPECT_TRUE(decodeClientMessage(R"({"type":"offer","sdp":")" + std::string(kMaxSdpBytes, 's') + "\"}").ok());

  const std::string cand(kMaxCandidateBytes + 1, 'c');
  EXPECT_EQ(decodeError(R"({"type":"candidate","sdpMLineIndex":0,"candidate":")" + cand + "\"}"),
            ErrorCode::TooLarge);

  const std::string token(kMaxTokenBytes + 1, 't');
  EXPECT_EQ(decodeError(R"({"type":"hello","version":1,"token":")" + token + "\"}"), ErrorCode::TooLarge);

  EXPECT_EQ(decodeError(R"({"type":"ping","id":")" + std::string(65, 'i') + "\"}"), ErrorCode::TooLarge);
  EXPECT_TRUE(decodeClientMessage(R"({"type":"ping","id":")" + std::string(64, 'i') + "\"}").ok());
}

TEST(DecodeClientMessage, DeepNestingIsTooDeepWithoutCrashing) {
  EXPECT_EQ(decodeError(std::string(10000, '[')), ErrorCode::TooDeep);
  EXPECT_EQ(decodeError(std::string(10000, '{')), ErrorCode::TooDeep);
  std::string balanced = std::string(10000, '[') + std::string(10000, ']');
  EXPECT_EQ(decodeError(balanced), ErrorCode::TooDeep);
  std::string inField = R"({"type":"ping","x":)" + std::string(10000, '[') + std::string(10000, ']') + "}";
  EXPECT_EQ(decodeError(inField), ErrorCode::TooDeep);
  // Alternating objects and arrays.
  std::string mixed;
  for (int i = 0; i < 5000; i++) mixed += R"({"a":[)";
  EXPECT_EQ(decodeError(mixed), ErrorCode::TooDeep);
}

TEST(DecodeClientMessage, DepthLimitIsExact) {
  // The root object is level 1; seven arrays inside make 8 (allowed, then refused for the
  // unknown field), eight make 9 (too deep).
  const std::string eight = R"({"type":"ping","x":)" + std::string(7, '[') + std::string(7, ']') + "}";
  const std::string nine = R"({"type":"ping","x":)" + std::string(8, '[') + std::string(8, ']') + "}";
  EXPECT_EQ(decodeError(eight), ErrorCode::BadRequest);
  EXPECT_EQ(decodeError(nine), ErrorCode::TooDeep);
  // Siblings do not add up: depth is the maximum, not a count.
  std::string siblings = R"({"type":"ping","x":[)";
  for (int i = 0; i < 100; i++) siblings += (i ? "," : "") + std::string("[[[]]]");
  siblings += "]}";
  EXPECT_EQ(decodeError(siblings), ErrorCode::BadRequest);
}

TEST(DecodeClientMessage, BracketsInsideStringsAreNotNesting) {
  const std::string brackets = std::string(100, '[') + std::string(100, '{');
  auto msg = decodeOk(R"({"type":"offer","sdp":")" + brackets + "\"}");
  ASSERT_TRUE(std::holds_alternative<Offer>(msg.body));
  EXPECT_EQ(std::get<Offer>(msg.body).sdp, brackets);

  // Escaped quotes do not end the string early.
  auto escaped = decodeOk(R"({"type":"offer","sdp":"\"[[[[[[[[[[[[[[[[\"{{{{{{{{{{"})");
  ASSERT_TRUE(std::holds_alternative<Offer>(escaped.body));
  EXPECT_EQ(std::get<Offer>(escaped.body).sdp, "\"[[[[[[[[[[[[[[[[\"{{{{{{{{{{");

  // Brackets in keys are not nesting either (the key is then refused as unknown).
  EXPECT_EQ(decodeError(R"({"type":"ping","[[[[[[[[[[[[":1})"), ErrorCode::BadRequest);
}

TEST(DecodeClientMessage, StringsDoNotHideRealNesting) {
  // An escaped backslash right before the closing quote must end the string, so the arrays
  // that follow are counted.
  const std::string deep = std::string(9, '[') + std::string(9, ']');
  EXPECT_EQ(decodeError(R"({"type":"offer","sdp":"\\","x":)" + deep + "}"), ErrorCode::TooDeep);
  // Closing brackets inside a string do not lower the depth.
  EXPECT_EQ(decodeError(R"({"type":"offer","sdp":"]]]]]]]]]]]]]]]]","x":)" + deep + "}"), ErrorCode::TooDeep);
  EXPECT_EQ(decodeError(R"({"a":")" + std::string(20, ']') + R"(","b":)" + deep + "}"), ErrorCode::TooDeep);
}

TEST(DecodeClientMessage, NonJsonQuotingCannotHideNesting) {
  // json-glib 1.6 also accepts single-quoted strings and /* */ comments. The nesting guard must
  // not take a '"' inside them for the start of a string and stop counting depth: a 64 KiB
  // message of ~32000 levels parsed unbounded would overflow the stack. The answer must be
  // too_deep or invalid_json (neither form is JSON), never a parse.
  const std::string deep = std::string(20, '[') + std::string(20, ']');
  for (const std::string& text : {
           R"({"type":"ping",'x':'"',"y":)" + deep + "}",     // a '"' inside a single-quoted string
           R"({'x':'"','type':'ping','y':)" + deep + "}",
           R"({"type":"ping"/*"*/,"y":)" + deep + "}",        // a '"' inside a comment
       }) {
    const ErrorCode code = decodeError(text);
    EXPECT_TRUE(code == ErrorCode::TooDeep || code == ErrorCode::InvalidJson)
        << text << " -> " << core::errorCodeName(code);
  }
}

TEST(DecodeClientMessage, InvalidUtf8) {
  EXPECT_EQ(decodeError("{\"type\":\"offer\",\"sdp\":\"\xff\"}"), ErrorCode::InvalidUtf8);
  EXPECT_EQ(decodeError("{\"type\":\"offer\",\"sdp\":\"\xc0\xaf\"}"), ErrorCode::InvalidUtf8);      // overlong
  EXPECT_EQ(decodeError("{\"type\":\"offer\",\"sdp\":\"\xed\xa0\x80\"}"), ErrorCode::InvalidUtf8);  // surrogate
  EXPECT_EQ(decodeError("{\"type\":\"ping\"}\xe2\x82"), ErrorCode::InvalidUtf8);                    // truncated
  EXPECT_EQ(decodeError("\xfe\xff{\"type\":\"ping\"}"), ErrorCode::InvalidUtf8);
  // Valid multi-byte text is fine.
  auto msg = decodeOk("{\"type\":\"offer\",\"sdp\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x99\"}");
  ASSERT_TRUE(std::holds_alternative<Offer>(msg.body));
  EXPECT_EQ(std::get<Offer>(msg.body).sdp, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x99");
}

TEST(DecodeClientMessage, IdIsEchoedThroughRefOut) {
  std::string ref;
  EXPECT_EQ(decodeError(R"({"id":"m7","type":"teleport"})", &ref), ErrorCode::UnknownType);
  EXPECT_EQ(ref, "m7");

  ref.clear();
  EXPECT_EQ(decodeError(R"({"type":"ping","id":"m8","bogus":1})", &ref), ErrorCode::BadRequest);
  EXPECT_EQ(ref, "m8");

  ref.clear();
  EXPECT_EQ(decodeError(R"({"id":"m9"})", &ref), ErrorCode::BadRequest);  // no type
  EXPECT_EQ(ref, "m9");

  ref.clear();
  EXPECT_EQ(decodeError(R"({"id":"m10","type":"hello","version":3,"token":"t"})", &ref),
            ErrorCode::UnsupportedVersion);
  EXPECT_EQ(ref, "m10");

  ref.clear();
  EXPECT_EQ(decodeError(R"({"id":"m11","type":"candidate","candidate":"c","sdpMLineIndex":99})", &ref),
            ErrorCode::BadRequest);
  EXPECT_EQ(ref, "m11");

  // Successful decodes fill it too.
  ref.clear();
  ASSERT_TRUE(decodeClientMessage(R"({"id":"ok-1","type":"ping"})", &ref).ok());
  EXPECT_EQ(ref, "ok-1");
}

TEST(DecodeClientMessage, RefOutUntouchedWhenIdCannotBeRead) {
  std::string ref = "unchanged";
  EXPECT_EQ(decodeError(R"({"id":"m1","type":)", &ref), ErrorCode::InvalidJson);
  EXPECT_EQ(ref, "unchanged");
  EXPECT_EQ(decodeError(R"({"type":"teleport"})", &ref), ErrorCode::UnknownType);
  EXPECT_EQ(ref, "unchanged");
  EXPECT_EQ(decodeError(R"({"id":42,"type":"ping"})", &ref), ErrorCode::BadRequest);
  EXPECT_EQ(ref, "unchanged");
  EXPECT_EQ(decodeError(std::string(kMaxMessageBytes + 1, ' '), &ref), ErrorCode::TooLarge);
  EXPECT_EQ(ref, "unchanged");
  // A null refOut is allowed.
  EXPECT_EQ(decodeError(R"({"id":"x","type":"teleport"})", nullptr), ErrorCode::UnknownType);
}

// ---------------------------------------------------------------------------------------
// Encoders

TEST(Encode, ErrorWithoutRef) {
  Parsed out(encodeError({ErrorCode::BadRequest, "field 'sdp' must be a string"}));
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(isString(out.root(), "type", "error"));
  EXPECT_FALSE(has(out.root(), "ref"));
  JsonObject* error = objectMember(out.root(), "error");
  ASSERT_NE(error, nullptr);
  EXPECT_TRUE(isString(error, "code", "bad_request"));
  EXPECT_TRUE(isString(error, "message", "field 'sdp' must be a string"));
  EXPECT_EQ(json_object_get_size(out.root()), 2u);
  EXPECT_EQ(json_object_get_size(error), 2u);
}

TEST(Encode, ErrorWithRef) {
  Parsed out(encodeError({ErrorCode::UnknownType, "unknown message type 'teleport'"}, std::string("m7")));
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(isString(out.root(), "type", "error"));
  EXPECT_TRUE(isString(out.root(), "ref", "m7"));
  JsonObject* error = objectMember(out.root(), "error");
  EXPECT_TRUE(isString(error, "code", "unknown_type"));
  EXPECT_TRUE(isString(error, "message", "unknown message type 'teleport'"));
}

TEST(Encode, ErrorEscapesHostileText) {
  const std::string message = "quote \" backslash \\ newline \n tab \t ctrl \x01 unicode \xc3\xa9\xf0\x9f\x98\x80 </script>";
  Parsed out(encodeError({ErrorCode::Internal, message}, std::string("\"}{")));
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(isString(out.root(), "ref", "\"}{"));
  EXPECT_TRUE(isString(objectMember(out.root(), "error"), "message", message));
}

TEST(Encode, EveryErrorCodeHasAStableName) {
  const std::pair<ErrorCode, const char*> codes[] = {
      {ErrorCode::BadRequest, "bad_request"},
      {ErrorCode::InvalidJson, "invalid_json"},
      {ErrorCode::TooLarge, "too_large"},
      {ErrorCode::TooDeep, "too_deep"},
      {ErrorCode::InvalidUtf8, "invalid_utf8"},
      {ErrorCode::UnknownType, "unknown_type"},
      {ErrorCode::UnsupportedVersion, "unsupported_version"},
      {ErrorCode::ValidationFailed, "validation_failed"},
      {ErrorCode::Unauthorized, "unauthorized"},
      {ErrorCode::Forbidden, "forbidden"},
      {ErrorCode::NotFound, "not_found"},
      {ErrorCode::Conflict, "conflict"},
      {ErrorCode::RoomFull, "room_full"},
      {ErrorCode::MediaError, "media_error"},
      {ErrorCode::IceFailed, "ice_failed"},
      {ErrorCode::RateLimited, "rate_limited"},
      {ErrorCode::Internal, "internal"},
  };
  for (const auto& [code, name] : codes) {
    EXPECT_EQ(core::errorCodeName(code), name);
    Parsed out(encodeRestError({code, "m"}));
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(isString(objectMember(out.root(), "error"), "code", name));
  }
}

TEST(Encode, HttpStatusesMatchTheDocs) {
  EXPECT_EQ(core::httpStatusFor(ErrorCode::BadRequest), 400);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::InvalidJson), 400);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::TooDeep), 400);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::InvalidUtf8), 400);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::UnknownType), 400);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::UnsupportedVersion), 400);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::TooLarge), 413);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::ValidationFailed), 422);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::Unauthorized), 401);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::Forbidden), 403);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::NotFound), 404);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::Conflict), 409);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::RoomFull), 409);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::MediaError), 502);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::IceFailed), 504);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::RateLimited), 429);
  EXPECT_EQ(core::httpStatusFor(ErrorCode::Internal), 500);
}

TEST(Encode, RestError) {
  Parsed out(encodeRestError({ErrorCode::ValidationFailed, "title must not be empty"}));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(json_object_get_size(out.root()), 1u);  // only "error": no "type" in REST bodies
  EXPECT_FALSE(has(out.root(), "type"));
  JsonObject* error = objectMember(out.root(), "error");
  ASSERT_NE(error, nullptr);
  EXPECT_TRUE(isString(error, "code", "validation_failed"));
  EXPECT_TRUE(isString(error, "message", "title must not be empty"));
}

TEST(Encode, EventParticipantJoined) {
  core::Participant p = participant("u-1", core::Role::Speaker, 3);
  p.selfMuted = true;
  Parsed out(encodeEvent(core::ParticipantJoined{p}));
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(isString(out.root(), "type", "participant-joined"));
  JsonObject* who = objectMember(out.root(), "participant");
  ASSERT_NE(who, nullptr);
  EXPECT_TRUE(isString(who, "identity", "u-1"));
  EXPECT_TRUE(isString(who, "name", "Name u-1"));
  EXPECT_TRUE(isString(who, "role", "speaker"));
  EXPECT_TRUE(isBool(who, "muted", true));
  EXPECT_TRUE(isBool(who, "reconnecting", false));
  EXPECT_TRUE(isInt(who, "slot", 3));
  // The resume token is a secret for its owner: never in events to others.
  EXPECT_FALSE(has(who, "resume_token"));
  EXPECT_FALSE(has(who, "resumeToken"));
}

TEST(Encode, EventParticipantLeftAnswerCandidateRoomEnded) {
  {
    Parsed out(encodeEvent(core::ParticipantLeft{"u-2", "bye"}));
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(isString(out.root(), "type", "participant-left"));
    EXPECT_TRUE(isString(out.root(), "identity", "u-2"));
    EXPECT_TRUE(isString(out.root(), "reason", "bye"));
  }
  {
    const std::string sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
    Parsed out(encodeEvent(core::SdpAnswer{sdp}));
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(isString(out.root(), "type", "answer"));
    EXPECT_TRUE(isString(out.root(), "sdp", sdp));
  }
  {
    Parsed out(encodeEvent(core::IceCandidate{2, "candidate:1 1 UDP 1 10.0.0.1 5000 typ host"}));
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(isString(out.root(), "type", "candidate"));
    EXPECT_TRUE(isString(out.root(), "candidate", "candidate:1 1 UDP 1 10.0.0.1 5000 typ host"));
    EXPECT_TRUE(isInt(out.root(), "sdpMLineIndex", 2));
  }
  {
    Parsed out(encodeEvent(core::RoomEnded{"host ended the room"}));
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(isString(out.root(), "type", "room-ended"));
    EXPECT_TRUE(isString(out.root(), "reason", "host ended the room"));
  }
}

TEST(Encode, EventErrorHasTheSameShapeAsEncodeError) {
  Parsed out(encodeEvent(core::ErrorEvent{{ErrorCode::MediaError, "media session failed: ICE"}}));
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(isString(out.root(), "type", "error"));
  JsonObject* error = objectMember(out.root(), "error");
  ASSERT_NE(error, nullptr);
  EXPECT_TRUE(isString(error, "code", "media_error"));
  EXPECT_TRUE(isString(error, "message", "media session failed: ICE"));
}

TEST(Encode, EventStage) {
  {
    Parsed out(encodeEvent(core::HandChanged{"u-1", "Ann", true}));
    EXPECT_TRUE(isString(out.root(), "type", "hand-raised"));
    EXPECT_TRUE(isString(out.root(), "identity", "u-1"));
    EXPECT_TRUE(isString(out.root(), "name", "Ann"));
  }
  {
    Parsed out(encodeEvent(core::HandChanged{"u-1", "Ann", false}));
    EXPECT_TRUE(isString(out.root(), "type", "hand-lowered"));
  }
  {
    Parsed out(encodeEvent(core::RoleChanged{"u-1", core::Role::CoHost, participant("u-1", core::Role::CoHost, 7)}));
    EXPECT_TRUE(isString(out.root(), "type", "role-changed"));
    EXPECT_TRUE(isString(out.root(), "role", "cohost"));
    JsonObject* p = json_object_get_object_member(out.root(), "participant");
    ASSERT_NE(p, nullptr) << "who came on stage, for clients that never saw the listener";
    EXPECT_TRUE(isString(p, "name", "Name u-1"));
    EXPECT_TRUE(isInt(p, "slot", 7));
  }
  {
    Parsed out(encodeEvent(core::MuteChanged{"u-1", true, true}));
    EXPECT_TRUE(isString(out.root(), "type", "mute-changed"));
    EXPECT_TRUE(isBool(out.root(), "muted", true));
    EXPECT_TRUE(isString(out.root(), "by", "host"));
  }
  {
    Parsed out(encodeEvent(core::PresenceChanged{"u-1", true}));
    EXPECT_TRUE(isString(out.root(), "type", "reconnecting"));
  }
  {
    Parsed out(encodeEvent(core::ActiveSpeakers{{"a", "b"}}));
    EXPECT_TRUE(isString(out.root(), "type", "active-speakers"));
    JsonArray* ids = arrayMember(out.root(), "identities");
    ASSERT_NE(ids, nullptr);
    ASSERT_EQ(json_array_get_length(ids), 2u);
    EXPECT_STREQ(json_array_get_string_element(ids, 0), "a");
    EXPECT_STREQ(json_array_get_string_element(ids, 1), "b");
  }
  {
    Parsed out(encodeEvent(core::ActiveSpeakers{}));
    JsonArray* ids = arrayMember(out.root(), "identities");
    ASSERT_NE(ids, nullptr);
    EXPECT_EQ(json_array_get_length(ids), 0u);
  }
}

TEST(Encode, Pong) {
  Parsed out(encodePong());
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(isString(out.root(), "type", "pong"));
}

TEST(Encode, Welcome) {
  core::Room room;
  room.info = {"room-1", "Title \"quoted\"", "Topic\nline two", true, "host-room-1", 1234};
  room.participants["h"] = participant("h", core::Role::Host, 1);
  room.participants["l"] = participant("l", core::Role::Listener, 2);
  room.participants["l"].handRaised = true;
  room.participants["l"].handOrder = 5;

  Parsed out(encodeWelcome(room, room.participants["h"]));
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(isString(out.root(), "type", "welcome"));
  EXPECT_TRUE(isInt(out.root(), "version", kVersion));
  JsonObject* r = objectMember(out.root(), "room");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(isString(r, "id", "room-1"));
  EXPECT_TRUE(isString(r, "title", "Title \"quoted\""));
  EXPECT_TRUE(isString(r, "topic", "Topic\nline two"));
  EXPECT_TRUE(isBool(r, "record", true));
  JsonObject* you = objectMember(out.root(), "you");
  ASSERT_NE(you, nullptr);
  EXPECT_TRUE(isString(you, "identity", "h"));
  EXPECT_TRUE(isString(you, "role", "host"));
  EXPECT_TRUE(isInt(you, "slot", 1));
  EXPECT_TRUE(isString(out.root(), "resume_token", "resume-h"));
  JsonArray* everyone = arrayMember(out.root(), "participants");
  ASSERT_NE(everyone, nullptr);
  EXPECT_EQ(json_array_get_length(everyone), 2u);
  // The host sees the hand queue.
  JsonArray* hands = arrayMember(out.root(), "hands");
  ASSERT_NE(hands, nullptr);
  ASSERT_EQ(json_array_get_length(hands), 1u);
  EXPECT_TRUE(isString(json_array_get_object_element(hands, 0), "identity", "l"));

  // A listener does not.
  Parsed listener(encodeWelcome(room, room.participants["l"]));
  ASSERT_TRUE(listener.ok());
  EXPECT_FALSE(has(listener.root(), "hands"));
  EXPECT_TRUE(isString(listener.root(), "resume_token", "resume-l"));
}

TEST(Encode, Room) {
  core::Room room;
  room.info = {"room-9", "Friday \xe2\x82\xac", "all about \"things\"", false, "host-room-9", 1700000000123};
  room.participants["h"] = participant("h", core::Role::Host, 1);
  room.participants["s"] = participant("s", core::Role::Speaker, 2);
  room.participants["c"] = participant("c", core::Role::CoHost, 3);
  room.participants["l1"] = participant("l1", core::Role::Listener, 4);
  room.participants["l2"] = participant("l2", core::Role::Listener, 5);

  Parsed out(encodeRoom(room, {"wss://example.test/ws/room-9", "https://example.test/hls/room-9/index.m3u8"}));
  ASSERT_TRUE(out.ok());
  JsonObject* o = out.root();
  EXPECT_TRUE(isString(o, "id", "room-9"));
  EXPECT_TRUE(isString(o, "title", "Friday \xe2\x82\xac"));
  EXPECT_TRUE(isString(o, "topic", "all about \"things\""));
  EXPECT_TRUE(isBool(o, "record", false));
  EXPECT_TRUE(isString(o, "ws_url", "wss://example.test/ws/room-9"));
  EXPECT_TRUE(isString(o, "hls_url", "https://example.test/hls/room-9/index.m3u8"));
  EXPECT_TRUE(isInt(o, "speaker_count", 3));
  EXPECT_TRUE(isInt(o, "connected_listeners", 2));
  // The stage by name and role, in stage order; listeners are counted, not listed.
  JsonArray* speakers = json_object_get_array_member(o, "speakers");
  ASSERT_NE(speakers, nullptr);
  ASSERT_EQ(json_array_get_length(speakers), 3u);
  const char* expected[][2] = {{"h", "host"}, {"s", "speaker"}, {"c", "cohost"}};
  for (guint i = 0; i < 3; i++) {
    JsonObject* p = json_array_get_object_element(speakers, i);
    EXPECT_TRUE(isString(p, "role", expected[i][1])) << i;
    EXPECT_TRUE(isString(p, "name", "Name " + std::string(expected[i][0]))) << i;
  }
  EXPECT_TRUE(isInt(o, "listener_count", 0)) << "HLS listening sessions, none here";
  EXPECT_TRUE(isInt(o, "created_at_ms", 1700000000123));
  // Nothing secret: the host identity is not a public field.
  EXPECT_FALSE(has(o, "host_token"));
  EXPECT_FALSE(has(o, "hostIdentity"));
}

TEST(Encode, EmptyRoomCounts) {
  core::Room room;
  room.info.id = "empty";
  room.info.title = "t";
  Parsed out(encodeRoom(room, {"ws", "hls"}));
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(isInt(out.root(), "speaker_count", 0));
  EXPECT_TRUE(isInt(out.root(), "listener_count", 0));
  EXPECT_TRUE(isString(out.root(), "topic", ""));
}

TEST(Encode, CreatedRoomCarriesTheHostToken) {
  core::RoomInfo info{"room-2", "T", "", true, "host-room-2", 5};
  Parsed out(encodeCreatedRoom(info, "hdr.payload.sig", {"ws://w", "http://h"}));
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(isString(out.root(), "id", "room-2"));
  EXPECT_TRUE(isString(out.root(), "host_token", "hdr.payload.sig"));
  EXPECT_TRUE(isString(out.root(), "ws_url", "ws://w"));
  EXPECT_TRUE(isString(out.root(), "hls_url", "http://h"));
  EXPECT_TRUE(isBool(out.root(), "record", true));
}

}  // namespace
}  // namespace roomcast::protocol
