#include "hyperion/strategy/pruner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "hyperion/strategy/median_pruner.h"
#include "hyperion/strategy/rung_pruner.h"

namespace hyperion {
namespace {

using Kind = PrunerVerdict::Kind;
using Curve = std::vector<StepValue>;

// An experiment as the orchestrator would hand it to a pruner. Trial ids differ from trial numbers
// (id = 1000 + number) so that mixing them up shows.
struct Experiment {
  Objective objective;
  std::vector<Trial> trials;
  std::map<int64_t, Curve> curves;
  uint64_t seed = 42;

  explicit Experiment(ObjectiveMode mode = ObjectiveMode::kMaximize, std::string metric = "val_acc") {
    objective.metric = std::move(metric);
    objective.mode = mode;
  }

  static int64_t IdOf(int64_t number) { return 1000 + number; }

  void Add(int64_t number, Curve curve, TrialState state = TrialState::kRunning) {
    Trial trial;
    trial.id = IdOf(number);
    trial.number = number;
    trial.state = state;
    trials.push_back(trial);
    curves[trial.id] = std::move(curve);
  }

  const Trial& Get(int64_t number) const {
    for (const Trial& trial : trials) {
      if (trial.number == number) return trial;
    }
    throw std::out_of_range("no trial #" + std::to_string(number));
  }

  PrunerVerdict Check(Pruner& pruner, int64_t number, int64_t previous_step) const {
    PrunerContext context{objective, trials, curves, seed};
    return pruner.Check(context, Get(number), previous_step);
  }
};

PrunerConfig Rungs(const std::string& type, std::optional<double> max_step = 27, int min_trials = 3,
                   double reduction = 3, double min_step = 1) {
  PrunerConfig config;
  config.type = type;
  config.min_step = min_step;
  config.max_step = max_step;
  config.reduction = reduction;
  config.min_trials = min_trials;
  return config;
}

PrunerConfig Median(int min_trials = 5, double warmup_steps = 0) {
  PrunerConfig config;
  config.type = "median";
  config.min_trials = min_trials;
  config.warmup_steps = warmup_steps;
  return config;
}

std::unique_ptr<Pruner> Make(const PrunerConfig& config) {
  auto pruner = MakePruner(config);
  EXPECT_TRUE(pruner.ok()) << pruner.status().message();
  return pruner.ok() ? std::move(*pruner) : nullptr;
}

// ---------------------------------------------------------------------------------------------- factory

TEST(MakePruner, BuildsTheNamedPruner) {
  auto none = MakePruner(PrunerConfig{});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
  EXPECT_EQ(Make(Rungs("asha"))->Name(), "asha");
  EXPECT_EQ(Make(Rungs("asha", std::nullopt))->Name(), "asha");
  EXPECT_EQ(Make(Rungs("hyperband"))->Name(), "hyperband");
  EXPECT_EQ(Make(Median())->Name(), "median");
}

TEST(MakePruner, RefusesConfigsItCannotUse) {
  PrunerConfig unknown;
  unknown.type = "sha";
  auto made = MakePruner(unknown);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(made.status().message().find("unknown pruner 'sha'"), std::string::npos);

  made = MakePruner(Rungs("hyperband", std::nullopt));
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("max_step"), std::string::npos);
  EXPECT_FALSE(MakePruner(Rungs("asha", 27, 3, 3, /*min_step=*/0)).ok());
  EXPECT_FALSE(MakePruner(Rungs("asha", 27, 3, /*reduction=*/1)).ok());
  EXPECT_FALSE(MakePruner(Rungs("asha", 27, /*min_trials=*/0)).ok());
  EXPECT_FALSE(MakePruner(Rungs("asha", /*max_step=*/1)).ok());
  EXPECT_FALSE(MakePruner(Median(/*min_trials=*/0)).ok());
}

// ---------------------------------------------------------------------------------------------- asha

TEST(RungMilestones, GeometricStrictlyBelowMaxStep) {
  EXPECT_EQ(RungMilestones(1, 3, 27, 100), (std::vector<double>{1, 3, 9}));
  EXPECT_EQ(RungMilestones(1, 3, 27, 8), (std::vector<double>{1, 3}));
  EXPECT_EQ(RungMilestones(1, 3, std::nullopt, 100), (std::vector<double>{1, 3, 9, 27, 81}));
  EXPECT_EQ(RungMilestones(0.5, 2, 4, 10), (std::vector<double>{0.5, 1, 2}));
  EXPECT_EQ(RungMilestones(3, 3, 27, 2), (std::vector<double>{}));
  // 0.1 * 3^3 computes as 2.7000000000000006: still not below a max_step of 2.7.
  EXPECT_EQ(RungMilestones(0.1, 3, 2.7, 10).size(), 3u);
}

TEST(Asha, DecidesAtTheFirstReportPastEachMilestoneWithThatReportsValue) {
  Experiment e;
  e.Add(1, {{1, 0.30}, {3, 0.50}, {9, 0.70}}, TrialState::kCompleted);
  e.Add(2, {{2, 0.20}, {4, 0.40}, {10, 0.60}}, TrialState::kRunning);  // reaches 3 at step 4, 9 at step 10
  e.Add(3, {{1, 0.10}, {3, 0.35}, {9, 0.45}}, TrialState::kPruned);
  e.Add(4, {{2, 0.35}});
  auto asha = Make(Rungs("asha"));

  // Step 2 crosses milestone 1: competitors 0.30, 0.20 (#2's step 2), 0.10, 0.35; keep floor(4/3) = 1.
  PrunerVerdict v = e.Check(*asha, 4, -1);
  ASSERT_EQ(v.kind, Kind::kContinue) << v.rationale;
  EXPECT_EQ(v.evidence, (Json{{"milestone", 1},
                              {"step", 2},
                              {"value", 0.35},
                              {"threshold", 0.35},
                              {"competitors", 4},
                              {"keep", 1},
                              {"rank", 1},
                              {"best_trial", 4},
                              {"best_value", 0.35}}));
  EXPECT_EQ(v.rationale,
            "val_acc 0.35 at step 2 (first report past milestone 1) is within the top 1 of 4 trials there "
            "(rank 1; cut-off 0.35, best #4 0.35).");

  // Steps 3 and 4 are skipped; step 5 crosses milestone 3 and its value counts.
  e.curves[Experiment::IdOf(4)].push_back({5, 0.55});
  v = e.Check(*asha, 4, 2);
  ASSERT_EQ(v.kind, Kind::kContinue) << v.rationale;
  EXPECT_EQ(v.evidence["milestone"], 3);
  EXPECT_EQ(v.evidence["step"], 5);
  EXPECT_EQ(v.evidence["value"], 0.55);
  EXPECT_EQ(v.evidence["best_trial"], 4);

  // No new report: nothing to decide.
  EXPECT_EQ(e.Check(*asha, 4, 5).kind, Kind::kNone);

  // Step 11 crosses milestone 9: 0.70 (#1), 0.60 (#2 at step 10), 0.45 (#3), 0.62 -> rank 2 of keep 1.
  e.curves[Experiment::IdOf(4)].push_back({11, 0.62});
  v = e.Check(*asha, 4, 5);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.rationale,
            "val_acc 0.62 at step 11 (first report past milestone 9) is outside the top 1 of 4 trials there "
            "(rank 2; cut-off 0.7, best #1 0.7).");
  EXPECT_EQ(v.evidence["milestone"], 9);
  EXPECT_EQ(v.evidence["step"], 11);
  EXPECT_EQ(v.evidence["threshold"], 0.70);
  EXPECT_EQ(v.evidence["rank"], 2);
  EXPECT_FALSE(v.evidence.contains("earlier"));
}

