#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "hyperion/space/space_testing.h"
#include "hyperion/strategy/evolution_search.h"
#include "hyperion/strategy/simulated_run.h"

namespace hyperion {
namespace {

using Kind = ProposeOutcome::Kind;

using testing::Bool;
using testing::Choice;
using testing::Float;
using testing::Int;
using testing::When;

// Every kind of parameter: log float, int, log int, step float, categorical, bool, and two conditional ones.
Space MixedSpace() {
  return *Space::Create({Float("lr", 1e-4, 1e-1, true), Int("layers", 1, 6), Int("width", 16, 512, true),
                         Float("dropout", 0.0, 0.5, false, 0.05), Choice("optimizer", {"adam", "sgd"}),
                         When(Float("momentum", 0.0, 0.99), "optimizer", {"sgd"}),
                         When(Choice("nesterov", {false, true}), "optimizer", {"sgd"}), Bool("batch_norm")});
}

// A smooth bowl over the mixed space with its minimum near lr 3e-3, 3 layers, width 128, dropout 0.2.
double Loss(const Json& p) {
  double loss = std::pow(std::log10(p["lr"].get<double>()) + 2.5, 2) +
                0.1 * std::pow(p["layers"].get<double>() - 3, 2) +
                std::pow(std::log2(p["width"].get<double>() / 128), 2) * 0.1 +
                std::pow(p["dropout"].get<double>() - 0.2, 2) * 4;
  if (p["optimizer"] == "sgd") loss += 0.2 + std::pow(p["momentum"].get<double>() - 0.9, 2);
  if (p["batch_norm"] == true) loss -= 0.05;
  return loss;
}

Objective Minimize() {
  Objective objective;
  objective.metric = "loss";
  return objective;
}

StrategyConfig Evolution(int population, int elite, double crossover, double mutation,
                         std::optional<double> span = std::nullopt) {
  StrategyConfig config;
  config.type = "evolution";
  config.population = population;
  config.elite = elite;
  config.crossover = crossover;
  config.mutation = mutation;
  config.span = span;
  return config;
}

Training Epochs(double max) { return Training{"epochs", max}; }

int Gen(const Trial& t) { return t.evidence.at("generation").get<int>(); }

// The graph questions answered independently of the strategy (ids are numbers in a simulated run).
const Trial& Root(const std::vector<Trial>& trials, const Trial& t) {
  const Trial* at = &t;
  while (!at->parents.empty()) at = &trials.at(at->parents[0] - 1);
  return *at;
}

bool IsAncestor(const std::vector<Trial>& trials, int64_t ancestor, const Trial& t) {
  for (int64_t p : t.parents) {
    if (p == ancestor || IsAncestor(trials, ancestor, trials.at(p - 1))) return true;
  }
  return false;
}

// Plays the orchestrator's part the harness does not: checks each proposal against the context it was made
// in (generations wait for the previous one; donors are on the frontier).
class Checked final : public Strategy {
 public:
  explicit Checked(Strategy& inner) : inner_(inner) {}
  std::string Name() const override { return inner_.Name(); }
  std::set<int64_t> Frontier(const StrategyContext& context) const override {
    return inner_.Frontier(context);
  }
  ProposeOutcome Propose(const StrategyContext& context) override {
    ProposeOutcome out = inner_.Propose(context);
    if (out.kind != Kind::kProposal) return out;
    const int g = out.proposal.evidence.at("generation").get<int>();
    for (const auto& t : context.trials) {
      if (Gen(t) == g - 1 && !IsFinished(t.state)) ++early;
      if (Gen(t) > g) ++early;
    }
    if (out.proposal.restore) {
      std::set<int64_t> frontier = inner_.Frontier(context);
      if (!frontier.count(out.proposal.parents.at(0))) ++donors_off_frontier;
    }
    return out;
  }
  int early = 0;
  int donors_off_frontier = 0;

