// Reading what a running trial reports, from the files of its trial folder (see docs/trial-protocol.md):
//   metrics.jsonl  one JSON report per line, written by the client's report();
//   stdout.log     `name=value` tokens on the trial's standard output (Katib's format), when enabled and
//   until
//                  the first report arrives through metrics.jsonl (then the printed values would be
//                  duplicates).
//
// MetricStreamReader tails both files from where it stopped, hands back complete lines only, and never holds
// more than kMaxLineBytes of one line (a longer line is skipped and counted). Owned and called by one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hyperion/common/status.h"

namespace hyperion {

struct ParsedReport {
  int64_t step = 0;
  std::vector<std::pair<std::string, double>> metrics;  // in the order written; NaN and infinities kept
  double time = 0;                                      // wall seconds; 0 when the line carried none
};

// A line that looked like a report but could not be read: where and why.
struct StreamProblem {
  std::string where;    // "metrics.jsonl line 4", "stdout.log line 17"
  std::string message;  // "val_acc='abc' is not a number"
};

// One line of metrics.jsonl.
Result<ParsedReport> ParseReportLine(const std::string& line);

// One line of standard output. Returns nullopt when the line holds no `name=value` token with a numeric
// value. A token naming `watched_metric` with a value that is not a number is a problem (the objective must
// be readable). `step`/`epoch` tokens set the step; otherwise `default_step` is used.
struct KeyValueLine {
  std::optional<ParsedReport> report;
  std::optional<std::string> problem;
};
KeyValueLine ParseKeyValueLine(const std::string& line, const std::string& watched_metric,
                               int64_t default_step);

// Splits appended bytes into complete lines, keeping a partial last line for the next call.
class LineTail {
 public:
  static constexpr size_t kMaxLineBytes = 1 << 20;

  explicit LineTail(std::string path) : path_(std::move(path)) {}
  // Lines completed since the last call. With `final_read`, a last line without newline counts too.
  std::vector<std::string> ReadNewLines(bool final_read);
  int64_t lines_read() const { return lines_read_; }
  int64_t lines_skipped() const { return lines_skipped_; }

 private:
  std::string path_;
  int64_t offset_ = 0;
  std::string partial_;
  bool skipping_ = false;  // inside a line longer than kMaxLineBytes
  int64_t lines_read_ = 0;
  int64_t lines_skipped_ = 0;
};

class MetricStreamReader {
 public:
  MetricStreamReader(const std::string& trial_dir, bool parse_stdout, std::string objective_metric);

  struct Batch {
    std::vector<ParsedReport> reports;
    std::vector<StreamProblem> problems;
  };
  // Everything new in the trial's files. With `final_read` (the trial ended), partial last lines count.
  Batch Poll(bool final_read = false);

 private:
  LineTail json_lines_;
  LineTail stdout_lines_;
  bool parse_stdout_;
  std::string objective_metric_;
  int64_t stdout_metric_lines_ = 0;
  bool saw_client_reports_ = false;
};

}  // namespace hyperion
