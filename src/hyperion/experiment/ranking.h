// Which trials are best: one rule for the orchestrator, the strategies, the CLI and the retention of
// checkpoints. Only completed trials with a finite value count (a pruned trial is never the best); a tie goes
// to the earlier trial. With a training budget, a trial that trained the whole run (its span ends at
// training.max) ranks ahead of every trial that trained part of it: the best is the best finished model, not
// an early measurement of a line that went on. Pure functions; any thread.
#pragma once

#include <optional>
#include <vector>

#include "hyperion/experiment/config.h"
#include "hyperion/experiment/trial.h"

namespace hyperion {

// The completed trials that have a finite value, best first (whole runs ahead of partial ones); equal values
// keep the lower trial number first.
std::vector<const Trial*> RankCompleted(const std::vector<Trial>& trials, const Objective& objective,
                                        const Training& training = {});

// The first of RankCompleted(), or nullopt when no trial completed.
std::optional<Trial> BestCompleted(const std::vector<Trial>& trials, const Objective& objective,
                                   const Training& training = {});

// The order of every ranking: the better value first, equal values by the lower trial number. Both trials
// must have a value.
bool RanksAhead(const Trial& a, const Trial& b, const Objective& objective);

// Whether the trial trained a whole run: always without a training budget; with one, when its span ends at
// training.max (a trial with no span recorded did not).
bool TrainedWholeRun(const Trial& trial, const Training& training);

}  // namespace hyperion
