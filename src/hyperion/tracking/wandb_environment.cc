#include "hyperion/tracking/wandb_environment.h"

#include <cctype>
#include <cstdio>
#include <functional>

#include "hyperion/common/text.h"
#include "hyperion/tracking/tracker.h"

namespace hyperion {

uint64_t ExperimentFingerprint(const std::string& name, double created_at) {
  return std::hash<std::string>{}(name + "\n" + FormatNumber(created_at));
}

std::map<std::string, std::string> WandbEnvironment(const TrackingConfig& tracking,
                                                    const std::string& experiment,
                                                    double experiment_created_at, const Trial& trial) {
  std::map<std::string, std::string> env;
  if (!tracking.wandb) return env;
  // The run id: a readable slug of the experiment, a hash that tells same-named experiments apart, and the
  // trial number; W&B refuses ids with / \ # ? % : and longer than 64 characters.
  std::string slug;
  for (unsigned char c : experiment) {
    if (slug.size() == 32) break;
    slug.push_back(std::isalnum(c) || c == '-' || c == '_' ? static_cast<char>(c) : '-');
  }
  char hash[16];
  std::snprintf(
      hash, sizeof hash, "%08x",
      static_cast<unsigned>(ExperimentFingerprint(experiment, experiment_created_at) & 0xffffffffu));
  std::vector<std::string> tags{trial.op};
  tags.insert(tags.end(), tracking.wandb_tags.begin(), tracking.wandb_tags.end());

  env["WANDB_PROJECT"] = tracking.wandb_project.empty() ? experiment : tracking.wandb_project;
  if (!tracking.wandb_entity.empty()) env["WANDB_ENTITY"] = tracking.wandb_entity;
  if (!tracking.wandb_mode.empty()) env["WANDB_MODE"] = tracking.wandb_mode;
  env["WANDB_RUN_GROUP"] = experiment;
  env["WANDB_NAME"] = TrialName(trial.number);
  env["WANDB_JOB_TYPE"] = "trial";
  env["WANDB_TAGS"] = JoinStrings(tags, ",");
  env["WANDB_RUN_ID"] = (slug.empty() ? "exp" : slug) + "-" + hash + "-" + std::to_string(trial.number);
  env["WANDB_RESUME"] = "allow";
  env["WANDB_DIR"] = trial.trial_dir;
  return env;
}

}  // namespace hyperion