// Trials #1..#8 report {1: 0} and {3: values[i]}; #9 reports {1: 0} and {3: own}. Checked with previous step
// 1, so only milestone 3 is decided, among 9 trials: keep floor(9 / 3) = 3.
PrunerVerdict NineAtMilestoneThree(ObjectiveMode mode, const std::string& metric,
                                   const std::vector<double>& values, double own) {
  Experiment e(mode, metric);
  for (int i = 0; i < 8; ++i) e.Add(i + 1, {{1, 0}, {3, values[i]}}, TrialState::kCompleted);
  e.Add(9, {{1, 0}, {3, own}});
  return e.Check(*Make(Rungs("asha")), 9, 1);
}

TEST(Asha, PromotesExactlyTheTopOneOverReductionWhenMaximizing) {
  const std::vector<double> acc = {0.90, 0.80, 0.95, 0.70, 0.85, 0.60, 0.75, 0.65};
  PrunerVerdict v = NineAtMilestoneThree(ObjectiveMode::kMaximize, "val_acc", acc, 0.86);
  ASSERT_EQ(v.kind, Kind::kContinue);
  EXPECT_EQ(
      v.rationale,
      "val_acc 0.86 at step 3 (milestone 3) is within the top 3 of 9 trials there (rank 3; cut-off 0.86, "
      "best #3 0.95).");
  EXPECT_EQ(v.evidence["keep"], 3);
  EXPECT_EQ(v.evidence["competitors"], 9);

  v = NineAtMilestoneThree(ObjectiveMode::kMaximize, "val_acc", acc, 0.84);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(
      v.rationale,
      "val_acc 0.84 at step 3 (milestone 3) is outside the top 3 of 9 trials there (rank 4; cut-off 0.85, "
      "best #3 0.95).");
  EXPECT_EQ(v.evidence, (Json{{"milestone", 3},
                              {"step", 3},
                              {"value", 0.84},
                              {"threshold", 0.85},
                              {"competitors", 9},
                              {"keep", 3},
                              {"rank", 4},
                              {"best_trial", 3},
                              {"best_value", 0.95}}));
}

