// Grid search: the Cartesian product of each parameter's grid values (Space::GridValues), visited in a fixed
// order (the space's parameters, the last fastest). In a space with conditions a point holds only its active
// parameters, and each distinct active point is visited once: "momentum" for sgd only means that adam's
// points do not repeat once per momentum value. Points already held by any trial (pending and running ones
// too) are skipped, so parallel trials and a resume never repeat a point; when every point is taken the
// strategy reports "grid exhausted".
#pragma once

#include "hyperion/strategy/strategy.h"

namespace hyperion {

class GridSearch final : public Strategy {
 public:
  explicit GridSearch(int resolution) : resolution_(resolution) {}
  std::string Name() const override { return "grid"; }
  ProposeOutcome Propose(const StrategyContext& context) override;

 private:
  int resolution_;
};

}  // namespace hyperion
