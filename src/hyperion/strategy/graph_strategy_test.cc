// Beam search and PBT played through the simulated orchestrator: the graph they build (levels, members,
// parents, spans, restores), the prunes, the end of the search, and that every value is valid.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "hyperion/common/text.h"
#include "hyperion/space/space_testing.h"
#include "hyperion/strategy/beam_search.h"
#include "hyperion/strategy/graph_common.h"
#include "hyperion/strategy/mutation.h"
#include "hyperion/strategy/pbt_search.h"
#include "hyperion/strategy/simulated_run.h"

namespace hyperion {
namespace {

using hyperion::testing::SimulatedRun;

using testing::Bool;
using testing::Choice;
using testing::Float;
using testing::Int;
using testing::When;

// Every kind of parameter: log float, log int, int, float on a step grid, categorical, and momentum and
// nesterov only when the optimizer is sgd.
Space MixedSpace() {
  auto space = Space::Create({Float("lr", 1e-4, 1e-1, true), Int("width", 16, 512, true), Int("depth", 1, 8),
                              Float("dropout", 0, 0.5, false, 0.05), Choice("batch_size", {16, 32, 64, 128}),
                              Choice("optimizer", {"adam", "sgd"}),
                              When(Float("momentum", 0, 0.99), "optimizer", {"sgd"}),
                              When(Bool("nesterov"), "optimizer", {"sgd"})});
  EXPECT_TRUE(space.ok()) << space.status().message();
  return *space;
}

Objective Maximize() {
  Objective objective;
  objective.metric = "val_acc";
  objective.mode = ObjectiveMode::kMaximize;
  return objective;
}

Training Epochs(double max) { return Training{"epochs", max}; }

double Rounded(double x) { return std::round(x * 1000) / 1000; }

// In [0, 1], best at lr 0.01, dropout 0.2, depth 4 (and momentum 0.9 with sgd).
double Quality(const Json& params) {
  double lr = std::log10(params["lr"].get<double>()) + 2;
  double dropout = params["dropout"].get<double>() - 0.2;
  double depth = (params["depth"].get<int64_t>() - 4) / 4.0;
  double q = 1 - 0.2 * lr * lr - dropout * dropout - 0.1 * depth * depth;
  if (params.contains("momentum")) q -= 0.05 * std::abs(params["momentum"].get<double>() - 0.9);
  return q;
}

// Better values and longer training score higher; three decimals, so rationales print them exactly.
double ValAcc(const Trial& t, double max) {
  return Rounded(0.5 + 0.45 * Quality(t.params) * std::sqrt(t.budget_to.value_or(max) / max));
}

int LevelOf(const Trial& t) { return t.evidence.value("level", -1); }
int MemberOf(const Trial& t) { return t.evidence.value("member", -1); }

// Best first, ties to the earlier number: the order both strategies rank by.
std::vector<const Trial*> Ranked(std::vector<const Trial*> trials) {
  std::sort(trials.begin(), trials.end(), [](const Trial* a, const Trial* b) {
    if (*a->value != *b->value) return *a->value > *b->value;
    return a->number < b->number;
  });
  return trials;
}

// The context refers to `space`, `objective` and `trials`: they must outlive it.
StrategyContext Context(const Space& space, const Objective& objective, const std::vector<Trial>& trials,
                        uint64_t seed, Training training) {
  return StrategyContext{space, objective, trials, seed, std::move(training)};
}

// ---------------------------------------------------------------------------------------------------------
// beam

TEST(Beam, MadeByTheFactory) {
  StrategyConfig config;
  config.type = "beam";
  auto strategy = MakeStrategy(config);
  ASSERT_TRUE(strategy.ok());
  EXPECT_EQ((*strategy)->Name(), "beam");
}

TEST(Beam, LevelsSpansRestoresAndPrunesDownToTrainingMax) {
  const Space space = MixedSpace();
  BeamSearch beam(3, 3, 5.0);
  SimulatedRun run(space, Maximize(), Epochs(20), 7);
  run.evaluate = [](const Trial& t) { return ValAcc(t, 20); };
  const std::string end = run.Run(beam, 1000, 4);

  ASSERT_EQ(run.trials.size(), 36u);  // 4 levels of width 3 x branches 3
  std::map<int, std::vector<const Trial*>> levels;
  for (const Trial& t : run.trials) {
    EXPECT_TRUE(space.Validate(t.params).ok()) << t.params.dump();
    EXPECT_FALSE(t.rationale.empty());
    levels[LevelOf(t)].push_back(&t);
  }
  ASSERT_EQ(levels.size(), 4u);
  for (const auto& [l, made] : levels) {
    ASSERT_EQ(made.size(), 9u) << "level " << l;
    for (const Trial* t : made) {
      ASSERT_TRUE(t->budget_from && t->budget_to);
      EXPECT_EQ(*t->budget_from, 5.0 * l) << "#" << t->number;  // spans chain contiguously
      EXPECT_EQ(*t->budget_to, 5.0 * (l + 1)) << "#" << t->number;
      if (l == 0) {
        EXPECT_EQ(t->op, "sample");
        EXPECT_TRUE(t->parents.empty());
        EXPECT_EQ(t->restore_from, "");
        continue;
      }
      ASSERT_EQ(t->parents.size(), 1u);
      const Trial& parent = run.trials.at(t->parents[0] - 1);
      EXPECT_EQ(LevelOf(parent), l - 1);
      EXPECT_EQ(t->restore_from, parent.checkpoint_dir);  // continues from exactly its parent
      EXPECT_EQ(t->restore_from, "ckpt/" + std::to_string(parent.id));
      EXPECT_EQ(*t->budget_from, *parent.budget_to);
      EXPECT_EQ(t->op, "branch");
    }
  }

  // Each level keeps its best 3 by value and prunes the other 6, ranks and cut-off in the rationale.
  std::map<int64_t, const PruneDecision*> prunes;
  for (const auto& p : run.prunes) prunes[p.trial_id] = &p;
  EXPECT_EQ(prunes.size(), 4u * 6);
  for (const auto& [l, made] : levels) {
    std::vector<const Trial*> ranked = Ranked(made);
    std::set<int64_t> top = {ranked[0]->id, ranked[1]->id, ranked[2]->id};
    for (size_t r = 0; r < ranked.size(); ++r) {
      const Trial* t = ranked[r];
      if (r < 3) {
        EXPECT_EQ(t->state, TrialState::kCompleted) << "#" << t->number;
        EXPECT_EQ(prunes.count(t->id), 0u);
        continue;
      }
      EXPECT_EQ(t->state, TrialState::kPruned) << "#" << t->number;
      ASSERT_EQ(prunes.count(t->id), 1u) << "#" << t->number;
      EXPECT_EQ(prunes[t->id]->rationale,
                "#" + std::to_string(t->number) + " ranked " + std::to_string(r + 1) + "th of 9 at epochs " +
                    FormatNumber(5.0 * (l + 1)) + " (val_acc " + FormatNumber(*t->value) +
                    "); the beam keeps 3, cut-off " + FormatNumber(*ranked[2]->value) + " of #" +
                    std::to_string(ranked[2]->number));
      EXPECT_EQ(prunes[t->id]->evidence["rank"], r + 1);
    }
    if (l == 3) continue;
    // The next level: 3 children of each kept node, the first continuing unchanged, its siblings changed.
    std::map<int64_t, std::vector<const Trial*>> children;
    for (const Trial* c : levels[l + 1]) children[c->parents[0]].push_back(c);
    ASSERT_EQ(children.size(), 3u) << "level " << l + 1;
    for (const auto& [parent_id, kids] : children) {
      EXPECT_EQ(top.count(parent_id), 1u) << "#" << parent_id << " was not kept";
      ASSERT_EQ(kids.size(), 3u);
      const Trial& parent = run.trials.at(parent_id - 1);
      EXPECT_EQ(kids[0]->change_label, "continue");
      EXPECT_EQ(kids[0]->params, parent.params);
      std::set<std::string> points = {parent.params.dump()};
      for (size_t k = 1; k < kids.size(); ++k) {
        EXPECT_NE(kids[k]->change_label, "continue");
        EXPECT_EQ(kids[k]->change_label, ChangeLabel(space, parent.params, kids[k]->params));
        EXPECT_TRUE(points.insert(kids[k]->params.dump()).second) << "a sibling repeats " << kids[k]->params;
      }
      // Both mutated siblings move the same parameter, one up and one down (unless a bound blocked one).
      const Json& a = kids[1]->evidence["move"];
      const Json& b = kids[2]->evidence["move"];
      if (a["param"] == b["param"]) {
        EXPECT_EQ(a["direction"].get<int>(), -b["direction"].get<int>());
      }
    }
  }

  const Trial* best = Ranked(levels[3]).front();
  EXPECT_EQ(end, "exhausted: beam finished: level 3 trained to 20 epochs; best #" +
                     std::to_string(best->number) + " (val_acc " + FormatNumber(*best->value) +
                     "), kept 3 of 9");
  // The final level's kept nodes are the results: they stay on the frontier, so retention keeps their
  // checkpoints after the search has ended.
  const Objective objective = Maximize();  // the context refers to it
  StrategyContext context = Context(space, objective, run.trials, 7, Epochs(20));
  const std::vector<const Trial*> final_level = Ranked(levels[3]);
  const std::set<int64_t> kept = {final_level[0]->id, final_level[1]->id, final_level[2]->id};
  EXPECT_EQ(beam.Propose(context).kind, ProposeOutcome::Kind::kExhausted);
  EXPECT_EQ(beam.Frontier(context), kept);
  for (int64_t id : kept) EXPECT_EQ(run.trials.at(id - 1).state, TrialState::kCompleted);
}

TEST(Beam, MutatesTheParameterChangedLongestAgo) {
  const Space space = MixedSpace();
  BeamSearch beam(3, 3, 5.0);
  SimulatedRun run(space, Maximize(), Epochs(20), 3);
  run.evaluate = [](const Trial& t) { return ValAcc(t, 20); };
  run.Run(beam, 1000, 3);
  int checked = 0;
  for (const Trial& t : run.trials) {
    if (!t.evidence.contains("move") || t.parents.empty()) continue;
    const Trial& parent = run.trials.at(t.parents[0] - 1);
    if (!parent.evidence.contains("move")) continue;
    // The parent's own change is the most recent along the line: the child changes something else.
    EXPECT_NE(t.evidence["move"]["param"], parent.evidence["move"]["param"]) << "#" << t.number;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(Beam, FrontierIsTheKeptNodesOfTheLatestFinishedLevel) {
  const Space space = MixedSpace();
  BeamSearch beam(3, 3, 5.0);
  SimulatedRun run(space, Maximize(), Epochs(20), 5);
  run.evaluate = [](const Trial& t) { return ValAcc(t, 20); };
  EXPECT_EQ(run.Run(beam, 9, 3), "budget");
  std::vector<const Trial*> level0;
  for (const Trial& t : run.trials) level0.push_back(&t);
  std::vector<const Trial*> ranked = Ranked(level0);
  const std::set<int64_t> top = {ranked[0]->id, ranked[1]->id, ranked[2]->id};
  EXPECT_EQ(beam.Frontier(Context(space, Maximize(), run.trials, 5, Epochs(20))), top);

  // While the level still runs, every completed trial of it may yet be kept: none may lose its checkpoint.
  std::vector<Trial> midway = run.trials;
  std::set<int64_t> completed;
  for (size_t i = 0; i < midway.size(); ++i) {
    if (i % 3 == 0) {
      midway[i].state = TrialState::kRunning;
      midway[i].value.reset();
    } else {
      completed.insert(midway[i].id);
    }
  }
  EXPECT_EQ(beam.Frontier(Context(space, Maximize(), midway, 5, Epochs(20))), completed);

  // The next proposals continue each kept node in turn, best first, after pruning the rest of level 0.
  EXPECT_EQ(run.Run(beam, 12, 3), "budget");
  EXPECT_EQ(run.prunes.size(), 6u);
  for (int k = 0; k < 3; ++k) {
    const Trial& child = run.trials.at(9 + k);
    EXPECT_EQ(child.parents, std::vector<int64_t>{ranked[k]->id});
    EXPECT_EQ(child.change_label, "continue");
    EXPECT_EQ(child.evidence["child"], 1);
  }
  // Level 1 is still being proposed: its kept parents stay, and so do its completed children.
  std::set<int64_t> frontier = top;
  for (int k = 0; k < 3; ++k) frontier.insert(run.trials.at(9 + k).id);
  EXPECT_EQ(beam.Frontier(Context(space, Maximize(), run.trials, 5, Epochs(20))), frontier);
}

TEST(Beam, WaitsUntilTheWholeLevelHasFinished) {
  const Space space = MixedSpace();
  BeamSearch beam(3, 3, 5.0);
  SimulatedRun run(space, Maximize(), Epochs(20), 5);
  run.evaluate = [](const Trial& t) { return ValAcc(t, 20); };
  run.Run(beam, 9, 9);
  std::vector<Trial> trials = run.trials;
  for (int i = 6; i < 9; ++i) {
    trials[i].state = i == 8 ? TrialState::kInterrupted : TrialState::kRunning;
    trials[i].value.reset();
  }
  ProposeOutcome out = beam.Propose(Context(space, Maximize(), trials, 5, Epochs(20)));
  EXPECT_EQ(out.kind, ProposeOutcome::Kind::kWait);
  EXPECT_EQ(out.reason, "beam: waiting for level 0 (3 of 9 trials still running)");
  EXPECT_TRUE(out.prunes.empty());

  trials.resize(8);  // one sample of level 0 still to propose
  out = beam.Propose(Context(space, Maximize(), trials, 5, Epochs(20)));
  ASSERT_EQ(out.kind, ProposeOutcome::Kind::kProposal);
  EXPECT_EQ(out.proposal.op, "sample");
  EXPECT_EQ(out.proposal.evidence["sample"], 9);
  EXPECT_EQ(*out.proposal.budget_from, 0);
  EXPECT_EQ(*out.proposal.budget_to, 5);
}

TEST(Beam, TiesGoToTheEarlierTrial) {
  const Space space = MixedSpace();
  BeamSearch beam(3, 3, 10.0);
  SimulatedRun run(space, Maximize(), Epochs(20), 1);
  run.evaluate = [](const Trial&) { return 0.5; };
  run.Run(beam, 10, 1);
  ASSERT_EQ(run.prunes.size(), 6u);
  EXPECT_EQ(run.prunes[0].trial_id, 4);
  EXPECT_EQ(run.prunes[0].rationale,
            "#4 ranked 4th of 9 at epochs 10 (val_acc 0.5); the beam keeps 3, cut-off 0.5 of #3");
  EXPECT_EQ(run.trials.at(9).parents, std::vector<int64_t>{1});
}

TEST(Beam, FailedTrialsAreNeverKept) {
  const Space space = MixedSpace();
  BeamSearch beam(2, 2, 5.0);
  SimulatedRun run(space, Maximize(), Epochs(10), 2);
  run.evaluate = [](const Trial& t) -> std::optional<double> {
    if (t.number <= 2) return std::nullopt;  // the first two fail
    return ValAcc(t, 10);
  };
  EXPECT_EQ(run.Run(beam, 1000, 2).rfind("exhausted: beam finished: level 1 trained to 10 epochs", 0), 0u);
  std::set<int64_t> parents;
  for (const Trial& t : run.trials) {
    if (!t.parents.empty()) parents.insert(t.parents[0]);
  }
  EXPECT_EQ(parents, (std::set<int64_t>{3, 4}));  // the only completed trials of level 0
  EXPECT_EQ(run.prunes.size(), 2u);               // level 1 only: 4 completed, keeps 2

  SimulatedRun failing(space, Maximize(), Epochs(10), 2);
  failing.evaluate = [](const Trial&) -> std::optional<double> { return std::nullopt; };
  EXPECT_EQ(failing.Run(beam, 1000, 2),
            "exhausted: beam: no trial of level 0 completed (4 failed); nothing to branch from");
}

TEST(Beam, ANodeWhoseCheckpointIsGoneTrainsItsChildFromScratch) {
  const Space space = MixedSpace();
  BeamSearch beam(3, 3, 5.0);
  SimulatedRun run(space, Maximize(), Epochs(20), 5);
  run.evaluate = [](const Trial& t) { return ValAcc(t, 20); };
  run.Run(beam, 9, 3);
  std::vector<Trial> trials = run.trials;
  std::vector<const Trial*> all;
  for (const Trial& t : trials) all.push_back(&t);
  Trial& best = trials.at(Ranked(all).front()->number - 1);
  best.checkpoint_dir = "";  // removed by retention
  ProposeOutcome out = beam.Propose(Context(space, Maximize(), trials, 5, Epochs(20)));
  ASSERT_EQ(out.kind, ProposeOutcome::Kind::kProposal);
  EXPECT_EQ(out.proposal.parents, std::vector<int64_t>{best.id});
  EXPECT_FALSE(out.proposal.restore);
  EXPECT_EQ(*out.proposal.budget_from, 0);
  EXPECT_EQ(*out.proposal.budget_to, 10);
  EXPECT_NE(out.proposal.rationale.find("its checkpoint is gone, so it trains from scratch, epochs 0->10"),
            std::string::npos)
      << out.proposal.rationale;
  EXPECT_EQ(out.prunes.size(), 6u);
}

TEST(Beam, SameSeedSameGraph) {
  const Space space = MixedSpace();
  auto play = [&](uint64_t seed) {
    BeamSearch beam(2, 3, 4.0);
    SimulatedRun run(space, Maximize(), Epochs(12), seed);
    run.evaluate = [](const Trial& t) { return ValAcc(t, 12); };
    run.Run(beam, 1000, 3);
    return run.trials;
  };
  std::vector<Trial> a = play(42), b = play(42), c = play(43);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].params, b[i].params);
    EXPECT_EQ(a[i].parents, b[i].parents);
    EXPECT_EQ(a[i].change_label, b[i].change_label);
    EXPECT_EQ(a[i].rationale, b[i].rationale);
  }
  EXPECT_NE(a[0].params, c[0].params);
}

TEST(Beam, EveryProposalIsValidWhateverTheParameterKinds) {
  const Space space = MixedSpace();
  for (uint64_t seed = 0; seed < 6; ++seed) {
    for (bool training : {true, false}) {
      BeamSearch beam(2, 4, 3.0);
      SimulatedRun run(space, Maximize(), training ? Epochs(12) : Training{}, seed);
      run.evaluate = [](const Trial& t) { return ValAcc(t, 12); };
      run.Run(beam, 48, 2);
      EXPECT_EQ(run.trials.size(), training ? 32u : 48u);  // 4 levels of 8 to epochs 12, or the budget
      for (const Trial& t : run.trials) {
        Status valid = space.Validate(t.params);
        EXPECT_TRUE(valid.ok()) << "seed " << seed << " #" << t.number << ": " << valid.message();
        // The label says what changed, activation of momentum and nesterov included.
        if (t.op == "branch" && t.change_label != "continue") {
          EXPECT_EQ(t.change_label, ChangeLabel(space, run.trials.at(t.parents[0] - 1).params, t.params));
        }
      }
    }
  }
}

TEST(Beam, WithoutTrainingALocalSearchThatKeepsItsBest) {
  const Space space = MixedSpace();
  BeamSearch beam(2, 3, std::nullopt);
  SimulatedRun run(space, Maximize(), Training{}, 9);
  run.evaluate = [](const Trial& t) { return ValAcc(t, 1); };
  EXPECT_EQ(run.Run(beam, 30, 2), "budget");  // never exhausted by itself
  ASSERT_EQ(run.trials.size(), 30u);
  std::map<int, int> sizes;
  for (const Trial& t : run.trials) {
    ++sizes[LevelOf(t)];
    EXPECT_FALSE(t.budget_from || t.budget_to);
    EXPECT_EQ(t.restore_from, "");
    EXPECT_NE(t.change_label, "continue");  // a rerun of the same point would teach nothing
  }
  EXPECT_EQ(sizes, (std::map<int, int>{{0, 6}, {1, 6}, {2, 6}, {3, 6}, {4, 6}}));
  EXPECT_EQ(TakenPoints(run.trials).size(), 30u);  // no point runs twice

  // Kept nodes are ranked again with their children, and pruned when their children beat them; the best
  // trial so far is never pruned.
  int carried = 0;
  for (const auto& p : run.prunes)
    carried += p.evidence["level"].get<int>() > LevelOf(run.trials.at(p.trial_id - 1));
  EXPECT_GT(carried, 0);
  std::vector<const Trial*> all;
  for (const Trial& t : run.trials) all.push_back(&t);
  EXPECT_EQ(Ranked(all).front()->state, TrialState::kCompleted);
}

// ---------------------------------------------------------------------------------------------------------
// pbt

// lr on a log scale, weight decay, an int batch size on a step of 16, a log int, a step float, and momentum
// only for sgd.
Space PbtSpace() {
  auto space = Space::Create({Float("lr", 1e-4, 1, true), Float("wd", 1e-6, 1e-2, true),
                              Int("batch_size", 16, 256, false, 16), Int("layers", 1, 64, true),
                              Float("dropout", 0, 0.5, false, 0.05), Choice("optimizer", {"adam", "sgd"}),
                              When(Float("momentum", 0.5, 0.99), "optimizer", {"sgd"})});
  EXPECT_TRUE(space.ok()) << space.status().message();
  return *space;
}

// How fast a member learns with this learning rate: 1 at lr 0.01, 0 at 1e-4 and 1.
double Rate(const Json& params) {
  double d = std::log10(params["lr"].get<double>()) + 2;
  return 1 - d * d / 4;
}

// Training moves the value toward what the learning rate can reach (Rate), from the restored checkpoint's
// value: a good checkpoint trained on with a bad rate gets worse, as it would for real.
void LearnFromLr(SimulatedRun& run) {
  run.evaluate = [&run](const Trial& t) -> std::optional<double> {
    double start = t.restore_from.empty() ? 0 : *run.trials.at(t.parents[0] - 1).value;
    return Rate(t.params) + (start - Rate(t.params)) * std::exp(-(*t.budget_to - *t.budget_from) / 4);
  };
}

// What each member's latest completed trial was when `t` was proposed (the trials that had ended by then).
std::map<int, const Trial*> LatestCompletedAt(const std::vector<Trial>& trials, const Trial& t) {
  std::map<int, const Trial*> latest;
  for (const Trial& u : trials) {
    if (u.number < t.number && u.ended_at && *u.ended_at <= *t.created_at &&
        u.state == TrialState::kCompleted) {
      latest[MemberOf(u)] = &u;
    }
  }
  return latest;
}

// The label explore's record calls for, parameter by parameter: "lr x1.2" only where the value was really
// multiplied by the recorded factor, "lr resampled 0.00078->0.0062" for a fresh draw, "a->b" otherwise.
std::string ExploreLabel(const Space& space, const Json& from, const Trial& t) {
  std::vector<std::string> parts;
  for (const ParamSpec& spec : space.params()) {
    const bool in_from = from.contains(spec.name), in_to = t.params.contains(spec.name);
    if (!in_from && !in_to) continue;
    if (in_from && in_to && SameTypedValue(from[spec.name], t.params[spec.name])) continue;
    if (!in_from) {
      EXPECT_EQ(t.evidence["explore"][spec.name], "new");
      parts.push_back("+" + spec.name + " " + LabelValue(t.params[spec.name]));
      continue;
    }
    if (!in_to) {
      parts.push_back("-" + spec.name);
      continue;
    }
    const Json& how = t.evidence["explore"][spec.name];
    const std::string values = LabelValue(from[spec.name]) + "->" + LabelValue(t.params[spec.name]);
    if (how == "resampled") {
      parts.push_back(spec.name + " resampled " + values);
    } else if (!IsChoice(spec) && std::abs(t.params[spec.name].get<double>() -
                                           from[spec.name].get<double>() * how.get<double>()) <
                                      1e-9 * std::abs(from[spec.name].get<double>())) {
      parts.push_back(spec.name + " x" + (how.get<double>() > 1 ? "1.2" : "0.8"));
    } else {
      parts.push_back(spec.name + " " + values);
    }
  }
  return parts.empty() ? "no change" : JoinStrings(parts, ", ");
}

TEST(Pbt, MadeByTheFactory) {
  StrategyConfig config;
  config.type = "pbt";
  auto strategy = MakeStrategy(config);
  ASSERT_TRUE(strategy.ok());
  EXPECT_EQ((*strategy)->Name(), "pbt");
}

TEST(Pbt, ExploitsTheTopQuantileAndTrainsEveryMemberToTheEnd) {
  const Space space = PbtSpace();
  PbtSearch pbt(8, 5.0, 0.25, 0.25);
  SimulatedRun run(space, Maximize(), Epochs(20), 11);
  LearnFromLr(run);
  const std::string end = run.Run(pbt, 1000, 8);
  ASSERT_GE(run.trials.size(), 32u);

  for (int i = 0; i < 8; ++i) {  // one fresh sample per member
    const Trial& t = run.trials[i];
    EXPECT_EQ(t.op, "sample");
    EXPECT_EQ(MemberOf(t), i);
    EXPECT_TRUE(t.parents.empty());
    EXPECT_EQ(t.restore_from, "");
    EXPECT_EQ(*t.budget_from, 0);
    EXPECT_EQ(*t.budget_to, 5);
  }
  int exploits = 0, continues = 0, resampled = 0, factors = 0;
  for (size_t i = 8; i < run.trials.size(); ++i) {
    const Trial& t = run.trials[i];
    SCOPED_TRACE("#" + std::to_string(t.number));
    Status valid = space.Validate(t.params);  // in bounds, on the step grid, ints stay ints
    EXPECT_TRUE(valid.ok()) << valid.message();
    ASSERT_EQ(t.parents.size(), 1u);
    const Trial& parent = run.trials.at(t.parents[0] - 1);
    EXPECT_EQ(t.restore_from, parent.checkpoint_dir);
    EXPECT_EQ(*t.budget_from, *parent.budget_to);
    EXPECT_EQ(*t.budget_to, std::min(*parent.budget_to + 5, 20.0));
    const int member = MemberOf(t);
    std::map<int, const Trial*> seen = LatestCompletedAt(run.trials, t);
    if (t.op == "branch") {
      ++continues;
      EXPECT_EQ(t.change_label, "continue");
      EXPECT_EQ(t.params, parent.params);
      EXPECT_EQ(seen[member], &parent);  // its own latest trial
      continue;
    }
    ASSERT_EQ(t.op, "exploit");
    ++exploits;
    const int donor = MemberOf(parent);
    EXPECT_NE(donor, member);  // never the member's own trial
    EXPECT_EQ(t.evidence["donor_member"], donor);
    EXPECT_EQ(t.evidence["donor_trial"], parent.number);
    EXPECT_EQ(seen[donor], &parent);  // the donor's latest completed trial
    EXPECT_EQ(t.change_label,
              "exploit #" + std::to_string(parent.number) + ": " + ExploreLabel(space, parent.params, t));

    // Ranks recomputed from what had finished: the member in the bottom quantile, the donor in the top.
    const double at = *seen[member]->budget_to;
    std::vector<const Trial*> compared;
    for (const auto& [m, latest] : seen) {
      if (*latest->budget_to >= at) compared.push_back(latest);
    }
    std::vector<const Trial*> ranked = Ranked(compared);
    const int n = static_cast<int>(ranked.size());
    const int count = std::min(static_cast<int>(std::ceil(n * 0.25)), n / 2);
    auto rank_of = [&](const Trial* x) {
      return static_cast<int>(std::find(ranked.begin(), ranked.end(), x) - ranked.begin()) + 1;
    };
    EXPECT_EQ(t.evidence["compared"], n);
    EXPECT_EQ(t.evidence["quantile_count"], count);
    EXPECT_EQ(t.evidence["member_rank"], rank_of(seen[member]));
    EXPECT_EQ(t.evidence["donor_rank"], rank_of(&parent));
    EXPECT_GT(rank_of(seen[member]), n - count);
    EXPECT_LE(rank_of(&parent), count);

    // Explore: x0.8 or x1.2 (clamped at the bounds), or a fresh draw flagged as such.
    for (const auto& [name, how] : t.evidence["explore"].items()) {
      ASSERT_TRUE(t.params.contains(name));
      if (how == "resampled" || how == "new") {
        ++resampled;
        continue;
      }
      ++factors;
      const double factor = how.get<double>();
      EXPECT_TRUE(factor == 0.8 || factor == 1.2) << name << " " << how;
      const ParamSpec* spec = space.Find(name);
      if (spec->type == ParamType::kFloat && spec->log) {
        double moved = t.params[name].get<double>(), from = parent.params[name].get<double>();
        if (moved != spec->low && moved != spec->high) {
          EXPECT_NEAR(moved / from, factor, 1e-9) << name;
        }
      }
      if (spec->type == ParamType::kInt) {
        EXPECT_TRUE(t.params[name].is_number_integer()) << name;
      }
    }
  }
  EXPECT_GT(exploits, 0);
  EXPECT_GT(continues, 0);
  EXPECT_GT(factors, 0);
  EXPECT_GT(resampled, 0);

  // Every member trained to the end; the frontier is each member's latest completed trial.
  std::map<int, const Trial*> last;
  for (const Trial& t : run.trials) last[MemberOf(t)] = &t;
  ASSERT_EQ(last.size(), 8u);
  std::set<int64_t> latest;
  std::vector<const Trial*> finals;
  for (const auto& [m, t] : last) {
    EXPECT_EQ(t->state, TrialState::kCompleted);
    EXPECT_EQ(*t->budget_to, 20);
    latest.insert(t->id);
    finals.push_back(t);
  }
  const Objective objective = Maximize();  // the context refers to it
  StrategyContext context = Context(space, objective, run.trials, 11, Epochs(20));
  EXPECT_EQ(pbt.Frontier(context), latest);
  const Trial* best = Ranked(finals).front();
  EXPECT_EQ(end, "exhausted: pbt finished: every member trained to 20 epochs; best member " +
                     std::to_string(MemberOf(*best)) + " (#" + std::to_string(best->number) + ", val_acc " +
                     graph::Brief(*best->value) + ")");
}

TEST(Pbt, ImprovesOnTheFirstSpanThroughTheLearningRate) {
  const Space space = PbtSpace();
  double gain = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    PbtSearch pbt(8, 4.0, 0.25, 0.25);
    SimulatedRun run(space, Maximize(), Epochs(24), seed);
    LearnFromLr(run);
    run.Run(pbt, 1000, 8);
    // Left alone, each member would end near Rate(its first lr): what PBT has to beat.
    double alone = 0, first_mean = 0, first_best = 0, final_mean = 0, final_best = 0;
    std::map<int, const Trial*> last;
    for (const Trial& t : run.trials) last[MemberOf(t)] = &t;
    for (int i = 0; i < 8; ++i) {
      alone += Rate(run.trials[i].params) / 8;
      first_mean += *run.trials[i].value / 8;
      first_best = std::max(first_best, *run.trials[i].value);
      final_mean += *last[i]->value / 8;
      final_best = std::max(final_best, *last[i]->value);
    }
    EXPECT_GT(final_mean, first_mean) << "seed " << seed;
    EXPECT_GT(final_best, first_best) << "seed " << seed;
    EXPECT_GT(final_mean, alone + 0.03) << "seed " << seed;
    gain += (final_mean - alone) / 10;
  }
  EXPECT_GT(gain, 0.15);  // 0.18 with these seeds: the population moved to better learning rates
}

