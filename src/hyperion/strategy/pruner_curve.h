// Reading the trials' objective curves as the pruners need them: the value a trial had when it reached a step
// (its first report at or past it) and its best value up to a step.
//
// A curve is one trial's finite reports of the objective, in report order (PrunerContext::curves). Steps
// usually grow along a curve but need not be consecutive: a trial may report steps 2, 5, 11. Pure functions
// over borrowed data; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "hyperion/experiment/config.h"
#include "hyperion/strategy/pruner.h"

namespace hyperion {

using Curve = std::vector<StepValue>;

// The curve of the trial with database id `trial_id`; an empty curve when it has no reports. The reference
// points into `context` (or to a static empty curve) and lives as long as it.
const Curve& CurveOf(const PrunerContext& context, int64_t trial_id);

// The first report, in report order, whose step is at or past `step`; nullopt when the curve never gets
// there. This is the report a rung milestone is decided on, and the value a trial is ranked by there.
std::optional<StepValue> FirstReportAtOrPast(const Curve& curve, double step);

// The best value (under the objective's mode) among the reports at steps up to `step`, inclusive; nullopt
// when there is none.
std::optional<double> BestUpTo(const Curve& curve, int64_t step, const Objective& objective);

}  // namespace hyperion
