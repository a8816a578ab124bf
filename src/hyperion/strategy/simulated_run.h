// Test support: plays the orchestrator for strategy tests, without processes or storage.
//
// Run() asks the strategy for proposals, turns each into a trial (id and number from 1, checkpoint folder
// "ckpt/<id>", restore_from its donor's folder when the proposal restores), keeps up to `parallel` trials
// running and finishes the oldest with the value `evaluate` gives (nullopt: the trial failed). Time is a
// counter of finished trials: a trial's created_at is the count when it was proposed and its ended_at the
// count once it finished, so a test can tell which trials a proposal saw finished. Prune
// decisions are applied as the orchestrator applies them: a running trial ends pruned, a completed one
// becomes pruned and keeps its value. Header-only; tests only.
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/strategy/strategy.h"

namespace hyperion::testing {

class SimulatedRun {
 public:
  SimulatedRun(const Space& space, Objective objective, Training training, uint64_t seed)
      : space_(space), objective_(std::move(objective)), training_(std::move(training)), seed_(seed) {}

  // The value a trial reaches; nullopt makes it fail. Sees the trial as proposed (params, parents, span).
  std::function<std::optional<double>(const Trial&)> evaluate;

  // Runs until the strategy is exhausted, or waits with nothing running, or `max_trials` were proposed.
  // Returns the reason it ended ("exhausted: ...", "waiting: ...", "budget").
  std::string Run(Strategy& strategy, int max_trials, int parallel) {
    std::deque<size_t> running;  // indexes into trials
    while (true) {
      while (static_cast<int>(running.size()) < parallel) {
        if (static_cast<int>(trials.size()) >= max_trials) break;
        StrategyContext context{space_, objective_, trials, seed_, training_};
        ProposeOutcome outcome = strategy.Propose(context);
        ApplyPrunes(outcome.prunes, running);
        if (outcome.kind == ProposeOutcome::Kind::kExhausted) return "exhausted: " + outcome.reason;
        if (outcome.kind == ProposeOutcome::Kind::kWait) {
          if (running.empty()) return "waiting: " + outcome.reason;
          break;
        }
        const Proposal& p = outcome.proposal;
        Trial t = TrialFromProposal(p);
        t.id = static_cast<int64_t>(trials.size()) + 1;
        t.number = t.id;
        t.state = TrialState::kRunning;
        t.created_at = clock_;
        t.checkpoint_dir = "ckpt/" + std::to_string(t.id);
        if (p.restore && !p.parents.empty()) t.restore_from = trials.at(p.parents[0] - 1).checkpoint_dir;
        proposals.push_back(p);
        trials.push_back(std::move(t));
        running.push_back(trials.size() - 1);
      }
      if (running.empty()) return "budget";
      Trial& done = trials[running.front()];
      running.pop_front();
      if (done.state != TrialState::kRunning) continue;  // pruned while running
      std::optional<double> value = evaluate(done);
      done.state = value ? TrialState::kCompleted : TrialState::kFailed;
      done.value = value;
      done.ended_at = ++clock_;
    }
  }

  std::vector<Trial> trials;        // by number
  std::vector<Proposal> proposals;  // as the strategy made them, by number
  std::vector<PruneDecision> prunes;

 private:
  void ApplyPrunes(const std::vector<PruneDecision>& decisions, std::deque<size_t>& running) {
    for (const auto& d : decisions) {
      Trial& t = trials.at(d.trial_id - 1);
      if (t.state != TrialState::kRunning && t.state != TrialState::kCompleted) continue;
      prunes.push_back(d);
      t.state = TrialState::kPruned;
      t.error = d.rationale;
    }
    (void)running;
  }

  const Space& space_;
  Objective objective_;
  Training training_;
  uint64_t seed_;
  double clock_ = 0;
};

}  // namespace hyperion::testing