TEST(Pbt, RestartsAFailedMemberFromTheBestMember) {
  const Space space = PbtSpace();
  PbtSearch pbt(4, 5.0, 0.25, 0.0);
  SimulatedRun run(space, Maximize(), Epochs(20), 4);
  auto learn = [&run](const Trial& t) -> std::optional<double> {
    if (t.number == 6) return std::nullopt;
    double start = t.restore_from.empty() ? 0 : *run.trials.at(t.parents[0] - 1).value;
    return start + (*t.budget_to - *t.budget_from) * Rate(t.params);
  };
  run.evaluate = learn;
  const std::string end = run.Run(pbt, 1000, 4);
  EXPECT_EQ(end.rfind("exhausted: pbt finished: every member trained to 20 epochs", 0), 0u) << end;
  const Trial& failed = run.trials.at(5);
  ASSERT_EQ(failed.state, TrialState::kFailed);
  const Trial* restart = nullptr;
  for (const Trial& t : run.trials) {
    if (t.number > failed.number && MemberOf(t) == MemberOf(failed) && !restart) restart = &t;
  }
  ASSERT_TRUE(restart);
  EXPECT_EQ(restart->op, "exploit");
  EXPECT_EQ(restart->evidence["restart_after"], 6);
  EXPECT_EQ(restart->evidence["restart_state"], "failed");
  EXPECT_NE(restart->rationale.find("its latest trial #6 failed"), std::string::npos) << restart->rationale;
  // The donor: the best latest completed trial of another member when the restart was proposed.
  std::map<int, const Trial*> seen = LatestCompletedAt(run.trials, *restart);
  std::vector<const Trial*> others;
  for (const auto& [m, t] : seen) {
    if (m != MemberOf(failed) && *t->budget_to < 20) others.push_back(t);
  }
  ASSERT_FALSE(others.empty());
  EXPECT_EQ(restart->parents, std::vector<int64_t>{Ranked(others).front()->id});
  EXPECT_EQ(restart->restore_from, Ranked(others).front()->checkpoint_dir);
}