TEST(Asha, PromotesExactlyTheTopOneOverReductionWhenMinimizing) {
  const std::vector<double> loss = {0.10, 0.20, 0.05, 0.30, 0.15, 0.40, 0.25, 0.35};
  PrunerVerdict v = NineAtMilestoneThree(ObjectiveMode::kMinimize, "val_loss", loss, 0.14);
  ASSERT_EQ(v.kind, Kind::kContinue);
  EXPECT_EQ(v.evidence["rank"], 3);
  EXPECT_EQ(v.evidence["threshold"], 0.14);

  v = NineAtMilestoneThree(ObjectiveMode::kMinimize, "val_loss", loss, 0.16);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.rationale,
            "val_loss 0.16 at step 3 (milestone 3) is outside the top 3 of 9 trials there (rank 4; cut-off "
            "0.15, best #3 0.05).");
  // The best value under min mode is the lowest; a high loss is the worst.
  v = NineAtMilestoneThree(ObjectiveMode::kMinimize, "val_loss", loss, 0.01);
  ASSERT_EQ(v.kind, Kind::kContinue);
  EXPECT_EQ(v.evidence["rank"], 1);
  EXPECT_EQ(v.evidence["best_trial"], 9);
}

TEST(Asha, TiesResolveInFavourOfTheEarlierTrial) {
  // The cut-off value 0.85 is #5's: a later trial with the same value ranks after it.
  const std::vector<double> acc = {0.90, 0.80, 0.95, 0.70, 0.85, 0.60, 0.75, 0.65};
  PrunerVerdict v = NineAtMilestoneThree(ObjectiveMode::kMaximize, "val_acc", acc, 0.85);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["rank"], 4);
  EXPECT_EQ(v.evidence["threshold"], 0.85);

  // Six trials, keep 2: #2 and #3 tie at 0.7 for the second place, #2 gets it, whichever is checked.
  Experiment e;
  const double values[] = {0.9, 0.7, 0.7, 0.1, 0.2, 0.3};
  for (int n = 1; n <= 6; ++n) e.Add(n, {{1, values[n - 1]}});
  auto asha = Make(Rungs("asha"));
  v = e.Check(*asha, 3, -1);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["rank"], 3);
  EXPECT_EQ(v.evidence["keep"], 2);
  v = e.Check(*asha, 2, -1);
  ASSERT_EQ(v.kind, Kind::kContinue);
  EXPECT_EQ(v.evidence["rank"], 2);
  // A tie for the best goes to the earlier trial too.
  e.curves[Experiment::IdOf(6)] = {{1, 0.9}};
  v = e.Check(*asha, 6, -1);
  EXPECT_EQ(v.evidence["rank"], 2);
  EXPECT_EQ(v.evidence["best_trial"], 1);
}

TEST(Asha, NoDecisionUntilMinTrialsReachedTheMilestone) {
  Experiment e;
  e.Add(1, {{1, 0.5}, {3, 0.6}}, TrialState::kCompleted);
  e.Add(2, {{1, 0.4}}, TrialState::kFailed);  // failed before milestone 3: competes at milestone 1 only
  e.Add(3, {{1, 0.45}, {2, 0.5}, {3, 0.55}});
  auto asha = Make(Rungs("asha", 27, /*min_trials=*/3));

  // Milestone 3: only #1 and #3 reached it, 2 < 3.
  PrunerVerdict v = e.Check(*asha, 3, 2);
  EXPECT_EQ(v.kind, Kind::kNone);
  EXPECT_EQ(v.rationale, "");
  EXPECT_EQ(v.evidence, Json::object());

  // The whole curve at once: milestone 1 has 3 competitors (#1 0.5 beats #3 0.45: keep 1, prune).
  v = e.Check(*asha, 3, -1);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["milestone"], 1);
  EXPECT_EQ(v.evidence["competitors"], 3);

  // With #3 best at milestone 1: promoted there, milestone 3 undecided -> the verdict is milestone 1's.
  e.curves[Experiment::IdOf(3)][0].value = 0.55;
  v = e.Check(*asha, 3, -1);
  ASSERT_EQ(v.kind, Kind::kContinue);
  EXPECT_EQ(v.evidence["milestone"], 1);
  EXPECT_FALSE(v.evidence.contains("earlier"));
  EXPECT_EQ(v.rationale.find("milestone 3"), std::string::npos);

  // min_trials 2: milestone 3 is decided between #1 (0.6) and #3 (0.55); keep max(1, floor(2 / 3)) = 1.
  v = e.Check(*Make(Rungs("asha", 27, /*min_trials=*/2)), 3, 2);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["competitors"], 2);
  EXPECT_EQ(v.evidence["keep"], 1);
  EXPECT_EQ(v.evidence["best_trial"], 1);
}

