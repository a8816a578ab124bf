// Reading an LLM's reply: finding the JSON object in its text, and checking each decision against the space
// and the experiment before anything reaches the orchestrator.
//
// A proposal is accepted when its parameters are the space's (numbers outside the bounds are clamped, values
// off a step are moved onto it, and the rationale says so: "(lr clamped from 3 to 1)"), its parents are
// trials of the experiment, and a fresh sample repeats no existing trial and no other proposal. A prune must
// name a trial that can still be pruned; every decision needs a rationale. What cannot be accepted is
// rejected with a reason worded for the model ("decision 2 rejected: unknown parameter 'lrr'; did you mean
// 'lr'?"), which the agent feeds back on its retry. Trial numbers in the reply become trial ids.
//
// Pure functions of their arguments; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/agent/agent.h"
#include "hyperion/common/json.h"
#include "hyperion/common/status.h"

namespace hyperion {

// The JSON object a reply holds: the whole text, a ```json fenced block, or the first balanced {...} in the
// text around it. kInvalidArgument when there is none ("the reply is not JSON: ...").
Result<Json> ExtractReplyJson(const std::string& text);

// True when a reply without JSON reads as a refusal ("I cannot help with that", "I'm sorry, ...").
bool LooksLikeRefusal(const std::string& text);

// Who the checked decisions are attributed to.
struct ReplySource {
  std::string model;  // named in each rationale and in the evidence
  int exchange = 0;   // the index of the exchange (in AgentReply::exchanges) the reply came from
};

struct CheckedReply {
  int decisions = 0;  // decisions the reply held, accepted or not
  std::vector<Proposal> proposals;
  std::vector<PruneDecision> prunes;
  std::optional<StopDecision> stop;
  std::vector<int64_t> acknowledged_notes;  // ids of unanswered notes the reply answered
  std::vector<std::string> rejected;        // "decision 2 rejected: ...", one per rejected decision
  std::vector<std::string> ignored;         // proposals beyond the number asked for
};

// Checks a reply's decisions. `earlier` holds proposals accepted from earlier replies to the same question
// (a retry), so that a retry does not repeat them; at most `wanted` proposals are accepted in all.
// kInvalidArgument when the object does not have the reply's shape (no "decisions" list).
Result<CheckedReply> CheckReply(const Json& reply, const AgentContext& context, const ReplySource& source,
                                int wanted, const std::vector<Proposal>& earlier = {});

}  // namespace hyperion
