#include "hyperion/strategy/random_search.h"

#include <cmath>
#include <random>
#include <set>

#include "hyperion/common/text.h"

namespace hyperion {

ProposeOutcome RandomSearch::Propose(const StrategyContext& context) {
  const uint64_t draw = context.trials.size() + 1;
  std::mt19937_64 rng = ProposalGenerator(context.seed, draw, 0);
  const std::set<std::string> seen = TakenPoints(context.trials);
  Json params = FreshSample(context.space, seen, rng);
  if (seen.count(params.dump())) {
    // A finite space whose every point has been tried has nothing new to offer (with conditions, a point
    // holds only its active parameters, so there are fewer points than the product of the cardinalities).
    const double points = context.space.CountPoints();
    if (static_cast<double>(seen.size()) >= points) {
      ProposeOutcome out;
      out.kind = ProposeOutcome::Kind::kExhausted;
      out.reason = "space exhausted: all " + FormatNumber(points) + " points of the space have been tried";
      return out;
    }
  }

  std::vector<std::string> log_scaled;
  for (const auto& spec : context.space.params()) {
    if (spec.log) log_scaled.push_back(spec.name);
  }
  ProposeOutcome out;
  out.proposal.params = std::move(params);
  out.proposal.op = "sample";
  out.proposal.rationale = "Random draw " + std::to_string(draw) + " (seed " + std::to_string(context.seed) +
                           "): each parameter uniform over its range" +
                           (log_scaled.empty() ? "" : ", log-uniform for " + JoinStrings(log_scaled)) + ".";
  out.proposal.evidence = Json{{"seed", context.seed}, {"draw", draw}};
  return out;
}

}  // namespace hyperion
