// Strategies decide where to look next. Each gets a read-only snapshot of the experiment's trials and returns
// a proposal with its rationale and evidence, or says it must wait for results, or that it has nothing left.
//
// A strategy keeps no state that cannot be rebuilt from the trials it is shown: the same seed and the same
// trials give the same proposal, so a resumed experiment continues the sequence it would have produced.
// Called from the orchestrator's thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/common/status.h"
#include "hyperion/experiment/config.h"
#include "hyperion/experiment/trial.h"
#include "hyperion/space/space.h"

namespace hyperion {

struct Proposal {
  Json params = Json::object();
  std::vector<int64_t> parents;  // trial ids; empty for a fresh sample
  std::string op = "sample";
  std::string change_label;
  std::string rationale;
  Json evidence = Json::object();
};

struct StrategyContext {
  const Space& space;
  const Objective& objective;
  const std::vector<Trial>& trials;  // every trial of the experiment so far, any state, by number
  uint64_t seed = 0;
};

struct ProposeOutcome {
  enum class Kind { kProposal, kWait, kExhausted };
  Kind kind = Kind::kProposal;
  Proposal proposal;   // when kProposal
  std::string reason;  // when kWait or kExhausted: why, for the log and the event
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  // Recorded with the experiment; a resume with another strategy is refused.
  virtual std::string Name() const = 0;
  virtual ProposeOutcome Propose(const StrategyContext& context) = 0;
};

// The strategy the config names ("random", "grid"); kInvalidArgument for an unknown name.
Result<std::unique_ptr<Strategy>> MakeStrategy(const StrategyConfig& config);

}  // namespace hyperion
