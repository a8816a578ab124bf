#include "hyperion/experiment/ranking.h"

#include <algorithm>

namespace hyperion {

std::vector<const Trial*> RankCompleted(const std::vector<Trial>& trials, const Objective& objective) {
  std::vector<const Trial*> ranked;
  for (const auto& t : trials) {
    if (t.state == TrialState::kCompleted && t.value) ranked.push_back(&t);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [&](const Trial* a, const Trial* b) {
    if (objective.Better(*a->value, *b->value)) return true;
    if (objective.Better(*b->value, *a->value)) return false;
    return a->number < b->number;
  });
  return ranked;
}

std::optional<Trial> BestCompleted(const std::vector<Trial>& trials, const Objective& objective) {
  auto ranked = RankCompleted(trials, objective);
  if (ranked.empty()) return std::nullopt;
  return *ranked.front();
}

}  // namespace hyperion