 private:
  Strategy& inner_;
};

std::map<int, int> GenerationSizes(const std::vector<Trial>& trials) {
  std::map<int, int> sizes;
  for (const auto& t : trials) ++sizes[Gen(t)];
  return sizes;
}

testing::SimulatedRun MixedRun(Training training, uint64_t seed, const Space& space) {
  testing::SimulatedRun run(space, Minimize(), training, seed);
  run.evaluate = [](const Trial& t) -> std::optional<double> {
    if (t.params["dropout"].get<double>() >= 0.5) return std::nullopt;  // some trials fail
    return Loss(t.params) + (t.budget_to ? 1 / (1 + *t.budget_to) : 0);
  };
  return run;
}

TEST(Evolution, IsMadeByName) {
  auto strategy = MakeStrategy(Evolution(8, 1, 0.7, 0.3));
  ASSERT_TRUE(strategy.ok());
  EXPECT_EQ((*strategy)->Name(), "evolution");
}

TEST(Evolution, GenerationsWithoutSpanHavePopulationThenPopulationMinusElite) {
  Space space = MixedSpace();
  EvolutionSearch evolution(Evolution(6, 2, 0.7, 0.3));
  Checked checked(evolution);
  testing::SimulatedRun run = MixedRun(Epochs(20), 3, space);
  EXPECT_EQ(run.Run(checked, 6 + 4 * 5, 3), "budget");
  EXPECT_EQ(GenerationSizes(run.trials),
            (std::map<int, int>{{0, 6}, {1, 4}, {2, 4}, {3, 4}, {4, 4}, {5, 4}}));
  EXPECT_EQ(checked.early, 0);
  for (const auto& t : run.trials) {
    if (Gen(t) == 0) {
      EXPECT_EQ(t.op, "sample");
    } else {
      EXPECT_TRUE(t.op == "crossover" || t.op == "mutate") << t.op;
    }
    EXPECT_EQ(*t.budget_from, 0);  // whole runs
    EXPECT_EQ(*t.budget_to, 20);
    EXPECT_TRUE(t.restore_from.empty());
  }
  StrategyContext context{space, Minimize(), run.trials, 3, Epochs(20)};
  EXPECT_TRUE(evolution.Frontier(context).empty());
}

TEST(Evolution, WaitsWhileAGenerationIsUnfinished) {
  Space space = MixedSpace();
  EvolutionSearch evolution(Evolution(3, 1, 0.7, 0.3));
  std::vector<Trial> trials;
  for (int n = 1; n <= 3; ++n) {
    StrategyContext context{space, Minimize(), trials, 7};
    ProposeOutcome out = evolution.Propose(context);
    ASSERT_EQ(out.kind, Kind::kProposal);
    Trial t;
    t.id = t.number = n;
    t.params = out.proposal.params;
    t.evidence = out.proposal.evidence;
    t.state = TrialState::kRunning;
    trials.push_back(t);
  }
  trials[0].state = TrialState::kCompleted;
  trials[0].value = 1.0;
  StrategyContext context{space, Minimize(), trials, 7};
  ProposeOutcome out = evolution.Propose(context);
  ASSERT_EQ(out.kind, Kind::kWait);
  EXPECT_EQ(out.reason,
            "generation 0 is unfinished: 2 trials of 3 still to finish (#2, #3) before generation 1 is bred");
}

// Over whole runs with and without span: every merge joins two branches, and records where each differing
// parameter came from.
TEST(Evolution, CrossoverJoinsDifferentBranches) {
  Space space = MixedSpace();
  int crossovers = 0, with_evidence = 0, fallbacks = 0, same_root = 0, late_crossovers = 0;
  for (std::optional<double> span : {std::optional<double>(), std::optional<double>(2.0)}) {
    EvolutionSearch evolution(Evolution(8, 1, 0.8, 0.3, span));
    testing::SimulatedRun run = MixedRun(Epochs(20), 11, space);
    run.Run(evolution, 8 * 10, 4);
    for (const auto& t : run.trials) {
      if (t.op != "crossover") continue;
      ++crossovers;
      ASSERT_EQ(t.parents.size(), 2u) << t.number;
      const Trial& a = run.trials.at(t.parents[0] - 1);
      const Trial& b = run.trials.at(t.parents[1] - 1);
      if (Root(run.trials, a).id == Root(run.trials, b).id) {
        ++same_root;
        EXPECT_NE(t.rationale.find("neither from the other"), std::string::npos) << t.rationale;
      }
      EXPECT_FALSE(IsAncestor(run.trials, a.id, b)) << t.number;
      EXPECT_FALSE(IsAncestor(run.trials, b.id, a)) << t.number;
      EXPECT_FALSE(Minimize().Better(*b.value, *a.value))
          << "parents[0] is the fitter parent of #" << t.number;
      for (const auto& [name, source] : t.evidence.at("sources").items()) {
        const int64_t from = source.at("from").get<int64_t>();
        EXPECT_TRUE(from == a.id || from == b.id) << t.number;
        EXPECT_NE(a.params.value(name, Json()), b.params.value(name, Json())) << t.number << " " << name;
        const std::string because = source.at("because").get<std::string>();
        if (because.find(" average ") != std::string::npos && because.find("a tie") == std::string::npos) {
          ++with_evidence;
        } else {
          EXPECT_TRUE(because.find("from the fitter parent #" + std::to_string(a.number)) !=
                          std::string::npos ||
                      because.find("only #") == 0)
              << because;
          if (because.find("only #") != 0) {
            EXPECT_EQ(from, a.id) << because;
          }
        }
      }
    }
    for (const auto& t : run.trials) {
      if (t.evidence.contains("fallback")) {
        ++fallbacks;
        EXPECT_EQ(t.op, "mutate");
        EXPECT_NE(t.rationale.find("in each pair one descends from the other"), std::string::npos)
            << t.rationale;
      }
      if (t.op == "crossover" && t.evidence.at("generation").get<int>() >= 5) ++late_crossovers;
    }
  }
  EXPECT_GE(crossovers, 10);
  EXPECT_GT(with_evidence, 10);
  // Once one root has taken over the population (with span it does within a few generations), lines that
  // split from it still merge.
  EXPECT_GT(same_root, 0);
  EXPECT_GT(late_crossovers, 10);
  EXPECT_EQ(fallbacks, 0);
}

Trial Finished(int64_t number, const Json& params, double value, std::vector<int64_t> parents = {},
               int generation = 0) {
  Trial t;
  t.id = t.number = number;
  t.params = params;
  t.parents = std::move(parents);
  t.state = TrialState::kCompleted;
  t.value = value;
  t.evidence = Json{{"generation", generation}};
  t.checkpoint_dir = "ckpt/" + std::to_string(number);
  return t;
}

// The trials favour the less fit parent's lr: the child takes it, and says why with the numbers.
TEST(Evolution, EachParameterComesFromTheValueTheEvidenceFavours) {
  Space space = *Space::Create(
      {Float("lr", 1e-4, 1e-1, true), Choice("opt", {"adam", "sgd"}), Float("dropout", 0.0, 0.5)});
  auto point = [](double lr, const char* opt, double dropout) {
    return Json{{"lr", lr}, {"opt", opt}, {"dropout", dropout}};
  };
  std::vector<Trial> trials = {
      Finished(1, point(0.1, "sgd", 0.1), 0.10),   Finished(2, point(0.01, "adam", 0.4), 0.20),
      Finished(3, point(0.012, "sgd", 0.1), 0.30), Finished(4, point(0.009, "sgd", 0.1), 0.32),
      Finished(5, point(0.09, "adam", 0.1), 0.90), Finished(6, point(0.08, "adam", 0.1), 0.95)};
  EvolutionSearch evolution(Evolution(2, 0, 1.0, 0.0));
  StrategyContext context{space, Minimize(), trials, 5};
  ProposeOutcome out = evolution.Propose(context);
  ASSERT_EQ(out.kind, Kind::kProposal);
  const Proposal& p = out.proposal;
  EXPECT_EQ(p.op, "crossover");
  EXPECT_EQ(p.parents, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(p.params.dump(), point(0.01, "sgd", 0.1).dump());
  EXPECT_EQ(p.change_label, "lr from #2");
  const Json& sources = p.evidence.at("sources");
  EXPECT_EQ(sources.at("lr").at("from"), 2);
  EXPECT_EQ(sources.at("lr").at("because"),
            "3 trials near lr 0.01 average 0.2733 vs 3 near 0.1 average 0.65");
  EXPECT_EQ(sources.at("opt").at("from"), 1);
  EXPECT_EQ(sources.at("opt").at("because"),
            "3 trials with opt sgd average 0.24 vs 3 with adam average 0.6833");
  EXPECT_EQ(sources.at("dropout").at("from"), 1);
  EXPECT_EQ(
      sources.at("dropout").at("because"),
      "no evidence (5 completed trials near dropout 0.1, 1 near 0.4; 2 needed on each side); from the fitter "
      "parent #1");
  EXPECT_NE(p.rationale.find("lr 0.01 from #2 (#1 has 0.1): 3 trials near lr 0.01 average 0.2733"),
            std::string::npos)
      << p.rationale;
  EXPECT_EQ(p.evidence.at("generation"), 1);

  // The same trials when the objective is maximised with the values negated: the same choices.
  Objective maximize = Minimize();
  maximize.mode = ObjectiveMode::kMaximize;
  for (auto& t : trials) t.value = -*t.value;
  StrategyContext flipped{space, maximize, trials, 5};
  ProposeOutcome again = evolution.Propose(flipped);
  EXPECT_EQ(again.proposal.params.dump(), p.params.dump());
  EXPECT_EQ(again.proposal.parents, p.parents);
  EXPECT_EQ(again.proposal.evidence.at("sources").at("lr").at("because"),
            "3 trials near lr 0.01 average -0.2733 vs 3 near 0.1 average -0.65");
}

TEST(Evolution, LinesThatSplitMergeAndAnAncestorNeverDoes) {
  Space space = *Space::Create({Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)});
  auto point = [](double x, double y) { return Json{{"x", x}, {"y", y}}; };
  EvolutionSearch evolution(Evolution(2, 0, 1.0, 0.5));
  Trial failed = Finished(2, point(0.9, 0.9), 0);
  failed.state = TrialState::kFailed;
  failed.value.reset();
  // The population (#3, #4) shares the root #1, but the lines split there: they may merge.
  std::vector<Trial> same_root = {Finished(1, point(0.5, 0.5), 0.5), failed,
                                  Finished(3, point(0.4, 0.5), 0.3, {1}, 1),
                                  Finished(4, point(0.5, 0.6), 0.4, {1}, 1)};
  StrategyContext split{space, Minimize(), same_root, 1};
  ProposeOutcome merged = evolution.Propose(split);
  ASSERT_EQ(merged.kind, Kind::kProposal);
  EXPECT_EQ(merged.proposal.op, "crossover");
  EXPECT_EQ(merged.proposal.parents, (std::vector<int64_t>{3, 4}));
  EXPECT_NE(merged.proposal.rationale.find("from different branches (both descend from #1, neither from the "
                                           "other)"),
            std::string::npos)
      << merged.proposal.rationale;

  // #1 lies on another root than #3 but is its ancestor through the merge: no pair is left.
  std::vector<Trial> ancestor = {Finished(1, point(0.5, 0.5), 0.5), Finished(2, point(0.2, 0.2), 0.9),
                                 Finished(3, point(0.4, 0.5), 0.3, {2, 1}, 1), failed};
  ancestor[3].id = ancestor[3].number = 4;
  ancestor[3].evidence["generation"] = 1;
  const std::string expected =
      "Crossover was drawn (probability 1) but no two of the pool's 2 members lie on different branches: in "
      "each pair one descends from the other (their roots: #2, #1), so it is a mutation instead.";
  StrategyContext context{space, Minimize(), ancestor, 1};
  ProposeOutcome out = evolution.Propose(context);
  ASSERT_EQ(out.kind, Kind::kProposal);
  EXPECT_EQ(out.proposal.op, "mutate");
  EXPECT_EQ(out.proposal.parents.size(), 1u);
  EXPECT_EQ(out.proposal.evidence.at("generation"), 2);
  EXPECT_NE(out.proposal.rationale.find(expected), std::string::npos) << out.proposal.rationale;
  EXPECT_TRUE(out.proposal.evidence.contains("fallback"));
  EXPECT_NE(out.proposal.change_label, "no change");
}

TEST(Evolution, WithSpanChildrenContinueTheirDonorsUntilTrainingMax) {
  Space space = MixedSpace();
  EvolutionSearch evolution(Evolution(6, 2, 0.7, 0.3, 5.0));
  Checked checked(evolution);
  testing::SimulatedRun run = MixedRun(Epochs(20), 5, space);
  run.evaluate = [](const Trial& t) -> std::optional<double> { return Loss(t.params) + 1 / *t.budget_to; };
  const std::string end = run.Run(checked, 1000, 4);
  EXPECT_EQ(end.rfind("exhausted: evolution finished: generation 3 reached training.max (20 epochs)", 0), 0u)
      << end;
  EXPECT_EQ(GenerationSizes(run.trials), (std::map<int, int>{{0, 6}, {1, 6}, {2, 6}, {3, 6}}));
  EXPECT_EQ(checked.early, 0);
  EXPECT_EQ(checked.donors_off_frontier, 0);
  for (const auto& t : run.trials) {
    const int g = Gen(t);
    EXPECT_EQ(*t.budget_from, 5.0 * g) << t.number;
    EXPECT_EQ(*t.budget_to, 5.0 * (g + 1)) << t.number;
    if (g == 0) {
      EXPECT_EQ(t.op, "sample");
      EXPECT_TRUE(t.parents.empty());
      continue;
    }
    ASSERT_FALSE(t.parents.empty());
    const Trial& donor = run.trials.at(t.parents[0] - 1);
    EXPECT_TRUE(run.proposals.at(t.number - 1).restore);
    EXPECT_EQ(t.restore_from, donor.checkpoint_dir) << t.number;
    EXPECT_EQ(Gen(donor), g - 1);
    EXPECT_EQ(t.budget_from, donor.budget_to);
    for (int64_t p : t.parents) EXPECT_EQ(run.trials.at(p - 1).state, TrialState::kCompleted);
  }
  // The two best of each generation continue unchanged, first in the next.
  for (int g = 1; g <= 3; ++g) {
    std::vector<const Trial*> previous, elites;
    for (const auto& t : run.trials) {
      if (Gen(t) == g - 1) previous.push_back(&t);
      if (Gen(t) == g && t.op == "branch") elites.push_back(&t);
    }
    std::stable_sort(previous.begin(), previous.end(),
                     [](const Trial* a, const Trial* b) { return *a->value < *b->value; });
    ASSERT_EQ(elites.size(), 2u) << g;
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(elites[i]->parents, (std::vector<int64_t>{previous[i]->id}));
      EXPECT_EQ(elites[i]->change_label, "continue");
      EXPECT_EQ(elites[i]->params.dump(), previous[i]->params.dump());
    }
  }
  // Afterwards only the last generation's trials are kept for branching.
  StrategyContext context{space, Minimize(), run.trials, 5, Epochs(20)};
  std::set<int64_t> last;
  for (const auto& t : run.trials) {
    if (Gen(t) == 3) last.insert(t.id);
  }
  EXPECT_EQ(evolution.Frontier(context), last);
}

TEST(Evolution, TheLastSpanIsCappedAtTrainingMax) {
  Space space = MixedSpace();
  EvolutionSearch evolution(Evolution(4, 1, 0.7, 0.3, 5.0));
  testing::SimulatedRun run = MixedRun(Epochs(12), 2, space);
  EXPECT_EQ(run.Run(evolution, 1000, 2).rfind("exhausted: evolution finished: generation 2", 0), 0u);
  std::set<std::pair<double, double>> spans;
  for (const auto& t : run.trials) spans.insert({*t.budget_from, *t.budget_to});
  EXPECT_EQ(spans, (std::set<std::pair<double, double>>{{0, 5}, {5, 10}, {10, 12}}));
}

TEST(Evolution, EveryProposalIsValidInTheSpace) {
  Space space = MixedSpace();
  for (std::optional<double> span : {std::optional<double>(), std::optional<double>(1.0)}) {
    for (uint64_t seed : {1, 2, 3}) {
      EvolutionSearch evolution(Evolution(8, 2, 0.7, 0.5, span));
      testing::SimulatedRun run = MixedRun(Epochs(12), seed, space);
      run.Run(evolution, 100, 3);
      EXPECT_GE(run.trials.size(), 60u);
      for (const auto& p : run.proposals) {
        Status valid = space.Validate(p.params);
        EXPECT_TRUE(valid.ok()) << valid.message() << " in " << p.params.dump();
        EXPECT_FALSE(p.rationale.empty());
        EXPECT_FALSE(p.op != "sample" && p.change_label.empty()) << p.rationale;
      }
    }
  }
}

TEST(Evolution, TheSameSeedGivesTheSameRunWhateverTheParallelism) {
  Space space = MixedSpace();
  auto proposals = [&](uint64_t seed, int parallel, std::optional<double> span) {
    EvolutionSearch evolution(Evolution(6, 1, 0.7, 0.3, span));
    testing::SimulatedRun run = MixedRun(Epochs(10), seed, space);
    run.Run(evolution, 40, parallel);
    std::vector<std::string> out;
    for (const auto& t : run.trials) {
      out.push_back(t.params.dump() + " " + Json(t.parents).dump() + " " + t.op + " " + t.change_label + " " +
                    t.rationale + " " + t.evidence.dump());
    }
    return out;
  };
  for (std::optional<double> span : {std::optional<double>(), std::optional<double>(2.0)}) {
    EXPECT_EQ(proposals(9, 1, span), proposals(9, 1, span));
    EXPECT_EQ(proposals(9, 1, span), proposals(9, 5, span));
    EXPECT_NE(proposals(9, 1, span), proposals(10, 1, span));
  }
}

// A six-dimensional bowl: ten random draws land far from its minimum, so selection has room to show.
TEST(Evolution, LaterGenerationsBeatTheFirst) {
  std::vector<ParamSpec> specs;
  for (const char* name : {"a", "b", "c", "d", "e", "f"}) specs.push_back(Float(name, -5, 5));
  Space space = *Space::Create(specs);
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    EvolutionSearch evolution(Evolution(10, 2, 0.7, 0.3));
    testing::SimulatedRun run(space, Minimize(), Training{}, seed);
    run.evaluate = [](const Trial& t) -> std::optional<double> {
      double sum = 0;
      for (const auto& [name, value] : t.params.items()) sum += std::pow(value.get<double>() - 1, 2);
      return sum;
    };
    run.Run(evolution, 10 + 8 * 9, 4);
    std::map<int, double> best;
    for (const auto& t : run.trials) {
      auto [it, fresh] = best.emplace(Gen(t), *t.value);
      if (!fresh) it->second = std::min(it->second, *t.value);
    }
    ASSERT_EQ(best.rbegin()->first, 9);
    EXPECT_LT(best.rbegin()->second, best.begin()->second / 2) << "seed " << seed;
  }
}

