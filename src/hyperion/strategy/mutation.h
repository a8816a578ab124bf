// How the graph operators change a trial's values, shared by beam, pbt and evolution.
//
// Every value they return is valid for its parameter: inside [low, high], on the step grid, an int stays an
// int, a log-scale parameter moves by factors, a categorical takes one of its choices. A change that would
// round back to the same value (an int, a coarse step, zero times a factor) moves one grid value instead, so
// an operator that asks for a change gets one whenever the parameter can move in that direction.
// ChangeLabel() writes what changed the way a person scans it: "lr x3", "batch_size 64->128".
// Pure functions; any thread.
#pragma once

#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/space/space.h"

namespace hyperion {

// The value multiplied by `factor` (PBT's explore: x0.8 or x1.2). Numbers are multiplied (a value of zero
// moves one grid value, or 5% of the range, in the factor's direction); categorical and bool values move to
// the neighbouring choice in the listed order (up for factor > 1), staying put at the end of the list.
Json PerturbValue(const ParamSpec& spec, const Json& value, double factor);

// The value moved up (+1) or down (-1) by `distance` of the parameter's range on its own scale (log where
// log is set); categorical values move to the neighbouring choice. Returns nullopt when the value cannot
// move that way (already at the bound).
std::optional<Json> ShiftValue(const ParamSpec& spec, const Json& value, int direction, double distance);

// One parameter's change: "lr x3" and "lr x0.33" on a log scale, "dropout 0.1->0.3", "batch_size 64->128",
// "optimizer adam->sgd" (floats to 4 significant digits); "+momentum 0.9" when it became active,
// "-momentum" when it became inactive.
std::string DescribeChange(const ParamSpec& spec, const Json* from, const Json* to);

// A value as the change labels show it: floats to 4 significant digits ("0.00078"), everything else exactly
// ("64", "adam", "true").
std::string LabelValue(const Json& value);

// Every parameter that differs between two points, joined with ", "; "no change" when none does.
std::string ChangeLabel(const Space& space, const Json& from, const Json& to);

// The same with the words for one parameter that differs chosen by `describe` (called with both values
// present or one absent, as DescribeChange is).
using ChangeDescriber = std::function<std::string(const ParamSpec&, const Json* from, const Json* to)>;
std::string ChangeLabel(const Space& space, const Json& from, const Json& to,
                        const ChangeDescriber& describe);

// The parameters an operator may change in `params`: the active ones, in the space's order.
std::vector<const ParamSpec*> ActiveParams(const Space& space, const Json& params);

}  // namespace hyperion