TEST(Pbt, WaitsForRunningMembersAndFrontierFollowsTheirLatestTrials) {
  const Space space = PbtSpace();
  PbtSearch pbt(4, 5.0, 0.25, 0.25);
  SimulatedRun run(space, Maximize(), Epochs(20), 8);
  LearnFromLr(run);
  run.Run(pbt, 4, 4);
  std::vector<Trial> trials = run.trials;
  for (Trial& t : trials) {
    t.state = TrialState::kRunning;
    t.value.reset();
  }
  ProposeOutcome out = pbt.Propose(Context(space, Maximize(), trials, 8, Epochs(20)));
  EXPECT_EQ(out.kind, ProposeOutcome::Kind::kWait);
  EXPECT_EQ(out.reason, "pbt: waiting for members 0, 1, 2, 3 (4 of 4 still training)");
  EXPECT_TRUE(pbt.Frontier(Context(space, Maximize(), trials, 8, Epochs(20))).empty());

  run.Run(pbt, 11, 4);
  std::map<int, int64_t> latest;
  for (const Trial& t : run.trials) {
    if (t.state == TrialState::kCompleted) latest[MemberOf(t)] = t.id;
  }
  std::set<int64_t> expected;
  for (const auto& [m, id] : latest) expected.insert(id);
  EXPECT_EQ(expected.size(), 4u);
  EXPECT_EQ(pbt.Frontier(Context(space, Maximize(), run.trials, 8, Epochs(20))), expected);
}