// The rationale names the generations the pool comes from: one generation is "generation 0", never
// "generations 0..0".
TEST(Evolution, TheRationaleNamesASingleGenerationInTheSingular) {
  Space space = MixedSpace();
  EvolutionSearch evolution(Evolution(4, 1, 0.0, 0.3));
  testing::SimulatedRun run(space, Minimize(), Training{}, 4);
  run.evaluate = [](const Trial& t) -> std::optional<double> { return Loss(t.params); };
  EXPECT_EQ(run.Run(evolution, 4 + 3 + 3, 1), "budget");
  ASSERT_EQ(GenerationSizes(run.trials), (std::map<int, int>{{0, 4}, {1, 3}, {2, 3}}));
  for (const auto& t : run.trials) {
    SCOPED_TRACE("#" + std::to_string(t.number) + ": " + t.rationale);
    EXPECT_EQ(t.rationale.find("0..0"), std::string::npos);
    if (Gen(t) == 1) {
      EXPECT_NE(t.rationale.find(" among the population (the best 4 completed trials of generation 0): "),
                std::string::npos);
    }
    if (Gen(t) == 2) {
      EXPECT_NE(t.rationale.find(" among the population (the best 4 completed trials of generations 0..1): "),
                std::string::npos);
    }
  }

  // Nothing of generation 0 completed: generation 1 draws afresh and says so in the singular too.
  testing::SimulatedRun failing(space, Minimize(), Training{}, 4);
  failing.evaluate = [](const Trial& t) -> std::optional<double> {
    if (Gen(t) == 0) return std::nullopt;
    return Loss(t.params);
  };
  EvolutionSearch again(Evolution(4, 1, 0.0, 0.3));
  EXPECT_EQ(failing.Run(again, 5, 1), "budget");
  EXPECT_EQ(
      failing.trials.at(4).rationale,
      "Generation 1, member 1 of 3: no trial of generation 0 has completed, so instead of a child a fresh "
      "random draw (seed 4, draw 4).");
}

