// The built-in analyst (`strategy.type: agent`): an agent that needs no network. It reads the whole
// experiment and chooses among the graph operators: a space-filling start, then model-based proposals;
// regions where runs diverged (NaN, failures) are capped; the parameters that matter most are branched
// first; good configurations on separate branches are merged; plateaued lines are pruned; the search stops
// when improvement has stalled. Each rationale cites the numbers it rests on. docs/agent-analyst.md tells
// the whole story; in short, one Decide() call:
//   - prunes running trials whose curve has not improved over its last 3 reports and whose best is behind
//     the median of at least 3 other trials at the same step (decided once per trial, never after a refusal);
//   - stops when the last strategy.patience finished trials (default max(20, 5 x parameters)) improved the
//     best by no more than strategy.tolerance (default 1e-4) x |best| (a hundredth of |median - best| when
//     the best is near zero), never before the start is done; after a stop (an agent_stopped event) it
//     proposes nothing. From max(5, patience / 2) finished trials without such progress on, it polishes the
//     best trial (one parameter moved by 0.03% to 3% of its range, the move with the largest expected
//     improvement), so that a stop means nothing near the best helped either;
//   - proposes up to min(free_slots, trials_left) trials: the start (a Latin hypercube of max(5, 2 x
//     parameters) points, at most a third of budget.max_trials), then the best of three candidates by
//     expected improvement under a Gaussian process (TPE proposes instead beyond 300 measured trials) times
//     the operator's record of improving the best here: a fresh model point (op "model"), the best trial
//     moved along its most important parameter (op "mutate", one parent), or a merge of two good trials
//     from different roots, each parameter from the side the model's partial dependence favours (op
//     "crossover", two parents). The last 5% of a fixed budget polish the best trial the same way. Every
//     proposal keeps out of the bad regions and cites them;
//   - acknowledges every open note in the first decision of the reply, and acts on one that names a
//     parameter and a direction ("try smaller batch sizes": the best trial with batch_size moved down).
// Proposals train whole runs (budget 0..training.max when the config has a training budget) and restore no
// checkpoint. A refused decision (a decision_rejected event whose payload holds "params", or "proposal"
// with "params", for a proposal, "decision": "prune" and the event's trial for a prune, "decision": "stop")
// is not repeated.
//
// Stateless between calls (everything is rebuilt from the context); Decide() and Analyse() are const in
// effect, so one Analyst may serve as a slow agent's fallback on the loop thread while the slow agent
// uses its own. Deterministic: the same seed and context give the same reply. One call at a time per
// object; the loop thread or a worker with its own snapshot of the context.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hyperion/agent/agent.h"

namespace hyperion {

// What the analyst sees in the experiment; the LLM agent puts it in its prompt.
struct Insight {
  std::string phase;  // "space-filling start (3 of 8 proposed)", "model-based (gp on 24 measured trials)",
                      // "stopped"
  // Parameters by how much they matter, most first; shares sum to 1 (empty before enough results).
  std::vector<std::pair<std::string, double>> importance;
  // Regions runs failed or diverged in, as sentences ("lr >= 0.3 diverged in 3 of 3 trials (#2, #5, #9);
  // capping lr at 0.1, the largest that ran fine (#4)").
  std::vector<std::string> bad_regions;
  // What the analyst would run next, best first, each with its rationale.
  std::vector<Proposal> suggestions;

  // {"phase", "importance": [{"param", "share"}], "bad_regions": [...], "suggestions": [{"params", "op",
  // "parents", "change_label", "rationale", "evidence"}]}
  Json ToJson() const;
};

class Analyst : public Agent {
 public:
  explicit Analyst(const ExperimentConfig& config);
  std::string Name() const override { return "agent"; }
  std::string DisplayName() const override { return "analyst"; }
  AgentReply Decide(const AgentContext& context) override;
  // The best 6 completed trials: the ones branches and merges are drawn from.
  std::set<int64_t> Frontier(const AgentContext& context) const override;
  // The analyst's view of the experiment with up to `suggestions` proposals (made as Decide would make
  // them with that many free slots, notes aside; none after a stop).
  Insight Analyse(const AgentContext& context, int suggestions) const;

 private:
  const StrategyConfig options_;
};

}  // namespace hyperion
