#include "hyperion/strategy/strategy.h"

#include "hyperion/common/text.h"
#include "hyperion/strategy/beam_search.h"
#include "hyperion/strategy/evolution_search.h"
#include "hyperion/strategy/gp_search.h"
#include "hyperion/strategy/grid_search.h"
#include "hyperion/strategy/pbt_search.h"
#include "hyperion/strategy/random_search.h"
#include "hyperion/strategy/tpe_search.h"

namespace hyperion {

std::mt19937_64 ProposalGenerator(uint64_t seed, uint64_t draw, uint32_t stream) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(draw), static_cast<uint32_t>(draw >> 32), stream};
  return std::mt19937_64(seq);
}

std::set<std::string> TakenPoints(const std::vector<Trial>& trials) {
  std::set<std::string> taken;
  for (const auto& t : trials) taken.insert(t.params.dump());
  return taken;
}

Trial TrialFromProposal(const Proposal& p) {
  Trial t;
  t.params = p.params;
  t.parents = p.parents;
  t.op = p.op;
  t.change_label = p.change_label;
  t.rationale = p.rationale;
  t.evidence = p.evidence;
  t.budget_from = p.budget_from;
  t.budget_to = p.budget_to;
  return t;
}

Json FreshSample(const Space& space, const std::set<std::string>& taken, std::mt19937_64& rng) {
  Json params = space.Sample(rng);
  for (int attempt = 0; attempt < 64 && taken.count(params.dump()); ++attempt) params = space.Sample(rng);
  return params;
}

Result<std::unique_ptr<Strategy>> MakeStrategy(const StrategyConfig& config) {
  if (config.type == "random") return std::unique_ptr<Strategy>(new RandomSearch());
  if (config.type == "grid") return std::unique_ptr<Strategy>(new GridSearch(config.grid_resolution));
  if (config.type == "gp") return std::unique_ptr<Strategy>(new GpSearch());
  if (config.type == "tpe") return std::unique_ptr<Strategy>(new TpeSearch(config.multivariate));
  if (config.type == "evolution") return std::unique_ptr<Strategy>(new EvolutionSearch(config));
  if (config.type == "beam") {
    return std::unique_ptr<Strategy>(new BeamSearch(config.width, config.branches, config.span));
  }
  if (config.type == "pbt") {
    return std::unique_ptr<Strategy>(
        new PbtSearch(config.population, config.span, config.quantile, config.resample));
  }
  return InvalidArgumentError("unknown strategy '" + config.type +
                              "'; known strategies: " + JoinStrings(KnownStrategyTypes()));
}

}  // namespace hyperion
