#include "hyperion/experiment/config.h"

#include <gtest/gtest.h>

#include <cstdlib>

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

TEST(Config, AnalystPatienceAndTolerance) {
  auto agent = ParseConfig(
      With("type: grid, seed: 3, resolution: 4", "type: agent, patience: 12, tolerance: 0.001"), "exp.yaml");
  ASSERT_TRUE(agent.ok()) << agent.status().message();
  EXPECT_EQ(agent->strategy.type, "agent");
  EXPECT_EQ(agent->strategy.patience, 12);
  EXPECT_DOUBLE_EQ(agent->strategy.tolerance, 0.001);
  EXPECT_EQ(agent->ToJson()["strategy"]["patience"], 12);
  EXPECT_EQ(agent->ToJson()["strategy"]["tolerance"], 0.001);
  auto defaults = ParseConfig(With("type: grid, seed: 3, resolution: 4", "type: agent"), "exp.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.status().message();
  EXPECT_FALSE(defaults->strategy.patience) << "unset: the analyst derives it from the space";
  EXPECT_DOUBLE_EQ(defaults->strategy.tolerance, 1e-4);
  EXPECT_TRUE(defaults->ToJson()["strategy"]["patience"].is_null());

  struct Case {
    std::string strategy, error;
  };
  const std::vector<Case> cases = {
      {"type: agent, patience: 0", "strategy.patience: must be at least 1, got 0"},
      {"type: agent, patience: 2.5", "strategy.patience: expected a whole number, got '2.5'"},
      {"type: agent, tolerance: 1", "strategy.tolerance: must be in [0, 1)"},
      {"type: agent, tolerance: -0.1", "strategy.tolerance: must be in [0, 1)"},
      {"type: agent, tolerance: lots", "strategy.tolerance: expected a number, got 'lots'"},
      {"type: gp, patience: 5", "strategy.patience: applies to strategy agent, not to gp"},
      {"type: random, tolerance: 0.01", "strategy.tolerance: applies to strategy agent, not to random"},
  };
  for (const auto& c : cases) {
    std::string e = ErrorOf(With("type: grid, seed: 3, resolution: 4", c.strategy));
    EXPECT_NE(e.find(c.error), std::string::npos) << c.strategy << " -> " << e;
  }
}

}  // namespace
}  // namespace hyperion

