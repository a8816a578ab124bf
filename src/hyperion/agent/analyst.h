// The built-in analyst (`strategy.type: agent`): an agent that needs no network. It reads the whole
// experiment and chooses among the graph operators: a space-filling start, then model-based proposals;
// regions where runs diverged (NaN, failures) are capped; the parameters that matter most are branched
// first; good configurations on separate branches are merged; plateaued lines are pruned; the search stops
// when improvement has stalled. Each rationale cites the numbers it rests on.
//
// Stateless between calls (everything is rebuilt from the context); Decide() and Analyse() are const in
// effect, so one Analyst may serve as a slow agent's fallback on the loop thread while the slow agent
// uses its own.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hyperion/agent/agent.h"

namespace hyperion {

// What the analyst sees in the experiment; the LLM agent puts it in its prompt.
struct Insight {
  std::string phase;  // "space-filling start (3 of 8)", "model-based", "stalled"
  // Parameters by how much they matter, most first; shares sum to 1 (empty before enough results).
  std::vector<std::pair<std::string, double>> importance;
  // Regions runs failed or diverged in, as sentences ("lr >= 0.3 diverged in 3 of 3 trials").
  std::vector<std::string> bad_regions;
  // What the analyst would run next, best first, each with its rationale.
  std::vector<Proposal> suggestions;

  Json ToJson() const;
};

class Analyst : public Agent {
 public:
  explicit Analyst(const ExperimentConfig& config);
  std::string Name() const override { return "agent"; }
  std::string DisplayName() const override { return "analyst"; }
  AgentReply Decide(const AgentContext& context) override;
  std::set<int64_t> Frontier(const AgentContext& context) const override;
  // The analyst's view of the experiment with up to `suggestions` proposals.
  Insight Analyse(const AgentContext& context, int suggestions) const;

 private:
  const StrategyConfig options_;
};

}  // namespace hyperion
