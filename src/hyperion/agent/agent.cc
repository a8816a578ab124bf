#include "hyperion/agent/agent.h"

#include <algorithm>
#include <array>

#include "hyperion/agent/analyst.h"
#include "hyperion/agent/llm_agent.h"
#include "hyperion/agent/strategy_agent.h"
#include "hyperion/experiment/event_types.h"

namespace hyperion {

bool IsDecisionEvent(const std::string& type) {
  static const std::array<const char*, 7> kTypes = {
      events::kTrialProposed, events::kTrialPruned,      events::kPruneRequested, events::kTrialPrioritised,
      events::kAgentStopped,  events::kDecisionRejected, events::kAgentFallback};
  return std::any_of(kTypes.begin(), kTypes.end(), [&](const char* t) { return type == t; });
}

Result<std::unique_ptr<Agent>> MakeAgent(const ExperimentConfig& config) {
  if (config.strategy.type == "agent") return std::unique_ptr<Agent>(new Analyst(config));
  if (config.strategy.type == "llm") return MakeLlmAgent(config);
  HYP_ASSIGN_OR_RETURN(auto strategy, MakeStrategy(config.strategy));
  return std::unique_ptr<Agent>(new StrategyAgent(std::move(strategy)));
}

}  // namespace hyperion
