// What the dashboard computes from an experiment's trials and reports beyond the CLI's views: downsampled
// curves, best-so-far over time, a parameter importance, the slot timeline and the points of the parallel
// coordinates. Each is bounded in size whatever the experiment's, so a page stays fast with 20,000 trials.
//
// Pure functions over storage records: no I/O, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/experiment/config.h"
#include "hyperion/experiment/trial.h"

namespace hyperion::dashboard {

using CurvePoint = std::pair<int64_t, double>;  // step, value

// At most `max_points` of `points` (ordered by step): the first and the last always, and between them the
// lowest and highest of each bucket, so spikes survive the thinning. `max_points` below 4 counts as 4.
std::vector<CurvePoint> Downsample(const std::vector<CurvePoint>& points, size_t max_points);

// The reports of `metric` of the latest attempt, by step (a repeated step keeps its last value).
std::vector<CurvePoint> CurveOf(const std::vector<Report>& reports, const std::string& metric);

// Every completed trial with a value, in the order they ended: [{"number", "time" (seconds since
// `start`), "value", "best"}], "best" being the best value so far under `mode`.
Json BestSoFar(const std::vector<Trial>& trials, ObjectiveMode mode, double start);

// How strongly each parameter goes with the value over the completed trials: |Spearman's rank correlation|
// for numbers and bools, the correlation ratio (eta) of the value ranks for categoricals. A quick screening
// measure, not a model: [{"param", "importance" (0..1), "kind": "numeric" | "categorical", "trials"}],
// strongest first. Parameters seen in fewer than 3 completed trials are left out.
Json Importance(const std::vector<Trial>& trials);

// Which trial ran in which slot and when: trials that started, packed greedily into the fewest slots in the
// order they started, [{"number", "slot", "start", "end" (null while running; seconds since `start`),
// "state"}]. At most `limit` trials, the ones that started last.
Json Timeline(const std::vector<Trial>& trials, double start, size_t limit);

// The completed trials' params and values for the parallel coordinates, best first, at most `limit`:
// [{"number", "value", "params"}].
Json ParallelPoints(const std::vector<Trial>& trials, ObjectiveMode mode, size_t limit);

}  // namespace hyperion::dashboard
