// The config key table (src/app/config_keys.h) against what users read: data/roomcast.conf
// lists every key in its [group] and nothing else, and each value it sets is the built-in
// default; a key that docs/operating.md or README.md name with its group is one, and a default
// they give in parentheses right after a key, "`max_speakers` (16)", is the built-in one. Then the loader
// itself: values land where the table says, and bad ones stop it with the key's name.
#include <glib.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "app/config_keys.h"
#include "roomcast-config.h"

using namespace roomcast::app;

namespace {

std::string readSource(const std::string& relative) {
  std::ifstream in(std::string(ROOMCAST_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string id(const std::string& group, const std::string& name) { return "[" + group + "] " + name; }

// The sample's keys, "[group] name" -> the value it sets (none for a commented-out example).
std::map<std::string, std::optional<std::string>> sampleKeys() {
  std::map<std::string, std::optional<std::string>> keys;
  static const std::regex groupLine(R"(^\[([a-z0-9_]+)\]\s*$)");
  static const std::regex keyLine(R"(^(#?)([a-z0-9_]+) = ?(.*)$)");
  std::istringstream lines(readSource("data/roomcast.conf"));
  std::string group, line;
  std::smatch m;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, m, groupLine)) group = m[1];
    else if (std::regex_match(line, m, keyLine))
      keys[id(group, m[2])] = m[1].str().empty() ? std::optional<std::string>(m[3].str()) : std::nullopt;
  }
  return keys;
}

Options loaded(const std::string& text, roomcast::core::Status* status = nullptr) {
  g_autoptr(GKeyFile) file = g_key_file_new();
  EXPECT_TRUE(g_key_file_load_from_data(file, text.c_str(), -1, G_KEY_FILE_NONE, nullptr)) << text;
  Options options;
  auto s = applyConfigKeys(file, options);
  if (status) *status = s;
  else EXPECT_TRUE(s) << s.error().message;
  return options;
}

}  // namespace

TEST(ConfigKeys, TheSampleConfigListsEveryKeyInItsGroupAndNoOther) {
  auto sample = sampleKeys();
  std::set<std::string> table;
  for (const ConfigKey& key : configKeys()) {
    table.insert(id(key.group, key.name));
    EXPECT_TRUE(sample.count(id(key.group, key.name))) << id(key.group, key.name) << " is missing from data/roomcast.conf";
  }
  for (const auto& [key, value] : sample) EXPECT_TRUE(table.count(key)) << key << " in data/roomcast.conf is no setting";
}

TEST(ConfigKeys, TheSampleConfigSetsTheBuiltInDefaults) {
  auto sample = sampleKeys();
  Options defaults;
  for (const ConfigKey& key : configKeys()) {
    auto it = sample.find(id(key.group, key.name));
    const auto builtIn = valueText(key, defaults);
    if (it == sample.end() || !it->second || !builtIn) continue;
    EXPECT_EQ(*it->second, *builtIn) << id(key.group, key.name) << " in data/roomcast.conf";
  }
}

TEST(ConfigKeys, TheDocsNameRealKeysWithTheRightDefaults) {
  const std::string docs = readSource("docs/operating.md") + readSource("README.md");
  std::set<std::string> table;
  for (const ConfigKey& key : configKeys()) table.insert(id(key.group, key.name));
  // "`[group] name`": a key named with its group must be one.
  static const std::regex named("`\\[([a-z0-9_]+)\\] ([a-z0-9_]+)`");
  int names = 0;
  for (auto m = std::sregex_iterator(docs.begin(), docs.end(), named); m != std::sregex_iterator(); ++m, ++names)
    EXPECT_TRUE(table.count(id((*m)[1], (*m)[2]))) << "the docs name " << (*m)[0] << ", which is no setting";
  EXPECT_GT(names, 10) << "the docs name few keys in the `[group] name` form: is the pattern still right?";
  // "`name` (16" or "`[group] name` (16": a default stated right after a key is the built-in one.
  Options defaults;
  int stated = 0;
  for (const ConfigKey& key : configKeys()) {
    const auto builtIn = valueText(key, defaults);
    if (!builtIn || builtIn->empty()) continue;
    const std::regex pattern("`(\\[" + std::string(key.group) + "\\] )?" + key.name + "` \\(([-0-9.]+|true|false)[ :;,)]");
    for (auto m = std::sregex_iterator(docs.begin(), docs.end(), pattern); m != std::sregex_iterator(); ++m, ++stated)
      EXPECT_EQ((*m)[2].str(), *builtIn) << "the docs give `" << key.name << "` the default " << (*m)[2];
  }
  EXPECT_GT(stated, 10) << "the docs state few defaults in the `key` (default) form: is the pattern still right?";
}

