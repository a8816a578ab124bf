// Evolution ("evolution"): a generational genetic search over the experiment graph.
//
// Generation 0 is `population` fresh samples. Generation g+1 starts once every trial of generation g has
// finished; its children come from tournaments (size 2 or 3) among the parents' pool. With probability
// `crossover` a child merges two parents from different branches (different roots of the primary-parent
// chain, neither an ancestor of the other): each parameter on which they differ is taken from the parent
// whose value the completed trials favour, else from the fitter parent, and the choice is recorded in the
// evidence. Otherwise, or when no such pair exists, the child is a mutated copy of one parent. Each active
// parameter then mutates with probability `mutation` (x0.8 / x1.2, a shift of a tenth of its range, or
// another choice); a child never repeats its primary parent's point.
//
// With `span` (and a training budget) generation g trains [g*span, (g+1)*span] capped at training.max: its
// pool is the completed trials of generation g-1, the best `elite` of them continue unchanged (op "branch",
// "continue"), every other child restores its primary parent's checkpoint, and the search is exhausted once
// a generation has reached training.max. Without span every trial is a whole run; the pool is the best
// `population` completed trials of all earlier generations, elites simply stay in it, and each generation
// after the first runs population - elite new trials until the experiment's budget ends.
//
// Generations are read back from each trial's evidence ("generation"); a proposal depends only on the
// trials of earlier generations and those already proposed, so the sequence is the same whatever the
// parallelism or the order in which trials finish. Called from the orchestrator's thread only.
#pragma once

#include <optional>

#include "hyperion/strategy/strategy.h"

namespace hyperion {

class EvolutionSearch final : public Strategy {
 public:
  // Reads population, elite, crossover, mutation and span. An elite of population or more is cut to
  // population - 1, so every generation has at least one child.
  explicit EvolutionSearch(const StrategyConfig& config);

  std::string Name() const override { return "evolution"; }
  ProposeOutcome Propose(const StrategyContext& context) override;
  // With span: the completed trials of the latest finished generation (the donors of the next or, after the
  // final generation, the results) and those of the generation under way (the donors after it). Without span
  // nothing: no trial restores a checkpoint.
  std::set<int64_t> Frontier(const StrategyContext& context) const override;

 private:
  int population_;
  int elite_;
  double crossover_;
  double mutation_;
  std::optional<double> span_;
};

}  // namespace hyperion
