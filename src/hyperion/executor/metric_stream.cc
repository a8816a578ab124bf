#include "hyperion/executor/metric_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "hyperion/common/clock.h"
#include "hyperion/common/json.h"

namespace hyperion {
namespace {

// A JSON metric value: a number, or one of the strings the client writes for values JSON cannot hold.
std::optional<double> JsonMetricValue(const Json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s == "NaN" || s == "nan") return NAN;
    if (s == "Infinity" || s == "inf") return INFINITY;
    if (s == "-Infinity" || s == "-inf") return -INFINITY;
  }
  return std::nullopt;
}

std::optional<double> ParseNumber(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/' ||
         c == ':';
}

}  // namespace

Result<ParsedReport> ParseReportLine(const std::string& line) {
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgumentError("not a JSON object");
  ParsedReport report;
  if (!j.contains("step") || !j["step"].is_number_integer() || j["step"].get<int64_t>() < 0) {
    return InvalidArgumentError("\"step\" must be a non-negative integer");
  }
  report.step = j["step"].get<int64_t>();
  if (!j.contains("metrics") || !j["metrics"].is_object())
    return InvalidArgumentError("\"metrics\" must be an object");
  for (const auto& [name, value] : j["metrics"].items()) {
    auto v = JsonMetricValue(value);
    if (!v) return InvalidArgumentError("metric '" + name + "' = " + value.dump() + " is not a number");
    report.metrics.emplace_back(name, *v);
  }
  if (j.contains("time") && j["time"].is_number()) report.time = j["time"].get<double>();
  return report;
}

KeyValueLine ParseKeyValueLine(const std::string& line, const std::string& watched_metric,
                               int64_t default_step) {
  KeyValueLine out;
  ParsedReport report;
  report.step = default_step;
  size_t i = 0;
  while (i < line.size()) {
    // Tokens are separated by whitespace and commas.
    while (i < line.size() && (std::isspace(static_cast<unsigned char>(line[i])) || line[i] == ',')) ++i;
    size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i])) && line[i] != ',') ++i;
    std::string token = line.substr(start, i - start);
    size_t eq = token.find('=');
    if (eq == std::string::npos || eq == 0 || !IsNameStart(token[0])) continue;
    std::string name = token.substr(0, eq);
    bool valid_name = true;
    for (char c : name) valid_name = valid_name && IsNameChar(c);
    if (!valid_name) continue;
    std::string text = token.substr(eq + 1);
    auto value = ParseNumber(text);
    if (!value) {
      if (name == watched_metric) out.problem = name + "='" + text + "' is not a number";
      continue;
    }
    if (name == "step" || name == "epoch") {
      if (*value >= 0 && std::floor(*value) == *value) report.step = static_cast<int64_t>(*value);
      continue;
    }
    report.metrics.emplace_back(name, *value);
  }
  if (!report.metrics.empty()) out.report = std::move(report);
  return out;
}

std::vector<std::string> LineTail::ReadNewLines(bool final_read) {
  std::vector<std::string> lines;
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lines;
  char buffer[65536];
  while (true) {
    ssize_t n = ::pread(fd, buffer, sizeof buffer, offset_);
    if (n <= 0) break;
    offset_ += n;
    for (ssize_t k = 0; k < n; ++k) {
      char c = buffer[k];
      if (c == '\n') {
        if (skipping_) {
          skipping_ = false;
          ++lines_skipped_;
        } else {
          lines.push_back(std::move(partial_));
          ++lines_read_;
        }
        partial_.clear();
      } else if (!skipping_) {
        partial_ += c;
        if (partial_.size() > kMaxLineBytes) {  // an enormous line: drop it rather than hold it in memory
          partial_.clear();
          skipping_ = true;
        }
      }
    }
  }
  ::close(fd);
  if (final_read && !partial_.empty() && !skipping_) {
    lines.push_back(std::move(partial_));
    ++lines_read_;
    partial_.clear();
  }
  return lines;
}

MetricStreamReader::MetricStreamReader(const std::string& trial_dir, bool parse_stdout,
                                       std::string objective_metric)
    : json_lines_(trial_dir + "/metrics.jsonl"),
      stdout_lines_(trial_dir + "/stdout.log"),
      parse_stdout_(parse_stdout),
      objective_metric_(std::move(objective_metric)) {}

MetricStreamReader::Batch MetricStreamReader::Poll(bool final_read) {
  Batch batch;
  double now = WallSeconds();
  int64_t first = json_lines_.lines_read();
  int64_t skipped = json_lines_.lines_skipped();
  auto json_lines = json_lines_.ReadNewLines(final_read);
  if (json_lines_.lines_skipped() > skipped) {
    batch.problems.push_back({"metrics.jsonl", "a report line is longer than " +
                                                   std::to_string(LineTail::kMaxLineBytes) + " bytes"});
  }
  for (size_t k = 0; k < json_lines.size(); ++k) {
    if (json_lines[k].empty()) continue;
    auto report = ParseReportLine(json_lines[k]);
    if (!report.ok()) {
      batch.problems.push_back(
          {"metrics.jsonl line " + std::to_string(first + k + 1), report.status().message()});
      continue;
    }
    if (report->time == 0) report->time = now;
    batch.reports.push_back(std::move(report).value());
  }
  if (!batch.reports.empty()) saw_client_reports_ = true;
  if (parse_stdout_) {
    first = stdout_lines_.lines_read();
    auto lines = stdout_lines_.ReadNewLines(final_read);
    for (size_t k = 0; k < lines.size(); ++k) {
      auto parsed = ParseKeyValueLine(lines[k], objective_metric_, stdout_metric_lines_);
      if (parsed.problem && !saw_client_reports_) {
        batch.problems.push_back({"stdout.log line " + std::to_string(first + k + 1), *parsed.problem});
      }
      // A trial that reports through the client is read from metrics.jsonl alone: its printed lines would
      // duplicate the same values.
      if (parsed.report && !saw_client_reports_) {
        bool has_objective = false;
        for (const auto& [name, value] : parsed.report->metrics) has_objective |= name == objective_metric_;
        // Each line holding the objective is the next step; other lines belong to the step under way.
        if (has_objective) ++stdout_metric_lines_;
        parsed.report->time = now;
        batch.reports.push_back(std::move(*parsed.report));
      }
    }
  }
  return batch;
}

}  // namespace hyperion