TEST(Asha, KeepIsTheFloorOfCompetitorsOverReductionAndAtLeastOne) {
  Experiment e;
  for (int n = 1; n <= 5; ++n) e.Add(n, {{1, 0.1 * n}});
  // reduction 3: keep floor(5 / 3) = 1; reduction 2: keep 2; reduction 2.5: keep 2.
  EXPECT_EQ(e.Check(*Make(Rungs("asha", 27, 3, 3)), 4, -1).evidence["keep"], 1);
  EXPECT_EQ(e.Check(*Make(Rungs("asha", 27, 3, 3)), 4, -1).kind, Kind::kPrune);
  EXPECT_EQ(e.Check(*Make(Rungs("asha", 27, 3, 2)), 4, -1).evidence["keep"], 2);
  EXPECT_EQ(e.Check(*Make(Rungs("asha", 27, 3, 2)), 4, -1).kind, Kind::kContinue);
  EXPECT_EQ(e.Check(*Make(Rungs("asha", 27, 3, 2.5)), 4, -1).evidence["keep"], 2);
  // A lone trial with min_trials 1 is the top 1 of 1.
  Experiment alone;
  alone.Add(1, {{1, 0.3}});
  PrunerVerdict v = alone.Check(*Make(Rungs("asha", 27, 1)), 1, -1);
  ASSERT_EQ(v.kind, Kind::kContinue);
  EXPECT_EQ(v.evidence["keep"], 1);
}

// Others at milestones 1, 3, 9: #1 {0.5, 0.6, 0.7}, #2 {0.4, 0.5, 0.6}, #3 {0.3, 0.4, 0.5}.
Experiment ThreeFinished() {
  Experiment e;
  for (int n = 1; n <= 3; ++n) {
    const double base = 0.6 - 0.1 * n;
    e.Add(n, {{1, base}, {3, base + 0.1}, {9, base + 0.2}, {27, base + 0.3}}, TrialState::kCompleted);
  }
  return e;
}

TEST(Asha, SeveralMilestonesInOneBatchAreDecidedInOrder) {
  auto asha = Make(Rungs("asha"));
  // Good all along: promoted at 1, 3 and 9 in one verdict.
  Experiment e = ThreeFinished();
  Curve good;
  for (int step = 1; step <= 10; ++step) good.push_back({step, 0.6 + 0.02 * step});
  e.Add(4, good);
  PrunerVerdict v = e.Check(*asha, 4, -1);
  ASSERT_EQ(v.kind, Kind::kContinue);
  EXPECT_EQ(v.evidence["milestone"], 9);
  EXPECT_EQ(v.evidence["value"], 0.6 + 0.02 * 9);
  ASSERT_EQ(v.evidence["earlier"].size(), 2u);
  EXPECT_EQ(v.evidence["earlier"][0]["milestone"], 1);
  EXPECT_EQ(v.evidence["earlier"][0]["value"], 0.62);
  EXPECT_EQ(v.evidence["earlier"][1]["milestone"], 3);
  EXPECT_NE(v.rationale.find("at step 1 (milestone 1)"), std::string::npos) << v.rationale;
  EXPECT_NE(v.rationale.find("at step 3 (milestone 3)"), std::string::npos) << v.rationale;
  EXPECT_NE(v.rationale.find("at step 9 (milestone 9)"), std::string::npos) << v.rationale;

  // Best at 1, worst at 3: pruned at 3, and 9 is not looked at.
  Experiment f = ThreeFinished();
  f.Add(4, {{1, 0.9}, {2, 0.5}, {3, 0.1}, {9, 0.99}, {10, 0.99}});
  v = f.Check(*asha, 4, -1);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["milestone"], 3);
  EXPECT_EQ(v.evidence["value"], 0.1);
  ASSERT_EQ(v.evidence["earlier"].size(), 1u);
  EXPECT_EQ(v.evidence["earlier"][0]["milestone"], 1);
  EXPECT_EQ(
      v.rationale,
      "val_acc 0.1 at step 3 (milestone 3) is outside the top 1 of 4 trials there (rank 4; cut-off 0.6, "
      "best #1 0.6).");

  // Skipped steps in a batch: 2 decides milestone 1, 5 decides milestone 3; step 6's value is not used.
  Experiment g = ThreeFinished();
  g.Add(4, {{2, 0.8}, {5, 0.2}, {6, 0.95}});
  v = g.Check(*asha, 4, -1);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["step"], 5);
  EXPECT_EQ(v.evidence["value"], 0.2);
  EXPECT_EQ(v.evidence["earlier"][0]["step"], 2);
  EXPECT_EQ(v.evidence["earlier"][0]["value"], 0.8);
}