TEST(Pbt, AMemberWhoseCheckpointIsGoneRestartsFromAnother) {
  const Space space = PbtSpace();
  PbtSearch pbt(4, 5.0, 0.25, 0.25);
  SimulatedRun run(space, Maximize(), Epochs(20), 8);
  LearnFromLr(run);
  run.Run(pbt, 4, 4);
  std::vector<Trial> trials = run.trials;
  trials[0].checkpoint_dir = "";  // member 0, the first to finish
  ProposeOutcome out = pbt.Propose(Context(space, Maximize(), trials, 8, Epochs(20)));
  ASSERT_EQ(out.kind, ProposeOutcome::Kind::kProposal);
  EXPECT_EQ(out.proposal.op, "exploit");
  EXPECT_EQ(out.proposal.evidence["member"], 0);
  EXPECT_EQ(out.proposal.evidence["restart_after"], 1);
  EXPECT_NE(out.proposal.parents, std::vector<int64_t>{1});
  EXPECT_NE(out.proposal.rationale.find("its latest trial #1 has no checkpoint left"), std::string::npos)
      << out.proposal.rationale;
}

TEST(Pbt, SameSeedSameRun) {
  const Space space = PbtSpace();
  auto play = [&](uint64_t seed) {
    PbtSearch pbt(6, 5.0, 0.5, 0.25);
    SimulatedRun run(space, Maximize(), Epochs(20), seed);
    LearnFromLr(run);
    run.Run(pbt, 1000, 3);
    return run.trials;
  };
  std::vector<Trial> a = play(21), b = play(21), c = play(22);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].params, b[i].params);
    EXPECT_EQ(a[i].parents, b[i].parents);
    EXPECT_EQ(a[i].rationale, b[i].rationale);
  }
  EXPECT_NE(a[0].params, c[0].params);
}