TEST(ConfigKeys, ValuesLandWhereTheTableSays) {
  const Options o = loaded(
      "[server]\nlisten = 0.0.0.0:9000\nallowed_origins = https://a.example/, https://b.example\n"
      "max_connections = 7\n[room]\nmax_speakers = 4\nreconnect_grace_s = 2.5\n[archive]\npublic = false\n"
      "[turn]\nurls = turn:t.example:3478 , turns:t.example:5349\nttl_s = 600\n[hls]\nlow_rendition = false\n");
  EXPECT_EQ(o.listenHost, "0.0.0.0");
  EXPECT_EQ(o.listenPort, 9000);
  EXPECT_EQ(o.allowedOrigins, (std::vector<std::string>{"https://a.example", "https://b.example"}));
  EXPECT_EQ(o.connections.maxTotal, 7u);
  EXPECT_EQ(o.maxSpeakers, 4);
  EXPECT_DOUBLE_EQ(o.reconnectGraceSeconds, 2.5);
  EXPECT_EQ(o.auth.archivePublic, std::optional<bool>(false));
  EXPECT_EQ(o.turn.urls, (std::vector<std::string>{"turn:t.example:3478", "turns:t.example:5349"}));
  EXPECT_EQ(o.turn.ttlSeconds, 600);
  EXPECT_FALSE(o.lowRendition);
}

TEST(ConfigKeys, BadValuesNameTheirKey) {
  roomcast::core::Status status = roomcast::core::Ok{};
  loaded("[room]\nmax_speakers = lots\n", &status);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("[room] max_speakers"), std::string::npos) << status.error().message;
  loaded("[server]\nmax_connections = -1\n", &status);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("[server] max_connections"), std::string::npos) << status.error().message;

  Options options = loaded("[media]\nice_deadline_s = 0.5\n");
  status = checkRanges(options);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "ice_deadline_s must be 1..600");
  options = loaded("[room]\nempty_timeout_s = -1\n");
  status = checkRanges(options);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "empty_timeout_s must be 0..2592000 (0: rooms never end for being empty)");
  Options defaults;
  EXPECT_TRUE(checkRanges(defaults)) << "the built-in defaults are in range";
}

// Ranges hold the value itself, not its printed form: "%.10g" writes 0.0999999999999 as "0.1"
// and 2592000.0001 as "2592000", which a check on the text would let through.
TEST(ConfigKeys, RangesHoldTheNumberNotItsText) {
  Options options;
  options.reconnectGraceSeconds = 0.0999999999999;
  roomcast::core::Status status = checkRanges(options);
  ASSERT_FALSE(status) << "a grace just below 0.1 s";
  EXPECT_EQ(status.error().message, "reconnect_grace_s must be 0.1..3600 (also --reconnect-grace)");
  options = Options{};
  options.maxDurationSeconds = 30 * 86400 + 0.0001;
  status = checkRanges(options);
  ASSERT_FALSE(status) << "a duration just over 30 days";
  EXPECT_EQ(status.error().message, "max_duration_s must be 0..2592000 (0: no limit)");
  options = Options{};
  options.reconnectGraceSeconds = 0.1;
  options.maxDurationSeconds = 30 * 86400;
  EXPECT_TRUE(checkRanges(options)) << "the bounds themselves are in range";
}

// A range is only ever put on a number: every ranged key's default reads as one.
TEST(ConfigKeys, EveryRangedKeyIsANumber) {
  Options defaults;
  for (const ConfigKey& key : configKeys()) {
    if (!key.range) continue;
    EXPECT_TRUE(numericValue(key, defaults)) << key.group << " " << key.name << " has a range";
  }
}
