// How many trials run at once, and on what: the run's slots resolved from `parallel` and `resources:`.
//
// Without a `resources:` section the run has `parallel` slots and manages no devices. With one, `gpus: auto`,
// `cpus: auto` and `memory: auto` are read off this machine, and the slots are what the resources fit, capped
// by `parallel` when the config sets it. `gpus: auto` on a machine without a GPU falls back to CPU slots (one
// per core, or per cpus_per_trial cores) and says so. When a scheduler places trials (Slurm), the pool only
// counts amounts and `parallel` is the number of jobs at once.
//
// Plain function; any thread. It may run nvidia-smi (see resources/detection.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hyperion/common/status.h"
#include "hyperion/experiment/config.h"
#include "hyperion/resources/resource_pool.h"

namespace hyperion {

struct SlotPlan {
  int slots = 1;                     // trials at once
  std::optional<ResourcePool> pool;  // set when the config has `resources:`
  std::vector<std::string> notes;    // what the run should tell the user (detection, fallback, capping)
};

// kInvalidArgument, naming the `resources.` key and how to fix it, when the resources cannot hold one trial.
Result<SlotPlan> PlanSlots(const ExperimentConfig& config, bool scheduler_places_trials);

}  // namespace hyperion
