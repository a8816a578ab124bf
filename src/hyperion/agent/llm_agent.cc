#include "hyperion/agent/llm_agent.h"

namespace hyperion {

Result<std::unique_ptr<Agent>> MakeLlmAgent(const ExperimentConfig& /*config*/) {
  return InvalidArgumentError("strategy 'llm' is not built yet");
}

}  // namespace hyperion
