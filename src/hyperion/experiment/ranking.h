// Which trials are best: one rule for the orchestrator, the strategies, the CLI and the retention of
// checkpoints. Only completed trials with a value count (a pruned trial is never the best); a tie goes to
// the earlier trial. Pure functions; any thread.
#pragma once

#include <optional>
#include <vector>

#include "hyperion/experiment/config.h"
#include "hyperion/experiment/trial.h"

namespace hyperion {

// The completed trials that have a value, best first; equal values keep the lower trial number first.
std::vector<const Trial*> RankCompleted(const std::vector<Trial>& trials, const Objective& objective);

// The first of RankCompleted(), or nullopt when no trial completed.
std::optional<Trial> BestCompleted(const std::vector<Trial>& trials, const Objective& objective);

}  // namespace hyperion
