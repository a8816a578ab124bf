#include "hyperion/agent/strategy_agent.h"

namespace hyperion {

AgentReply StrategyAgent::Decide(const AgentContext& context) {
  AgentReply reply;
  // Strategies decide their prunes when asked for a proposal, as they always have.
  if (context.free_slots <= 0) return reply;
  ProposeOutcome outcome = strategy_->Propose(context.ForStrategy());
  reply.prunes = std::move(outcome.prunes);
  switch (outcome.kind) {
    case ProposeOutcome::Kind::kProposal:
      reply.proposals.push_back(std::move(outcome.proposal));
      break;
    case ProposeOutcome::Kind::kWait:
      reply.wait_reason = outcome.reason;
      break;
    case ProposeOutcome::Kind::kExhausted:
      reply.stop = StopDecision{outcome.reason, Json::object()};
      break;
  }
  return reply;
}

}  // namespace hyperion
