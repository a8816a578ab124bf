// Population based training ("pbt", after Jaderberg et al. 2017) over spans of training.
//
// `population` members train side by side, one span (the ready interval) per trial, each trial continuing
// from a checkpoint. Every trial records its member in the evidence ("member"). The first `population`
// proposals are fresh samples trained 0..span, one per member. A member is ready when its latest trial
// completed short of training.max; the earliest-completed ready member is decided on first. It is ranked
// by the value of its latest completed trial among the members whose latest completed trial has trained at
// least as far (with fewer than 2 of them it simply continues). With n members compared, the bottom and top
// ceil(n * quantile) (at most n / 2) are the quantiles. A member in the bottom EXPLOITS a top member chosen
// at random (another member, its latest completed trial still short of training.max, with a checkpoint): the
// new trial restores that donor's checkpoint and EXPLORES the donor's values, each active parameter x0.8 or
// x1.2 (PerturbValue), or with probability `resample` drawn afresh; the change label says per parameter what
// explore did ("lr x1.2" only for an exact multiplication, "lr resampled 0.00078->0.0062" for a fresh draw).
// Any other member continues unchanged from its own checkpoint. A member whose latest trial failed, timed
// out or was pruned restarts the same way from the best member's latest completed trial. A member whose last
// two trials both failed or timed out is retired: it gets no more trials, and the next proposal's rationale
// (evidence "retired") or the end says why; a member whose latest trial is still to finish is never retired.
// When every member has trained to training.max, or cannot go on (retired, or nothing to restart from), the
// strategy is exhausted ("pbt stopped: every member's last two trials failed (...)" when all retired).
//
// Nothing is kept between calls: members, ranks and readiness are rebuilt from the trials. Random choices
// use a generator seeded with (seed, number of trials), so the same trials give the same proposal. Needs a
// training budget; without one it is exhausted at once (the config loader refuses that case). Evidence names
// trials by number. Orchestrator thread only.
#pragma once

#include <optional>

#include "hyperion/strategy/strategy.h"

namespace hyperion {

class PbtSearch final : public Strategy {
 public:
  // population >= 2; span: the ready interval (default training.max / 4); quantile in (0, 0.5];
  // resample in [0, 1].
  PbtSearch(int population, std::optional<double> span, double quantile, double resample)
      : population_(population), span_(span), quantile_(quantile), resample_(resample) {}

  std::string Name() const override { return "pbt"; }
  ProposeOutcome Propose(const StrategyContext& context) override;
  // Each member's latest completed trial: what it continues from, and what the others may copy; after the
  // end, the results (retired members' included).
  std::set<int64_t> Frontier(const StrategyContext& context) const override;

 private:
  const int population_;
  const std::optional<double> span_;
  const double quantile_;
  const double resample_;
};

}  // namespace hyperion
