#include "hyperion/common/text.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <functional>

namespace hyperion {
namespace {

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1, so
// the common typo "lwo" is one edit from "low".
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::optional<std::string> ClosestMatch(const std::string& word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_distance = 0;
  for (const auto& candidate : candidates) {
    size_t distance = EditDistance(word, candidate);
    if (!best || distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  // A suggestion is useful only when most of the word survives: at most a third of it changed.
  if (best && best_distance <= std::max<size_t>(1, std::max(word.size(), best->size()) / 3)) return best;
  // Or when the word is the start of exactly one candidate ("keep" for "keep_best").
  std::optional<std::string> extended;
  for (const auto& candidate : candidates) {
    if (word.size() < 3 || candidate.size() <= word.size() || candidate.compare(0, word.size(), word) != 0)
      continue;
    if (extended) return std::nullopt;
    extended = candidate;
  }
  return extended;
}

std::string JoinStrings(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += items[i];
  }
  return out;
}

Result<double> ParseDuration(const std::string& text) {
  size_t consumed = 0;
  double number = 0;
  try {
    number = std::stod(text, &consumed);
  } catch (const std::exception&) {
    consumed = 0;
  }
  std::string unit = text.substr(consumed);
  double scale = -1;
  if (consumed > 0) {
    if (unit.empty() || unit == "s")
      scale = 1;
    else if (unit == "ms")
      scale = 0.001;
    else if (unit == "m" || unit == "min")
      scale = 60;
    else if (unit == "h")
      scale = 3600;
    else if (unit == "d")
      scale = 86400;
  }
  if (scale < 0 || !std::isfinite(number) || number < 0) {
    return InvalidArgumentError(
        "'" + text +
        "' is not a duration; write seconds (90) or a number with a unit: 500ms, 90s, 10m, 2h, 1d");
  }
  return number * scale;
}

Result<int64_t> ParseMemoryMb(const std::string& text) {
  size_t consumed = 0;
  double number = -1;
  try {
    number = std::stod(text, &consumed);
  } catch (const std::exception&) {
    consumed = 0;
  }
  std::string unit = text.substr(consumed);
  for (const char* suffix : {"iB", "B"}) {
    size_t n = std::char_traits<char>::length(suffix);
    if (unit.size() > n && unit.compare(unit.size() - n, n, suffix) == 0) {
      unit.resize(unit.size() - n);
      break;
    }
  }
  double scale = -1;
  if (consumed > 0) {
    if (unit.empty() || unit == "M" || unit == "m")
      scale = 1;
    else if (unit == "K" || unit == "k")
      scale = 1.0 / 1024;
    else if (unit == "G" || unit == "g")
      scale = 1024;
    else if (unit == "T" || unit == "t")
      scale = 1024 * 1024;
  }
  if (scale < 0 || !std::isfinite(number) || number <= 0 || number * scale >= 1e15) {
    return InvalidArgumentError("'" + text +
                                "' is not an amount of memory; write it with a unit: 512M, 4G, 1.5T (a plain "
                                "number counts MiB)");
  }
  return static_cast<int64_t>(std::ceil(number * scale));
}

std::string FormatDuration(double seconds) {
  char buffer[64];
  if (seconds < 1) {
    std::snprintf(buffer, sizeof buffer, "%.0fms", seconds * 1000);
  } else if (seconds < 60) {
    std::snprintf(buffer, sizeof buffer, "%.1fs", seconds);
  } else if (seconds < 3600) {
    long s = std::lround(seconds);
    std::snprintf(buffer, sizeof buffer, "%ldm %02lds", s / 60, s % 60);
  } else {
    long m = std::lround(seconds / 60);
    std::snprintf(buffer, sizeof buffer, "%ldh %02ldm", m / 60, m % 60);
  }
  return buffer;
}

std::string SafeFileName(const std::string& name) {
  std::string out;
  bool changed = name.empty() || name == "." || name == "..";
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-') {
      out += static_cast<char>(c);
    } else {
      out += '_';
      changed = true;
    }
  }
  if (changed) {
    char hash[16];
    std::snprintf(hash, sizeof hash, "-%08zx", std::hash<std::string>{}(name)&0xffffffffu);
    out += hash;
  }
  return out;
}

}  // namespace hyperion
