// The LLM agent (`strategy.type: llm`): asks a model behind an OpenAI-compatible chat endpoint what to run
// next. Slow: the orchestrator calls it on a worker thread and fills free slots from its fallback (the
// analyst) meanwhile. Timeouts, HTTP errors, malformed JSON and refusals fall back to the analyst for that
// decision, recorded as such.
#pragma once

#include <memory>

#include "hyperion/agent/agent.h"

namespace hyperion {

// The LLM agent the config's `llm:` section describes; kInvalidArgument when it is incomplete.
Result<std::unique_ptr<Agent>> MakeLlmAgent(const ExperimentConfig& config);

}  // namespace hyperion