// With span, the final generation's completed trials are the results: they stay on the frontier after the
// search has ended, so retention keeps their checkpoints; its failed trials have none to keep.
TEST(Evolution, TheFinalGenerationStaysOnTheFrontierAfterTheEnd) {
  Space space = MixedSpace();
  EvolutionSearch evolution(Evolution(6, 1, 0.7, 0.3, 5.0));
  testing::SimulatedRun run(space, Minimize(), Epochs(10), 8);
  run.evaluate = [](const Trial& t) -> std::optional<double> {
    if (Gen(t) == 1 && t.number % 3 == 0) return std::nullopt;
    return Loss(t.params) + 1 / *t.budget_to;
  };
  const std::string end = run.Run(evolution, 1000, 3);
  EXPECT_EQ(end.rfind("exhausted: evolution finished: generation 1 reached training.max (10 epochs)", 0), 0u)
      << end;
  ASSERT_EQ(run.trials.size(), 12u);
  std::set<int64_t> completed;
  for (const auto& t : run.trials) {
    if (Gen(t) == 1 && t.state == TrialState::kCompleted) completed.insert(t.id);
  }
  EXPECT_EQ(completed, (std::set<int64_t>{7, 8, 10, 11}));  // #9 and #12 failed
  StrategyContext context{space, Minimize(), run.trials, 8, Epochs(10)};
  EXPECT_EQ(evolution.Propose(context).kind, Kind::kExhausted);
  EXPECT_EQ(evolution.Frontier(context), completed);
}

}  // namespace
}  // namespace hyperion