TEST(Asha, NoMilestoneAtOrPastMaxStepAndNoneAboveWithoutOne) {
  Experiment e = ThreeFinished();
  e.Add(4, {{1, 0.9}, {3, 0.9}, {9, 0.1}, {12, 0.1}});
  // max_step 9: the milestones are 1 and 3; the reports at 9 and 12 decide nothing.
  EXPECT_EQ(e.Check(*Make(Rungs("asha", 9)), 4, 3).kind, Kind::kNone);
  EXPECT_EQ(e.Check(*Make(Rungs("asha", 27)), 4, 3).kind, Kind::kPrune);

  // Without max_step the ladder goes on: 27 is a milestone.
  Experiment f = ThreeFinished();
  f.Add(4, {{1, 0.9}, {3, 0.9}, {9, 0.9}, {30, 0.1}});
  PrunerVerdict v = f.Check(*Make(Rungs("asha", std::nullopt)), 4, 9);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["milestone"], 27);
  EXPECT_EQ(v.evidence["step"], 30);
  EXPECT_EQ(f.Check(*Make(Rungs("asha", 27)), 4, 9).kind, Kind::kNone);
}

// ---------------------------------------------------------------------------------------------- hyperband

TEST(Hyperband, BracketsAndTheirWeightsFollowHyperband) {
  EXPECT_EQ(HyperbandMaxBracket(Rungs("hyperband", 27)), 3);
  EXPECT_EQ(HyperbandBracketWeights(Rungs("hyperband", 27)), (std::vector<double>{27, 12, 6, 4}));
  // Hyperband's table for R = 81, eta = 3: 81, 34, 15, 8, 5 configurations.
  EXPECT_EQ(HyperbandBracketWeights(Rungs("hyperband", 81)), (std::vector<double>{81, 34, 15, 8, 5}));
  EXPECT_EQ(HyperbandMaxBracket(Rungs("hyperband", 26)), 2);
  EXPECT_EQ(HyperbandMaxBracket(Rungs("hyperband", 2)), 0);  // a single bracket: plain ASHA
  EXPECT_EQ(HyperbandMaxBracket(Rungs("hyperband", 2.7, 3, 3, 0.1)), 3);
  EXPECT_EQ(HyperbandMaxBracket(Rungs("hyperband", 100, 3, 2, 1)), 6);
}

TEST(Hyperband, BracketAssignmentIsDeterministicAndProportionalToTheBudgets) {
  const PrunerConfig config = Rungs("hyperband", 27);
  std::vector<int> count(4, 0);
  int moved_by_seed = 0;
  for (int64_t number = 1; number <= 1000; ++number) {
    const int bracket = HyperbandBracket(config, 42, number);
    ASSERT_GE(bracket, 0);
    ASSERT_LE(bracket, 3);
    EXPECT_EQ(HyperbandBracket(config, 42, number), bracket);
    ++count[bracket];
    if (HyperbandBracket(config, 43, number) != bracket) ++moved_by_seed;
  }
  // Expected 1000 * {27, 12, 6, 4} / 49 = 551, 245, 122, 82; allow about 4 standard deviations.
  EXPECT_NEAR(count[0], 551, 60);
  EXPECT_NEAR(count[1], 245, 55);
  EXPECT_NEAR(count[2], 122, 40);
  EXPECT_NEAR(count[3], 82, 35);
  EXPECT_GT(count[0], count[1]);
  EXPECT_GT(count[1], count[2]);
  EXPECT_GT(count[2], count[3]);
  EXPECT_GT(count[3], 0);
  // The seed matters: two seeds agree on a trial's bracket with probability sum(p^2) = 0.38.
  EXPECT_GT(moved_by_seed, 500);
  EXPECT_LT(moved_by_seed, 750);
}

// The first `count` trial numbers, from 1 up, that seed 42 puts in `bracket`.
std::vector<int64_t> NumbersInBracket(const PrunerConfig& config, int bracket, size_t count) {
  std::vector<int64_t> numbers;
  for (int64_t number = 1; numbers.size() < count; ++number) {
    if (HyperbandBracket(config, 42, number) == bracket) numbers.push_back(number);
  }
  return numbers;
}

