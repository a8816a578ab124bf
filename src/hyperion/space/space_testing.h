// Test support: short builders for parameter definitions, so that a test's space reads like its config
// (Float("lr", 1e-4, 1e-1, true), Choice("optimizer", {"adam", "sgd"}), When(Float("momentum", 0, 0.99),
// "optimizer", {"sgd"})). They fill in the fields and check nothing: Space::Create() validates. Header-only;
// tests only.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/space/space.h"

namespace hyperion::testing {

// A float in [low, high], on a log scale when `log`, on the grid low + k * step when `step` is set.
inline ParamSpec Float(const std::string& name, double low, double high, bool log = false,
                       std::optional<double> step = std::nullopt) {
  ParamSpec spec;
  spec.name = name;
  spec.type = ParamType::kFloat;
  spec.low = low;
  spec.high = high;
  spec.log = log;
  spec.step = step;
  return spec;
}

// An int in [low, high], as Float() otherwise.
inline ParamSpec Int(const std::string& name, double low, double high, bool log = false,
                     std::optional<double> step = std::nullopt) {
  ParamSpec spec = Float(name, low, high, log, step);
  spec.type = ParamType::kInt;
  return spec;
}

// A categorical parameter with exactly these choices (their JSON types kept).
inline ParamSpec Choice(const std::string& name, std::vector<Json> choices) {
  ParamSpec spec;
  spec.name = name;
  spec.type = ParamType::kCategorical;
  spec.choices = std::move(choices);
  return spec;
}

// A bool parameter: choices false, true (as Space::Create() sets them).
inline ParamSpec Bool(const std::string& name) {
  ParamSpec spec;
  spec.name = name;
  spec.type = ParamType::kBool;
  spec.choices = {Json(false), Json(true)};
  return spec;
}

// `spec` with one more condition: active only when `param` has one of `values`.
inline ParamSpec When(ParamSpec spec, const std::string& param, std::vector<Json> values) {
  spec.when.push_back(Condition{param, std::move(values)});
  return spec;
}

// `spec` with these conditions added (every one must hold).
inline ParamSpec When(ParamSpec spec, std::vector<Condition> conditions) {
  spec.when.insert(spec.when.end(), conditions.begin(), conditions.end());
  return spec;
}

}  // namespace hyperion::testing
