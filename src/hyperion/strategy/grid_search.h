// Grid search: the Cartesian product of each parameter's grid values (Space::GridValues), visited in a fixed
// order. Points already held by any trial (pending and running ones too) are skipped, so parallel trials and
// a resume never repeat a point; when every point is taken the strategy reports "grid exhausted".
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