TEST(Pbt, NeedsATrainingBudget) {
  const Space space = PbtSpace();
  PbtSearch pbt(4, std::nullopt, 0.25, 0.25);
  std::vector<Trial> none;
  ProposeOutcome out = pbt.Propose(Context(space, Maximize(), none, 1, Training{}));
  EXPECT_EQ(out.kind, ProposeOutcome::Kind::kExhausted);
  EXPECT_EQ(
      out.reason,
      "pbt needs a training budget to train its members in spans; add training: {unit: epochs, max: 20}");
}

// A finished PBT trial of `member`, trained from..to, as the orchestrator records it (failed without a
// value).
Trial PbtTrial(int64_t number, int member, const Json& params, std::optional<double> value, double from,
               double to, double ended) {
  Trial t;
  t.id = t.number = number;
  t.state = value ? TrialState::kCompleted : TrialState::kFailed;
  t.value = value;
  t.params = params;
  t.evidence = Json{{"member", member}};
  t.budget_from = from;
  t.budget_to = to;
  t.checkpoint_dir = "ckpt/" + std::to_string(number);
  t.created_at = 0;
  t.ended_at = ended;
  return t;
}

TEST(Pbt, LabelsSayWhatExploreDidToEachParameter) {
  const Space space = *Space::Create({Float("lr", 1e-4, 1, true), Int("batch_size", 16, 256, false, 16),
                                      Choice("optimizer", {"adam", "sgd"})});
  const Json strong = {{"lr", 0.01}, {"batch_size", 64}, {"optimizer", "adam"}};
  const Json weak = {{"lr", 0.001}, {"batch_size", 128}, {"optimizer", "sgd"}};
  // Member 1 finished first and ranks 2nd of 2: it exploits member 0's #1.
  const std::vector<Trial> trials = {PbtTrial(1, 0, strong, 0.9, 0, 5, 2),
                                     PbtTrial(2, 1, weak, 0.1, 0, 5, 1)};

  // Perturbed only: "x0.8" and "x1.2" where the value was multiplied by exactly that, the values where the
  // step grid moved it (64 x1.2 = 76.8 lands on 80, 64 x0.8 = 51.2 on 48), a choice moved to its neighbour.
  std::set<std::string> labels;
  for (uint64_t seed = 0; seed < 16; ++seed) {
    PbtSearch pbt(2, 5.0, 0.25, 0.0);
    ProposeOutcome out = pbt.Propose(Context(space, Maximize(), trials, seed, Epochs(20)));
    ASSERT_EQ(out.kind, ProposeOutcome::Kind::kProposal);
    const Proposal& p = out.proposal;
    ASSERT_EQ(p.op, "exploit");
    ASSERT_EQ(p.parents, std::vector<int64_t>{1});
    const Json& explore = p.evidence["explore"];
    const bool lr_up = explore["lr"] == 1.2, batch_up = explore["batch_size"] == 1.2;
    EXPECT_NEAR(p.params["lr"].get<double>(), lr_up ? 0.012 : 0.008, 1e-12);
    EXPECT_EQ(p.params["batch_size"], batch_up ? 80 : 48);
    std::string label = std::string(lr_up ? "lr x1.2" : "lr x0.8") +
                        (batch_up ? ", batch_size 64->80" : ", batch_size 64->48");
    if (explore["optimizer"] == 1.2) {
      EXPECT_EQ(p.params["optimizer"], "sgd");
      label += ", optimizer adam->sgd";
    } else {
      EXPECT_EQ(p.params["optimizer"], "adam");  // already the first choice: unchanged, left out
    }
    EXPECT_EQ(p.change_label, "exploit #1: " + label);
    EXPECT_NE(p.rationale.find(", restoring its checkpoint, explore " + label + ", train epochs 5->10."),
              std::string::npos)
        << p.rationale;
    labels.insert(p.change_label);
  }
  EXPECT_GE(labels.size(), 4u);

  // Resampled: the label says so and shows both values, never a made-up multiplier ("lr x7.9").
  for (uint64_t seed = 0; seed < 16; ++seed) {
    PbtSearch pbt(2, 5.0, 0.25, 1.0);
    ProposeOutcome out = pbt.Propose(Context(space, Maximize(), trials, seed, Epochs(20)));
    ASSERT_EQ(out.kind, ProposeOutcome::Kind::kProposal);
    const Proposal& p = out.proposal;
    std::vector<std::string> parts;
    for (const std::string name : {"lr", "batch_size", "optimizer"}) {
      EXPECT_EQ(p.evidence["explore"][name], "resampled");
      if (SameTypedValue(strong[name], p.params[name])) continue;
      parts.push_back(name + " resampled " + LabelValue(strong[name]) + "->" + LabelValue(p.params[name]));
    }
    ASSERT_FALSE(parts.empty());
    EXPECT_EQ(parts[0].rfind("lr resampled 0.01->", 0), 0u);
    const std::string label = JoinStrings(parts, ", ");
    EXPECT_EQ(p.change_label, "exploit #1: " + label);
    EXPECT_EQ(p.change_label.find(" x"), std::string::npos) << p.change_label;
    EXPECT_NE(p.rationale.find("explore " + label + ", train"), std::string::npos) << p.rationale;
  }
}