TEST(Hyperband, TrialsCompeteOnlyWithinTheirBracket) {
  const PrunerConfig config = Rungs("hyperband", 27);
  auto hyperband = Make(config);
  const std::vector<int64_t> b0 = NumbersInBracket(config, 0, 3);
  const std::vector<int64_t> b1 = NumbersInBracket(config, 1, 4);
  const std::vector<int64_t> b3 = NumbersInBracket(config, 3, 1);

  Experiment e;
  e.seed = 42;
  // Bracket 1 trials are far better at every step; bracket 0 must not see them.
  for (int64_t n : b1) e.Add(n, {{1, 0.9}, {2, 0.9}, {3, 0.9 + 0.001 * n}});
  e.Add(b0[0], {{1, 0.3}});
  e.Add(b0[1], {{1, 0.2}});
  e.Add(b0[2], {{1, 0.4}});
  PrunerVerdict v = e.Check(*hyperband, b0[2], -1);
  ASSERT_EQ(v.kind, Kind::kContinue) << v.rationale;
  EXPECT_EQ(v.evidence["bracket"], 0);
  EXPECT_EQ(v.evidence["competitors"], 3);
  EXPECT_EQ(v.evidence["rank"], 1);
  EXPECT_EQ(
      v.rationale,
      "val_acc 0.4 at step 1 (milestone 1) is within the top 1 of 3 trials in hyperband bracket 0 there "
      "(rank 1; cut-off 0.4, best #" +
          std::to_string(b0[2]) + " 0.4).");
  // ASHA, with one bracket, ranks the same trial 5th of 7.
  v = e.Check(*Make(Rungs("asha", 27)), b0[2], -1);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["competitors"], 7);

  // Bracket 1's ladder starts at 3: steps 1 and 2 decide nothing, step 3 decides among its 4 trials.
  v = e.Check(*hyperband, b1[3], -1);
  ASSERT_EQ(v.kind, Kind::kContinue);
  EXPECT_EQ(v.evidence["milestone"], 3);
  EXPECT_EQ(v.evidence["competitors"], 4);
  EXPECT_FALSE(v.evidence.contains("earlier"));
  Experiment f;
  f.seed = 42;
  for (int64_t n : b0) f.Add(n, {{1, 0.99}, {3, 0.99}});
  f.Add(b1[0], {{3, 0.5}});
  f.Add(b1[1], {{3, 0.6}});
  f.Add(b1[2], {{1, 0.1}, {2, 0.1}});
  EXPECT_EQ(f.Check(*hyperband, b1[2], -1).kind, Kind::kNone);
  f.curves[Experiment::IdOf(b1[2])].push_back({3, 0.55});
  v = f.Check(*hyperband, b1[2], 2);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["milestone"], 3);
  EXPECT_EQ(v.evidence["bracket"], 1);
  EXPECT_EQ(v.evidence["competitors"], 3);
  EXPECT_EQ(v.evidence["best_trial"], b1[1]);
  EXPECT_NE(v.rationale.find("of 3 trials in hyperband bracket 1 there"), std::string::npos) << v.rationale;

  // Bracket 3 starts at 27 = max_step: its trials run to the end undecided.
  Experiment g;
  g.seed = 42;
  g.Add(b3[0], {{1, 0.0}, {3, 0.0}, {9, 0.0}, {27, 0.0}});
  for (int64_t n : b0) g.Add(n, {{1, 0.9}, {3, 0.9}, {9, 0.9}, {27, 0.9}});
  EXPECT_EQ(g.Check(*hyperband, b3[0], -1).kind, Kind::kNone);
}

// ---------------------------------------------------------------------------------------------- median

TEST(Median, PrunesOnlyWhenStrictlyWorseThanTheMedian) {
  // Others' best up to step 4: 0.2, 0.4, 0.6, 0.8 -> median 0.5.
  auto run = [](ObjectiveMode mode, const std::string& metric, std::vector<double> others, double own) {
    Experiment e(mode, metric);
    for (size_t i = 0; i < others.size(); ++i) e.Add(i + 1, {{4, others[i]}, {8, others[i]}});
    e.Add(9, {{4, own}});
    return e.Check(*Make(Median(/*min_trials=*/5)), 9, -1);
  };
  PrunerVerdict v = run(ObjectiveMode::kMaximize, "val_acc", {0.2, 0.4, 0.6, 0.8}, 0.5);
  ASSERT_EQ(v.kind, Kind::kContinue);
  EXPECT_EQ(
      v.rationale,
      "val_acc best 0.5 up to step 4 is not worse than the median 0.5 of 4 other trials' best up to that "
      "step (best #4 0.8).");
  v = run(ObjectiveMode::kMaximize, "val_acc", {0.2, 0.4, 0.6, 0.8}, 0.49);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.rationale,
            "val_acc best 0.49 up to step 4 is worse than the median 0.5 of 4 other trials' best up to that "
            "step (best #4 0.8).");
  EXPECT_EQ(v.evidence, (Json{{"step", 4},
                              {"value", 0.49},
                              {"median", 0.5},
                              {"others", 4},
                              {"best_trial", 4},
                              {"best_value", 0.8}}));
  // Minimizing: lower is better, the best other is the lowest.
  v = run(ObjectiveMode::kMinimize, "val_loss", {0.2, 0.4, 0.6, 0.8}, 0.51);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["best_trial"], 1);
  EXPECT_EQ(v.evidence["best_value"], 0.2);
  EXPECT_EQ(run(ObjectiveMode::kMinimize, "val_loss", {0.2, 0.4, 0.6, 0.8}, 0.5).kind, Kind::kContinue);
  EXPECT_EQ(run(ObjectiveMode::kMinimize, "val_loss", {0.2, 0.4, 0.6, 0.8}, 0.45).kind, Kind::kContinue);
  // An odd count: the middle value.
  v = run(ObjectiveMode::kMaximize, "val_acc", {0.1, 0.7, 0.3, 0.9, 0.5}, 0.45);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["median"], 0.5);
  EXPECT_EQ(v.evidence["others"], 5);
}

