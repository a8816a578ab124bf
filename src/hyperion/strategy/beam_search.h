// Beam search over a tree of training segments ("beam").
//
// Level 0 is width x branches fresh samples, each trained for one span (budget 0..span). When every trial of
// a level has finished, its trials with a value are ranked (ties to the earlier number; trials it pruned
// keep their place, so ranks read the same on every call): the best `width` are kept and the other completed
// ones are pruned, each with its rank and the cut-off in the rationale. Failed trials are never kept. Each
// kept node then gets `branches` children at the next level, trained one span further from the node's
// checkpoint (restore): the first continues unchanged, the others change one parameter one step up or down
// (0.15-0.25 of its range, on its own scale; a neighbouring choice for categoricals), siblings taking
// different moves and preferring parameters not changed recently along their line. The search ends
// ("beam finished") once a level has trained to training.max.
//
// Without a training budget every trial is a whole run and beam is a local search that never ends by itself
// (budget.max_trials does that): a rerun of the same point would teach nothing, so every child mutates, and a
// kept node is ranked again together with the next level's trials, so the beam never drops its best point
// for worse neighbours.
//
// Nothing is kept between calls: a trial's level is read from its evidence ("level"; else its parent's level
// + 1), and ranks, kept nodes and the next child are rebuilt from the trials on every call. Random choices
// use generators seeded with (seed, number of trials) and, for a node's plan of moves, (seed, node's number),
// so the same trials give the same proposal. Evidence names trials by number. Orchestrator thread only.
#pragma once

#include <optional>

#include "hyperion/strategy/strategy.h"

namespace hyperion {

class BeamSearch final : public Strategy {
 public:
  // width, branches >= 1; span: the training each level adds (default training.max / 4).
  BeamSearch(int width, int branches, std::optional<double> span)
      : width_(width), branches_(branches), span_(span) {}

  std::string Name() const override { return "beam"; }
  ProposeOutcome Propose(const StrategyContext& context) override;
  // The kept nodes of the latest finished level (they get children, or after the last level they are the
  // results), and every completed trial of a level still running (any of them may be kept).
  std::set<int64_t> Frontier(const StrategyContext& context) const override;

 private:
  const int width_;
  const int branches_;
  const std::optional<double> span_;
};

}  // namespace hyperion
