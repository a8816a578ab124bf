// The tree-structured Parzen estimator ("tpe"): finished trials are split into a good group (the best
// ceil(10%), at most 25) and the rest; each group becomes a Parzen density (a product of one-dimensional
// mixtures, or with `multivariate` one product kernel per trial; plus a broad prior component), candidates
// are drawn from the good density, and the one with the highest ratio good/rest is proposed. Floats and ints
// use truncated Gaussian kernels on the unit encoding (log scale and steps respected); categoricals and bools
// a kernel that puts most of its mass on the trial's own choice. Failed and timed-out trials count in the
// rest, so the search drifts away from what crashes.
//
// Conditional parameters: candidates are drawn parameter by parameter in the space's order, skipping the
// inactive ones; each parameter's density comes from the trials where it was active (see Parzen in the .cc
// for how the multivariate form keeps inactive apart from active values).
//
// Like every strategy it rebuilds everything from the trials it is shown; draws are seeded with (seed, number
// of trials). The density uses at most kMaxModelPoints trials (the best and the most recent), bounding the
// cost.
#pragma once

#include "hyperion/strategy/strategy.h"

namespace hyperion {

class TpeSearch final : public Strategy {
 public:
  static constexpr int kStartupTrials = 10;
  static constexpr int kCandidates = 24;
  static constexpr int kMaxModelPoints = 1000;

  // Univariate (the default) multiplies one-dimensional densities; multivariate keeps one kernel per trial
  // over all parameters (better when parameters interact strongly, worse at recombining good values).
  explicit TpeSearch(bool multivariate = false) : multivariate_(multivariate) {}

  std::string Name() const override { return "tpe"; }
  ProposeOutcome Propose(const StrategyContext& context) override;

 private:
  bool multivariate_;
};

}  // namespace hyperion
