// search_quality: how close each Hyperion strategy gets to the known optimum of a few test problems in a
// fixed number of trials, run purely in-process (no orchestrator, no storage, no processes).
//
// For every problem, strategy and seed it builds the problem's Space and loops: the strategy proposes from
// the trials so far, the objective is evaluated on the proposal, and the result is appended as a completed
// trial. The final regret of a run is the best value found minus the problem's known optimum (all problems
// are minimised), so it is >= 0 and 0 is perfect. bench/optuna_search_quality.py defines the same problems
// for Optuna; bench/run_search_quality.py runs both and prints them side by side.
//
// A strategy name that MakeAgent() rejects, a proposal outside the space or a strategy that waits in this
// strictly sequential loop is reported (stderr and the JSON "error" field) and does not stop the other
// strategies. Exit codes: 0 when at least one strategy produced results, 1 when none did, 2 for bad options.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <map>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/agent/agent.h"
#include "hyperion/common/json.h"
#include "hyperion/common/status.h"
#include "hyperion/common/text.h"
#include "hyperion/experiment/config.h"
#include "hyperion/experiment/event_types.h"
#include "hyperion/experiment/trial.h"
#include "hyperion/space/space.h"
#include "hyperion/strategy/strategy.h"

namespace hyperion::bench {
namespace {

struct Problem {
  std::string name;
  std::string description;
  double optimum = 0;  // the known global minimum
  std::vector<ParamSpec> params;
  std::function<double(const Json&)> evaluate;
  // Fixed points whose values are printed with the results, so the Optuna side can be checked to compute the
  // same function.
  std::vector<Json> probes;
};

ParamSpec Float(const std::string& name, double low, double high, bool log = false) {
  ParamSpec spec;
  spec.name = name;
  spec.type = ParamType::kFloat;
  spec.low = low;
  spec.high = high;
  spec.log = log;
  return spec;
}

ParamSpec Int(const std::string& name, int64_t low, int64_t high, bool log = false) {
  ParamSpec spec = Float(name, static_cast<double>(low), static_cast<double>(high), log);
  spec.type = ParamType::kInt;
  return spec;
}

ParamSpec Categorical(const std::string& name, std::vector<Json> choices) {
  ParamSpec spec;
  spec.name = name;
  spec.type = ParamType::kCategorical;
  spec.choices = std::move(choices);
  return spec;
}

// Branin-Hoo, x1 in [-5, 10], x2 in [0, 15]; three global minima of 10 / (8 pi) = 0.397887.
Problem Branin() {
  Problem p;
  p.name = "branin";
  p.description =
      "Branin-Hoo, 2 floats: x1 in [-5, 10], x2 in [0, 15]; minimum 10 / (8 pi) at (-pi, 12.275), (pi, "
      "2.275) and (9.42478, 2.475)";
  p.optimum = 0.397887357729738;
  p.params = {Float("x1", -5, 10), Float("x2", 0, 15)};
  p.evaluate = [](const Json& x) {
    constexpr double kPi = std::numbers::pi;
    const double x1 = x.at("x1").get<double>(), x2 = x.at("x2").get<double>();
    const double b = 5.1 / (4 * kPi * kPi), c = 5 / kPi, t = 1 / (8 * kPi);
    const double q = x2 - b * x1 * x1 + c * x1 - 6;
    return q * q + 10 * (1 - t) * std::cos(x1) + 10;
  };
  p.probes = {Json{{"x1", std::numbers::pi}, {"x2", 2.275}}, Json{{"x1", -5.0}, {"x2", 0.0}},
              Json{{"x1", 2.5}, {"x2", 7.5}}};
  return p;
}

// Hartmann 6-d on the unit cube; global minimum -3.32237 at (0.20169, 0.150011, 0.476874, 0.275332,
// 0.311652, 0.6573).
Problem Hartmann6() {
  Problem p;
  p.name = "hartmann6";
  p.description =
      "Hartmann 6-d, 6 floats x1..x6 in [0, 1]; minimum near (0.20169, 0.150011, 0.476874, 0.275332, "
      "0.311652, 0.6573)";
  p.optimum = -3.32236801141551;
  for (int j = 1; j <= 6; ++j) p.params.push_back(Float("x" + std::to_string(j), 0, 1));
  p.evaluate = [](const Json& x) {
    static constexpr double kAlpha[4] = {1.0, 1.2, 3.0, 3.2};
    static constexpr double kA[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                        {0.05, 10, 17, 0.1, 8, 14},
                                        {3, 3.5, 1.7, 10, 17, 8},
                                        {17, 8, 0.05, 10, 0.1, 14}};
    static constexpr double kP[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                        {2329, 4135, 8307, 3736, 1004, 9991},
                                        {2348, 1451, 3522, 2883, 3047, 6650},
                                        {4047, 8828, 8732, 5743, 1091, 381}};
    double sum = 0;
    for (int i = 0; i < 4; ++i) {
      double inner = 0;
      for (int j = 0; j < 6; ++j) {
        const double d = x.at("x" + std::to_string(j + 1)).get<double>() - kP[i][j] * 1e-4;
        inner += kA[i][j] * d * d;
      }
      sum += kAlpha[i] * std::exp(-inner);
    }
    return -sum;
  };
  p.probes = {Json{{"x1", 0.20169},
                   {"x2", 0.150011},
                   {"x3", 0.476874},
                   {"x4", 0.275332},
                   {"x5", 0.311652},
                   {"x6", 0.6573}},
              Json{{"x1", 0.5}, {"x2", 0.5}, {"x3", 0.5}, {"x4", 0.5}, {"x5", 0.5}, {"x6", 0.5}}};
  return p;
}

// A cheap stand-in for tuning a training job, with every kind of parameter a real config has:
//   f = (log10(lr) - c[optimizer])^2 + offset[optimizer] + 0.05 (layers - 3)^2 + 0.1 (log2(width) - 7)^2
//       + 4 (dropout - 0.2)^2
// with c = {sgd: -2, adam: -3, rmsprop: -3.5} (the best learning rate depends on the optimizer) and
// offset = {sgd: 0.3, adam: 0, rmsprop: 0.15}. Minimum 0 at optimizer=adam, lr=1e-3, layers=3, width=128,
// dropout=0.2.
Problem Mixed() {
  Problem p;
  p.name = "mixed";
  p.description =
      "A stand-in for tuning a training job: optimizer categorical {sgd, adam, rmsprop}, lr float "
      "log [1e-5, 1e-1], layers int [1, 8], width int log [16, 1024], dropout float [0, 0.5]; f = "
      "(log10(lr) - c[optimizer])^2 + offset[optimizer] + 0.05 (layers - 3)^2 + 0.1 (log2(width) - "
      "7)^2 + 4 (dropout - 0.2)^2 with c = {sgd: -2, adam: -3, rmsprop: -3.5} and offset = {sgd: "
      "0.3, adam: 0, rmsprop: 0.15}; minimum 0 at optimizer=adam, lr=1e-3, layers=3, width=128, "
      "dropout=0.2";
  p.optimum = 0;
  p.params = {Categorical("optimizer", {Json("sgd"), Json("adam"), Json("rmsprop")}),
              Float("lr", 1e-5, 1e-1, true), Int("layers", 1, 8), Int("width", 16, 1024, true),
              Float("dropout", 0, 0.5)};
  p.evaluate = [](const Json& x) {
    const std::string optimizer = x.at("optimizer").get<std::string>();
    const double center = optimizer == "sgd" ? -2.0 : optimizer == "adam" ? -3.0 : -3.5;
    const double offset = optimizer == "sgd" ? 0.3 : optimizer == "adam" ? 0.0 : 0.15;
    const double lr = x.at("lr").get<double>();
    const double layers = static_cast<double>(x.at("layers").get<int64_t>());
    const double width = static_cast<double>(x.at("width").get<int64_t>());
    const double dropout = x.at("dropout").get<double>();
    const double a = std::log10(lr) - center, b = layers - 3, c = std::log2(width) - 7, d = dropout - 0.2;
    return a * a + offset + 0.05 * b * b + 0.1 * c * c + 4 * d * d;
  };
  p.probes = {Json{{"optimizer", "adam"}, {"lr", 1e-3}, {"layers", 3}, {"width", 128}, {"dropout", 0.2}},
              Json{{"optimizer", "sgd"}, {"lr", 1e-5}, {"layers", 8}, {"width", 16}, {"dropout", 0.5}},
              Json{{"optimizer", "rmsprop"}, {"lr", 0.05}, {"layers", 1}, {"width", 1000}, {"dropout", 0.0}}};
  return p;
}

std::vector<Problem> AllProblems() { return {Branin(), Hartmann6(), Mixed()}; }

struct RunResult {
  double best = 0;
  double regret = 0;
  int trials = 0;  // trials evaluated; fewer than asked when the strategy ran out of points
  double seconds = 0;
  std::string note;                // why it stopped early, when it did
  std::map<std::string, int> ops;  // trials by the operator that made them
};

// One seed of one strategy on one problem. Every strategy is driven as the orchestrator drives it, as an
// agent (MakeAgent: the search strategies through StrategyAgent, "agent" the analyst): one trial at a time,
// with the budget left, the earlier decisions and the trials so far. Prunes are applied as the orchestrator
// applies them (a completed trial becomes pruned; its measured value still counts for the regret), and a
// stop ends the run early: the remaining trials are not run and the best so far counts.
Result<RunResult> RunOnce(const Problem& problem, const Space& space, const std::string& strategy_name,
                          int trials, uint64_t seed) {
  ExperimentConfig config;
  config.name = problem.name;
  config.space = space;
  config.objective.metric = "value";
  config.objective.mode = ObjectiveMode::kMinimize;
  config.strategy.type = strategy_name;
  config.strategy.seed = seed;
  config.budget.max_trials = trials;
  auto made = MakeAgent(config);
  if (!made.ok()) return made.status();
  std::unique_ptr<Agent> agent = std::move(made).value();

  std::vector<Trial> history;
  history.reserve(trials);
  const std::map<int64_t, std::vector<StepValue>> curves;  // one value per trial: no curves to read
  std::vector<Event> decisions;
  const std::vector<Note> notes;
  const std::vector<Event> recent;
  auto record = [&](const char* type, int64_t trial_id, Json payload) {
    Event e;
    e.id = static_cast<int64_t>(decisions.size()) + 1;
    e.experiment_id = 1;
    e.trial_id = trial_id;
    e.type = type;
    e.payload = std::move(payload);
    decisions.push_back(std::move(e));
  };
  RunResult result;
  std::optional<double> best;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < trials; ++i) {
    const AgentContext context{config,
                               history,
                               curves,
                               decisions,
                               notes,
                               recent,
                               seed,
                               /*free_slots=*/1,
                               /*running=*/0,
                               /*trials_left=*/trials - i,
                               /*seconds_left=*/std::nullopt};
    AgentReply reply = agent->Decide(context);
    // A graph strategy drops finished nodes from its search as the orchestrator would record it; their
    // values were measured and still count for the regret.
    for (const auto& prune : reply.prunes) {
      if (prune.trial_id < 1 || prune.trial_id > static_cast<int64_t>(history.size())) continue;
      Trial& pruned = history[prune.trial_id - 1];
      if (pruned.state != TrialState::kCompleted) continue;
      pruned.state = TrialState::kPruned;
      record(events::kTrialPruned, pruned.id, Json{{"rationale", prune.rationale}});
    }
    if (reply.stop) {
      result.note = "stopped after " + std::to_string(i) + " trials: " + reply.stop->rationale;
      break;
    }
    if (reply.proposals.empty()) {
      return FailedPreconditionError("trial " + std::to_string(i + 1) +
                                     ": no proposal although every trial is completed: " + reply.wait_reason);
    }
    Proposal& proposal = reply.proposals.front();
    Status valid = space.Validate(proposal.params);
    if (!valid.ok())
      return valid.WithContext("trial " + std::to_string(i + 1) + ": proposal outside the space");
    const double value = problem.evaluate(proposal.params);

    Trial trial;
    trial.id = i + 1;
    trial.experiment_id = 1;
    trial.number = i + 1;
    trial.state = TrialState::kCompleted;
    trial.params = std::move(proposal.params);
    trial.value = value;
    trial.parents = std::move(proposal.parents);
    trial.op = std::move(proposal.op);
    trial.change_label = std::move(proposal.change_label);
    trial.rationale = std::move(proposal.rationale);
    trial.evidence = std::move(proposal.evidence);
    record(events::kTrialProposed, trial.id, Json{{"op", trial.op}});
    ++result.ops[trial.op];
    history.push_back(std::move(trial));
    if (!best || value < *best) best = value;
    result.trials = i + 1;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!best) return FailedPreconditionError("no trial was evaluated: " + result.note);
  result.best = *best;
  result.regret = *best - problem.optimum;
  return result;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double Mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

std::string Fixed(double value, const char* format = "%.4g") {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::vector<std::string> DefaultStrategies() {
  std::vector<std::string> names;
  // Grid would only walk its lattice, pbt needs a training budget to continue checkpoints in, and the LLM
  // agent an endpoint; beam and evolution search whole runs when there is none, as here.
  for (const auto& name : KnownStrategyTypes()) {
    if (name != "grid" && name != "pbt" && name != "llm") names.push_back(name);
  }
  return names;
}

int Main(int argc, char** argv) {
  CLI::App app{"Search quality of Hyperion's strategies on test problems with known optima (minimisation)."};
  int trials = 100;
  int seeds = 10;
  std::vector<std::string> strategies = DefaultStrategies();
  std::vector<std::string> problem_names;
  for (const auto& p : AllProblems()) problem_names.push_back(p.name);
  const std::vector<std::string> all_problem_names = problem_names;
  bool json = false;
  app.add_option("--trials", trials, "trials per run")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--seeds", seeds, "runs per strategy and problem, with seeds 0 .. S-1")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--strategies", strategies,
                 "Hyperion strategy names (default: every known one but grid, pbt and llm)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--problems", problem_names, "problems to run")
      ->delimiter(',')
      ->check(CLI::IsMember(all_problem_names))
      ->capture_default_str();
  app.add_flag("--json", json, "print machine-readable results on stdout instead of tables");
  bool list_strategies = false;
  app.add_flag("--list-strategies", list_strategies,
               "print the default strategy names, one a line, and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (list_strategies) {
    for (const auto& name : DefaultStrategies()) std::printf("%s\n", name.c_str());
    return 0;
  }

  // A name MakeAgent() rejects is reported once and kept in the output with its error.
  std::map<std::string, std::string> unavailable;
  for (const std::string& name : strategies) {
    ExperimentConfig config;
    config.strategy.type = name;
    config.strategy.seed = 0;
    auto made = MakeAgent(config);
    if (!made.ok()) {
      unavailable[name] = made.status().ToString();
      std::cerr << "search_quality: skipping strategy '" << name << "': " << made.status().ToString() << "\n";
    }
  }

  Json out = {{"tool", "hyperion"},
              {"trials", trials},
              {"seeds", seeds},
              {"strategies", strategies},
              {"problems", Json::array()}};
  bool any_result = false;
  for (const Problem& problem : AllProblems()) {
    if (std::find(problem_names.begin(), problem_names.end(), problem.name) == problem_names.end()) continue;
    auto space = Space::Create(problem.params);
    if (!space.ok()) {
      std::cerr << "search_quality: problem " << problem.name << ": " << space.status().ToString() << "\n";
      return 1;
    }
    Json probes = Json::array();
    for (const auto& point : problem.probes)
      probes.push_back({{"params", point}, {"value", problem.evaluate(point)}});
    Json problem_json = {{"name", problem.name},       {"description", problem.description},
                         {"optimum", problem.optimum}, {"space", space->ToJson()},
                         {"probes", probes},           {"results", Json::array()}};
    if (!json) {
      std::printf("\n%s (optimum %.6g): %s; %d trials x %d seeds\n", problem.name.c_str(), problem.optimum,
                  problem.description.c_str(), trials, seeds);
      std::printf("%-12s %14s %14s %14s %14s %10s\n", "strategy", "median regret", "mean regret",
                  "min regret", "max regret", "s/run");
    }
    for (const std::string& name : strategies) {
      Json entry = {{"strategy", name}};
      std::vector<double> regrets, bests, seconds;
      std::vector<int> counts;
      std::map<std::string, int> ops;
      std::vector<std::string> notes;
      std::string error = unavailable.count(name) ? unavailable[name] : "";
      for (int s = 0; s < seeds && error.empty(); ++s) {
        Result<RunResult> run = InternalError("not run");
        try {
          run = RunOnce(problem, *space, name, trials, static_cast<uint64_t>(s));
        } catch (const std::exception& e) {
          run = InternalError(std::string("exception: ") + e.what());
        }
        if (!run.ok()) {
          error = "seed " + std::to_string(s) + ": " + run.status().ToString();
          break;
        }
        regrets.push_back(run->regret);
        bests.push_back(run->best);
        seconds.push_back(run->seconds);
        counts.push_back(run->trials);
        for (const auto& [op, n] : run->ops) ops[op] += n;
        if (!run->note.empty()) notes.push_back("seed " + std::to_string(s) + ": " + run->note);
      }
      if (!error.empty()) {
        if (!unavailable.count(name)) {
          std::cerr << "search_quality: " << problem.name << " / " << name << ": " << error << "\n";
        }
        entry["error"] = error;
        if (!json) std::printf("%-12s error: %s\n", name.c_str(), error.c_str());
      } else {
        any_result = true;
        entry["regrets"] = regrets;
        entry["best_values"] = bests;
        entry["seconds"] = seconds;
        entry["trials_run"] = counts;
        entry["ops"] = Json(ops);
        if (!notes.empty()) entry["notes"] = notes;
        if (!json) {
          std::printf("%-12s %14s %14s %14s %14s %10s\n", name.c_str(), Fixed(Median(regrets)).c_str(),
                      Fixed(Mean(regrets)).c_str(),
                      Fixed(*std::min_element(regrets.begin(), regrets.end())).c_str(),
                      Fixed(*std::max_element(regrets.begin(), regrets.end())).c_str(),
                      Fixed(Mean(seconds), "%.3f").c_str());
          for (const auto& note : notes) std::printf("  %s\n", note.c_str());
        }
      }
      problem_json["results"].push_back(std::move(entry));
    }
    out["problems"].push_back(std::move(problem_json));
  }
  if (json) std::cout << out.dump(1) << "\n";
  return any_result ? 0 : 1;
}

}  // namespace
}  // namespace hyperion::bench

int main(int argc, char** argv) { return hyperion::bench::Main(argc, argv); }
