#include "hyperion/executor/metric_stream.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace hyperion {
namespace {

namespace fs = std::filesystem;

TEST(ParseReportLine, ReadsStepMetricsAndNonFiniteStrings) {
  auto r = ParseReportLine(
      R"({"step": 3, "metrics": {"val/acc": 0.5, "loss": "NaN", "x": "-Infinity"}, "time": 12.5})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->step, 3);
  ASSERT_EQ(r->metrics.size(), 3u);
  EXPECT_EQ(r->metrics[0].first, "val/acc");
  EXPECT_TRUE(std::isnan(r->metrics[1].second));
  EXPECT_TRUE(std::isinf(r->metrics[2].second) && r->metrics[2].second < 0);
  EXPECT_DOUBLE_EQ(r->time, 12.5);
}

TEST(ParseReportLine, RejectsMalformedLines) {
  EXPECT_FALSE(ParseReportLine("not json").ok());
  EXPECT_FALSE(ParseReportLine(R"({"step": -1, "metrics": {}})").ok());
  EXPECT_FALSE(ParseReportLine(R"({"step": 1.5, "metrics": {}})").ok());
  EXPECT_FALSE(ParseReportLine(R"({"step": 1, "metrics": {"a": "high"}})").ok());
  EXPECT_FALSE(ParseReportLine(R"({"step": 1})").ok());
}

TEST(ParseKeyValueLine, KatibStyleTokens) {
  auto line = ParseKeyValueLine("epoch=4 val_acc=0.97, loss=8.4e-2 note=fine lr:1", "val_acc", 0);
  ASSERT_TRUE(line.report);
  EXPECT_FALSE(line.problem);
  EXPECT_EQ(line.report->step, 4);
  ASSERT_EQ(line.report->metrics.size(), 2u);
  EXPECT_EQ(line.report->metrics[0].first, "val_acc");
  EXPECT_DOUBLE_EQ(line.report->metrics[1].second, 0.084);
}

TEST(ParseKeyValueLine, UnreadableObjectiveIsAProblem) {
  auto line = ParseKeyValueLine("val_acc=abc", "val_acc", 2);
  EXPECT_FALSE(line.report);
  ASSERT_TRUE(line.problem);
  EXPECT_EQ(*line.problem, "val_acc='abc' is not a number");
  EXPECT_FALSE(ParseKeyValueLine("training started, lr=fast", "val_acc", 0).problem);
  auto nan = ParseKeyValueLine("val_acc=nan", "val_acc", 7);
  ASSERT_TRUE(nan.report);
  EXPECT_EQ(nan.report->step, 7);
  EXPECT_TRUE(std::isnan(nan.report->metrics[0].second));
}

TEST(LineTail, CompleteLinesOnlyAndEnormousLinesSkipped) {
  fs::path path = fs::temp_directory_path() / ("hyperion-tail-" + std::to_string(::getpid()));
  std::ofstream out(path, std::ios::binary);
  LineTail tail(path.string());
  out << "first\nsec" << std::flush;
  auto lines = tail.ReadNewLines(false);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "first");
  out << "ond\n" << std::string(LineTail::kMaxLineBytes + 10, 'x') << "\nthird" << std::flush;
  lines = tail.ReadNewLines(false);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "second");
  EXPECT_EQ(tail.lines_skipped(), 1);
  lines = tail.ReadNewLines(true);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "third");
  fs::remove(path);
}

TEST(MetricStreamReader, ClientReportsTakeOverFromStdout) {
  fs::path dir = fs::temp_directory_path() / ("hyperion-stream-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  { std::ofstream(dir / "stdout.log") << "val_acc=0.5\n"; }
  MetricStreamReader reader(dir.string(), true, "val_acc");
  auto batch = reader.Poll();
  ASSERT_EQ(batch.reports.size(), 1u);
  {
    std::ofstream(dir / "metrics.jsonl") << R"({"step": 0, "metrics": {"val_acc": 0.6}})"
                                         << "\n";
    std::ofstream(dir / "stdout.log", std::ios::app) << "val_acc=0.6\n";
  }
  batch = reader.Poll();
  ASSERT_EQ(batch.reports.size(), 1u) << "the printed duplicate is ignored";
  EXPECT_DOUBLE_EQ(batch.reports[0].metrics[0].second, 0.6);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hyperion