TEST(Median, WarmupAndMinTrialsCountingTheTrialItself) {
  Experiment e;
  for (int n = 1; n <= 4; ++n) e.Add(n, {{1, 0.5}, {2, 0.6}, {3, 0.7}, {4, 0.8}});
  e.Add(5, {{1, 0.1}, {2, 0.1}});
  auto median = Make(Median(/*min_trials=*/5, /*warmup_steps=*/3));
  EXPECT_EQ(e.Check(*median, 5, -1).kind, Kind::kNone);  // steps 1 and 2 are in the warmup
  e.curves[Experiment::IdOf(5)].push_back({3, 0.2});
  PrunerVerdict v = e.Check(*median, 5, 2);  // step 3: 4 others = min_trials - 1
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["step"], 3);
  EXPECT_EQ(v.evidence["others"], 4);
  EXPECT_EQ(v.evidence["median"], 0.7);
  EXPECT_EQ(v.evidence["value"], 0.2);

  // One of the four has not trained as far as step 3: 3 others are too few.
  e.curves[Experiment::IdOf(4)] = {{1, 0.5}, {2, 0.6}};
  EXPECT_EQ(e.Check(*median, 5, 2).kind, Kind::kNone);
  // min_trials 4 needs 3 others.
  v = e.Check(*Make(Median(/*min_trials=*/4, /*warmup_steps=*/3)), 5, 2);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["others"], 3);
  // min_trials 1 still needs one other to have a median.
  Experiment alone;
  alone.Add(1, {{5, 0.1}});
  EXPECT_EQ(alone.Check(*Make(Median(/*min_trials=*/1)), 1, -1).kind, Kind::kNone);
}

TEST(Median, ComparesBestSoFarWithOthersBestUpToTheSameStep) {
  Experiment e;
  e.Add(1, {{1, 0.6}, {2, 0.3}, {5, 0.9}}, TrialState::kCompleted);  // best up to 2: 0.6 (0.9 comes later)
  e.Add(2, {{2, 0.4}, {3, 0.95}}, TrialState::kPruned);              // best up to 2: 0.4
  e.Add(3, {{1, 0.99}});                                             // not at step 2 yet: left out
  e.Add(4, {{3, 0.1}});                                              // nothing up to step 2: left out
  auto median = Make(Median(/*min_trials=*/3));
  // The trial dips to 0.1 at step 2, but its best so far, 0.52, is above the median 0.5.
  e.Add(5, {{1, 0.52}, {2, 0.1}});
  PrunerVerdict v = e.Check(*median, 5, 1);
  ASSERT_EQ(v.kind, Kind::kContinue);
  EXPECT_EQ(v.evidence["value"], 0.52);
  EXPECT_EQ(v.evidence["median"], 0.5);
  EXPECT_EQ(v.evidence["others"], 2);
  EXPECT_EQ(v.evidence["best_trial"], 1);
  e.curves[Experiment::IdOf(5)] = {{1, 0.45}, {2, 0.1}};
  v = e.Check(*median, 5, 1);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["value"], 0.45);

  // Both reports new: step 1 has only #1 and #3 at or past it with a report by then (0.6, 0.99: median
  // 0.795), so the trial is pruned at step 1 already and step 2 is not looked at.
  v = e.Check(*median, 5, -1);
  ASSERT_EQ(v.kind, Kind::kPrune);
  EXPECT_EQ(v.evidence["step"], 1);
  EXPECT_EQ(v.evidence["median"], (0.6 + 0.99) / 2);
}

// ---------------------------------------------------------------------------------------------- a whole run

struct SimulationCase {
  std::string pruner;
  ObjectiveMode mode;
};

class SimulatedRun : public ::testing::TestWithParam<SimulationCase> {};

