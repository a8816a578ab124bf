// Bayesian optimisation with a Gaussian process ("gp"): after a random initial design, each proposal
// maximises the expected improvement (EI) of a GP fitted to the finished trials.
//
// Encoding: floats and ints by Space::ToUnit (log scale and steps respected); categoricals and bools one-hot,
// so no order is invented between choices. A conditional parameter that is inactive is kept apart from its
// active values: a choice is all zeros, a number gets a second feature, an active flag, that is 0
// (strategy/gp_encoding.h). Candidates are built in the space's order and completed, so every proposal holds
// exactly the active parameters. Failed and timed-out trials enter the model at the worst value seen, which
// steers the search away from regions that crash; pending and running trials enter at the mean value seen (a
// "constant liar"), so parallel proposals spread out. The model sees at most kMaxModelPoints trials (the best
// half and the most recent half), which bounds the cost of a proposal however long the experiment runs.
//
// Like every strategy it rebuilds everything from the trials it is shown; its random draws are seeded with
// (seed, number of trials), so a sequential run is reproducible.
#pragma once

#include "hyperion/strategy/strategy.h"

namespace hyperion {

class GpSearch final : public Strategy {
 public:
  static constexpr int kMaxModelPoints = 256;

  std::string Name() const override { return "gp"; }
  ProposeOutcome Propose(const StrategyContext& context) override;

  // Completed trials before the model takes over: enough to fit a length scale per parameter.
  static int InitialTrials(const Space& space);
};

}  // namespace hyperion
