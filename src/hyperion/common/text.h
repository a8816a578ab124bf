// Small text helpers for messages people read: did-you-mean suggestions, durations, lists.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/common/status.h"

namespace hyperion {

// The candidate closest to `word` by edit distance, when it is close enough to be a plausible typo, or else
// the one candidate that `word` (3 characters or more) is the start of.
std::optional<std::string> ClosestMatch(const std::string& word, const std::vector<std::string>& candidates);

// "a, b, c"
std::string JoinStrings(const std::vector<std::string>& items, const std::string& separator = ", ");

// Parses a duration: a number of seconds ("90", "2.5") or a number with a unit ("500ms", "90s", "10m", "2h",
// "1d").
Result<double> ParseDuration(const std::string& text);

// Parses an amount of memory into MiB: "512M", "4G", "4GiB", "1.5T", or a plain number of MiB ("4096").
// K, M, G, T count in 1024s, with or without a trailing "B" or "iB".
Result<int64_t> ParseMemoryMb(const std::string& text);

// "1h 02m", "3m 05s", "12.3s", "340ms"
std::string FormatDuration(double seconds);

// A string safe as one folder name: keeps [A-Za-z0-9._-], replaces the rest, and appends a short hash of the
// original when anything was replaced so that different names never share a folder.
std::string SafeFileName(const std::string& name);

}  // namespace hyperion
