// The JSON value type used across Hyperion: nlohmann's ordered_json, so objects keep the order they were
// written in (parameters print in config order) and scalars keep their types (null, false, 0 and "0" stay
// different).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "hyperion/common/status.h"

namespace hyperion {

using Json = nlohmann::ordered_json;

// A number as the shortest text that reads back to the same double ("0.1", "1e-05", "3"); "nan", "inf",
// "-inf".
std::string FormatNumber(double value);
// A number as JSON; NaN and the infinities, which JSON cannot hold, by the names the trial client writes them
// with: "NaN", "Infinity", "-Infinity".
Json NumberJson(double value);

// A JSON scalar as a command-line argument: strings as they are (no quotes), numbers via FormatNumber,
// integers exactly, true/false, null as "null". Arrays and objects as compact JSON.
std::string ScalarToArgument(const Json& value);

// Compact JSON text that never throws: invalid UTF-8 in strings (a trial's binary output, say) becomes
// U+FFFD.
std::string DumpJson(const Json& value, int indent = -1);

// Equality that keeps types apart: 0, false, 0.0, "0" and null are all different, while an integer is the
// same value whether nlohmann stored it as signed or unsigned (parsing "64" gives unsigned, Json(int64_t{64})
// signed).
bool SameTypedValue(const Json& a, const Json& b);

// Parses JSON text, turning nlohmann's exceptions into a Status naming `what` was being read.
Result<Json> ParseJson(const std::string& text, const std::string& what);

}  // namespace hyperion
