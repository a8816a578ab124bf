// Strategies decide where to look next. Each gets a read-only snapshot of the experiment's trials and returns
// a proposal with its rationale and evidence, or says it must wait for results, or that it has nothing left.
//
// A strategy keeps no state that cannot be rebuilt from the trials it is shown: the same seed and the same
// trials give the same proposal, so a resumed experiment continues the sequence it would have produced.
// Called from the orchestrator's thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <set>
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
  std::vector<int64_t> parents;  // trial ids; empty for a fresh sample; parents[0] is the checkpoint donor
  std::string op = "sample";     // sample, grid, model, branch, perturb, exploit, crossover, mutate
  std::string change_label;      // "lr x3", "batch 64->128", "lr from #12 + wd from #31"
  std::string rationale;
  Json evidence = Json::object();
  // The span of training the trial covers, in training.unit; unset when the config has no training budget.
  std::optional<double> budget_from, budget_to;
  // Continue from parents[0]'s checkpoint: the orchestrator sets HYPERION_RESTORE_FROM to exactly that
  // trial's checkpoint folder.
  bool restore = false;
};

// A finished or running trial the strategy drops from the search: a running one is asked to stop, a
// completed one is marked pruned (its line ends; it is never reported as the best).
struct PruneDecision {
  int64_t trial_id = 0;
  std::string rationale;
  Json evidence = Json::object();
};

struct StrategyContext {
  const Space& space;
  const Objective& objective;
  const std::vector<Trial>& trials;  // every trial of the experiment so far, any state, by number
  uint64_t seed = 0;
  Training training = {};  // the config's training budget (unit empty when none)
};

struct ProposeOutcome {
  enum class Kind { kProposal, kWait, kExhausted };
  Kind kind = Kind::kProposal;
  Proposal proposal;   // when kProposal
  std::string reason;  // when kWait or kExhausted: why, for the log and the event
  // Applied before the proposal, whatever the kind. Deciding the same prune again on the next call is
  // harmless: trials already pruned are skipped.
  std::vector<PruneDecision> prunes;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  // Recorded with the experiment; a resume with another strategy is refused.
  virtual std::string Name() const = 0;
  virtual ProposeOutcome Propose(const StrategyContext& context) = 0;
  // The finished trials this strategy may still branch from (beam's kept nodes, each PBT member's latest
  // trial): their checkpoints are kept whatever the retention rule says. Model-free samplers branch from
  // nothing.
  virtual std::set<int64_t> Frontier(const StrategyContext& /*context*/) const { return {}; }
};

// The generator for the `draw`-th proposal: seeded with (seed, draw, stream), so a sequential run and a
// resume repeat the same proposals; `stream` keeps the strategies' sequences apart.
std::mt19937_64 ProposalGenerator(uint64_t seed, uint64_t draw, uint32_t stream);

// The points the trials already hold, as canonical JSON text (pending and running trials included).
std::set<std::string> TakenPoints(const std::vector<Trial>& trials);

// A trial holding what the proposal says of it (params, parents, operator, change label, rationale,
// evidence, span); ids, state, folders and times are the caller's.
Trial TrialFromProposal(const Proposal& proposal);

// A random point no trial holds when a few draws find one (in a small discrete space draws repeat), else the
// last draw.
Json FreshSample(const Space& space, const std::set<std::string>& taken, std::mt19937_64& rng);

// The strategy the config names ("random", "grid", "beam", ...); kInvalidArgument for an unknown name.
Result<std::unique_ptr<Strategy>> MakeStrategy(const StrategyConfig& config);

}  // namespace hyperion
