#include "hyperion/orchestrator/slot_plan.h"

#include <algorithm>

#include "hyperion/common/text.h"
#include "hyperion/resources/detection.h"

namespace hyperion {

Result<SlotPlan> PlanSlots(const ExperimentConfig& config, bool scheduler_places_trials) {
  SlotPlan plan;
  const ResourcesConfig& wanted = config.resources;
  if (!wanted.given) {
    plan.slots = std::max(1, config.parallel);
    return plan;
  }
  PoolShape shape;
  shape.memory_per_trial_mb = wanted.memory_per_trial_mb;
  shape.cpus_per_trial = wanted.cpus_per_trial;
  if (scheduler_places_trials) {
    // The scheduler picks GPUs, cores and nodes; the pool counts jobs and carries the amounts to ask for.
    shape.assign_devices = false;
    shape.gpus_per_trial = wanted.gpus_per_trial.value_or(0);
    shape.slots = std::max(1, config.parallel);
    HYP_ASSIGN_OR_RETURN(ResourcePool pool, ResourcePool::Create(std::move(shape)));
    plan.slots = pool.Capacity();
    plan.pool = std::move(pool);
    return plan;
  }

  shape.gpus = wanted.gpus;
  if (wanted.gpus_auto) {
    DetectedGpus found = DetectGpus();
    shape.gpus = found.ids;
    if (found.ids.empty()) {
      plan.notes.push_back("gpus: auto found no GPU (" + found.source + "): trials run on CPU slots");
    } else {
      plan.notes.push_back("gpus: auto found " + std::to_string(found.ids.size()) + " GPU(s) through " +
                           found.source + ": " + JoinStrings(found.ids));
    }
  }
  // A GPU share given without GPUs to share is an error (the pool says so), except after `auto` found none.
  shape.gpus_per_trial = wanted.gpus_per_trial.value_or(shape.gpus.empty() ? 0 : 1);
  if (wanted.gpus_auto && shape.gpus.empty()) shape.gpus_per_trial = 0;
  if (shape.cpus_per_trial > 0) shape.cpus = wanted.cpus_auto ? AvailableCpus() : wanted.cpus;
  if (!wanted.cpus_auto) {
    // A listed core this process may not run on would leave its trial unpinned while saying otherwise.
    const std::vector<int> usable = AvailableCpus();
    for (int core : wanted.cpus) {
      if (std::find(usable.begin(), usable.end(), core) == usable.end()) {
        std::vector<std::string> names;
        for (int c : usable) names.push_back(std::to_string(c));
        return InvalidArgumentError("resources.cpus lists core " + std::to_string(core) +
                                    ", which this process cannot run on; its cores are " +
                                    JoinStrings(names));
      }
    }
  }
  if (shape.memory_per_trial_mb > 0)
    shape.memory_mb = wanted.memory_mb > 0 ? wanted.memory_mb : TotalMemoryMb();

  const bool nothing_bounds = shape.gpus_per_trial == 0 && shape.cpus_per_trial == 0 &&
                              (shape.memory_per_trial_mb == 0 || shape.memory_mb == 0);
  HYP_ASSIGN_OR_RETURN(ResourcePool pool, ResourcePool::Create(std::move(shape)));
  int fits = pool.Capacity();
  if (nothing_bounds) {
    // CPU slots with nothing counted per trial: one trial per core unless `parallel` says otherwise.
    fits = static_cast<int>(AvailableCpus().size());
  }
  if (config.parallel > 0 && config.parallel < fits) {
    plan.slots = config.parallel;
  } else {
    plan.slots = fits;
    if (config.parallel > fits) {
      plan.notes.push_back("parallel is " + std::to_string(config.parallel) + " but the resources fit " +
                           std::to_string(fits) + " trial(s) at once: " + std::to_string(fits) +
                           " run at once");
    }
  }
  if (!nothing_bounds) plan.notes.push_back("resources: " + pool.Describe());
  plan.pool = std::move(pool);
  return plan;
}

}  // namespace hyperion