TEST(Pbt, StopsWhenEveryMembersLastTwoTrialsFailed) {
  const Space space = PbtSpace();
  PbtSearch pbt(4, 5.0, 0.25, 0.25);
  SimulatedRun run(space, Maximize(), Epochs(20), 3);
  // The training script crashes whenever it restores a checkpoint: only the fresh samples complete.
  run.evaluate = [](const Trial& t) -> std::optional<double> {
    if (!t.parents.empty()) return std::nullopt;
    return Rate(t.params);
  };
  const std::string end = run.Run(pbt, 1000, 4);

  // Per member a sample, a failed span and a failed restart: 12 trials, then the run ends by itself.
  ASSERT_EQ(run.trials.size(), 12u);
  std::map<int, std::vector<const Trial*>> by_member;
  for (const Trial& t : run.trials) by_member[MemberOf(t)].push_back(&t);
  ASSERT_EQ(by_member.size(), 4u);
  std::vector<std::string> details;
  for (const auto& [m, trials] : by_member) {
    SCOPED_TRACE("member " + std::to_string(m));
    ASSERT_EQ(trials.size(), 3u);
    EXPECT_EQ(trials[0]->state, TrialState::kCompleted);
    EXPECT_EQ(trials[1]->state, TrialState::kFailed);
    EXPECT_EQ(trials[2]->state, TrialState::kFailed);
    EXPECT_EQ(trials[2]->op, "exploit");
    EXPECT_EQ(trials[2]->evidence["restart_after"], trials[1]->number);
    details.push_back("member " + std::to_string(m) + ": #" + std::to_string(trials[1]->number) + ", #" +
                      std::to_string(trials[2]->number));
  }
  EXPECT_EQ(end, "exhausted: pbt stopped: every member's last two trials failed (" +
                     JoinStrings(details, "; ") + ")");

  // The reason quotes the error of each member's latest trial; a timeout reads as such.
  std::vector<Trial> trials = run.trials;
  const Trial& last0 = *by_member[0][2];
  trials.at(last0.number - 1).error = "exit code 1: RuntimeError: cannot load checkpoint\nmore";
  trials.at(by_member[1][1]->number - 1).state = TrialState::kTimedOut;
  const Objective objective = Maximize();  // the context refers to it
  StrategyContext context = Context(space, objective, trials, 3, Epochs(20));
  ProposeOutcome out = pbt.Propose(context);
  ASSERT_EQ(out.kind, ProposeOutcome::Kind::kExhausted);
  details[0] += ": exit code 1: RuntimeError: cannot load checkpoint";
  EXPECT_EQ(out.reason, "pbt stopped: every member's last two trials failed or timed out (" +
                            JoinStrings(details, "; ") + ")");

  // Each member's sample, its latest completed trial, stays on the frontier after the end.
  EXPECT_EQ(pbt.Frontier(context), (std::set<int64_t>{1, 2, 3, 4}));
}

