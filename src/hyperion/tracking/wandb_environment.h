// Weights & Biases without its SDK on our side: the environment variables a training script's own
// `wandb.init()` reads, so its runs land grouped by experiment, named after the trial, tagged with the
// operator that made it, and a retried or resumed trial continues the same W&B run:
//   WANDB_PROJECT (tracking.wandb.project, else the experiment's name), WANDB_ENTITY (when set),
//   WANDB_RUN_GROUP (the experiment), WANDB_NAME (trial-0007), WANDB_JOB_TYPE (trial), WANDB_TAGS (the
//   operator, then tracking.wandb.tags), WANDB_RUN_ID (stable per trial, at most 64 characters of
//   [A-Za-z0-9_-]), WANDB_RESUME (allow), WANDB_DIR (the trial folder), WANDB_MODE (when set).
// A variable the config's `env:` sets is left as the user set it.
//
// Pure function; any thread.
#pragma once

#include <map>
#include <string>

#include "hyperion/experiment/config.h"
#include "hyperion/experiment/trial.h"

namespace hyperion {

// `experiment_created_at` keeps run ids of two experiments with the same name apart.
std::map<std::string, std::string> WandbEnvironment(const TrackingConfig& tracking,
                                                    const std::string& experiment,
                                                    double experiment_created_at, const Trial& trial);

}  // namespace hyperion