namespace hyperion {
namespace {

constexpr const char* kConditional = R"(name: cond
command: [python3, train.py, --optimizer, "{optimizer}"]
objective: {metric: loss, mode: min}
space:
  optimizer: [sgd, adam, adamw]
  momentum: {type: float, low: 0.0, high: 0.99, when: {optimizer: sgd}}
  beta2: {low: 0.9, high: 0.9999, when: {optimizer: [adam, adamw]}}
  layers: {type: int, low: 1, high: 3}
  width2: {type: int, low: 16, high: 64, step: 16, when: {layers: [2, 3], optimizer: sgd}}
  nesterov: {type: bool, when: {optimizer: sgd}}
  dampening: {type: float, low: 0, high: 0.5, step: 0.1, when: {nesterov: true}}
  act: {type: categorical, choices: ["1", 2], when: {layers: 1}}
  warm: {type: float, low: 0, high: 1, when: {dampening: 0}}
)";

// Replaces the first occurrence of `from` in the conditional config.
std::string CondWith(const std::string& from, const std::string& to) {
  std::string text = kConditional;
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(ConfigWhen, AConditionOnAContinuousFloatIsRefused) {
  auto config =
      ParseConfig(CondWith("step: 0.1, when: {nesterov: true}", "when: {nesterov: true}"), "exp.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(
      config.status().message(),
      "exp.yaml:13:47: space.warm.when.dampening: 'dampening' is a continuous float, so it almost never "
      "equals a listed value; condition on a categorical, bool, int or stepped float parameter instead");
}

TEST(ConfigWhen, ReadsConditionsWithTypedValues) {
  auto config = ParseConfig(kConditional, "exp.yaml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  const Space& space = config->space;
  EXPECT_TRUE(space.HasConditions());
  EXPECT_TRUE(space.Find("optimizer")->when.empty());
  EXPECT_TRUE(space.Find("layers")->when.empty());

  const auto& momentum = space.Find("momentum")->when;
  ASSERT_EQ(momentum.size(), 1u);
  EXPECT_EQ(momentum[0].param, "optimizer");
  EXPECT_EQ(momentum[0].values, std::vector<Json>{Json("sgd")});

  const auto& beta2 = space.Find("beta2")->when;
  ASSERT_EQ(beta2.size(), 1u);
  EXPECT_EQ(beta2[0].values, (std::vector<Json>{Json("adam"), Json("adamw")}));

  const auto& width2 = space.Find("width2")->when;
  ASSERT_EQ(width2.size(), 2u) << "several keys: all must hold";
  EXPECT_EQ(width2[0].param, "layers");
  ASSERT_EQ(width2[0].values.size(), 2u);
  EXPECT_TRUE(width2[0].values[0].is_number_integer()) << "when: {layers: 2} is an int";
  EXPECT_EQ(width2[0].values[0], 2);
  EXPECT_EQ(width2[1].param, "optimizer");

  const auto& dampening = space.Find("dampening")->when;
  ASSERT_EQ(dampening.size(), 1u);
  EXPECT_TRUE(dampening[0].values[0].is_boolean());
  EXPECT_EQ(dampening[0].values[0], true);

  const auto& warm = space.Find("warm")->when;
  ASSERT_EQ(warm.size(), 1u);
  EXPECT_TRUE(warm[0].values[0].is_number_float()) << "a float's condition value 0 means 0.0";

  // Stored with the experiment and read back the same.
  Json stored = config->ToJson()["space"];
  EXPECT_EQ(stored[2]["when"], Json::parse(R"({"optimizer": ["adam", "adamw"]})"));
  auto back = Space::FromJson(stored);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->ToJson().dump(), stored.dump());

  Json sgd = {{"optimizer", "sgd"}, {"momentum", 0.9},  {"layers", 2}, {"width2", 32},
              {"nesterov", true},   {"dampening", 0.0}, {"warm", 0.5}};
  EXPECT_TRUE(space.Validate(sgd).ok()) << space.Validate(sgd).message();
  Json adam = {{"optimizer", "adam"}, {"beta2", 0.99}, {"layers", 1}, {"act", "1"}};
  EXPECT_TRUE(space.Validate(adam).ok()) << space.Validate(adam).message();
}

TEST(ConfigWhen, ParentNamedWrongly) {
  std::string e = ErrorOf(CondWith("when: {optimizer: sgd}", "when: {optimiser: sgd}"));
  EXPECT_NE(e.find("exp.yaml:6:56: space.momentum.when.optimiser: 'optimiser' names no parameter; did you "
                   "mean 'optimizer'? Parameters defined before 'momentum': optimizer"),
            std::string::npos)
      << e;
  e = ErrorOf(CondWith("when: {optimizer: sgd}", "when: {nothing: sgd}"));
  EXPECT_NE(e.find("space.momentum.when.nothing: 'nothing' names no parameter."), std::string::npos) << e;
  e = ErrorOf(CondWith("optimizer: [sgd, adam, adamw]", "optimizer: {choices: [sgd, adam], when: {x: 1}}"));
  EXPECT_NE(
      e.find("space.optimizer.when.x: 'x' names no parameter. Parameters defined before 'optimizer': none"),
      std::string::npos)
      << e;
}

TEST(ConfigWhen, ParentMustComeFirst) {
  std::string e = ErrorOf(CondWith("when: {optimizer: sgd}", "when: {layers: 2}"));
  EXPECT_NE(e.find("exp.yaml:6:"), std::string::npos) << e;
  EXPECT_NE(e.find("space.momentum.when.layers: 'layers' must be defined before 'momentum'; move it above "
                   "'momentum' in space"),
            std::string::npos)
      << e;
  e = ErrorOf(CondWith("when: {optimizer: sgd}", "when: {momentum: 0.5}"));
  EXPECT_NE(e.find("space.momentum.when.momentum: a parameter cannot depend on itself"), std::string::npos)
      << e;
}

TEST(ConfigWhen, ValuesMustBeValuesOfTheParent) {
  std::string e = ErrorOf(CondWith("when: {optimizer: sgd}", "when: {optimizer: [sgd, rmsprop]}"));
  EXPECT_NE(e.find("exp.yaml:6:"), std::string::npos) << e;
  EXPECT_NE(e.find("space.momentum.when.optimizer: 'rmsprop' is not one of optimizer's choices: \"sgd\", "
                   "\"adam\", \"adamw\""),
            std::string::npos)
      << e;
  e = ErrorOf(CondWith("when: {layers: [2, 3], optimizer: sgd}", "when: {layers: [2, 4], optimizer: sgd}"));
  EXPECT_NE(e.find("space.width2.when.layers: '4' is not a value of layers: it is outside [1, 3]"),
            std::string::npos)
      << e;
  e = ErrorOf(CondWith("when: {layers: [2, 3], optimizer: sgd}", "when: {layers: 2.5}"));
  EXPECT_NE(e.find("space.width2.when.layers: '2.5' is not a value of layers: it must be an int"),
            std::string::npos)
      << e;
  // Quotes make text: "true" is not the bool true, and unquoted 1 is not the text "1".
  e = ErrorOf(CondWith("when: {nesterov: true}", "when: {nesterov: \"true\"}"));
  EXPECT_NE(e.find("space.dampening.when.nesterov: 'true' is not one of nesterov's choices: false, true; "
                   "quoted, it is text while the choice true is not: write it without quotes"),
            std::string::npos)
      << e;
  e = ErrorOf(
      CondWith("when: {layers: 1}}", "when: {layers: 1}}\n  act2: {choices: [\"1\", 2], when: {act: 1}}"));
  EXPECT_NE(e.find("space.act2.when.act: '1' is not one of act's choices: \"1\", 2; the choice is the text "
                   "\"1\": quote it"),
            std::string::npos)
      << e;
}

TEST(ConfigWhen, ShapeErrors) {
  std::string e = ErrorOf(CondWith("when: {optimizer: sgd}", "when: sgd"));
  EXPECT_NE(e.find("space.momentum.when: expected a mapping from an earlier parameter to the value or values "
                   "that make 'momentum' exist, e.g. when: {optimizer: sgd}"),
            std::string::npos)
      << e;
  e = ErrorOf(CondWith("when: {optimizer: sgd}", "when: {}"));
  EXPECT_NE(e.find("space.momentum.when: expected a mapping"), std::string::npos) << e;
  e = ErrorOf(CondWith("when: {optimizer: sgd}", "when: {optimizer: []}"));
  EXPECT_NE(e.find("space.momentum.when.optimizer: is an empty list; list at least one value of optimizer"),
            std::string::npos)
      << e;
  e = ErrorOf(CondWith("when: {optimizer: sgd}", "when: {optimizer: {a: b}}"));
  EXPECT_NE(e.find("space.momentum.when.optimizer: expected a value of optimizer or a list of them"),
            std::string::npos)
      << e;
  e = ErrorOf(CondWith("when: {optimizer: sgd}", "when: {optimizer: sgd, optimizer: adam}"));
  EXPECT_NE(e.find("space.momentum.when.optimizer: is given twice"), std::string::npos) << e;
  e = ErrorOf(CondWith("when: {optimizer: sgd}", "wehn: {optimizer: sgd}"));
  EXPECT_NE(e.find("space.momentum.wehn: unknown key; did you mean 'when'?"), std::string::npos) << e;
}

TEST(ConfigWhen, PlaceholderOfAConditionalParameterIsRefused) {
  std::string e = ErrorOf(CondWith("\"{optimizer}\"]", "\"{optimizer}\", \"--momentum={momentum}\"]"));
  EXPECT_NE(e.find("exp.yaml:2:"), std::string::npos) << e;
  EXPECT_NE(e.find("command[4]: '{momentum}' names a conditional parameter: it exists only when optimizer is "
                   "\"sgd\", so trials where it is inactive have no value for it. Read it from the params "
                   "JSON instead (the HYPERION_PARAMS environment variable, or hyperion.params() in the "
                   "Python client)"),
            std::string::npos)
      << e;
  e = ErrorOf(CondWith("\"{optimizer}\"]", "\"{optimizer}\", \"{layers}x{width2}\"]"));
  EXPECT_NE(
      e.find("command[4]: '{width2}' names a conditional parameter: it exists only when layers is one of "
             "2, 3 and optimizer is \"sgd\""),
      std::string::npos)
      << e;
  // Literal braces and unconditional parameters are fine.
  auto ok = ParseConfig(CondWith("\"{optimizer}\"]", "\"{optimizer}\", \"{{momentum}}\", \"{layers}\"]"),
                        "exp.yaml");
  EXPECT_TRUE(ok.ok()) << ok.status().message();
}

}  // namespace
}  // namespace hyperion

