// The median stopping rule: stop a trial whose best value so far is worse than the median of what the other
// trials had reached by the same step.
//
// The rule, at each new report of the checked trial, at step s (in report order):
//  - No decision while s < pruner.warmup_steps.
//  - The trial's value: its best over its reports at steps <= s.
//  - The others: every other trial of the experiment, in any state, that has a report at a step >= s (it
//    trained at least as far); each counts with its best over its reports at steps <= s, and a trial with no
//    report at or before s is skipped.
//  - pruner.min_trials counts the checked trial itself: with fewer than min_trials - 1 others (and always
//    with none), no decision (kNone) at this report.
//  - kPrune when the trial's value is strictly worse, under the objective's mode, than the median of the
//    others' values (the mean of the two middle ones for an even count); kContinue otherwise.
// Several new reports in one batch are decided in order, stopping at the first prune.
//
// Evidence: step, value (the trial's best so far), median, others (their count), best_trial (number) and
// best_value among the others. Stateless; called from the orchestrator's thread.
#pragma once

#include <memory>

#include "hyperion/common/status.h"
#include "hyperion/experiment/config.h"
#include "hyperion/strategy/pruner.h"

namespace hyperion {

// kInvalidArgument when min_trials < 1 or warmup_steps is negative or not finite.
Result<std::unique_ptr<Pruner>> MakeMedianPruner(const PrunerConfig& config);

}  // namespace hyperion
