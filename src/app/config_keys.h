// Every key of roomcast.conf, declared once: its [group] and name, where its value lands in
// Options, and the range a number must be in. The loader applies this table to the config
// file, checkRanges holds the numbers to it once the command line has had its say, and
// tests/unit/test_config_keys.cpp holds data/roomcast.conf and docs/operating.md to it (every
// key documented, every documented key real, the sample's values the built-in defaults).
#pragma once

#include <glib.h>

#include <optional>
#include <span>
#include <string>
#include <variant>

#include "app/options.h"

namespace roomcast::app {

// Where a key's value goes: a field of Options (reached through a function, since many live
// in nested structs), or a parser for values with a shape of their own (HOST:PORT, lists).
using StringField = std::string& (*)(Options&);
using IntField = int& (*)(Options&);
using UnsignedField = unsigned& (*)(Options&);
using Int64Field = int64_t& (*)(Options&);
using DoubleField = double& (*)(Options&);
using BoolField = bool& (*)(Options&);
using OptionalBoolField = std::optional<bool>& (*)(Options&);
using Parser = core::Status (*)(const std::string& value, Options&);
using Target = std::variant<StringField, IntField, UnsignedField, Int64Field, DoubleField, BoolField, OptionalBoolField,
                            Parser>;

// A number's accepted values; `note` is added to the error ("(0: never)").
struct Range {
  double min = 0;
  double max = 0;
  const char* note = nullptr;
};

struct ConfigKey {
  const char* group;
  const char* name;
  Target target;
  std::optional<Range> range;
};

// The table, in the order data/roomcast.conf documents the keys.
std::span<const ConfigKey> configKeys();

// Sets from `file` every key of the table that it has. An unknown key is left alone (a newer
// config on an older roomcastd), a value of the wrong type or shape is an error naming it.
core::Status applyConfigKeys(GKeyFile* file, Options& out);

// Every number with a range within it (after the config file and the command line).
core::Status checkRanges(Options& options);

// A numeric field's value as a number, for its range: compared as text ("%.10g"), a value just
// outside a bound would print as the bound itself. Nothing for text, flags and parsed keys.
std::optional<double> numericValue(const ConfigKey& key, Options& options);

// A field's value as a config file writes it ("20", "true", "127.0.0.1"); nothing for parsed
// keys. For the sample config's check against the built-in defaults.
std::optional<std::string> valueText(const ConfigKey& key, Options& options);

// Values with a shape of their own, for the command line too.
core::Status splitListen(const std::string& value, Options& out);   // HOST:PORT
core::Status splitEdgeLog(const std::string& value, Options& out);  // IP:PORT
// One operator key and its secret (at least 32 bytes), added to `auth`.
core::Status addApiKey(AuthOptions& auth, const std::string& key, const std::string& secret);

}  // namespace roomcast::app
