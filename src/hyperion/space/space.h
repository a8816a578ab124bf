// The search space: typed parameters, their validation, sampling and a shared encoding to the unit interval.
//
// A parameter value is a Json scalar whose type is the parameter's: float -> number_float, int ->
// number_integer, bool -> boolean, categorical -> exactly the JSON scalar given in `choices` (null, 0, false,
// 1, true and "0" are six different choices). A point of the space ("params") is a Json object from parameter
// name to value, in the order the space lists the parameters.
//
// Space is immutable after Create() and safe to share between threads. Random draws take the caller's
// generator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/common/status.h"

namespace hyperion {

enum class ParamType { kFloat, kInt, kCategorical, kBool };

const char* ParamTypeName(ParamType type);
std::optional<ParamType> ParamTypeFromName(const std::string& name);

// A parameter that exists only when an earlier one has one of the listed values ("momentum" when
// optimizer is sgd). Every condition of a parameter must hold for it to be active.
struct Condition {
  std::string param;         // a parameter defined before this one
  std::vector<Json> values;  // typed like that parameter's values
};

// The condition as a person reads it: `optimizer is "sgd"`, `optimizer is one of "sgd", "adamw"` (values as
// JSON, so that 2 and "2" read differently).
std::string DescribeCondition(const Condition& condition);

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kFloat;
  double low = 0;               // float, int
  double high = 0;              // float, int
  bool log = false;             // float, int: sample and encode on a log scale
  std::optional<double> step;   // float, int: values are low + k * step
  std::vector<Json> choices;    // categorical (bool: [false, true])
  std::vector<Condition> when;  // empty: always active

  // Number of distinct values, or nullopt when continuous.
  std::optional<int64_t> Cardinality() const;
};

// True for categorical and bool parameters: their values are the listed choices, not numbers.
bool IsChoice(const ParamSpec& spec);

// The index of `value` in spec.choices (compared with SameTypedValue), 0 when it is not one of them.
size_t ChoiceIndex(const ParamSpec& spec, const Json& value);

// A problem with one parameter's definition: the field it is about ("low", "step", "choices", ...) and a
// message saying what would be valid.
struct SpecProblem {
  std::string field;
  std::string message;
};

// Checks one definition; nullopt when it is valid.
std::optional<SpecProblem> CheckSpec(const ParamSpec& spec);

class Space {
 public:
  // Validates every definition, that names are unique and non-empty, and that each condition names an
  // earlier parameter and values it can take.
  static Result<Space> Create(std::vector<ParamSpec> params);
  static Result<Space> FromJson(const Json& json);
  Json ToJson() const;

  const std::vector<ParamSpec>& params() const { return params_; }
  const ParamSpec* Find(const std::string& name) const;
  std::vector<std::string> Names() const;

  // True when every condition of `spec` holds in `params` (a parameter whose parent is inactive is
  // inactive too). Parameters without conditions are always active.
  static bool IsActive(const ParamSpec& spec, const Json& params);
  bool HasConditions() const;

  // The number of distinct points of the space, counting each combination of active parameters once (a
  // parameter that is inactive adds no choices); infinity when a continuous parameter can be active.
  double CountPoints() const;

  // A uniform draw (log-uniform where log is set) of every active parameter, in the space's order.
  Json Sample(std::mt19937_64& rng) const;
  Json SampleValue(const ParamSpec& spec, std::mt19937_64& rng) const;

  // After a change to some values (a mutation, a crossover): drops the parameters that became inactive and
  // draws the ones that became active, in the space's order. Values already present are kept.
  Json Complete(const Json& params, std::mt19937_64& rng) const;

  // Checks that `params` holds exactly the space's active parameters (and no inactive one), each of the
  // right type, in range and on its grid. An inactive parameter that is given is refused with the condition
  // that does not hold.
  Status Validate(const Json& params) const;

  // What is wrong with `value` as a value of `spec` ("must be an int", "is outside [1, 4]", "is not one of
  // the choices: ..."), worded to follow the value; nullopt when it is valid. Conditions are not looked at.
  static std::optional<std::string> CheckValue(const ParamSpec& spec, const Json& value);

  // The encoding shared by grid and model-based strategies: u in [0, 1] <-> value, log scale and step
  // respected. Categorical and bool map index i of n to (i + 0.5) / n.
  static double ToUnit(const ParamSpec& spec, const Json& value);
  static Json FromUnit(const ParamSpec& spec, double u);

  // The values a grid visits for one parameter: every choice; every integer or step value when there are at
  // most `resolution` of them; otherwise `resolution` values spread evenly (on the log scale where log is
  // set).
  static std::vector<Json> GridValues(const ParamSpec& spec, int resolution);

 private:
  explicit Space(std::vector<ParamSpec> params) : params_(std::move(params)) {}
  std::vector<ParamSpec> params_;
};

}  // namespace hyperion
