// Pruners stop weak trials early, whatever strategy proposed them: ASHA, Hyperband and the median rule
// decide on the objective values the trials report at steps.
//
// The orchestrator calls Check() after a running trial's new reports of the objective. A decision is made at
// the first report at or past a milestone (reports may skip steps), and a pruner decides nothing at a
// milestone until `min_trials` trials have reached it. Every decision, to prune or to let the trial go on
// (a promotion), comes with a rationale and the numbers behind it, which the orchestrator stores.
//
// A pruner keeps no state: it reads every trial's curve from the context, so a resumed experiment decides
// the same way. Called from the orchestrator's thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/common/status.h"
#include "hyperion/experiment/config.h"
#include "hyperion/experiment/trial.h"

namespace hyperion {

// One report of the objective.
struct StepValue {
  int64_t step = 0;
  double value = 0;
};

struct PrunerContext {
  const Objective& objective;
  const std::vector<Trial>& trials;  // every trial of the experiment, any state, by number
  // The objective's finite reports of each trial's latest attempt, by trial id, in report order.
  const std::map<int64_t, std::vector<StepValue>>& curves;
  uint64_t seed = 0;
};

struct PrunerVerdict {
  // kNone: no milestone was crossed, or too few trials reached it to decide. kContinue: the trial passed a
  // milestone (a promotion). kPrune: stop it.
  enum class Kind { kNone, kContinue, kPrune };
  Kind kind = Kind::kNone;
  std::string rationale;           // "val_acc 0.91 at epoch 3 is below the top 1/3 of 9 trials there (0.95)"
  Json evidence = Json::object();  // milestone, value, threshold, how many trials, the best of them
};

class Pruner {
 public:
  virtual ~Pruner() = default;
  virtual std::string Name() const = 0;
  // `trial` is running; its curve in `context` holds its reports so far, of which those at steps up to
  // `previous_step` were already checked (-1 when none). Decides for the reports after it.
  virtual PrunerVerdict Check(const PrunerContext& context, const Trial& trial, int64_t previous_step) = 0;
};

// The pruner the config names; nullptr for "none"; kInvalidArgument for an unknown name.
Result<std::unique_ptr<Pruner>> MakePruner(const PrunerConfig& config);

}  // namespace hyperion
