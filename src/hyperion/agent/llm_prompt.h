// The LLM agent's prompt: the chat messages for one decision and the JSON schema its reply must follow.
//
// The system message gives the role, the rules (stay in the space, no duplicates, cite evidence) and the
// reply schema. The user message gives the task (name, command, objective, training budget), the space, a
// compact history across every branch (the best and the most recent trials, with counts of what was left
// out), the decisions the orchestrator rejected and why, the user's unanswered notes, free slots and budget
// left, and the analyst's view (phase, importances, bad regions, its own suggestions) so the model works with
// the classical search rather than instead of it.
//
// Pure functions of their arguments; any thread. The API key never reaches them.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "hyperion/agent/agent.h"
#include "hyperion/agent/analyst.h"
#include "hyperion/common/json.h"

namespace hyperion {

// How much of the experiment the prompt shows. The history keeps the `best` trials by value and the `recent`
// latest; the others are counted, not listed.
struct PromptLimits {
  int best = 8;
  int recent = 12;
  int rejected = 8;            // latest rejected decisions shown
  size_t error_chars = 160;    // a trial's error, cut to this
  size_t rationale_chars = 0;  // 0: trial rationales are left out (they repeat the analyst's view)
};

// The JSON schema of a reply, with the space's parameters as the properties of `params` (bounds and choices,
// so servers with guided decoding keep values in range).
Json LlmReplySchema(const Space& space, bool training);

// [{"role": "system", ...}, {"role": "user", ...}] for a decision that may propose up to `wanted` trials.
Json BuildLlmMessages(const AgentContext& context, const Insight& insight, int wanted,
                      const PromptLimits& limits = {});

// The follow-up message after a reply with rejected decisions: each reason, what was kept, what to send.
std::string RetryMessage(const std::vector<std::string>& rejected, int accepted, int still_wanted);

}  // namespace hyperion
