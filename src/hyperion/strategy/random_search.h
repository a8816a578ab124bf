// Random search: every parameter drawn independently, uniform (log-uniform where log is set); a conditional
// parameter only when its conditions hold (Space::Sample). The n-th
// proposal uses a generator seeded with (seed, n), so the sequence is reproducible and survives a resume.
#pragma once

#include "hyperion/strategy/strategy.h"

namespace hyperion {

class RandomSearch final : public Strategy {
 public:
  std::string Name() const override { return "random"; }
  ProposeOutcome Propose(const StrategyContext& context) override;
};

}  // namespace hyperion