// 30 trials with synthetic learning curves, 5 running at a time, each reporting at steps that skip ahead by
// 1 to 3 up to the last step, 27. Reports arrive one at a time in a random interleaving, and after each one
// the pruner is asked, as the orchestrator does; a pruned trial stops reporting.
//
// The curves rise by 0.15 towards a plateau at the trial's quality. The winner's lead (0.07) is larger than
// what a trial gains between steps 1 and 3 (0.046): with skipped steps, a milestone compares values taken at
// different steps, and a winner that leads by less than that gain could rightly lose a rung to a trial that
// first reported later.
TEST_P(SimulatedRun, EveryTrialEndsPrunedOrCompleteAndTheBestIsNeverPruned) {
  const SimulationCase& param = GetParam();
  constexpr int kTrials = 30;
  constexpr int kParallel = 5;
  constexpr int64_t kLastStep = 27;
  std::mt19937_64 rng(2024);
  const bool maximize = param.mode == ObjectiveMode::kMaximize;

  // Qualities 0.30, 0.32, ..., 0.88 in a shuffled order, and one clear winner at 0.95.
  std::vector<double> quality;
  for (int k = 0; k < kTrials - 1; ++k) quality.push_back(0.30 + 0.02 * k);
  quality.push_back(0.95);
  std::shuffle(quality.begin(), quality.end(), rng);
  const int64_t winner = 1 + (std::max_element(quality.begin(), quality.end()) - quality.begin());
  std::uniform_real_distribution<double> noise(-1, 1);
  auto value_at = [&](int64_t number, int64_t step) {
    const double accuracy = quality[number - 1] - 0.15 * std::exp(-step / 4.0) + 0.002 * noise(rng);
    return maximize ? accuracy : 1 - accuracy;
  };

  Experiment e(param.mode, maximize ? "val_acc" : "val_loss");
  for (int n = 1; n <= kTrials; ++n) e.Add(n, {}, TrialState::kPending);
  PrunerConfig config = param.pruner == "median" ? Median(5, 3) : Rungs(param.pruner, kLastStep);
  auto pruner = Make(config);
  std::map<int64_t, int64_t> checked_up_to;  // trial number -> previous_step
  std::map<int64_t, PrunerVerdict> prunes;
  int promotions = 0;

  auto trial = [&](int64_t number) -> Trial& { return e.trials[number - 1]; };
  int64_t next = 1;
  std::vector<int64_t> running;
  while (next <= kTrials || !running.empty()) {
    while (next <= kTrials && static_cast<int>(running.size()) < kParallel) {
      trial(next).state = TrialState::kRunning;
      checked_up_to[next] = -1;
      running.push_back(next++);
    }
    const size_t pick = std::uniform_int_distribution<size_t>(0, running.size() - 1)(rng);
    const int64_t number = running[pick];
    Curve& curve = e.curves[Experiment::IdOf(number)];
    const int64_t last = curve.empty() ? 0 : curve.back().step;
    const int64_t step = std::min(kLastStep, last + std::uniform_int_distribution<int64_t>(1, 3)(rng));
    curve.push_back({step, value_at(number, step)});

    PrunerVerdict verdict = e.Check(*pruner, number, checked_up_to[number]);
    checked_up_to[number] = step;
    if (verdict.kind == Kind::kContinue) ++promotions;
    if (verdict.kind == Kind::kPrune) {
      trial(number).state = TrialState::kPruned;
      prunes[number] = verdict;
    } else if (step == kLastStep) {
      trial(number).state = TrialState::kCompleted;
    } else {
      continue;
    }
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(pick));
  }

  int completed = 0;
  for (const Trial& t : e.trials) {
    const Curve& curve = e.curves[t.id];
    if (t.state == TrialState::kCompleted) {
      ++completed;
      EXPECT_EQ(curve.back().step, kLastStep) << "#" << t.number;
    } else {
      ASSERT_EQ(t.state, TrialState::kPruned) << "#" << t.number;
      const PrunerVerdict& verdict = prunes.at(t.number);
      EXPECT_EQ(verdict.rationale.rfind(e.objective.metric + " ", 0), 0u) << verdict.rationale;
      // Decided on the report that triggered the check; for rungs, a milestone that report crossed.
      EXPECT_EQ(verdict.evidence["step"], curve.back().step);
      if (param.pruner != "median") {
        const int64_t before = curve.size() > 1 ? curve[curve.size() - 2].step : 0;
        EXPECT_GT(verdict.evidence["milestone"].get<double>(), before);
        EXPECT_LE(verdict.evidence["milestone"].get<double>(), curve.back().step);
      }
    }
  }
  // The pruner did prune, and not everything.
  EXPECT_GE(prunes.size(), 5u);
  EXPECT_GE(completed, 2);
  EXPECT_GT(promotions, 0);
  // The winner ran to the end and is the best of the trials that did.
  EXPECT_EQ(trial(winner).state, TrialState::kCompleted) << prunes[winner].rationale;
  const Trial* best = nullptr;
  for (const Trial& t : e.trials) {
    if (t.state != TrialState::kCompleted) continue;
    if (!best || e.objective.Better(e.curves[t.id].back().value, e.curves[best->id].back().value)) best = &t;
  }
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(best->number, winner);
}

INSTANTIATE_TEST_SUITE_P(Pruners, SimulatedRun,
                         ::testing::Values(SimulationCase{"asha", ObjectiveMode::kMaximize},
                                           SimulationCase{"asha", ObjectiveMode::kMinimize},
                                           SimulationCase{"hyperband", ObjectiveMode::kMaximize},
                                           SimulationCase{"hyperband", ObjectiveMode::kMinimize},
                                           SimulationCase{"median", ObjectiveMode::kMaximize},
                                           SimulationCase{"median", ObjectiveMode::kMinimize}),
                         [](const auto& info) {
                           return info.param.pruner +
                                  (info.param.mode == ObjectiveMode::kMaximize ? "_max" : "_min");
                         });

}  // namespace
}  // namespace hyperion
