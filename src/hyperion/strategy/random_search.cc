#include "hyperion/strategy/random_search.h"

#include <cmath>
#include <random>
#include <set>

#include "hyperion/common/text.h"

namespace hyperion {

ProposeOutcome RandomSearch::Propose(const StrategyContext& context) {
  const uint64_t draw = context.trials.size() + 1;
  std::seed_seq seq{static_cast<uint32_t>(context.seed), static_cast<uint32_t>(context.seed >> 32),
                    static_cast<uint32_t>(draw), static_cast<uint32_t>(draw >> 32)};
  std::mt19937_64 rng(seq);

  // In a small discrete space a fresh draw often repeats an earlier point: draw again a few times first.
  std::set<std::string> seen;
  for (const auto& t : context.trials) seen.insert(t.params.dump());
  Json params = context.space.Sample(rng);
  for (int attempt = 0; attempt < 64 && seen.count(params.dump()); ++attempt) {
    params = context.space.Sample(rng);
  }
  if (seen.count(params.dump())) {
    // A finite space whose every point has been tried has nothing new to offer.
    double points = 1;
    for (const auto& spec : context.space.params()) {
      auto n = spec.Cardinality();
      points = n ? points * static_cast<double>(*n) : INFINITY;
    }
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
