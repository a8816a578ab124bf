// The built-in analyst played through the simulated orchestrator (agent_simulation.h): its space-filling
// start, the model phase, bad regions, importance, merges, plateau prunes, the stall stop, notes, refused
// decisions, rationales and determinism.
#include "hyperion/agent/analyst.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>

#include "hyperion/agent/agent_simulation.h"
#include "hyperion/agent/analyst_parts.h"
#include "hyperion/space/space_testing.h"

namespace hyperion {
namespace {

using testing::AgentSimulation;
using testing::Choice;
using testing::Float;
using testing::Int;
using testing::SimulatedTrial;
using testing::When;

ExperimentConfig Config(std::vector<ParamSpec> params, ObjectiveMode mode = ObjectiveMode::kMinimize) {
  ExperimentConfig c;
  c.name = "analyst";
  auto space = Space::Create(std::move(params));
  EXPECT_TRUE(space.ok()) << space.status().message();
  c.space = *space;
  c.objective.metric = "loss";
  c.objective.mode = mode;
  c.strategy.type = "agent";
  return c;
}

// A whole run with one report.
SimulatedTrial Once(double value) { return SimulatedTrial{{value}, false}; }
SimulatedTrial Diverges() { return SimulatedTrial{{}, true}; }

double X(const Trial& t, const std::string& name) { return t.params.at(name).get<double>(); }

bool HasDigit(const std::string& text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<Proposal> AllProposals(const AgentSimulation& sim) {
  std::vector<Proposal> all;
  for (const AgentReply& r : sim.replies) all.insert(all.end(), r.proposals.begin(), r.proposals.end());
  return all;
}

// The first trial of t's primary-parent chain.
int64_t RootOf(const AgentSimulation& sim, const Trial& t) {
  const Trial* at = &t;
  while (!at->parents.empty()) at = &sim.trials.at(at->parents[0] - 1);
  return at->id;
}

TEST(Analyst, StartsSpaceFillingThenTurnsToTheModel) {
  AgentSimulation sim(Config({Float("x", 0, 1), Float("y", 0, 1), Float("z", 0, 1)}), 3);
  sim.outcome = [](const Trial& t) {
    return Once(std::pow(X(t, "x") - 0.3, 2) + std::pow(X(t, "y") - 0.6, 2) + 0.1 * X(t, "z"));
  };
  Analyst analyst(sim.config());
  EXPECT_EQ(sim.Run(analyst, 20, 1), "budget");
  ASSERT_EQ(sim.trials.size(), 20u);
  // max(5, 2 x 3) = 6 start points, a Latin hypercube: each parameter's 6 values in 6 different sixths.
  for (const char* name : {"x", "y", "z"}) {
    std::set<int> strata;
    for (int i = 0; i < 6; ++i) strata.insert(static_cast<int>(X(sim.trials[i], name) * 6));
    EXPECT_EQ(strata.size(), 6u) << name;
  }
  for (int i = 0; i < 6; ++i) {
    const Trial& t = sim.trials[i];
    EXPECT_EQ(t.op, "sample");
    EXPECT_EQ(t.evidence["design_index"], i);
    EXPECT_EQ(t.change_label, "start " + std::to_string(i + 1) + "/6");
    EXPECT_NE(t.rationale.find("Space-filling start, point " + std::to_string(i + 1) + " of 6"),
              std::string::npos)
        << t.rationale;
  }
  // The smallest distance between two start points is the one the evidence names, and far above what the
  // model phase's points keep (they close in on the optimum).
  double min_distance = 1e9;
  for (int i = 0; i < 6; ++i) {
    for (int j = 0; j < i; ++j) {
      double s = 0;
      for (const char* name : {"x", "y", "z"})
        s += std::pow(X(sim.trials[i], name) - X(sim.trials[j], name), 2);
      min_distance = std::min(min_distance, std::sqrt(s));
    }
  }
  EXPECT_NEAR(min_distance, sim.trials[0].evidence["min_distance"].get<double>(), 1e-9);
  EXPECT_GT(min_distance, 0.2);
  for (size_t i = 6; i < sim.trials.size(); ++i) {
    const Trial& t = sim.trials[i];
    EXPECT_TRUE(t.op == "model" || t.op == "mutate" || t.op == "crossover") << t.op;
    EXPECT_EQ(t.evidence["phase"], "model") << t.rationale;
  }
  // The model found the valley: the best is far better than the best start point.
  double best_start = 1e9, best = 1e9;
  for (size_t i = 0; i < sim.trials.size(); ++i) {
    (i < 6 ? best_start : best) = std::min(i < 6 ? best_start : best, *sim.trials[i].value);
  }
  EXPECT_LT(best, 0.5 * best_start);
}

TEST(Analyst, ParallelStartFillsEverySlotAtOnce) {
  AgentSimulation sim(Config({Float("x", 0, 1), Float("y", 0, 1)}), 11);
  sim.outcome = [](const Trial& t) { return Once(X(t, "x") + X(t, "y")); };
  Analyst analyst(sim.config());
  sim.Run(analyst, 12, 4);
  ASSERT_GE(sim.replies.size(), 2u);
  ASSERT_EQ(sim.replies[0].proposals.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(sim.replies[0].proposals[i].evidence["design_index"], i);
  // The fifth start point comes next; then the model, whose parallel proposals differ.
  EXPECT_EQ(sim.trials[4].evidence["design_index"], 4);
  std::set<std::string> points;
  for (const Trial& t : sim.trials) points.insert(t.params.dump());
  EXPECT_EQ(points.size(), sim.trials.size());
}

TEST(Analyst, ADivergedRegionIsCappedAndNeverEnteredAgain) {
  // Six start points; the upper half of lr's log range diverges, so three of them do.
  AgentSimulation sim(Config({Float("lr", 1e-4, 1, true), Float("wd", 0, 0.1), Float("dropout", 0, 0.5)}), 5);
  sim.outcome = [](const Trial& t) {
    const double lr = X(t, "lr");
    if (lr >= 0.01) return Diverges();
    return Once(std::pow(std::log10(lr) + 2.5, 2) + X(t, "wd") + std::pow(X(t, "dropout") - 0.2, 2));
  };
  Analyst analyst(sim.config());
  sim.Run(analyst, 30, 1);
  ASSERT_EQ(sim.trials.size(), 30u);
  size_t first = sim.trials.size();
  for (size_t i = 0; i < sim.trials.size(); ++i) {
    if (sim.trials[i].rationale.find("Kept out of bad regions") != std::string::npos) {
      first = i;
      break;
    }
  }
  ASSERT_LT(first, sim.trials.size()) << "no proposal cites a bad region";
  const Trial& cited = sim.trials[first];
  std::smatch m;
  const std::regex sentence(
      R"(lr >= ([0-9.e-]+) diverged in (\d+) of (\d+) trials \((#\d+(, #\d+)*)\); capping lr at ([0-9.e-]+), the )"
      R"(largest that ran fine \(#(\d+)\))");
  ASSERT_TRUE(std::regex_search(cited.rationale, m, sentence)) << cited.rationale;
  const Json& region = cited.evidence["bad_regions"][0];
  const double edge = region["edge"].get<double>(), cap = region["limit"].get<double>();
  EXPECT_NEAR(std::stod(m[1]), edge, 1e-3 * edge);
  EXPECT_NEAR(std::stod(m[6]), cap, 1e-3 * cap);
  const int bad = std::stoi(m[2]), total = std::stoi(m[3]);
  EXPECT_GE(bad, 3);
  EXPECT_LE(bad, total);
  EXPECT_GE(edge, 0.01) << "the region starts at a trial that diverged";
  EXPECT_LT(cap, edge);
  // The cap is the largest lr that ran fine before.
  const Trial& fine = sim.trials.at(std::stoi(m[7]) - 1);
  EXPECT_EQ(fine.state, TrialState::kCompleted);
  EXPECT_DOUBLE_EQ(X(fine, "lr"), cap);
  for (size_t i = 0; i < first; ++i) {
    if (sim.trials[i].state == TrialState::kCompleted) {
      EXPECT_LE(X(sim.trials[i], "lr"), cap);
    }
  }
  // The failures it counts are exactly the trials before it that diverged with lr >= edge.
  int failed_before = 0;
  for (size_t i = 0; i < first; ++i) {
    if (sim.trials[i].state == TrialState::kFailed && X(sim.trials[i], "lr") >= edge) ++failed_before;
  }
  EXPECT_EQ(bad, failed_before);
  EXPECT_EQ(region["param"], "lr");
  EXPECT_EQ(region["kind"], "cap");
  EXPECT_EQ(cited.evidence["bad_regions"].size(), 1u)
      << "wd and dropout went along with lr and are not capped";
  // No later proposal enters the region: every one keeps lr at or below the cap, and none diverges.
  for (size_t i = first; i < sim.trials.size(); ++i) {
    EXPECT_LE(X(sim.trials[i], "lr"), cap) << "#" << sim.trials[i].number;
    EXPECT_EQ(sim.trials[i].state, TrialState::kCompleted) << "#" << sim.trials[i].number;
    EXPECT_NE(sim.trials[i].rationale.find("capping lr at"), std::string::npos);
  }
  Insight insight = analyst.Analyse(sim.Context(), 1);
  ASSERT_EQ(insight.bad_regions.size(), 1u);
  EXPECT_EQ(insight.bad_regions[0].rfind("lr >= ", 0), 0u) << insight.bad_regions[0];
  EXPECT_LE(insight.suggestions.at(0).params.at("lr").get<double>(), cap);
}

TEST(Analyst, ABadChoiceIsDroppedWithItsCount) {
  // Ten start points stratify optimizer too: at least three of them try lion.
  AgentSimulation sim(Config({Choice("optimizer", {"sgd", "adam", "lion"}), Float("lr", 1e-4, 1e-1, true),
                              Float("wd", 0, 0.1), Float("dropout", 0, 0.5), Int("layers", 1, 4)}),
                      2);
  sim.outcome = [](const Trial& t) {
    if (t.params["optimizer"] == "lion") return Diverges();
    return Once(std::pow(std::log10(X(t, "lr")) + 3, 2) + (t.params["optimizer"] == "adam" ? 0 : 0.5) +
                X(t, "wd") + 0.1 * t.params["layers"].get<double>());
  };
  Analyst analyst(sim.config());
  sim.Run(analyst, 40, 1);
  std::optional<size_t> first;
  int lion_failures = 0;
  for (size_t i = 0; i < sim.trials.size(); ++i) {
    const Trial& t = sim.trials[i];
    if (!first && t.rationale.find("no more optimizer lion") != std::string::npos) {
      first = i;
      EXPECT_NE(t.rationale.find("optimizer lion diverged in " + std::to_string(lion_failures) + " of " +
                                 std::to_string(lion_failures) + " trials"),
                std::string::npos)
          << t.rationale;
    }
    if (first) {
      EXPECT_NE(t.params["optimizer"], "lion") << "#" << t.number;
    }
    if (!first && t.params["optimizer"] == "lion") ++lion_failures;
  }
  ASSERT_TRUE(first) << "lion was never dropped";
  EXPECT_GE(lion_failures, 3);
}

TEST(Analyst, ImportanceRanksTheParameterThatMatters) {
  AgentSimulation sim(Config({Float("noise", 0, 1), Float("x", 0, 1)}), 7);
  sim.outcome = [](const Trial& t) {
    return Once(10 * std::pow(X(t, "x") - 0.3, 2) + 0.001 * X(t, "noise"));
  };
  Analyst analyst(sim.config());
  sim.Run(analyst, 25, 1);
  Insight insight = analyst.Analyse(sim.Context(), 1);
  ASSERT_EQ(insight.importance.size(), 2u);
  EXPECT_EQ(insight.importance[0].first, "x");
  EXPECT_GT(insight.importance[0].second, 0.95);
  EXPECT_LT(insight.importance[1].second, 0.05);
  EXPECT_NEAR(insight.importance[0].second + insight.importance[1].second, 1.0, 1e-12);
  // The rationales cite it.
  const Trial& last = sim.trials.back();
  EXPECT_TRUE(std::regex_search(last.rationale, std::regex(R"(x explains (9[5-9]|100)% of the variation)")))
      << last.rationale;
  // The JSON the LLM agent reads.
  Json json = insight.ToJson();
  EXPECT_EQ(json["importance"][0]["param"], "x");
  EXPECT_EQ(json["phase"], "model-based (gp on 25 measured trials)");
  EXPECT_EQ(json["suggestions"].size(), 1u);
  EXPECT_FALSE(json["suggestions"][0]["rationale"].get<std::string>().empty());
}

TEST(Analyst, BranchesTheBestAlongItsMostImportantParameter) {
  AgentSimulation sim(Config({Float("a", 0, 1), Float("b", 0, 1), Float("c", 0, 1)}), 4);
  sim.outcome = [](const Trial& t) {
    return Once(20 * std::pow(X(t, "b") - 0.61, 2) + std::pow(X(t, "a") - 0.4, 2) + 0.2 * X(t, "c"));
  };
  Analyst analyst(sim.config());
  sim.Run(analyst, 40, 1);
  int branches = 0;
  for (const Trial& t : sim.trials) {
    if (t.op != "mutate") continue;
    ++branches;
    ASSERT_EQ(t.parents.size(), 1u);
    const Trial& parent = sim.trials.at(t.parents[0] - 1);
    // The parent was the best completed trial when the branch was proposed.
    for (const Trial& other : sim.trials) {
      if (other.number >= t.number) break;
      EXPECT_GE(*other.value, *parent.value) << "#" << t.number << " branches #" << parent.number;
    }
    const std::string param = t.evidence["param"];
    EXPECT_EQ(t.change_label.rfind(param + " ", 0), 0u) << t.change_label;
    EXPECT_NE(t.rationale.find("Refining the best trial"), std::string::npos);
    if (t.evidence["importance_rank"] == 1) {
      EXPECT_NE(t.rationale.find("its most important parameter"), std::string::npos);
    }
  }
  EXPECT_GE(branches, 3);
}

TEST(Analyst, MergesTwoGoodLinesFromDifferentRoots) {
  // Separable: one line may find a, another b; their merge takes each from the side that found it.
  AgentSimulation sim(Config({Float("a", 0, 1), Float("b", 0, 1), Float("c", 0, 1), Float("d", 0, 1)}), 1);
  sim.outcome = [](const Trial& t) {
    return Once(std::pow(X(t, "a") - 0.2, 2) + std::pow(X(t, "b") - 0.7, 2) + std::pow(X(t, "c") - 0.5, 2) +
                std::pow(X(t, "d") - 0.35, 2));
  };
  Analyst analyst(sim.config());
  sim.Run(analyst, 60, 1);
  int merges = 0;
  for (const Trial& t : sim.trials) {
    if (t.op != "crossover") continue;
    ++merges;
    ASSERT_EQ(t.parents.size(), 2u);
    const Trial& a = sim.trials.at(t.parents[0] - 1);
    const Trial& b = sim.trials.at(t.parents[1] - 1);
    EXPECT_NE(RootOf(sim, a), RootOf(sim, b)) << "#" << t.number;
    EXPECT_TRUE(std::regex_match(t.change_label,
                                 std::regex(R"([a-d](, [a-d])* from #\d+ \+ [a-d](, [a-d])* from #\d+)")))
        << t.change_label;
    EXPECT_NE(t.change_label.find("from #" + std::to_string(a.number) + " +"), std::string::npos);
    EXPECT_NE(t.change_label.find("from #" + std::to_string(b.number)), std::string::npos);
    // Every parameter comes from one of the parents, and each gives at least one.
    int from_a = 0, from_b = 0;
    for (const char* name : {"a", "b", "c", "d"}) {
      const bool in_a = t.params[name] == a.params[name], in_b = t.params[name] == b.params[name];
      EXPECT_TRUE(in_a || in_b) << name;
      from_a += in_a && !in_b;
      from_b += in_b && !in_a;
    }
    EXPECT_GE(from_a, 1);
    EXPECT_GE(from_b, 1);
    EXPECT_EQ(t.evidence["parents"], (Json{a.number, b.number}));
    EXPECT_NE(t.rationale.find("Merging two good lines on separate branches"), std::string::npos);
  }
  EXPECT_GE(merges, 1);
}

// Curves of 10 reports; x above 0.8 stalls at 5 from the start, the rest fall towards 1 + x.
SimulatedTrial Curve(const Trial& t) {
  SimulatedTrial s;
  const double x = X(t, "x");
  for (int step = 1; step <= 10; ++step) s.curve.push_back(x > 0.8 ? 5.0 : 1 + x + 2.0 / step);
  return s;
}

TEST(Analyst, PrunesAPlateauedRunningTrialWithItsEvidence) {
  AgentSimulation sim(Config({Float("x", 0, 1), Float("y", 0, 1)}), 9);
  sim.outcome = Curve;
  Analyst analyst(sim.config());
  sim.Run(analyst, 12, 4);
  std::vector<PruneDecision> prunes;
  for (const AgentReply& r : sim.replies) prunes.insert(prunes.end(), r.prunes.begin(), r.prunes.end());
  ASSERT_FALSE(prunes.empty());
  for (const PruneDecision& d : prunes) {
    const Trial& t = sim.trials.at(d.trial_id - 1);
    EXPECT_GT(X(t, "x"), 0.8) << "only the stalled curves are pruned";
    EXPECT_EQ(t.state, TrialState::kPruned);
    EXPECT_EQ(d.evidence["best_so_far"], 5.0);
    EXPECT_EQ(d.evidence["best_step"], 1);
    EXPECT_EQ(d.evidence["step"], 4) << "decided at the first report that makes 3 without improvement";
    EXPECT_EQ(d.evidence["reports_since_best"], 3);
    EXPECT_GE(d.evidence["others"].size(), 3u);
    EXPECT_LT(d.evidence["median_at_step"].get<double>(), 5.0);
    EXPECT_NE(d.rationale.find("#" + std::to_string(t.number) +
                               " has not improved for 3 reports (best loss 5 at "
                               "step 1, now step 4) and is behind the median"),
              std::string::npos)
        << d.rationale;
  }
  // Each trial is pruned once.
  std::set<int64_t> ids;
  for (const PruneDecision& d : prunes) EXPECT_TRUE(ids.insert(d.trial_id).second);
}

TEST(Analyst, ARefusedPruneIsNotRepeated) {
  AgentSimulation sim(Config({Float("x", 0, 1), Float("y", 0, 1)}), 9);
  sim.outcome = Curve;
  sim.refuse_prune = [](const PruneDecision&) { return std::optional<std::string>("the user pinned it"); };
  Analyst analyst(sim.config());
  sim.Run(analyst, 12, 4);
  std::map<int64_t, int> times;
  for (const AgentReply& r : sim.replies) {
    for (const PruneDecision& d : r.prunes) ++times[d.trial_id];
  }
  ASSERT_FALSE(times.empty());
  for (const auto& [id, n] : times) EXPECT_EQ(n, 1) << "trial " << id;
}

TEST(Analyst, StopsWhenImprovementStallsAndNotBefore) {
  ExperimentConfig config = Config({Float("x", 0, 1), Float("y", 0, 1)});
  config.strategy.patience = 8;
  AgentSimulation sim(config, 2);
  sim.outcome = [](const Trial&) { return Once(1.0); };
  Analyst analyst(sim.config());
  EXPECT_EQ(sim.Run(analyst, 100, 1), "stopped");
  // 5 start points + patience 8: the 13th finished trial is the first that can show a stall.
  EXPECT_EQ(sim.finished_at_stop, 13);
  EXPECT_EQ(sim.trials.size(), 13u);
  for (size_t i = 0; i + 1 < sim.replies.size(); ++i) EXPECT_FALSE(sim.replies[i].stop) << "call " << i;
  ASSERT_TRUE(sim.stop);
  EXPECT_NE(
      sim.stop->rationale.find("Improvement has stalled: the best loss is 1 (#1), and the last 8 finished "
                               "trials (#6..#13) improved on the 1 before them by 0, within the tolerance "
                               "0.0001"),
      std::string::npos)
      << sim.stop->rationale;
  EXPECT_NE(sim.stop->rationale.find("Stopping after 13 finished trials."), std::string::npos);
  EXPECT_EQ(sim.stop->evidence["window"], (Json{6, 13}));
  EXPECT_EQ(sim.stop->evidence["patience"], 8);
  // From max(5, 8 / 2) = 5 finished trials without progress on, it polished the best before giving up, and
  // the stop says how often.
  int polished = 0;
  for (const Trial& t : sim.trials) {
    if (t.evidence.value("operator", "") != "polish") continue;
    ++polished;
    EXPECT_GE(t.number, 7)
        << "the call for #7 is the first to see 5 finished trials without progress after #1";
    EXPECT_EQ(t.parents, (std::vector<int64_t>{1}));
    EXPECT_NE(t.rationale.find("Polishing the best trial loss 1 (#1) after "), std::string::npos)
        << t.rationale;
    EXPECT_NE(t.rationale.find("finished trials without progress beyond the tolerance, before the stall rule "
                               "(patience 8) may end the search"),
              std::string::npos)
        << t.rationale;
  }
  EXPECT_EQ(polished, 7) << "#7..#13";
  EXPECT_EQ(sim.stop->evidence["polished"], 7);
  EXPECT_NE(sim.stop->rationale.find("(0.01% of 1), 7 of them polishing the best."), std::string::npos)
      << sim.stop->rationale;
  // Once stopped, no more proposals.
  Insight insight = analyst.Analyse(sim.Context(), 1);
  EXPECT_EQ(insight.phase, "stopped");
  EXPECT_TRUE(insight.suggestions.empty());
}

TEST(Analyst, KeepsGoingWhileItImproves) {
  ExperimentConfig config = Config({Float("x", 0, 1), Float("y", 0, 1)});
  config.strategy.patience = 8;
  AgentSimulation sim(config, 2);
  // Every trial beats the one before by 1%: never a stall.
  sim.outcome = [](const Trial& t) { return Once(std::pow(0.99, static_cast<double>(t.number))); };
  Analyst analyst(sim.config());
  EXPECT_EQ(sim.Run(analyst, 40, 1), "budget");
  EXPECT_FALSE(sim.stop);
}

TEST(Analyst, DefaultPatienceComesFromTheSpace) {
  ExperimentConfig config =
      Config({Float("a", 0, 1), Float("b", 0, 1), Float("c", 0, 1), Float("d", 0, 1), Float("e", 0, 1)});
  AgentSimulation sim(config, 2);
  sim.outcome = [](const Trial&) { return Once(2.0); };
  Analyst analyst(sim.config());
  EXPECT_EQ(sim.Run(analyst, 100, 1), "stopped");
  // max(5, 2 x 5) = 10 start points, patience max(20, 5 x 5) = 25.
  EXPECT_EQ(sim.finished_at_stop, 35);
  EXPECT_NE(sim.stop->rationale.find("the last 25 finished trials (#11..#35)"), std::string::npos)
      << sim.stop->rationale;
}

TEST(Analyst, AcknowledgesANoteOnceAndActsOnIt) {
  AgentSimulation sim(Config({Int("batch_size", 16, 256, true), Float("lr", 1e-4, 1e-1, true)}), 8);
  sim.outcome = [](const Trial& t) {
    return Once(std::pow(std::log2(t.params["batch_size"].get<double>()) - 6, 2) +
                std::pow(std::log10(X(t, "lr")) + 3, 2));
  };
  sim.notes_at[8] = "try smaller batch sizes";
  sim.notes_at[12] = "looks promising so far";
  Analyst analyst(sim.config());
  sim.Run(analyst, 20, 1);
  ASSERT_EQ(sim.notes.size(), 2u);
  std::vector<size_t> acknowledging[2];
  for (size_t i = 0; i < sim.replies.size(); ++i) {
    for (int64_t id : sim.replies[i].acknowledged_notes) {
      for (int k = 0; k < 2; ++k) {
        if (sim.notes[k].event_id == id) acknowledging[k].push_back(i);
      }
    }
  }
  ASSERT_EQ(acknowledging[0].size(), 1u) << "acknowledged exactly once";
  ASSERT_EQ(acknowledging[1].size(), 1u);
  const AgentReply& first = sim.replies[acknowledging[0][0]];
  ASSERT_FALSE(first.proposals.empty());
  const Proposal& acted = first.proposals.front();
  EXPECT_EQ(
      acted.rationale.rfind("Your note 'try smaller batch sizes' was read; acting on it: the best trial", 0),
      0u)
      << acted.rationale;
  ASSERT_EQ(acted.parents.size(), 1u);
  const Trial& parent = sim.trials.at(acted.parents[0] - 1);
  EXPECT_LT(acted.params["batch_size"].get<int64_t>(), parent.params["batch_size"].get<int64_t>());
  EXPECT_EQ(acted.params["lr"], parent.params["lr"]);
  const AgentReply& second = sim.replies[acknowledging[1][0]];
  EXPECT_EQ(second.proposals.front().rationale.rfind(
                "Your note 'looks promising so far' was read; it names no parameter and direction", 0),
            0u)
      << second.proposals.front().rationale;
  int mentions = 0;
  for (const Proposal& p : AllProposals(sim)) mentions += p.rationale.find("Your note") != std::string::npos;
  EXPECT_EQ(mentions, 2);
}

TEST(Analyst, ANoteAnsweredInTheLogIsNotAcknowledgedAgain) {
  // As after a resume: the note's flag is not set, but a stored decision lists it under "notes".
  ExperimentConfig config = Config({Float("x", 0, 1), Float("y", 0, 1)});
  std::vector<Trial> trials;
  const std::map<int64_t, std::vector<StepValue>> curves;
  Event answered;
  answered.id = 9;
  answered.type = "trial_pruned";
  answered.trial_id = 1;
  answered.payload = Json{{"reason", "plateau"}, {"notes", {7}}};
  const std::vector<Event> decisions = {answered};
  const std::vector<Note> notes = {Note{7, 0, "try smaller x", false}, Note{8, 0, "keep going", false}};
  const std::vector<Event> recent;
  AgentContext context{config, trials, curves, decisions, notes, recent, 1, 1, 0, std::nullopt, std::nullopt};
  Analyst analyst(config);
  AgentReply reply = analyst.Decide(context);
  EXPECT_EQ(reply.acknowledged_notes, (std::vector<int64_t>{8}));
  ASSERT_EQ(reply.proposals.size(), 1u);
  EXPECT_EQ(reply.proposals[0].rationale.find("'try smaller x'"), std::string::npos);
  EXPECT_EQ(reply.proposals[0].rationale.rfind("Your note 'keep going' was read;", 0), 0u)
      << reply.proposals[0].rationale;
}

TEST(Analyst, ARefusedProposalIsNotRepeated) {
  AgentSimulation sim(Config({Float("x", 0, 1), Float("y", 0, 1)}), 6);
  sim.outcome = [](const Trial& t) {
    return Once(std::pow(X(t, "x") - 0.5, 2) + std::pow(X(t, "y") - 0.5, 2));
  };
  std::vector<Json> refused;
  sim.refuse = [&](const Proposal& p) -> std::optional<std::string> {
    const bool start_two = p.evidence.value("design_index", -1) == 2;
    const bool first_model = p.op != "sample" && refused.size() < 2;
    if (!start_two && !first_model) return std::nullopt;
    refused.push_back(p.params);
    return "refused by the test";
  };
  Analyst analyst(sim.config());
  sim.Run(analyst, 20, 1);
  ASSERT_EQ(refused.size(), 2u) << "start point 2 once, the first model proposal once";
  int proposed = 0;
  for (const Proposal& p : AllProposals(sim)) {
    for (const Json& r : refused) proposed += p.params == r ? 1 : 0;
  }
  EXPECT_EQ(proposed, 2) << "each refused point was proposed exactly once";
  // The start skipped the refused point and went on with the next.
  EXPECT_EQ(sim.trials[2].evidence["design_index"], 3);
}

TEST(Analyst, EveryProposalExplainsItselfWithNumbers) {
  // A mixed, conditional space, maximised, with crashes in part of it; patience long enough to use the
  // budget.
  ExperimentConfig config = Config({Choice("optimizer", {"sgd", "adam"}), Float("lr", 1e-4, 1, true),
                                    When(Float("momentum", 0, 0.99), "optimizer", {"sgd"}),
                                    Int("layers", 1, 6), Choice("batch", {16, 32, 64, 128})},
                                   ObjectiveMode::kMaximize);
  config.strategy.patience = 100;
  AgentSimulation sim(config, 13);
  sim.outcome = [](const Trial& t) {
    const double lr = X(t, "lr");
    if (lr > 0.2) return Diverges();
    double acc =
        0.9 - 0.05 * std::pow(std::log10(lr) + 2.5, 2) - 0.01 * std::abs(t.params["layers"].get<int>() - 3);
    if (t.params.contains("momentum")) acc -= 0.05 * std::abs(X(t, "momentum") - 0.9);
    return Once(acc);
  };
  Analyst analyst(sim.config());
  sim.Run(analyst, 45, 3);
  ASSERT_EQ(sim.trials.size(), 45u);
  for (const Event& e : sim.decisions) EXPECT_NE(e.type, "decision_rejected") << e.payload.dump();
  std::set<std::string> ops;
  for (const Proposal& p : AllProposals(sim)) {
    ops.insert(p.op);
    EXPECT_FALSE(p.op.empty());
    EXPECT_FALSE(p.change_label.empty()) << p.rationale;
    EXPECT_TRUE(HasDigit(p.rationale)) << p.rationale;
    EXPECT_TRUE(p.evidence.is_object() && !p.evidence.empty()) << p.rationale;
    EXPECT_TRUE(sim.config().space.Validate(p.params).ok()) << p.params.dump();
  }
  EXPECT_TRUE(ops.count("sample"));
  EXPECT_TRUE(ops.count("model") || ops.count("mutate") || ops.count("crossover"));
  // Maximised: the best trial has the highest value, and the model's rationale names it.
  const Trial* best = nullptr;
  for (const Trial& t : sim.trials) {
    if (t.state == TrialState::kCompleted && (!best || *t.value > *best->value)) best = &t;
  }
  ASSERT_TRUE(best);
  EXPECT_GT(*best->value, 0.85);
  std::set<int64_t> frontier = analyst.Frontier(sim.Context());
  EXPECT_TRUE(frontier.count(best->id));
  EXPECT_LE(frontier.size(), 6u);
}

TEST(Analyst, SameSeedSameProposals) {
  auto run = [](uint64_t seed) {
    AgentSimulation sim(Config({Float("x", -2, 2), Int("n", 1, 9), Choice("kind", {"a", "b", "c"})}), seed);
    sim.outcome = [](const Trial& t) {
      return Once(std::pow(X(t, "x") - 0.7, 2) + 0.1 * std::abs(t.params["n"].get<int>() - 4) +
                  (t.params["kind"] == "b" ? 0 : 0.3));
    };
    Analyst analyst(sim.config());
    sim.Run(analyst, 24, 3);
    std::vector<std::string> out;
    for (const Proposal& p : AllProposals(sim))
      out.push_back(p.params.dump() + p.op + p.change_label + p.rationale);
    return out;
  };
  const auto a = run(21), b = run(21), c = run(22);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a.size(), 24u);
}

TEST(Analyst, StopsOnceEveryPointOfASmallSpaceWasTried) {
  AgentSimulation sim(Config({Choice("a", {1, 2}), Choice("b", {"x", "y"}), Int("n", 1, 2)}), 3);
  sim.outcome = [](const Trial& t) { return Once(t.params["n"].get<double>()); };
  Analyst analyst(sim.config());
  EXPECT_EQ(sim.Run(analyst, 20, 2), "stopped");
  EXPECT_EQ(sim.trials.size(), 8u);
  std::set<std::string> points;
  for (const Trial& t : sim.trials) points.insert(t.params.dump());
  EXPECT_EQ(points.size(), 8u);
  for (const Event& e : sim.decisions) EXPECT_NE(e.type, "decision_rejected") << e.payload.dump();
  ASSERT_TRUE(sim.stop);
  EXPECT_EQ(sim.stop->rationale,
            "Every point of the space outside the bad regions has been tried (8 trials); nothing is left to "
            "propose.");
}

TEST(Analyst, TurnsToTpeWhenTheGpWouldSeeTooFewTrials) {
  ExperimentConfig config = Config({Float("x", 0, 1), Float("y", 0, 1)});
  std::vector<Trial> trials;
  std::mt19937_64 rng(1);
  for (int i = 1; i <= 320; ++i) {
    Trial t;
    t.id = t.number = i;
    t.state = TrialState::kCompleted;
    t.params = config.space.Sample(rng);
    t.value = std::pow(X(t, "x") - 0.25, 2) + std::pow(X(t, "y") - 0.75, 2);
    trials.push_back(t);
  }
  const std::map<int64_t, std::vector<StepValue>> curves;
  const std::vector<Event> none;
  const std::vector<Note> notes;
  AgentContext context{config, trials, curves, none, notes, none, 4, 1, 0, std::nullopt, std::nullopt};
  Analyst analyst(config);
  Insight insight = analyst.Analyse(context, 1);
  EXPECT_EQ(insight.phase, "model-based (tpe on 320 measured trials)");
  ASSERT_EQ(insight.suggestions.size(), 1u);
  const Proposal& p = insight.suggestions[0];
  if (p.op == "model") {
    EXPECT_EQ(p.evidence["model"], "tpe");
    EXPECT_EQ(p.change_label, "tpe");
  }
  EXPECT_TRUE(config.space.Validate(p.params).ok());
}

}  // namespace
}  // namespace hyperion

namespace hyperion {
namespace {

TEST(Analyst, ANoteIsReadWithItsNegationAndNeverGivesAChoiceADirection) {
  ExperimentConfig config = Config({Float("lr", 1e-4, 1, true), Choice("opt", {"adam", "sgd"})});
  auto up = analyst::ReadNote(config.space, "try a larger learning rate");
  ASSERT_TRUE(up);
  EXPECT_EQ(up->spec->name, "lr");
  EXPECT_EQ(up->direction, 1);
  auto negated = analyst::ReadNote(config.space, "do not try larger learning rates, they diverge");
  ASSERT_TRUE(negated);
  EXPECT_EQ(negated->direction, -1);
  auto avoid = analyst::ReadNote(config.space, "avoid smaller lr");
  ASSERT_TRUE(avoid);
  EXPECT_EQ(avoid->direction, 1);
  EXPECT_FALSE(analyst::ReadNote(config.space, "try fewer opt"));
}

TEST(Analyst, StopsWhenEveryTrialFailsSayingWhy) {
  AgentSimulation sim(Config({Float("x", 0, 1), Float("y", 0, 1)}), 4);
  sim.outcome = [](const Trial&) { return Diverges(); };
  Analyst analyst(sim.config());
  EXPECT_EQ(sim.Run(analyst, 40, 1), "stopped");
  EXPECT_EQ(sim.trials.size(), 5u);  // max(5, 2 x 2 parameters)
  ASSERT_TRUE(sim.stop);
  EXPECT_EQ(sim.stop->rationale.rfind("All 5 trials so far failed", 0), 0u) << sim.stop->rationale;
  EXPECT_EQ(sim.stop->evidence["failed"], 5);
}

}  // namespace
}  // namespace hyperion
