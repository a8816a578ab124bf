#include "hyperion/strategy/mutation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "hyperion/common/text.h"

namespace hyperion {
namespace {

// The neighbouring choice in `direction`, or nullopt at the end of the list.
std::optional<Json> NeighbourChoice(const ParamSpec& spec, const Json& value, int direction) {
  size_t i = ChoiceIndex(spec, value);
  if (direction > 0 && i + 1 < spec.choices.size()) return spec.choices[i + 1];
  if (direction < 0 && i > 0) return spec.choices[i - 1];
  return std::nullopt;
}

// x clamped into the range and snapped onto the parameter's grid, through the shared unit encoding.
Json Valid(const ParamSpec& spec, double x) {
  x = std::clamp(x, spec.low, spec.high);
  Json typed = spec.type == ParamType::kInt ? Json(static_cast<int64_t>(std::llround(x))) : Json(x);
  return Space::FromUnit(spec, Space::ToUnit(spec, typed));
}

// The next value of the grid (ints, steps) or a small move (continuous) from `x` in `direction`; nullopt at
// the bound.
std::optional<Json> NextValue(const ParamSpec& spec, double x, int direction) {
  double bound = direction > 0 ? spec.high : spec.low;
  if (x == bound) return std::nullopt;
  double grid = spec.step ? *spec.step : spec.type == ParamType::kInt ? 1.0 : 0.05 * (spec.high - spec.low);
  Json next = Valid(spec, x + direction * grid);
  if (next.get<double>() == x) return std::nullopt;
  return next;
}

std::string Ratio(double ratio) {
  char text[32];
  std::snprintf(text, sizeof text, "x%.2g", ratio);
  return text;
}

}  // namespace

std::string LabelValue(const Json& value) {
  if (!value.is_number_float()) return ScalarToArgument(value);
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", value.get<double>());
  return text;
}

Json PerturbValue(const ParamSpec& spec, const Json& value, double factor) {
  int direction = factor > 1 ? 1 : -1;
  if (IsChoice(spec)) return NeighbourChoice(spec, value, direction).value_or(value);
  double x = value.get<double>();
  Json moved = Valid(spec, x * factor);
  if (moved.get<double>() != x) return moved;
  return NextValue(spec, x, direction).value_or(value);
}

std::optional<Json> ShiftValue(const ParamSpec& spec, const Json& value, int direction, double distance) {
  if (IsChoice(spec)) return NeighbourChoice(spec, value, direction);
  double u = Space::ToUnit(spec, value) + direction * distance;
  Json moved = Space::FromUnit(spec, u);
  double x = value.get<double>();
  if (moved.get<double>() != x) return moved;
  return NextValue(spec, x, direction);
}

std::string DescribeChange(const ParamSpec& spec, const Json* from, const Json* to) {
  if (!from && to) return "+" + spec.name + " " + LabelValue(*to);
  if (from && !to) return "-" + spec.name;
  if (!from || !to) return "";
  if (spec.log && !IsChoice(spec) && from->get<double>() > 0) {
    return spec.name + " " + Ratio(to->get<double>() / from->get<double>());
  }
  return spec.name + " " + LabelValue(*from) + "->" + LabelValue(*to);
}

std::string ChangeLabel(const Space& space, const Json& from, const Json& to) {
  return ChangeLabel(space, from, to, DescribeChange);
}

std::string ChangeLabel(const Space& space, const Json& from, const Json& to,
                        const ChangeDescriber& describe) {
  std::vector<std::string> changes;
  for (const auto& spec : space.params()) {
    auto a = from.find(spec.name);
    auto b = to.find(spec.name);
    const Json* x = a != from.end() ? &*a : nullptr;
    const Json* y = b != to.end() ? &*b : nullptr;
    if (!x && !y) continue;
    if (x && y && SameTypedValue(*x, *y)) continue;
    changes.push_back(describe(spec, x, y));
  }
  return changes.empty() ? "no change" : JoinStrings(changes, ", ");
}

std::vector<const ParamSpec*> ActiveParams(const Space& space, const Json& params) {
  std::vector<const ParamSpec*> active;
  for (const auto& spec : space.params()) {
    if (params.contains(spec.name)) active.push_back(&spec);
  }
  return active;
}

}  // namespace hyperion
