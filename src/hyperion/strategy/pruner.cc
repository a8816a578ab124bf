#include "hyperion/strategy/pruner.h"

#include "hyperion/common/text.h"
#include "hyperion/strategy/median_pruner.h"
#include "hyperion/strategy/rung_pruner.h"

namespace hyperion {

Result<std::unique_ptr<Pruner>> MakePruner(const PrunerConfig& config) {
  if (config.type == "none") return std::unique_ptr<Pruner>();
  if (config.type == "asha") return MakeAshaPruner(config);
  if (config.type == "hyperband") return MakeHyperbandPruner(config);
  if (config.type == "median") return MakeMedianPruner(config);
  return InvalidArgumentError("unknown pruner '" + config.type +
                              "'; known pruners: " + JoinStrings(KnownPrunerTypes()));
}

}  // namespace hyperion