TEST(Pbt, RetiresAMemberWhoseLastTwoTrialsFailedAndTrainsTheOthersToTheEnd) {
  const Space space = PbtSpace();
  PbtSearch pbt(4, 5.0, 0.25, 0.25);
  SimulatedRun run(space, Maximize(), Epochs(20), 5);
  run.evaluate = [&run](const Trial& t) -> std::optional<double> {
    if (MemberOf(t) == 0 && !t.parents.empty()) return std::nullopt;  // member 0 crashes on every restore
    double start = t.restore_from.empty() ? 0 : *run.trials.at(t.parents[0] - 1).value;
    return Rate(t.params) + (start - Rate(t.params)) * std::exp(-(*t.budget_to - *t.budget_from) / 4);
  };
  const std::string end = run.Run(pbt, 1000, 4);

  std::vector<const Trial*> zero;
  std::map<int, const Trial*> last;
  for (const Trial& t : run.trials) {
    if (MemberOf(t) == 0) zero.push_back(&t);
    last[MemberOf(t)] = &t;
  }
  ASSERT_EQ(zero.size(), 3u);  // its sample, a failed span and a failed restart; then no more
  const Trial& a = *zero[1];
  const Trial& b = *zero[2];
  EXPECT_EQ(a.state, TrialState::kFailed);
  EXPECT_EQ(b.state, TrialState::kFailed);
  std::vector<const Trial*> finals;
  std::set<int64_t> frontier = {zero[0]->id};
  for (int m = 1; m < 4; ++m) {
    EXPECT_EQ(last[m]->state, TrialState::kCompleted);
    EXPECT_EQ(*last[m]->budget_to, 20);
    finals.push_back(last[m]);
    frontier.insert(last[m]->id);
  }
  const Trial* best = Ranked(finals).front();
  const std::string ab = "#" + std::to_string(a.number) + ", #" + std::to_string(b.number);
  EXPECT_EQ(end, "exhausted: pbt finished: member 0 retired (last two trials failed: " + ab +
                     "); the others trained to 20 epochs; best member " + std::to_string(MemberOf(*best)) +
                     " (#" + std::to_string(best->number) + ", val_acc " + graph::Brief(*best->value) + ")");
  EXPECT_EQ(pbt.Frontier(Context(space, Maximize(), run.trials, 5, Epochs(20))), frontier);

  // The first proposal made after #b failed announces the retirement, once.
  const Trial* next = nullptr;
  int announcements = 0;
  for (const Trial& t : run.trials) {
    if (!next && t.number > b.number && *t.created_at >= *b.ended_at) next = &t;
    announcements += t.evidence.contains("retired");
  }
  ASSERT_TRUE(next);
  EXPECT_EQ(announcements, 1);
  EXPECT_EQ(next->evidence["retired"],
            Json::parse("[{\"member\": 0, \"trials\": [" + std::to_string(a.number) + ", " +
                        std::to_string(b.number) + "]}]"));
  const std::string sentence =
      " Member 0 retired: its last two trials failed (" + ab + "), so it gets no more trials.";
  ASSERT_GE(next->rationale.size(), sentence.size());
  EXPECT_EQ(next->rationale.substr(next->rationale.size() - sentence.size()), sentence);
}

