#include "hyperion/strategy/strategy.h"

#include "hyperion/common/text.h"
#include "hyperion/strategy/gp_search.h"
#include "hyperion/strategy/grid_search.h"
#include "hyperion/strategy/random_search.h"
#include "hyperion/strategy/tpe_search.h"

namespace hyperion {

Result<std::unique_ptr<Strategy>> MakeStrategy(const StrategyConfig& config) {
  if (config.type == "random") return std::unique_ptr<Strategy>(new RandomSearch());
  if (config.type == "grid") return std::unique_ptr<Strategy>(new GridSearch(config.grid_resolution));
  if (config.type == "gp") return std::unique_ptr<Strategy>(new GpSearch());
  if (config.type == "tpe") return std::unique_ptr<Strategy>(new TpeSearch(config.multivariate));
  return InvalidArgumentError("unknown strategy '" + config.type +
                              "'; known strategies: " + JoinStrings(KnownStrategyTypes()));
}

}  // namespace hyperion
