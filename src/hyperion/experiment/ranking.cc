#include "hyperion/experiment/ranking.h"

#include <algorithm>
#include <cmath>

namespace hyperion {

bool TrainedWholeRun(const Trial& trial, const Training& training) {
  // A span that ends within a millionth of the end counts (spans are sums of decimal steps).
  if (!training.enabled()) return true;
  return trial.budget_to && *trial.budget_to >= training.max * (1 - 1e-6);
}

bool RanksAhead(const Trial& a, const Trial& b, const Objective& objective) {
  if (objective.Better(*a.value, *b.value)) return true;
  if (objective.Better(*b.value, *a.value)) return false;
  return a.number < b.number;
}

std::vector<const Trial*> RankCompleted(const std::vector<Trial>& trials, const Objective& objective,
                                        const Training& training) {
  std::vector<const Trial*> ranked;
  for (const auto& t : trials) {
    if (t.state == TrialState::kCompleted && t.value && std::isfinite(*t.value)) ranked.push_back(&t);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [&](const Trial* a, const Trial* b) {
    bool whole_a = TrainedWholeRun(*a, training), whole_b = TrainedWholeRun(*b, training);
    if (whole_a != whole_b) return whole_a;
    return RanksAhead(*a, *b, objective);
  });
  return ranked;
}

std::optional<Trial> BestCompleted(const std::vector<Trial>& trials, const Objective& objective,
                                   const Training& training) {
  auto ranked = RankCompleted(trials, objective, training);
  if (ranked.empty()) return std::nullopt;
  return *ranked.front();
}

}  // namespace hyperion