TEST(Pbt, AMemberThatIsWaitingIsNotRetired) {
  const Space space = PbtSpace();
  PbtSearch pbt(4, 5.0, 0.25, 0.25);
  SimulatedRun run(space, Maximize(), Epochs(20), 5);
  run.evaluate = [](const Trial& t) -> std::optional<double> {
    if (MemberOf(t) == 0 && !t.parents.empty()) return std::nullopt;
    return Rate(t.params) * *t.budget_to / 20;
  };
  run.Run(pbt, 1000, 4);
  std::vector<const Trial*> zero;
  for (const Trial& t : run.trials) {
    if (MemberOf(t) == 0) zero.push_back(&t);
  }
  ASSERT_EQ(zero.size(), 3u);
  const int64_t a = zero[1]->number, b = zero[2]->number;

  // The snapshot when member 0's restart #b had not finished, with members 1 to 3 training too.
  auto snapshot = [&](int64_t upto, TrialState state_of_last) {
    std::vector<Trial> trials(run.trials.begin(), run.trials.begin() + upto);
    std::map<int, Trial*> latest;
    for (Trial& t : trials) latest[MemberOf(t)] = &t;
    for (auto& [m, t] : latest) {
      if (m == 0) continue;
      t->state = TrialState::kRunning;
      t->value.reset();
    }
    trials.back().state = state_of_last;
    if (state_of_last != TrialState::kCompleted && state_of_last != TrialState::kFailed) {
      trials.back().value.reset();
    }
    return trials;
  };
  for (TrialState waiting : {TrialState::kPending, TrialState::kRunning, TrialState::kInterrupted}) {
    SCOPED_TRACE(TrialStateName(waiting));
    std::vector<Trial> trials = snapshot(b, waiting);
    ProposeOutcome out = pbt.Propose(Context(space, Maximize(), trials, 5, Epochs(20)));
    ASSERT_EQ(out.kind, ProposeOutcome::Kind::kWait);
    EXPECT_EQ(out.reason, "pbt: waiting for members 0, 1, 2, 3 (4 of 4 still training)");
  }

  // One failure: member 0 restarts (here from its own sample, the others still training), not retired.
  std::vector<Trial> once = snapshot(a, TrialState::kFailed);
  ProposeOutcome out = pbt.Propose(Context(space, Maximize(), once, 5, Epochs(20)));
  ASSERT_EQ(out.kind, ProposeOutcome::Kind::kProposal);
  EXPECT_EQ(out.proposal.evidence["member"], 0);
  EXPECT_EQ(out.proposal.evidence["restart_after"], a);
  EXPECT_FALSE(out.proposal.evidence.contains("retired"));

  // Two failures: retired, and the wait says so.
  std::vector<Trial> twice = snapshot(b, TrialState::kFailed);
  out = pbt.Propose(Context(space, Maximize(), twice, 5, Epochs(20)));
  ASSERT_EQ(out.kind, ProposeOutcome::Kind::kWait);
  EXPECT_EQ(out.reason,
            "pbt: waiting for members 1, 2, 3 (3 of 4 still training); member 0 retired (last two "
            "trials failed: #" +
                std::to_string(a) + ", #" + std::to_string(b) + ")");
}

}  // namespace
}  // namespace hyperion
