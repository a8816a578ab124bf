#include "hyperion/strategy/grid_search.h"

#include <set>

namespace hyperion {

ProposeOutcome GridSearch::Propose(const StrategyContext& context) {
  std::vector<std::vector<Json>> axes;
  uint64_t size = 1;
  for (const auto& spec : context.space.params()) {
    axes.push_back(Space::GridValues(spec, resolution_));
    size = size > UINT64_MAX / axes.back().size() ? UINT64_MAX : size * axes.back().size();
  }
  const std::set<std::string> taken = TakenPoints(context.trials);

  // Mixed-radix counting over the axes, last parameter fastest.
  for (uint64_t index = 0; index < size; ++index) {
    Json params = Json::object();
    uint64_t rest = index;
    for (size_t i = axes.size(); i-- > 0;) {
      params[context.space.params()[i].name] = axes[i][rest % axes[i].size()];
      rest /= axes[i].size();
    }
    // Keep the space's order of keys.
    Json ordered = Json::object();
    for (const auto& spec : context.space.params()) ordered[spec.name] = params[spec.name];
    if (taken.count(ordered.dump())) continue;
    ProposeOutcome out;
    out.proposal.params = std::move(ordered);
    out.proposal.op = "grid";
    out.proposal.rationale = "Grid point " + std::to_string(index + 1) + " of " + std::to_string(size) +
                             " (resolution " + std::to_string(resolution_) + "), the first not yet run.";
    out.proposal.evidence = Json{{"index", index + 1}, {"grid_size", size}};
    return out;
  }
  ProposeOutcome out;
  out.kind = ProposeOutcome::Kind::kExhausted;
  out.reason = "grid exhausted: all " + std::to_string(size) + " points have been proposed";
  return out;
}

}  // namespace hyperion
