#include "hyperion/strategy/pruner_curve.h"

namespace hyperion {

const Curve& CurveOf(const PrunerContext& context, int64_t trial_id) {
  static const Curve kEmpty;
  auto it = context.curves.find(trial_id);
  return it == context.curves.end() ? kEmpty : it->second;
}

std::optional<StepValue> FirstReportAtOrPast(const Curve& curve, double step) {
  for (const StepValue& report : curve) {
    if (static_cast<double>(report.step) >= step) return report;
  }
  return std::nullopt;
}

std::optional<double> BestUpTo(const Curve& curve, int64_t step, const Objective& objective) {
  std::optional<double> best;
  for (const StepValue& report : curve) {
    if (report.step <= step && (!best || objective.Better(report.value, *best))) best = report.value;
  }
  return best;
}

}  // namespace hyperion