namespace hyperion {
namespace {

// The graph sections: training budget, graph-strategy options, pruner, checkpoints.
std::string Graph(const std::string& extra) {
  return With("strategy: {type: grid, seed: 3, resolution: 4}\n", extra);
}

TEST(ConfigGraph, ReadsTrainingStrategyPrunerAndCheckpoints) {
  auto config = ParseConfig(Graph("training: {unit: epochs, max: 20}\n"
                                  "strategy: {type: beam, width: 2, branches: 4, span: 5, seed: 1}\n"
                                  "checkpoints: {keep_best: 2}\n"),
                            "exp.yaml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->training.unit, "epochs");
  EXPECT_EQ(config->training.max, 20);
  EXPECT_EQ(config->strategy.width, 2);
  EXPECT_EQ(config->strategy.branches, 4);
  EXPECT_EQ(config->strategy.span, 5);
  EXPECT_EQ(config->checkpoints.keep_best, 2);
  Json json = config->ToJson();
  EXPECT_EQ(json["training"], (Json{{"unit", "epochs"}, {"max", 20.0}}));
  EXPECT_EQ(Training::FromJson(json["training"]).max, 20);
  EXPECT_EQ(json["checkpoints"]["keep_best"], 2);

  auto pbt = ParseConfig(Graph("training: {unit: epochs, max: 10}\n"
                               "strategy: {type: pbt, population: 6, quantile: 0.5, resample: 0}\n"
                               "checkpoints: {keep_best: all}\n"),
                         "exp.yaml");
  ASSERT_TRUE(pbt.ok()) << pbt.status().message();
  EXPECT_EQ(pbt->strategy.span, 3) << "a quarter of 10 epochs, in whole epochs";
  EXPECT_FALSE(pbt->checkpoints.keep_best);
  EXPECT_EQ(pbt->ToJson()["checkpoints"]["keep_best"], "all");

  auto asha = ParseConfig(Graph("training: {unit: steps, max: 27}\n"
                                "pruner: {type: asha, min_step: 1, reduction: 3, min_trials: 4}\n"),
                          "exp.yaml");
  ASSERT_TRUE(asha.ok()) << asha.status().message();
  EXPECT_EQ(asha->pruner.type, "asha");
  EXPECT_EQ(asha->pruner.max_step, 27) << "defaults to training.max";
  EXPECT_EQ(asha->pruner.min_trials, 4);
  auto median = ParseConfig(Graph("pruner: {type: median, warmup_steps: 3}\n"), "exp.yaml");
  ASSERT_TRUE(median.ok()) << median.status().message();
  EXPECT_EQ(median->pruner.min_trials, 5);
  EXPECT_EQ(median->pruner.warmup_steps, 3);
}

TEST(ConfigGraph, EveryMistakeIsNamedWhereItIs) {
  struct Case {
    std::string extra, error;
  };
  const std::vector<Case> cases = {
      {"training: {unit: epochs}\n", "exp.yaml:8:11: training.max: missing; name the unit"},
      {"training: {unit: epochs, max: 0}\n",
       "exp.yaml:8:31: training.max: must be a positive number of epochs"},
      {"strategy: {type: random, width: 3}\n",
       "exp.yaml:8:33: strategy.width: applies to strategy beam, not to random; remove it or change "
       "strategy.type"},
      {"strategy: {type: beam, span: 2}\n",
       "exp.yaml:8:30: strategy.span: needs a training budget to count in; add training: {unit: epochs, max: "
       "20}"},
      {"strategy: {type: pbt}\n", "exp.yaml:8:11: strategy.type: pbt trains each member in spans"},
      {"training: {unit: epochs, max: 4}\nstrategy: {type: evolution, span: 5}\n",
       "exp.yaml:9:35: strategy.span: is longer than a full run (training.max 4)"},
      {"strategy: {type: pbt, quantile: 0.7}\n", "strategy.quantile: must be in (0, 0.5]"},
      {"strategy: {type: evolution, population: 3, elite: 3}\n",
       "strategy.elite: must be smaller than strategy.population (3)"},
      {"pruner: {type: ahsa}\n", "pruner.type: unknown pruner 'ahsa'; did you mean 'asha'?"},
      {"pruner: {type: asha, min_step: 0}\n", "pruner.min_step: must be above 0"},
      {"pruner: {type: asha, warmup_steps: 2}\n", "pruner.warmup_steps: applies to median, not to asha"},
      {"pruner: {type: asha, reduction: 1}\n", "pruner.reduction: must be at least 2"},
      {"pruner: {type: hyperband}\n", "pruner.max_step: missing; hyperband needs the last milestone"},
      {"training: {unit: steps, max: 9}\npruner: {type: asha, max_step: 30}\n",
       "pruner.max_step: is beyond a full run (training.max 9): no trial reports that far"},
      {"training: {unit: epochs, max: 8}\nstrategy: {type: beam}\npruner: {type: median}\n",
       "pruner.type: cannot be combined with strategy beam: its trials continue their parents' checkpoints"},
      {"checkpoints: {keep_best: some}\n",
       "checkpoints.keep_best: expected a whole number of checkpoints to keep, or all"},
      {"checkpoints: {keep: 2}\n", "checkpoints.keep: unknown key; did you mean 'keep_best'?"},
  };
  for (const auto& c : cases) {
    std::string e = ErrorOf(Graph(c.extra));
    EXPECT_NE(e.find(c.error), std::string::npos) << "config:\n" << c.extra << "error: " << e;
  }
}

}  // namespace
}  // namespace hyperion

namespace hyperion {
namespace {

constexpr const char* kLlm = R"(name: llm
command: [python3, train.py, --lr, "{lr}"]
objective: {metric: loss, mode: min}
space:
  lr: {type: float, low: 1.0e-4, high: 1, log: true}
strategy: {type: llm}
llm:
  endpoint: http://127.0.0.1:8000/v1/
  model: qwen2.5-7b
  api_key_env: LLM_KEY
  temperature: 0.5
  timeout: 30s
  retries: 1
  max_tokens: 800
  wait: 0
  response_format: json_object
)";

std::string LlmWith(const std::string& from, const std::string& to) {
  std::string text = kLlm;
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(ConfigLlm, ReadsEveryKey) {
  auto config = ParseConfig(kLlm, "exp.yaml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  const LlmConfig& llm = config->llm;
  EXPECT_EQ(llm.endpoint, "http://127.0.0.1:8000/v1") << "the trailing slash is dropped";
  EXPECT_EQ(llm.model, "qwen2.5-7b");
  EXPECT_EQ(llm.api_key_env, "LLM_KEY");
  EXPECT_DOUBLE_EQ(llm.temperature, 0.5);
  EXPECT_DOUBLE_EQ(llm.timeout, 30);
  EXPECT_EQ(llm.retries, 1);
  EXPECT_EQ(llm.max_tokens, 800);
  EXPECT_DOUBLE_EQ(llm.wait, 0);
  EXPECT_EQ(llm.response_format, "json_object");
  Json stored = config->ToJson()["llm"];
  EXPECT_EQ(stored["endpoint"], "http://127.0.0.1:8000/v1");
  EXPECT_EQ(stored["api_key_env"], "LLM_KEY");
  EXPECT_EQ(stored["max_tokens"], 800);
  EXPECT_EQ(stored["response_format"], "json_object");
}

TEST(ConfigLlm, DefaultsAndNoSectionForOtherStrategies) {
  std::string text = kLlm;
  text = text.substr(0, text.find("  api_key_env"));
  auto config = ParseConfig(text, "exp.yaml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_DOUBLE_EQ(config->llm.temperature, 0.2);
  EXPECT_DOUBLE_EQ(config->llm.timeout, 60);
  EXPECT_EQ(config->llm.retries, 2);
  EXPECT_FALSE(config->llm.max_tokens.has_value());
  EXPECT_DOUBLE_EQ(config->llm.wait, 2);
  EXPECT_EQ(config->llm.response_format, "auto");
  EXPECT_EQ(config->llm.api_key_env, "");
  EXPECT_TRUE(config->ToJson()["llm"]["max_tokens"].is_null());

  auto random = ParseConfig(kValid, "exp.yaml");
  ASSERT_TRUE(random.ok());
  EXPECT_FALSE(random->llm.enabled());
  EXPECT_TRUE(random->ToJson()["llm"].is_null());
}

TEST(ConfigLlm, TheKeyItselfIsNeverStored) {
  // Whatever the environment holds, the stored config has only the variable's name.
  setenv("LLM_KEY", "sk-secret-value-123", 1);
  auto config = ParseConfig(kLlm, "exp.yaml");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(DumpJson(config->ToJson()).find("sk-secret-value-123"), std::string::npos);
  unsetenv("LLM_KEY");
}

TEST(ConfigLlm, RequiredWithStrategyLlmAndRefusedWithOthers) {
  std::string text = kLlm;
  std::string e = ErrorOf(text.substr(0, text.find("llm:\n")));
  EXPECT_NE(e.find("exp.yaml:6:11: llm: missing; strategy llm needs the server to ask"), std::string::npos)
      << e;
  e = ErrorOf(LlmWith("strategy: {type: llm}", "strategy: {type: tpe}"));
  EXPECT_NE(e.find("exp.yaml:8:3: llm: applies to strategy llm, not to tpe; remove it or write strategy: "
                   "{type: llm}"),
            std::string::npos)
      << e;
}

TEST(ConfigLlm, BadValuesNameTheirPlace) {
  std::string e = ErrorOf(LlmWith("http://127.0.0.1:8000/v1/", "ftp://host/v1"));
  EXPECT_NE(e.find("exp.yaml:8:13: llm.endpoint: 'ftp://host/v1' is not an http:// or https:// URL"),
            std::string::npos)
      << e;
  e = ErrorOf(LlmWith("http://127.0.0.1:8000/v1/", "127.0.0.1:8000"));
  EXPECT_NE(e.find("llm.endpoint: '127.0.0.1:8000' is not an http:// or https:// URL"), std::string::npos)
      << e;
  e = ErrorOf(LlmWith("http://127.0.0.1:8000/v1/", "http://h:1/v1/chat/completions"));
  EXPECT_NE(e.find("llm.endpoint: give the base URL (http://h:1/v1); the agent appends /chat/completions"),
            std::string::npos)
      << e;
  e = ErrorOf(LlmWith("timeout: 30s", "timeout: -5"));
  EXPECT_NE(e.find("exp.yaml:12:12: llm.timeout: "), std::string::npos) << e;
  e = ErrorOf(LlmWith("timeout: 30s", "timeout: 0"));
  EXPECT_NE(e.find("llm.timeout: must be longer than zero"), std::string::npos) << e;
  e = ErrorOf(LlmWith("retries: 1", "retries: -1"));
  EXPECT_NE(e.find("exp.yaml:13:12: llm.retries: must be at least 0, got -1"), std::string::npos) << e;
  e = ErrorOf(LlmWith("temperature: 0.5", "temperature: 3"));
  EXPECT_NE(e.find("exp.yaml:11:16: llm.temperature: must be in [0, 2]"), std::string::npos) << e;
  e = ErrorOf(LlmWith("max_tokens: 800", "max_tokens: 0"));
  EXPECT_NE(e.find("llm.max_tokens: must be at least 1, got 0"), std::string::npos) << e;
  e = ErrorOf(LlmWith("wait: 0", "wait: -1s"));
  EXPECT_NE(e.find("llm.wait: "), std::string::npos) << e;
  e = ErrorOf(LlmWith("response_format: json_object", "response_format: json_shema"));
  EXPECT_NE(e.find("llm.response_format: unknown format 'json_shema'; did you mean 'json_schema'?"),
            std::string::npos)
      << e;
  e = ErrorOf(LlmWith("model: qwen2.5-7b", "modle: qwen2.5-7b"));
  EXPECT_NE(e.find("llm.modle: unknown key; did you mean 'model'?"), std::string::npos) << e;
}

TEST(ConfigLlm, AKeyPastedIntoApiKeyEnvIsRefusedWithoutRepeatingIt) {
  std::string e = ErrorOf(LlmWith("api_key_env: LLM_KEY", "api_key_env: sk-abc.123"));
  EXPECT_NE(e.find("exp.yaml:10:16: llm.api_key_env: expected the NAME of an environment variable"),
            std::string::npos)
      << e;
  EXPECT_EQ(e.find("sk-abc.123"), std::string::npos) << e;
}

TEST(Config, ExecutorIsLocalByDefault) {
  auto config = ParseConfig(kValid, "exp.yaml");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->executor.type, "local");
  EXPECT_FALSE(config->executor.slurm());
  EXPECT_EQ(config->ToJson()["executor"], Json({{"type", "local"}}));
}

TEST(Config, ReadsTheSlurmExecutor) {
  auto config =
      ParseConfig(std::string(kValid) +
                      "executor: {type: slurm, partition: gpu, gres: \"gpu:a100:1\", time_limit: 90m,\n"
                      "           extra_args: [--account=ml, --qos, short], poll_interval: 2s}\n",
                  "exp.yaml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  const ExecutorConfig& e = config->executor;
  EXPECT_TRUE(e.slurm());
  EXPECT_EQ(e.partition, "gpu");
  EXPECT_EQ(e.gres, "gpu:a100:1");
  EXPECT_DOUBLE_EQ(*e.time_limit, 5400);
  EXPECT_EQ(e.extra_args, (std::vector<std::string>{"--account=ml", "--qos", "short"}));
  EXPECT_DOUBLE_EQ(e.poll_interval, 2);
  Json json = config->ToJson()["executor"];
  EXPECT_EQ(json["type"], "slurm");
  EXPECT_EQ(json["partition"], "gpu");
  EXPECT_EQ(json["gres"], "gpu:a100:1");
  EXPECT_EQ(json["time_limit"], 5400);
  EXPECT_EQ(json["extra_args"], Json({"--account=ml", "--qos", "short"}));
  EXPECT_EQ(json["poll_interval"], 2);
}

TEST(Config, ExecutorErrorsSayWhereAndHowToFix) {
  EXPECT_EQ(ErrorOf(std::string(kValid) + "executor: {type: slrum}\n"),
            "exp.yaml:12:18: executor.type: unknown executor 'slrum'; did you mean 'slurm'? Known executors: "
            "local, slurm");
  EXPECT_EQ(ErrorOf(std::string(kValid) + "executor: {type: slurm, partion: gpu}\n"),
            "exp.yaml:12:25: executor.partion: unknown key; did you mean 'partition'? Valid keys here: type, "
            "partition, gres, time_limit, extra_args, poll_interval");
  EXPECT_EQ(ErrorOf(std::string(kValid) + "executor: {partition: gpu}\n"),
            "exp.yaml:12:23: executor.partition: applies to executor type slurm, not to local; remove it or "
            "write executor: {type: slurm}");
  EXPECT_EQ(
      ErrorOf(std::string(kValid) + "executor: {type: slurm, time_limit: soon}\n"),
      "exp.yaml:12:37: executor.time_limit: 'soon' is not a duration; write seconds (90) or a number with "
      "a unit: 500ms, 90s, 10m, 2h, 1d");
  EXPECT_EQ(ErrorOf(std::string(kValid) + "executor: {type: slurm, partition: \"gpu a\"}\n"),
            "exp.yaml:12:36: executor.partition: 'gpu a' is not a Slurm partition name (letters, digits and "
            "_.:,=+-), e.g. partition: gpu");
  EXPECT_EQ(
      ErrorOf(std::string(kValid) + "executor: {type: slurm, extra_args: [--output=x.log]}\n"),
      "exp.yaml:12:38: executor.extra_args: '--output=x.log' is set by Hyperion for every job (it reads "
      "the job's output and id through it); remove it");
  EXPECT_EQ(ErrorOf(std::string(kValid) + "executor: {type: slurm, extra_args: --qos=short}\n"),
            "exp.yaml:12:37: executor.extra_args: expected a list of sbatch arguments, e.g. extra_args: "
            "[--account=ml, --qos=short]");
  EXPECT_EQ(ErrorOf(std::string(kValid) + "executor: {type: slurm, poll_interval: 10ms}\n"),
            "exp.yaml:12:40: executor.poll_interval: must be at least 200ms: each look asks the Slurm "
            "controller");
  EXPECT_EQ(
      ErrorOf(std::string(kValid) + "executor: slurm\n"),
      "exp.yaml:12:11: executor: expected a mapping, e.g. executor: {type: slurm, partition: gpu, gres: "
      "\"gpu:1\", time_limit: 2h}");
}

TEST(Config, SlurmRefusesAFractionalGpuShare) {
  const std::string slurm = std::string(kValid) + "executor: {type: slurm}\n";
  EXPECT_EQ(ErrorOf(slurm + "resources: {gpus: [0, 1], gpus_per_trial: 0.5}\n"),
            "exp.yaml:13:43: resources.gpus_per_trial: 0.5 GPU cannot be given to a Slurm job: Slurm hands "
            "out whole GPUs unless the cluster shares them through MPS or shards. Use a whole number, or ask "
            "for a share yourself with executor.gres (e.g. gres: \"mps:50\") and leave gpus_per_trial out");
  EXPECT_EQ(ErrorOf(std::string(kValid) + "executor: {type: slurm, gres: \"gpu:1\"}\n" +
                    "resources: {gpus: [0], gpus_per_trial: 1}\n"),
            "exp.yaml:13:40: resources.gpus_per_trial: and executor.gres both ask Slurm for GPUs; keep one "
            "(gres: \"gpu:1\" is given to sbatch as it is)");
  auto whole = ParseConfig(slurm + "resources: {gpus: [0, 1], gpus_per_trial: 2}\n", "exp.yaml");
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  EXPECT_DOUBLE_EQ(*whole->resources.gpus_per_trial, 2);
  // The same share is fine for local processes, which pack trials onto a GPU themselves.
  EXPECT_TRUE(
      ParseConfig(std::string(kValid) + "resources: {gpus: [0, 1], gpus_per_trial: 0.5}\n", "exp.yaml").ok());
}

TEST(Config, SlurmTimeLimitIsInWholeMinutes) {
  EXPECT_EQ(SlurmTimeLimit(30), "00:01:00");
  EXPECT_EQ(SlurmTimeLimit(60), "00:01:00");
  EXPECT_EQ(SlurmTimeLimit(90), "00:02:00");
  EXPECT_EQ(SlurmTimeLimit(5400), "01:30:00");
  EXPECT_EQ(SlurmTimeLimit(86400), "1-00:00:00");
  EXPECT_EQ(SlurmTimeLimit(2 * 86400 + 3 * 3600 + 61), "2-03:02:00");
}

TEST(Config, ResourcesSection) {
  auto config = ParseConfig(With("parallel: 2\n",
                                 "resources: {gpus: [0, 1, 3, 4], gpus_per_trial: 0.5, "
                                 "cpus: [0, 1], cpus_per_trial: 1, memory: 16G, "
                                 "memory_per_trial: 1.5GiB}\n"),
                            "exp.yaml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  const ResourcesConfig& r = config->resources;
  EXPECT_TRUE(r.given);
  EXPECT_EQ(r.gpus, (std::vector<std::string>{"0", "1", "3", "4"}));
  EXPECT_EQ(r.gpus_per_trial, 0.5);
  EXPECT_EQ(r.cpus, (std::vector<int>{0, 1}));
  EXPECT_FALSE(r.cpus_auto);
  EXPECT_EQ(r.memory_mb, 16 * 1024);
  EXPECT_EQ(r.memory_per_trial_mb, 1536);
  EXPECT_EQ(config->parallel, 0) << "without parallel, the run fits as many as the resources hold";

  auto with_parallel =
      ParseConfig(With("parallel: 2\n", "parallel: 2\nresources: {gpus: auto}\n"), "exp.yaml");
  ASSERT_TRUE(with_parallel.ok()) << with_parallel.status().message();
  EXPECT_TRUE(with_parallel->resources.gpus_auto);
  EXPECT_EQ(with_parallel->parallel, 2);
}

TEST(Config, ResourcesMistakesNameTheirLine) {
  EXPECT_EQ(
      ErrorOf(With("parallel: 2\n", "resources:\n  gpus: [0, 1]\n  gpus_per_trial: 0.3\n")),
      "exp.yaml:11:19: resources.gpus_per_trial 0.3 does not split a GPU evenly; use 1/k (0.5, 0.25, 0.2) "
      "to pack k trials on one GPU, or a whole number of GPUs");
  EXPECT_NE(ErrorOf(With("parallel: 2\n", "resources: {memory_per_trial: 4X}\n"))
                .find("exp.yaml:9:31: "
                      "resources.memory_per_trial: "
                      "'4X' is not an amount"),
            std::string::npos);
  EXPECT_NE(ErrorOf(With("parallel: 2\n", "resources: {gpus: some}\n")).find("expected auto or a list"),
            std::string::npos);
  EXPECT_NE(ErrorOf(With("parallel: 2\n", "resources: {gpu: [0]}\n")).find("did you mean 'gpus'"),
            std::string::npos);
}

}  // namespace
}  // namespace hyperion
