#include "hyperion/agent/analyst.h"

#include "hyperion/strategy/gp_search.h"

namespace hyperion {

// Placeholder until the analyst lands: model-based proposals only.
Json Insight::ToJson() const {
  Json importance_json = Json::array();
  for (const auto& [name, share] : importance)
    importance_json.push_back(Json{{"param", name}, {"share", share}});
  return Json{{"phase", phase}, {"importance", importance_json}, {"bad_regions", bad_regions}};
}

Analyst::Analyst(const ExperimentConfig& config) : options_(config.strategy) {}

Insight Analyst::Analyse(const AgentContext& context, int suggestions) const {
  Insight insight;
  insight.phase = "model-based";
  GpSearch gp;
  for (int i = 0; i < suggestions; ++i) {
    ProposeOutcome outcome = gp.Propose(context.ForStrategy());
    if (outcome.kind == ProposeOutcome::Kind::kProposal) insight.suggestions.push_back(outcome.proposal);
  }
  return insight;
}

AgentReply Analyst::Decide(const AgentContext& context) {
  AgentReply reply;
  if (context.free_slots <= 0) return reply;
  Insight insight = Analyse(context, 1);
  reply.proposals = std::move(insight.suggestions);
  return reply;
}

std::set<int64_t> Analyst::Frontier(const AgentContext& /*context*/) const { return {}; }

}  // namespace hyperion
