#include "hyperion/space/space.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "hyperion/common/text.h"

namespace hyperion {
namespace {

bool IsWhole(double x) { return std::isfinite(x) && std::floor(x) == x; }

// Number of step intervals between low and high, when the step divides the range (within rounding).
std::optional<int64_t> StepCount(const ParamSpec& spec) {
  if (!spec.step) return std::nullopt;
  double intervals = (spec.high - spec.low) / *spec.step;
  double rounded = std::round(intervals);
  if (std::abs(intervals - rounded) > 1e-9 * std::max(1.0, std::abs(intervals))) return std::nullopt;
  return static_cast<int64_t>(rounded);
}

Json NumberValue(const ParamSpec& spec, double x) {
  if (spec.type == ParamType::kInt) return Json(static_cast<int64_t>(std::llround(x)));
  return Json(x);
}

// Snaps x onto the parameter's grid (step, or integers) and into [low, high].
double Snap(const ParamSpec& spec, double x) {
  if (spec.step) {
    double k = std::round((x - spec.low) / *spec.step);
    x = spec.low + k * *spec.step;
    // 0 + 3 * 0.3 is 0.8999999999999999 in binary; the user wrote a decimal grid, so give them 0.9.
    char text[32];
    std::snprintf(text, sizeof text, "%.12g", x);
    x = std::strtod(text, nullptr);
  } else if (spec.type == ParamType::kInt) {
    x = std::round(x);
  }
  return std::clamp(x, spec.low, spec.high);
}

// A bound or step for a message: 12 significant digits, so 0.3 * 3 reads 0.9 and not 0.8999999999999999.
std::string Nice(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.12g", x);
  return buffer;
}

// Why `spec` is inactive in `params`: the first of its conditions that does not hold, and what the parent
// holds instead.
std::string WhyInactive(const ParamSpec& spec, const Json& params) {
  for (const auto& condition : spec.when) {
    auto it = params.find(condition.param);
    if (it == params.end()) {
      return "it exists only when " + DescribeCondition(condition) + ", and here " + condition.param +
             " is inactive itself";
    }
    bool listed = std::any_of(condition.values.begin(), condition.values.end(),
                              [&](const Json& v) { return SameTypedValue(v, *it); });
    if (!listed) {
      return "it exists only when " + DescribeCondition(condition) + ", and here " + condition.param +
             " is " + it->dump();
    }
  }
  return "its conditions hold";  // not reached for an inactive parameter
}

// Distinct points of params[i..], given the values of the earlier parameters that conditions look at.
// `parents[i]` lists the distinct values that later conditions name for parameter i (empty when no condition
// names it).
double CountFrom(const std::vector<ParamSpec>& params, const std::vector<std::vector<Json>>& parents,
                 size_t i, Json& partial) {
  if (i == params.size()) return 1;
  const ParamSpec& spec = params[i];
  if (!Space::IsActive(spec, partial)) return CountFrom(params, parents, i + 1, partial);
  auto cardinality = spec.Cardinality();
  if (!cardinality) return INFINITY;
  if (parents[i].empty())
    return static_cast<double>(*cardinality) * CountFrom(params, parents, i + 1, partial);
  // Each value a condition names may switch other parameters on; all the other values switch on the same
  // ones, so one stand-in that no condition lists (an empty object; values are scalars) counts for them all.
  double total = 0;
  for (const auto& value : parents[i]) {
    partial[spec.name] = value;
    total += CountFrom(params, parents, i + 1, partial);
  }
  double others = static_cast<double>(*cardinality) - static_cast<double>(parents[i].size());
  if (others > 0) {
    partial[spec.name] = Json::object();
    total += others * CountFrom(params, parents, i + 1, partial);
  }
  partial.erase(spec.name);
  return total;
}

}  // namespace

std::string DescribeCondition(const Condition& condition) {
  std::vector<std::string> values;
  for (const auto& v : condition.values) values.push_back(v.dump());
  if (values.size() == 1) return condition.param + " is " + values[0];
  return condition.param + " is one of " + JoinStrings(values);
}

const char* ParamTypeName(ParamType type) {
  switch (type) {
    case ParamType::kFloat:
      return "float";
    case ParamType::kInt:
      return "int";
    case ParamType::kCategorical:
      return "categorical";
    case ParamType::kBool:
      return "bool";
  }
  return "?";
}

std::optional<ParamType> ParamTypeFromName(const std::string& name) {
  if (name == "float") return ParamType::kFloat;
  if (name == "int") return ParamType::kInt;
  if (name == "categorical") return ParamType::kCategorical;
  if (name == "bool") return ParamType::kBool;
  return std::nullopt;
}

std::optional<int64_t> ParamSpec::Cardinality() const {
  switch (type) {
    case ParamType::kCategorical:
    case ParamType::kBool:
      return static_cast<int64_t>(choices.size());
    case ParamType::kInt: {
      double step_size = step.value_or(1);
      return static_cast<int64_t>(std::floor((high - low) / step_size + 1e-9)) + 1;
    }
    case ParamType::kFloat: {
      auto count = StepCount(*this);
      if (count) return *count + 1;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

bool IsChoice(const ParamSpec& spec) {
  return spec.type == ParamType::kCategorical || spec.type == ParamType::kBool;
}

size_t ChoiceIndex(const ParamSpec& spec, const Json& value) {
  for (size_t i = 0; i < spec.choices.size(); ++i) {
    if (SameTypedValue(spec.choices[i], value)) return i;
  }
  return 0;
}

std::optional<SpecProblem> CheckSpec(const ParamSpec& spec) {
  if (IsChoice(spec)) {
    if (spec.choices.empty()) {
      return SpecProblem{"choices", "choices is empty; list at least one value, e.g. choices: [adam, sgd]"};
    }
    for (size_t i = 0; i < spec.choices.size(); ++i) {
      if (spec.choices[i].is_number_float() && !std::isfinite(spec.choices[i].get<double>())) {
        return SpecProblem{"choices",
                           "choice " + std::to_string(i + 1) +
                               " is not a finite number, which JSON cannot hold; quote it to pass the text"};
      }
      if (!spec.choices[i].is_primitive()) {
        return SpecProblem{"choices", "choice " + std::to_string(i + 1) + " is " + spec.choices[i].dump() +
                                          "; choices must be scalars (strings, numbers, true/false, null)"};
      }
      for (size_t j = 0; j < i; ++j) {
        if (SameTypedValue(spec.choices[j], spec.choices[i])) {
          return SpecProblem{"choices", "choice " + spec.choices[i].dump() + " is listed twice"};
        }
      }
    }
    return std::nullopt;
  }
  auto fmt = Nice;
  if (!std::isfinite(spec.low) || !std::isfinite(spec.high)) {
    return SpecProblem{"low", "low and high must be finite numbers"};
  }
  // Beyond 2^53 doubles skip integers, and a range wider than the largest double cannot be sampled.
  constexpr double kLargestExactInteger = 9007199254740992.0;
  if (spec.type == ParamType::kInt &&
      (std::abs(spec.low) > kLargestExactInteger || std::abs(spec.high) > kLargestExactInteger)) {
    return SpecProblem{"high", "int bounds must lie within ±2^53 (9007199254740992)"};
  }
  if (!std::isfinite(spec.high - spec.low)) {
    return SpecProblem{"high", "the range high - low is too large to sample; narrow it or use log: true"};
  }
  if (spec.type == ParamType::kInt) {
    if (!IsWhole(spec.low))
      return SpecProblem{"low", "low (" + fmt(spec.low) + ") must be an integer for an int"};
    if (!IsWhole(spec.high))
      return SpecProblem{"high", "high (" + fmt(spec.high) + ") must be an integer for an int"};
  }
  if (!(spec.low < spec.high)) {
    return SpecProblem{"high", "low (" + fmt(spec.low) + ") must be below high (" + fmt(spec.high) +
                                   "); for a fixed value use a categorical with one choice"};
  }
  if (spec.log && spec.low <= 0) {
    return SpecProblem{"low", "low (" + fmt(spec.low) +
                                  ") must be > 0 with log: true; use a positive low such as " +
                                  fmt(spec.high / 1000) + ", or drop log"};
  }
  if (spec.step) {
    if (spec.log) return SpecProblem{"step", "step cannot be combined with log: true; drop one of them"};
    if (!(*spec.step > 0) || !std::isfinite(*spec.step)) {
      return SpecProblem{"step", "step (" + fmt(*spec.step) + ") must be a positive number"};
    }
    if (spec.type == ParamType::kInt && !IsWhole(*spec.step)) {
      return SpecProblem{"step", "step (" + fmt(*spec.step) + ") must be an integer for an int"};
    }
    if (!StepCount(spec)) {
      double range = spec.high - spec.low;
      double fitting_high = spec.low + std::floor(range / *spec.step) * *spec.step;
      return SpecProblem{"step", "step " + fmt(*spec.step) + " does not divide high - low = " + fmt(range) +
                                     " evenly; set high to " + fmt(fitting_high) +
                                     " or choose a step that divides " + fmt(range)};
    }
  }
  return std::nullopt;
}

Result<Space> Space::Create(std::vector<ParamSpec> params) {
  std::set<std::string> seen;
  for (auto& spec : params) {
    if (spec.name.empty()) return InvalidArgumentError("a parameter has an empty name");
    if (!seen.insert(spec.name).second)
      return InvalidArgumentError("parameter '" + spec.name + "' is defined twice");
    if (spec.type == ParamType::kBool) spec.choices = {Json(false), Json(true)};
    if (auto problem = CheckSpec(spec)) {
      return InvalidArgumentError("parameter '" + spec.name + "', " + problem->field + ": " +
                                  problem->message);
    }
  }
  for (size_t i = 0; i < params.size(); ++i) {
    for (const auto& condition : params[i].when) {
      const std::string where = "parameter '" + params[i].name + "', when." + condition.param;
      auto parent = std::find_if(params.begin(), params.begin() + i,
                                 [&](const ParamSpec& p) { return p.name == condition.param; });
      if (condition.param == params[i].name) {
        return InvalidArgumentError(where + ": a parameter cannot depend on itself");
      }
      if (parent == params.begin() + i) {
        bool later = std::any_of(params.begin() + i, params.end(),
                                 [&](const ParamSpec& p) { return p.name == condition.param; });
        return InvalidArgumentError(
            where + ": " +
            (later ? "'" + condition.param + "' must be defined before '" + params[i].name + "' (move it up)"
                   : "names no parameter of the space"));
      }
      if (condition.values.empty()) return InvalidArgumentError(where + ": list at least one value");
      for (const auto& value : condition.values) {
        if (auto problem = CheckValue(*parent, value)) {
          return InvalidArgumentError(where + ": " + value.dump() + " " + *problem);
        }
      }
    }
  }
  return Space(std::move(params));
}

Json Space::ToJson() const {
  Json out = Json::array();
  for (const auto& spec : params_) {
    Json p = {{"name", spec.name}, {"type", ParamTypeName(spec.type)}};
    if (spec.type == ParamType::kFloat || spec.type == ParamType::kInt) {
      p["low"] = NumberValue(spec, spec.low);
      p["high"] = NumberValue(spec, spec.high);
      if (spec.log) p["log"] = true;
      if (spec.step) p["step"] = NumberValue(spec, *spec.step);
    } else if (spec.type == ParamType::kCategorical) {
      p["choices"] = spec.choices;
    }
    if (!spec.when.empty()) {
      Json when = Json::object();
      for (const auto& c : spec.when) when[c.param] = c.values;
      p["when"] = std::move(when);
    }
    out.push_back(std::move(p));
  }
  return out;
}

Result<Space> Space::FromJson(const Json& json) {
  std::vector<ParamSpec> params;
  try {
    for (const auto& p : json) {
      ParamSpec spec;
      spec.name = p.at("name").get<std::string>();
      auto type = ParamTypeFromName(p.at("type").get<std::string>());
      if (!type) return InvalidArgumentError("stored space has an unknown type for '" + spec.name + "'");
      spec.type = *type;
      if (p.contains("low")) spec.low = p["low"].get<double>();
      if (p.contains("high")) spec.high = p["high"].get<double>();
      spec.log = p.value("log", false);
      if (p.contains("step")) spec.step = p["step"].get<double>();
      if (p.contains("choices")) spec.choices = p["choices"].get<std::vector<Json>>();
      if (p.contains("when")) {
        for (const auto& [parent, values] : p["when"].items())
          spec.when.push_back(Condition{parent, values.get<std::vector<Json>>()});
      }
      params.push_back(std::move(spec));
    }
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string("stored space is malformed: ") + e.what());
  }
  return Create(std::move(params));
}

const ParamSpec* Space::Find(const std::string& name) const {
  for (const auto& spec : params_) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::vector<std::string> Space::Names() const {
  std::vector<std::string> names;
  for (const auto& spec : params_) names.push_back(spec.name);
  return names;
}

Json Space::SampleValue(const ParamSpec& spec, std::mt19937_64& rng) const {
  switch (spec.type) {
    case ParamType::kCategorical:
    case ParamType::kBool: {
      std::uniform_int_distribution<size_t> pick(0, spec.choices.size() - 1);
      return spec.choices[pick(rng)];
    }
    case ParamType::kFloat:
    case ParamType::kInt: {
      if (spec.step || (spec.type == ParamType::kInt && !spec.log)) {
        // Every grid value equally likely.
        int64_t count = *spec.Cardinality();
        std::uniform_int_distribution<int64_t> pick(0, count - 1);
        return NumberValue(spec, Snap(spec, spec.low + pick(rng) * spec.step.value_or(1)));
      }
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      return FromUnit(spec, unit(rng));
    }
  }
  return Json();
}

bool Space::IsActive(const ParamSpec& spec, const Json& params) {
  for (const auto& condition : spec.when) {
    auto it = params.find(condition.param);
    if (it == params.end()) return false;  // the parent is inactive itself
    bool listed = std::any_of(condition.values.begin(), condition.values.end(),
                              [&](const Json& v) { return SameTypedValue(v, *it); });
    if (!listed) return false;
  }
  return true;
}

bool Space::HasConditions() const {
  return std::any_of(params_.begin(), params_.end(), [](const ParamSpec& s) { return !s.when.empty(); });
}

double Space::CountPoints() const {
  std::vector<std::vector<Json>> parents(params_.size());
  for (const auto& spec : params_) {
    for (const auto& condition : spec.when) {
      size_t at = 0;
      while (params_[at].name != condition.param) ++at;  // Create() checked that it exists
      for (const auto& value : condition.values) {
        bool known = std::any_of(parents[at].begin(), parents[at].end(),
                                 [&](const Json& v) { return SameTypedValue(v, value); });
        if (!known) parents[at].push_back(value);
      }
    }
  }
  Json partial = Json::object();
  return CountFrom(params_, parents, 0, partial);
}

Json Space::Sample(std::mt19937_64& rng) const {
  Json params = Json::object();
  for (const auto& spec : params_) {
    if (IsActive(spec, params)) params[spec.name] = SampleValue(spec, rng);
  }
  return params;
}

Json Space::Complete(const Json& params, std::mt19937_64& rng) const {
  // Rebuilt in the space's order, so that each condition sees its parent's final value.
  Json out = Json::object();
  for (const auto& spec : params_) {
    if (!IsActive(spec, out)) continue;
    auto it = params.find(spec.name);
    out[spec.name] = it != params.end() ? *it : SampleValue(spec, rng);
  }
  return out;
}

Status Space::Validate(const Json& params) const {
  if (!params.is_object())
    return InvalidArgumentError("parameters must be a JSON object, got " + params.dump());
  for (const auto& [name, value] : params.items()) {
    if (!Find(name)) {
      auto hint = ClosestMatch(name, Names());
      return InvalidArgumentError("unknown parameter '" + name + "'" +
                                  (hint ? "; did you mean '" + *hint + "'?" : ""));
    }
  }
  for (const auto& spec : params_) {
    if (!IsActive(spec, params)) {
      if (params.contains(spec.name)) {
        return InvalidArgumentError("parameter '" + spec.name +
                                    "' is given but inactive: " + WhyInactive(spec, params));
      }
      continue;
    }
    if (!params.contains(spec.name)) return InvalidArgumentError("parameter '" + spec.name + "' is missing");
    const Json& v = params[spec.name];
    if (auto problem = CheckValue(spec, v)) {
      return InvalidArgumentError("parameter '" + spec.name + "' = " + v.dump() + " " + *problem);
    }
  }
  return Status::Ok();
}

std::optional<std::string> Space::CheckValue(const ParamSpec& spec, const Json& v) {
  switch (spec.type) {
    case ParamType::kCategorical:
    case ParamType::kBool: {
      bool found = std::any_of(spec.choices.begin(), spec.choices.end(),
                               [&](const Json& c) { return SameTypedValue(c, v); });
      if (!found) {
        std::vector<std::string> listed;
        for (const auto& c : spec.choices) listed.push_back(c.dump());
        return "is not one of the choices: " + JoinStrings(listed);
      }
      return std::nullopt;
    }
    case ParamType::kFloat:
    case ParamType::kInt: {
      bool right_type = spec.type == ParamType::kInt ? v.is_number_integer() : v.is_number_float();
      if (!right_type) return std::string("must be a") + (spec.type == ParamType::kInt ? "n int" : " float");
      double x = v.get<double>();
      if (!(x >= spec.low && x <= spec.high)) {
        return "is outside [" + FormatNumber(spec.low) + ", " + FormatNumber(spec.high) + "]";
      }
      if (spec.step) {
        double k = (x - spec.low) / *spec.step;
        if (std::abs(k - std::round(k)) > 1e-6) {
          return "is not on the step grid (step " + FormatNumber(*spec.step) + ")";
        }
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

double Space::ToUnit(const ParamSpec& spec, const Json& value) {
  if (IsChoice(spec)) {
    for (size_t i = 0; i < spec.choices.size(); ++i) {
      if (SameTypedValue(spec.choices[i], value)) {
        return (i + 0.5) / spec.choices.size();
      }
    }
    return 0.5;
  }
  double x = value.get<double>();
  if (spec.log) return (std::log(x) - std::log(spec.low)) / (std::log(spec.high) - std::log(spec.low));
  return (x - spec.low) / (spec.high - spec.low);
}

Json Space::FromUnit(const ParamSpec& spec, double u) {
  u = std::clamp(u, 0.0, 1.0);
  if (IsChoice(spec)) {
    size_t index = std::min(spec.choices.size() - 1, static_cast<size_t>(u * spec.choices.size()));
    return spec.choices[index];
  }
  // The ends are exact (exp(log(0.001)) is not 0.001).
  double x = u <= 0     ? spec.low
             : u >= 1   ? spec.high
             : spec.log ? std::exp(std::log(spec.low) + u * (std::log(spec.high) - std::log(spec.low)))
                        : spec.low + u * (spec.high - spec.low);
  return NumberValue(spec, Snap(spec, x));
}

std::vector<Json> Space::GridValues(const ParamSpec& spec, int resolution) {
  resolution = std::max(resolution, 2);
  if (IsChoice(spec)) return spec.choices;
  std::vector<Json> values;
  auto count = spec.Cardinality();
  if (count && *count <= resolution) {
    for (int64_t k = 0; k < *count; ++k) {
      values.push_back(NumberValue(spec, Snap(spec, spec.low + k * spec.step.value_or(1))));
    }
    return values;
  }
  for (int i = 0; i < resolution; ++i) {
    Json v = FromUnit(spec, static_cast<double>(i) / (resolution - 1));
    if (values.empty() || !SameTypedValue(values.back(), v)) values.push_back(v);
  }
  return values;
}

}  // namespace hyperion
