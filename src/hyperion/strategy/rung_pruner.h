// ASHA and Hyperband: prune at rungs, keeping the top 1/reduction of the trials that reached each one.
//
// Milestones. A ladder starting at `first` has the milestones first * reduction^k, k = 0, 1, ..., strictly
// below pruner.max_step (unbounded when it is unset). ASHA uses one ladder starting at pruner.min_step.
// Hyperband runs brackets s = 0..s_max, s_max = floor(log_reduction(max_step / min_step)); bracket s is an
// ASHA whose ladder starts at min_step * reduction^s, and a trial competes only with the trials of its own
// bracket (see HyperbandBracket for how a trial gets one).
//
// The rule at milestone m, decided once per trial, at its first report at or past m (reports may skip steps):
//  - Each trial's value at m is the value of its first report with step >= m. The competitors are every
//    trial of the experiment (same bracket for Hyperband), in any state (running, completed, pruned,
//    failed...), whose curve reached m; the trial being checked is one of them.
//  - With n competitors, fewer than pruner.min_trials: no decision (kNone); the trial goes on and this
//    milestone is not looked at again for it.
//  - Otherwise they are ranked best first under the objective's mode, ties going to the earlier trial
//    number. Within the top keep = max(1, floor(n / reduction)): kContinue (a promotion); else kPrune.
// Several milestones crossed by one batch of reports are decided in order, stopping at the first prune.
//
// Evidence: milestone, step, value, threshold (the keep-th best value), competitors (n), keep, rank,
// best_trial (number), best_value; Hyperband adds bracket. Stateless; called from the orchestrator's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "hyperion/common/status.h"
#include "hyperion/experiment/config.h"
#include "hyperion/strategy/pruner.h"

namespace hyperion {

// kInvalidArgument when the config cannot make a ladder: min_step <= 0, reduction <= 1, min_trials < 1, and
// for Hyperband a missing max_step (LoadConfig fills it from training.max) or one not above min_step.
Result<std::unique_ptr<Pruner>> MakeAshaPruner(const PrunerConfig& config);
Result<std::unique_ptr<Pruner>> MakeHyperbandPruner(const PrunerConfig& config);

// The milestones of the ladder starting at `first` that are at most `up_to`, in increasing order.
// Precondition: first > 0, reduction > 1.
std::vector<double> RungMilestones(double first, double reduction, std::optional<double> max_step,
                                   double up_to);

// Hyperband's s_max for a valid config (at most 62); brackets are 0..s_max.
int HyperbandMaxBracket(const PrunerConfig& config);

// The share of trials each bracket gets, as Hyperband sizes its brackets: bracket s starts at
// min_step * reduction^s and gets ceil((s_max + 1) * reduction^(s_max - s) / (s_max - s + 1)), the number
// of configurations Hyperband samples for the bracket starting at that resource. With min_step 1,
// max_step 27, reduction 3: 27, 12, 6, 4; the aggressive brackets (early first milestone) get the most.
std::vector<double> HyperbandBracketWeights(const PrunerConfig& config);

// The bracket of trial `trial_number`, a pure function of (seed, trial_number, config): a SplitMix64 hash of
// seed and number, read as a fraction u in [0, 1), picks the first bracket whose cumulative weight exceeds
// u * total weight. Over many trials each bracket's share approaches weight / total; a resumed experiment
// puts every trial in the same bracket again.
int HyperbandBracket(const PrunerConfig& config, uint64_t seed, int64_t trial_number);

}  // namespace hyperion
