#include "hyperion/pruner/pruner.h"

#include "hyperion/common/text.h"

namespace hyperion {

Result<std::unique_ptr<Pruner>> MakePruner(const PrunerConfig& config) {
  if (config.type == "none") return std::unique_ptr<Pruner>();
  return InvalidArgumentError("unknown pruner '" + config.type +
                              "'; known pruners: " + JoinStrings(KnownPrunerTypes()));
}

}  // namespace hyperion
