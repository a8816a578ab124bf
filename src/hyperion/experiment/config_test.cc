#include "hyperion/experiment/config.h"

#include <gtest/gtest.h>

namespace hyperion {
namespace {

constexpr const char* kValid = R"(name: demo
command: [python3, train.py, --lr, "{lr}", "--opt={opt}"]
objective: {metric: val_acc, mode: max}
space:
  lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
  opt: {choices: [null, 0, false, "0", 1, true, adam]}
  width: {low: 16, high: 256}
strategy: {type: grid, seed: 3, resolution: 4}
parallel: 2
budget: {max_trials: 10, max_time: 5m}
trial: {timeout: 90s, retries: 2}
)";

// Replaces the first occurrence of `from` in the valid config.
std::string With(const std::string& from, const std::string& to) {
  std::string text = kValid;
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

std::string ErrorOf(const std::string& text) {
  auto config = ParseConfig(text, "exp.yaml");
  EXPECT_FALSE(config.ok());
  return config.ok() ? "" : config.status().message();
}

TEST(Config, ReadsEveryField) {
  auto config = ParseConfig(kValid, "/tmp/exp.yaml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->name, "demo");
  EXPECT_EQ(config->command.size(), 5u);
  EXPECT_EQ(config->workdir, "/tmp");
  EXPECT_EQ(config->objective.mode, ObjectiveMode::kMaximize);
  EXPECT_EQ(config->strategy.type, "grid");
  EXPECT_EQ(config->strategy.seed, 3u);
  EXPECT_EQ(config->strategy.grid_resolution, 4);
  EXPECT_EQ(config->parallel, 2);
  EXPECT_EQ(config->budget.max_trials, 10);
  EXPECT_DOUBLE_EQ(*config->budget.max_time, 300);
  EXPECT_DOUBLE_EQ(*config->trial.timeout, 90);
  EXPECT_EQ(config->trial.retries, 2);
  const ParamSpec* width = config->space.Find("width");
  ASSERT_NE(width, nullptr);
  EXPECT_EQ(width->type, ParamType::kInt) << "integer bounds make an int";
}

TEST(Config, CategoricalChoicesKeepYamlTypes) {
  auto config = ParseConfig(kValid, "exp.yaml");
  ASSERT_TRUE(config.ok());
  const auto& choices = config->space.Find("opt")->choices;
  ASSERT_EQ(choices.size(), 7u);
  EXPECT_TRUE(choices[0].is_null());
  EXPECT_TRUE(choices[1].is_number_integer());
  EXPECT_TRUE(choices[2].is_boolean());
  EXPECT_TRUE(choices[3].is_string());
  EXPECT_EQ(choices[3], "0");
  EXPECT_TRUE(choices[5].is_boolean());
  EXPECT_EQ(choices[6], "adam");
}

TEST(Config, UnknownKeySuggestsTheClosest) {
  std::string e = ErrorOf(With("parallel: 2", "paralel: 2"));
  EXPECT_NE(e.find("exp.yaml:9:1: paralel: unknown key; did you mean 'parallel'?"), std::string::npos) << e;
  e = ErrorOf(With("low: 16", "lwo: 16"));
  EXPECT_NE(e.find("exp.yaml:7:"), std::string::npos) << e;
  EXPECT_NE(e.find("space.width.lwo: unknown key; did you mean 'low'?"), std::string::npos) << e;
}

TEST(Config, LogScaleNeedsPositiveLow) {
  std::string e = ErrorOf(With("low: 1.0e-4", "low: 0"));
  EXPECT_NE(e.find("exp.yaml:5:"), std::string::npos) << e;
  EXPECT_NE(e.find("space.lr.low: low (0) must be > 0 with log: true"), std::string::npos) << e;
}

TEST(Config, LowMustBeBelowHigh) {
  std::string e = ErrorOf(With("high: 256", "high: 8"));
  EXPECT_NE(e.find("space.width.high: low (16) must be below high (8)"), std::string::npos) << e;
}

TEST(Config, StepMustFit) {
  std::string e =
      ErrorOf(With("width: {low: 16, high: 256}", "width: {type: float, low: 0, high: 1, step: 0.3}"));
  EXPECT_NE(e.find("space.width.step: step 0.3 does not divide high - low = 1 evenly"), std::string::npos)
      << e;
}

TEST(Config, EmptyChoices) {
  std::string e = ErrorOf(With("choices: [null, 0, false, \"0\", 1, true, adam]", "choices: []"));
  EXPECT_NE(e.find("space.opt.choices: choices is empty"), std::string::npos) << e;
}

TEST(Config, ObjectiveMetricMissing) {
  std::string e = ErrorOf(With("{metric: val_acc, mode: max}", "{mode: max}"));
  EXPECT_NE(e.find("exp.yaml:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("objective.metric: missing"), std::string::npos) << e;
}

TEST(Config, UnknownStrategy) {
  std::string e = ErrorOf(With("type: grid", "type: radnom"));
  EXPECT_NE(e.find("strategy.type: unknown strategy 'radnom'; did you mean 'random'?"), std::string::npos)
      << e;
}

TEST(Config, PlaceholderMustNameAParameter) {
  std::string e = ErrorOf(With("\"{lr}\"", "\"{lrr}\""));
  EXPECT_NE(e.find("command[3]: '{lrr}' names no parameter of the space; did you mean '{lr}'?"),
            std::string::npos)
      << e;
  e = ErrorOf(With("\"{lr}\"", "{lr}"));
  EXPECT_NE(e.find("was read as a YAML mapping; quote it"), std::string::npos) << e;
}

TEST(Config, SyntaxErrorHasALine) {
  std::string e = ErrorOf(With("parallel: 2", "parallel: [2"));
  EXPECT_NE(e.find("exp.yaml:"), std::string::npos);
  EXPECT_NE(e.find("not valid YAML"), std::string::npos) << e;
}

TEST(Config, BadDurationAndCounts) {
  EXPECT_NE(ErrorOf(With("max_time: 5m", "max_time: 5 minutes")).find("budget.max_time"), std::string::npos);
  EXPECT_NE(ErrorOf(With("parallel: 2", "parallel: 0")).find("parallel: must be at least 1"),
            std::string::npos);
  EXPECT_NE(ErrorOf(With("retries: 2", "retries: -1")).find("trial.retries"), std::string::npos);
}

TEST(SubstituteCommand, ArgumentsAreSubstitutedLiterally) {
  Json params = {{"lr", 0.001}, {"opt", "a b; rm -rf /"}, {"n", 64}, {"flag", false}, {"none", nullptr}};
  auto argv = SubstituteCommand({"--lr={lr}", "{opt}", "{n}", "{flag}", "{none}", "{{literal}}"}, params);
  ASSERT_TRUE(argv.ok()) << argv.status().message();
  EXPECT_EQ((*argv)[0], "--lr=0.001");
  EXPECT_EQ((*argv)[1], "a b; rm -rf /");
  EXPECT_EQ((*argv)[2], "64");
  EXPECT_EQ((*argv)[3], "false");
  EXPECT_EQ((*argv)[4], "null");
  EXPECT_EQ((*argv)[5], "{literal}");
}

}  // namespace
}  // namespace hyperion

namespace hyperion {
namespace {

TEST(Config, RelativeStorageIsResolvedAgainstTheConfigFolder) {
  EXPECT_EQ(ResolveStoragePath("runs.db", "/data/exp"), "/data/exp/runs.db");
  EXPECT_EQ(ResolveStoragePath("sqlite://sub/runs.db", "/data/exp"), "sqlite:///data/exp/sub/runs.db");
  EXPECT_EQ(ResolveStoragePath("sqlite:///abs/runs.db", "/data/exp"), "sqlite:///abs/runs.db");
  EXPECT_EQ(ResolveStoragePath("postgresql://host/db", "/data/exp"), "postgresql://host/db");
}

TEST(Config, MisspelledKeyIsNamedEvenWithoutAType) {
  std::string e = ErrorOf(With("width: {low: 16, high: 256}", "width: {choises: [1, 2]}"));
  EXPECT_NE(e.find("space.width.choises: unknown key; did you mean 'choices'?"), std::string::npos) << e;
}

TEST(Config, NonFiniteChoicesAreRejected) {
  std::string e = ErrorOf(With("choices: [null, 0, false, \"0\", 1, true, adam]", "choices: [null, .inf]"));
  EXPECT_NE(e.find("space.opt.choices: choice 2 is not a finite number"), std::string::npos) << e;
}

}  // namespace
}  // namespace hyperion

namespace hyperion {
namespace {

TEST(Config, ModelBasedStrategiesAndTheirOptions) {
  auto tpe =
      ParseConfig(With("type: grid, seed: 3, resolution: 4", "type: tpe, multivariate: true"), "exp.yaml");
  ASSERT_TRUE(tpe.ok()) << tpe.status().message();
  EXPECT_EQ(tpe->strategy.type, "tpe");
  EXPECT_TRUE(tpe->strategy.multivariate);
  EXPECT_EQ(tpe->ToJson()["strategy"]["multivariate"], true);
  auto gp = ParseConfig(With("type: grid, seed: 3, resolution: 4", "type: gp"), "exp.yaml");
  ASSERT_TRUE(gp.ok()) << gp.status().message();
  EXPECT_FALSE(gp->strategy.multivariate);
  std::string e = ErrorOf(With("type: grid, seed: 3, resolution: 4", "type: tpe, multivariate: maybe"));
  EXPECT_NE(e.find("strategy.multivariate: expected true or false"), std::string::npos) << e;
}

}  // namespace
}  // namespace hyperion
