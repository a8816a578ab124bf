#include "hyperion/experiment/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include "hyperion/common/text.h"
#include "hyperion/resources/resource_pool.h"

namespace hyperion {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kTopLevelKeys = {
    "name",     "description", "command",     "workdir", "objective",  "space",   "strategy",
    "parallel", "budget",      "trial",       "storage", "output_dir", "env",     "metrics",
    "training", "pruner",      "checkpoints", "llm",     "resources",  "tracking"};

// Reads one YAML document into an ExperimentConfig, turning every problem into "file:line:col: key: message".
class ConfigReader {
 public:
  explicit ConfigReader(std::string path) : path_(std::move(path)) {}

  Result<ExperimentConfig> Read(const YAML::Node& root);

 private:
  Status Error(const YAML::Node& node, const std::string& key, const std::string& message) const {
    std::ostringstream out;
    out << path_;
    if (node.IsDefined() && node.Mark().line >= 0)
      out << ":" << node.Mark().line + 1 << ":" << node.Mark().column + 1;
    out << ": " << (key.empty() ? "" : key + ": ") << message;
    return InvalidArgumentError(out.str());
  }

  // Every key of `map` must be in `allowed`; otherwise names the closest allowed key.
  Status CheckKeys(const YAML::Node& map, const std::string& prefix,
                   const std::vector<std::string>& allowed) const {
    std::set<std::string> seen;
    for (const auto& entry : map) {
      std::string key = entry.first.Scalar();
      // YAML leaves duplicate keys to the reader; taking either silently would hide a mistake.
      if (!seen.insert(key).second) return Error(entry.first, prefix + key, "is given twice; keep one");
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      auto hint = ClosestMatch(key, allowed);
      return Error(entry.first, prefix + key,
                   "unknown key" + (hint ? "; did you mean '" + *hint + "'?" : std::string(".")) +
                       " Valid keys here: " + JoinStrings(allowed));
    }
    return Status::Ok();
  }

  Status ExpectMap(const YAML::Node& node, const std::string& key, const std::string& example) const {
    if (node.IsMap()) return Status::Ok();
    return Error(node, key, "expected a mapping, e.g. " + example);
  }

  Result<std::string> String(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) return Error(node, key, "expected a text value");
    return node.Scalar();
  }

  Result<double> Number(const YAML::Node& node, const std::string& key) const {
    Json value;
    if (node.IsScalar()) value = TypedScalar(node);
    if (!value.is_number()) return Error(node, key, "expected a number, got '" + DescribeNode(node) + "'");
    return value.get<double>();
  }

  Result<int64_t> Integer(const YAML::Node& node, const std::string& key, int64_t minimum) const {
    Json value;
    if (node.IsScalar()) value = TypedScalar(node);
    if (!value.is_number_integer())
      return Error(node, key, "expected a whole number, got '" + DescribeNode(node) + "'");
    if (value.get<int64_t>() < minimum) {
      return Error(node, key, "must be at least " + std::to_string(minimum) + ", got " + value.dump());
    }
    return value.get<int64_t>();
  }

  Result<bool> Bool(const YAML::Node& node, const std::string& key) const {
    Json value;
    if (node.IsScalar()) value = TypedScalar(node);
    if (!value.is_boolean())
      return Error(node, key, "expected true or false, got '" + DescribeNode(node) + "'");
    return value.get<bool>();
  }

  Result<double> Duration(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) return Error(node, key, "expected a duration such as 90s, 10m or 2h");
    auto seconds = ParseDuration(node.Scalar());
    if (!seconds.ok()) return Error(node, key, seconds.status().message());
    if (*seconds <= 0) return Error(node, key, "must be longer than zero");
    return *seconds;
  }

  static std::string DescribeNode(const YAML::Node& node) {
    if (node.IsScalar()) return node.Scalar();
    if (node.IsSequence()) return "a list";
    if (node.IsMap()) return "a mapping";
    return "nothing";
  }

  // Why `value` (written as `node`) cannot be a value of `parent`, for a condition on it: "'rmsprop' is not
  // one of optimizer's choices: ...", with a word on quotes when only the type is wrong.
  static std::string DescribeWrongValue(const ParamSpec& parent, const Json& value, const YAML::Node& node,
                                        const std::string& problem) {
    const std::string written = "'" + (node.IsNull() ? value.dump() : node.Scalar()) + "'";
    if (!IsChoice(parent)) {
      return written + " is not a value of " + parent.name + ": it " + problem;
    }
    std::vector<std::string> listed;
    for (const auto& c : parent.choices) listed.push_back(c.dump());
    std::string message = written + " is not one of " + parent.name + "'s choices: " + JoinStrings(listed);
    for (const auto& c : parent.choices) {
      if (ScalarToArgument(c) != ScalarToArgument(value)) continue;
      message += value.is_string() ? "; quoted, it is text while the choice " + c.dump() +
                                         " is not: write it without quotes"
                                   : "; the choice is the text " + c.dump() + ": quote it";
      break;
    }
    return message;
  }

  // A YAML scalar as the JSON scalar it denotes under YAML 1.2's core schema, so quoted "0" stays a string
  // while plain 0, false, null and 0.5 become a number, a boolean, null and a float.
  static Json TypedScalar(const YAML::Node& node) {
    const std::string& text = node.Scalar();
    const std::string& tag = node.Tag();
    if (node.IsNull()) return tag == "!" ? Json("") : Json();
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return Json(text);
    static const std::regex kNull("~|null|Null|NULL|");
    static const std::regex kTrue("true|True|TRUE");
    static const std::regex kFalse("false|False|FALSE");
    static const std::regex kInt("[-+]?[0-9]+");
    static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
    static const std::regex kInf("[-+]?\\.(inf|Inf|INF)");
    static const std::regex kNan("\\.(nan|NaN|NAN)");
    if (std::regex_match(text, kNull)) return Json();
    if (std::regex_match(text, kTrue)) return Json(true);
    if (std::regex_match(text, kFalse)) return Json(false);
    if (std::regex_match(text, kInt)) {
      errno = 0;
      long long v = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == 0) return Json(static_cast<int64_t>(v));
      return Json(std::strtod(text.c_str(), nullptr));
    }
    if (std::regex_match(text, kFloat)) return Json(std::strtod(text.c_str(), nullptr));
    if (std::regex_match(text, kInf)) return Json(text[0] == '-' ? -INFINITY : INFINITY);
    if (std::regex_match(text, kNan)) return Json(NAN);
    return Json(text);
  }

  Status ReadObjective(const YAML::Node& node, Objective& objective) const;
  // `params` holds the parameters read so far; `all_names` every parameter of the space, in order.
  Status ReadParam(const std::string& name, const YAML::Node& key_node, const YAML::Node& node,
                   const std::vector<std::string>& all_names, std::vector<ParamSpec>& params) const;
  // The `when` of parameter `spec`: conditions on the parameters defined before it (`earlier`).
  Status ReadWhen(const YAML::Node& node, const std::vector<ParamSpec>& earlier,
                  const std::vector<std::string>& all_names, ParamSpec& spec) const;
  Status ReadSpace(const YAML::Node& node, ExperimentConfig& config) const;
  Status ReadCommand(const YAML::Node& node, ExperimentConfig& config) const;
  Status ReadStrategy(const YAML::Node& node, StrategyConfig& strategy) const;
  Status ReadResources(const YAML::Node& node, ResourcesConfig& resources) const;
  Status ReadTracking(const YAML::Node& node, const fs::path& base, TrackingConfig& tracking) const;
  Status ReadBudget(const YAML::Node& node, Budget& budget) const;
  Status ReadTraining(const YAML::Node& node, Training& training) const;
  Status ReadPruner(const YAML::Node& node, PrunerConfig& pruner) const;
  Status ReadCheckpoints(const YAML::Node& node, CheckpointPolicy& policy) const;
  // Options that depend on each other across sections (span and pbt need `training`); fills defaults.
  Status CheckTrainingUse(const YAML::Node& root, ExperimentConfig& config) const;
  Status ReadTrialPolicy(const YAML::Node& node, TrialPolicy& policy) const;
  Status ReadLlm(const YAML::Node& node, LlmConfig& llm) const;
  // The `llm:` section belongs to strategy llm: required with it, refused with any other.
  Status CheckLlmUse(const YAML::Node& root, ExperimentConfig& config) const;

  std::string path_;
};

Status ConfigReader::ReadObjective(const YAML::Node& node, Objective& objective) const {
  HYP_RETURN_IF_ERROR(ExpectMap(node, "objective", "objective: {metric: val_acc, mode: max}"));
  HYP_RETURN_IF_ERROR(CheckKeys(node, "objective.", {"metric", "mode", "value"}));
  if (!node["metric"]) {
    return Error(node, "objective.metric",
                 "missing; name the metric your trials report and Hyperion optimises, e.g. metric: val_acc");
  }
  HYP_ASSIGN_OR_RETURN(objective.metric, String(node["metric"], "objective.metric"));
  if (objective.metric.empty()) return Error(node["metric"], "objective.metric", "must not be empty");
  if (!node["mode"]) return Error(node, "objective.mode", "missing; write mode: min or mode: max");
  HYP_ASSIGN_OR_RETURN(std::string mode, String(node["mode"], "objective.mode"));
  if (mode == "min" || mode == "minimize")
    objective.mode = ObjectiveMode::kMinimize;
  else if (mode == "max" || mode == "maximize")
    objective.mode = ObjectiveMode::kMaximize;
  else
    return Error(node["mode"], "objective.mode", "'" + mode + "' is not a mode; use min or max");
  if (node["value"]) {
    HYP_ASSIGN_OR_RETURN(std::string rule, String(node["value"], "objective.value"));
    if (rule == "last")
      objective.value = ValueRule::kLast;
    else if (rule == "best")
      objective.value = ValueRule::kBest;
    else
      return Error(node["value"], "objective.value", "'" + rule + "' is not a rule; use last or best");
  }
  return Status::Ok();
}

Status ConfigReader::ReadParam(const std::string& name, const YAML::Node& key_node, const YAML::Node& node,
                               const std::vector<std::string>& all_names,
                               std::vector<ParamSpec>& params) const {
  const std::string key = "space." + name;
  ParamSpec spec;
  spec.name = name;
  if (name.empty()) return Error(key_node, "space", "a parameter name is empty");
  if (node.IsSequence()) {  // shorthand: `optimizer: [adam, sgd]` is a categorical
    spec.type = ParamType::kCategorical;
    for (const auto& c : node) {
      if (!c.IsScalar() && !c.IsNull()) {
        return Error(c, key, "choices must be scalars (strings, numbers, true/false, null)");
      }
      spec.choices.push_back(TypedScalar(c));
    }
  } else {
    HYP_RETURN_IF_ERROR(ExpectMap(node, key, name + ": {type: float, low: 0.0001, high: 0.1, log: true}"));
    // Keys first, so that a misspelled `choices` or `low` is named as such rather than read as a missing
    // type.
    HYP_RETURN_IF_ERROR(
        CheckKeys(node, key + ".", {"type", "low", "high", "log", "step", "choices", "when"}));
    std::string type_name;
    if (node["type"]) {
      HYP_ASSIGN_OR_RETURN(type_name, String(node["type"], key + ".type"));
    } else if (node["choices"]) {
      type_name = "categorical";
    } else if (node["low"] && node["high"] && node["low"].IsScalar() && node["high"].IsScalar() &&
               TypedScalar(node["low"]).is_number_integer() &&
               TypedScalar(node["high"]).is_number_integer()) {
      type_name = "int";
    } else if (node["low"] || node["high"]) {
      type_name = "float";
    } else {
      return Error(node, key + ".type", "missing; use type: float, int, categorical or bool");
    }
    auto type = ParamTypeFromName(type_name);
    if (!type) {
      auto hint = ClosestMatch(type_name, {"float", "int", "categorical", "bool"});
      return Error(node["type"], key + ".type",
                   "unknown type '" + type_name + "'" + (hint ? "; did you mean '" + *hint + "'?" : ".") +
                       " Valid types: float, int, categorical, bool");
    }
    spec.type = *type;
    switch (spec.type) {
      case ParamType::kFloat:
      case ParamType::kInt: {
        HYP_RETURN_IF_ERROR(CheckKeys(node, key + ".", {"type", "low", "high", "log", "step", "when"}));
        for (const char* field : {"low", "high"}) {
          if (!node[field])
            return Error(node, key + "." + field,
                         std::string("missing; a ") + type_name + " needs low and high");
        }
        HYP_ASSIGN_OR_RETURN(spec.low, Number(node["low"], key + ".low"));
        HYP_ASSIGN_OR_RETURN(spec.high, Number(node["high"], key + ".high"));
        if (node["log"]) {
          HYP_ASSIGN_OR_RETURN(spec.log, Bool(node["log"], key + ".log"));
        }
        if (node["step"]) {
          HYP_ASSIGN_OR_RETURN(spec.step, Number(node["step"], key + ".step"));
        }
        break;
      }
      case ParamType::kCategorical:
        HYP_RETURN_IF_ERROR(CheckKeys(node, key + ".", {"type", "choices", "when"}));
        if (!node["choices"])
          return Error(node, key + ".choices", "missing; list the values, e.g. choices: [adam, sgd]");
        if (!node["choices"].IsSequence()) {
          return Error(node["choices"], key + ".choices", "expected a list, e.g. choices: [32, 64, 128]");
        }
        for (const auto& c : node["choices"]) {
          if (!c.IsScalar() && !c.IsNull()) {
            return Error(c, key + ".choices", "choices must be scalars (strings, numbers, true/false, null)");
          }
          spec.choices.push_back(TypedScalar(c));
        }
        break;
      case ParamType::kBool:
        HYP_RETURN_IF_ERROR(CheckKeys(node, key + ".", {"type", "when"}));
        spec.choices = {Json(false), Json(true)};
        break;
    }
  }
  if (auto problem = CheckSpec(spec)) {
    YAML::Node at = node.IsMap() && node[problem->field] ? node[problem->field] : node;
    return Error(at, key + "." + problem->field, problem->message);
  }
  if (node.IsMap() && node["when"]) HYP_RETURN_IF_ERROR(ReadWhen(node["when"], params, all_names, spec));
  params.push_back(std::move(spec));
  return Status::Ok();
}

Status ConfigReader::ReadWhen(const YAML::Node& node, const std::vector<ParamSpec>& earlier,
                              const std::vector<std::string>& all_names, ParamSpec& spec) const {
  const std::string& name = spec.name;
  const std::string key = "space." + name + ".when";
  if (!node.IsMap() || node.size() == 0) {
    return Error(node, key,
                 "expected a mapping from an earlier parameter to the value or values that make '" + name +
                     "' exist, e.g. when: {optimizer: sgd} or when: {optimizer: [sgd, adamw]}");
  }
  std::vector<std::string> earlier_names;
  for (const auto& p : earlier) earlier_names.push_back(p.name);
  std::set<std::string> seen;
  for (const auto& entry : node) {
    const std::string parent_name = entry.first.Scalar();
    const std::string at = key + "." + parent_name;
    if (!seen.insert(parent_name).second) {
      return Error(entry.first, at, "is given twice; list its values once, e.g. " + parent_name + ": [a, b]");
    }
    if (parent_name == name) return Error(entry.first, at, "a parameter cannot depend on itself");
    auto parent = std::find_if(earlier.begin(), earlier.end(),
                               [&](const ParamSpec& p) { return p.name == parent_name; });
    if (parent == earlier.end()) {
      if (std::find(all_names.begin(), all_names.end(), parent_name) != all_names.end()) {
        return Error(entry.first, at,
                     "'" + parent_name + "' must be defined before '" + name + "'; move it above '" + name +
                         "' in space");
      }
      std::vector<std::string> others;
      for (const auto& n : all_names) {
        if (n != name) others.push_back(n);
      }
      auto hint = ClosestMatch(parent_name, others);
      return Error(entry.first, at,
                   "'" + parent_name + "' names no parameter" +
                       (hint ? "; did you mean '" + *hint + "'?" : ".") + " Parameters defined before '" +
                       name + "': " + (earlier_names.empty() ? "none" : JoinStrings(earlier_names)));
    }
    std::vector<YAML::Node> value_nodes;
    if (entry.second.IsSequence()) {
      if (entry.second.size() == 0) {
        return Error(entry.second, at, "is an empty list; list at least one value of " + parent_name);
      }
      for (const auto& v : entry.second) value_nodes.push_back(v);
    } else {
      value_nodes.push_back(entry.second);
    }
    if (parent->type == ParamType::kFloat && !parent->step) {
      // A continuous draw hits one exact value with probability zero: the parameter would never exist.
      return Error(entry.first, at,
                   "'" + parent_name +
                       "' is a continuous float, so it almost never equals a listed value; condition on a "
                       "categorical, bool, int or stepped float parameter instead");
    }
    Condition condition{parent_name, {}};
    for (const auto& v : value_nodes) {
      if (!v.IsScalar() && !v.IsNull()) {
        return Error(
            v, at,
            "expected a value of " + parent_name + " or a list of them, e.g. " + parent_name + ": [a, b]");
      }
      Json value = TypedScalar(v);
      // A float's values are floats: `when: {dropout: 0}` means 0.0, as `low: 0` does.
      if (parent->type == ParamType::kFloat && value.is_number_integer()) value = Json(value.get<double>());
      if (auto problem = Space::CheckValue(*parent, value)) {
        return Error(v, at, DescribeWrongValue(*parent, value, v, *problem));
      }
      condition.values.push_back(std::move(value));
    }
    spec.when.push_back(std::move(condition));
  }
  return Status::Ok();
}

Status ConfigReader::ReadSpace(const YAML::Node& node, ExperimentConfig& config) const {
  HYP_RETURN_IF_ERROR(
      ExpectMap(node, "space", "space: {lr: {type: float, low: 0.0001, high: 0.1, log: true}}"));
  if (node.size() == 0) return Error(node, "space", "is empty; define at least one parameter");
  std::vector<std::string> all_names;
  for (const auto& entry : node) all_names.push_back(entry.first.Scalar());
  std::vector<ParamSpec> params;
  for (const auto& entry : node) {
    HYP_RETURN_IF_ERROR(ReadParam(entry.first.Scalar(), entry.first, entry.second, all_names, params));
  }
  auto space = Space::Create(std::move(params));
  if (!space.ok()) return Error(node, "space", space.status().message());
  config.space = std::move(space).value();
  return Status::Ok();
}

Status ConfigReader::ReadCommand(const YAML::Node& node, ExperimentConfig& config) const {
  if (!node.IsSequence() || node.size() == 0) {
    return Error(node, "command",
                 "expected a non-empty list of arguments, e.g. command: [python3, train.py, --lr, \"{lr}\"]; "
                 "arguments are never passed through a shell");
  }
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node& arg = node[i];
    const std::string key = "command[" + std::to_string(i) + "]";
    if (arg.IsMap() && arg.size() == 1 && arg.begin()->second.IsNull()) {
      std::string name = arg.begin()->first.Scalar();
      return Error(arg, key, "{" + name + "} was read as a YAML mapping; quote it: \"{" + name + "}\"");
    }
    if (!arg.IsScalar()) return Error(arg, key, "each argument must be a text value");
    config.command.push_back(arg.Scalar());
  }
  Json names = Json::object();
  for (const auto& spec : config.space.params()) names[spec.name] = Space::FromUnit(spec, 0.5);
  for (size_t i = 0; i < config.command.size(); ++i) {
    auto substituted = SubstituteCommand({config.command[i]}, names);
    if (!substituted.ok()) {
      return Error(node[i], "command[" + std::to_string(i) + "]", substituted.status().message());
    }
  }
  // A conditional parameter is absent from the trials where it is inactive, so its placeholder would have
  // no value there. Which placeholders an argument holds is found by leaving one conditional parameter out
  // at a time, so that the parser used at run time decides what counts as a placeholder.
  for (const auto& spec : config.space.params()) {
    if (spec.when.empty()) continue;
    Json without = names;
    without.erase(spec.name);
    for (size_t i = 0; i < config.command.size(); ++i) {
      if (SubstituteCommand({config.command[i]}, without).ok()) continue;
      std::vector<std::string> conditions;
      for (const auto& c : spec.when) conditions.push_back(DescribeCondition(c));
      return Error(
          node[i], "command[" + std::to_string(i) + "]",
          "'{" + spec.name + "}' names a conditional parameter: it exists only when " +
              JoinStrings(conditions, " and ") +
              ", so trials where it is inactive have no value for it. Read it from the params JSON "
              "instead (the HYPERION_PARAMS environment variable, or hyperion.params() in the Python "
              "client), where it is absent when inactive");
    }
  }
  return Status::Ok();
}

// Which strategy types read each option, so that an option given to a strategy that ignores it is refused
// rather than silently dropped.
const std::vector<std::pair<std::string, std::vector<std::string>>>& StrategyOptions() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> kOptions = {
      {"resolution", {"grid"}},
      {"multivariate", {"tpe"}},
      {"width", {"beam"}},
      {"branches", {"beam"}},
      {"span", {"beam", "pbt", "evolution"}},
      {"population", {"pbt", "evolution"}},
      {"quantile", {"pbt"}},
      {"resample", {"pbt"}},
      {"mutation", {"evolution"}},
      {"crossover", {"evolution"}},
      {"elite", {"evolution"}},
      {"patience", {"agent"}},
      {"tolerance", {"agent"}}};
  return kOptions;
}

Status ConfigReader::ReadStrategy(const YAML::Node& node, StrategyConfig& strategy) const {
  HYP_RETURN_IF_ERROR(ExpectMap(node, "strategy", "strategy: {type: random, seed: 1}"));
  std::vector<std::string> keys = {"type", "seed"};
  for (const auto& [option, types] : StrategyOptions()) keys.push_back(option);
  HYP_RETURN_IF_ERROR(CheckKeys(node, "strategy.", keys));
  if (node["type"]) {
    HYP_ASSIGN_OR_RETURN(strategy.type, String(node["type"], "strategy.type"));
    const auto& known = KnownStrategyTypes();
    if (std::find(known.begin(), known.end(), strategy.type) == known.end()) {
      auto hint = ClosestMatch(strategy.type, known);
      return Error(node["type"], "strategy.type",
                   "unknown strategy '" + strategy.type + "'" +
                       (hint ? "; did you mean '" + *hint + "'?" : ".") +
                       " Known strategies: " + JoinStrings(known));
    }
  }
  for (const auto& [option, types] : StrategyOptions()) {
    if (node[option] && std::find(types.begin(), types.end(), strategy.type) == types.end()) {
      return Error(node[option], "strategy." + option,
                   "applies to strategy " + JoinStrings(types) + ", not to " + strategy.type +
                       "; remove it or change strategy.type");
    }
  }
  if (node["seed"]) {
    HYP_ASSIGN_OR_RETURN(int64_t seed, Integer(node["seed"], "strategy.seed", 0));
    strategy.seed = static_cast<uint64_t>(seed);
  }
  if (node["multivariate"]) {
    HYP_ASSIGN_OR_RETURN(strategy.multivariate, Bool(node["multivariate"], "strategy.multivariate"));
  }
  auto small_count = [&](const char* key, int minimum, int& out) -> Status {
    if (!node[key]) return Status::Ok();
    HYP_ASSIGN_OR_RETURN(int64_t value, Integer(node[key], std::string("strategy.") + key, minimum));
    out = static_cast<int>(std::min<int64_t>(value, 1000000));
    return Status::Ok();
  };
  HYP_RETURN_IF_ERROR(small_count("resolution", 2, strategy.grid_resolution));
  HYP_RETURN_IF_ERROR(small_count("width", 1, strategy.width));
  HYP_RETURN_IF_ERROR(small_count("branches", 1, strategy.branches));
  HYP_RETURN_IF_ERROR(small_count("population", 2, strategy.population));
  HYP_RETURN_IF_ERROR(small_count("elite", 0, strategy.elite));
  if (node["patience"]) {
    HYP_ASSIGN_OR_RETURN(int64_t patience, Integer(node["patience"], "strategy.patience", 1));
    strategy.patience = static_cast<int>(std::min<int64_t>(patience, 1000000));
  }
  if (node["tolerance"]) {
    HYP_ASSIGN_OR_RETURN(strategy.tolerance, Number(node["tolerance"], "strategy.tolerance"));
    if (!(strategy.tolerance >= 0 && strategy.tolerance < 1)) {
      return Error(node["tolerance"], "strategy.tolerance",
                   "must be in [0, 1): the relative improvement that counts as progress (0.0001 = 0.01%)");
    }
  }
  if (node["span"]) {
    HYP_ASSIGN_OR_RETURN(double span, Number(node["span"], "strategy.span"));
    if (!(span > 0) || !std::isfinite(span))
      return Error(node["span"], "strategy.span", "must be a positive number of training units");
    strategy.span = span;
  }
  for (auto [key, out, open_low] :
       {std::tuple{"quantile", &strategy.quantile, true}, std::tuple{"resample", &strategy.resample, false},
        std::tuple{"mutation", &strategy.mutation, false},
        std::tuple{"crossover", &strategy.crossover, false}}) {
    if (!node[key]) continue;
    HYP_ASSIGN_OR_RETURN(*out, Number(node[key], std::string("strategy.") + key));
    bool ok = open_low ? (*out > 0 && *out <= 0.5) : (*out >= 0 && *out <= 1);
    if (!ok) {
      return Error(node[key], std::string("strategy.") + key,
                   open_low ? "must be in (0, 0.5]: the bottom and top fractions may not overlap"
                            : "must be a probability in [0, 1]");
    }
  }
  if (node["elite"] && strategy.elite >= strategy.population) {
    return Error(node["elite"], "strategy.elite",
                 "must be smaller than strategy.population (" + std::to_string(strategy.population) + ")");
  }
  return Status::Ok();
}

Status ConfigReader::ReadTraining(const YAML::Node& node, Training& training) const {
  HYP_RETURN_IF_ERROR(ExpectMap(node, "training", "training: {unit: epochs, max: 20}"));
  HYP_RETURN_IF_ERROR(CheckKeys(node, "training.", {"unit", "max"}));
  for (const char* key : {"unit", "max"}) {
    if (!node[key]) {
      return Error(node, std::string("training.") + key,
                   "missing; name the unit your trials count their steps in and the length of a full run, "
                   "e.g. training: {unit: epochs, max: 20}");
    }
  }
  HYP_ASSIGN_OR_RETURN(training.unit, String(node["unit"], "training.unit"));
  if (training.unit.empty()) return Error(node["unit"], "training.unit", "must not be empty");
  HYP_ASSIGN_OR_RETURN(training.max, Number(node["max"], "training.max"));
  if (!(training.max > 0) || !std::isfinite(training.max))
    return Error(node["max"], "training.max", "must be a positive number of " + training.unit);
  return Status::Ok();
}

Status ConfigReader::ReadPruner(const YAML::Node& node, PrunerConfig& pruner) const {
  HYP_RETURN_IF_ERROR(ExpectMap(node, "pruner", "pruner: {type: asha, min_step: 1, reduction: 3}"));
  HYP_RETURN_IF_ERROR(CheckKeys(node, "pruner.",
                                {"type", "min_step", "max_step", "reduction", "min_trials", "warmup_steps"}));
  if (!node["type"]) return Error(node, "pruner.type", "missing; use " + JoinStrings(KnownPrunerTypes()));
  HYP_ASSIGN_OR_RETURN(pruner.type, String(node["type"], "pruner.type"));
  const auto& known = KnownPrunerTypes();
  if (std::find(known.begin(), known.end(), pruner.type) == known.end()) {
    auto hint = ClosestMatch(pruner.type, known);
    return Error(node["type"], "pruner.type",
                 "unknown pruner '" + pruner.type + "'" + (hint ? "; did you mean '" + *hint + "'?" : ".") +
                     " Known pruners: " + JoinStrings(known));
  }
  const bool rungs = pruner.type == "asha" || pruner.type == "hyperband";
  for (const char* key : {"min_step", "max_step", "reduction"}) {
    if (node[key] && !rungs)
      return Error(node[key], std::string("pruner.") + key,
                   "applies to asha and hyperband, not to " + pruner.type);
  }
  if (node["warmup_steps"] && pruner.type != "median")
    return Error(node["warmup_steps"], "pruner.warmup_steps", "applies to median, not to " + pruner.type);
  if (pruner.type == "median") pruner.min_trials = 5;
  auto positive = [&](const char* key, double minimum, double& out) -> Status {
    if (!node[key]) return Status::Ok();
    HYP_ASSIGN_OR_RETURN(out, Number(node[key], std::string("pruner.") + key));
    if (!(out >= minimum) || !std::isfinite(out))
      return Error(node[key], std::string("pruner.") + key, "must be at least " + FormatNumber(minimum));
    return Status::Ok();
  };
  HYP_RETURN_IF_ERROR(positive("min_step", 0, pruner.min_step));
  if (node["min_step"] && pruner.min_step <= 0)
    return Error(node["min_step"], "pruner.min_step", "must be above 0 (the first milestone, in steps)");
  HYP_RETURN_IF_ERROR(positive("reduction", 2, pruner.reduction));
  HYP_RETURN_IF_ERROR(positive("warmup_steps", 0, pruner.warmup_steps));
  if (node["max_step"]) {
    double max_step = 0;
    HYP_RETURN_IF_ERROR(positive("max_step", 0, max_step));
    if (max_step <= pruner.min_step)
      return Error(node["max_step"], "pruner.max_step", "must be larger than pruner.min_step");
    pruner.max_step = max_step;
  }
  if (node["min_trials"]) {
    HYP_ASSIGN_OR_RETURN(int64_t min_trials, Integer(node["min_trials"], "pruner.min_trials", 1));
    pruner.min_trials = static_cast<int>(std::min<int64_t>(min_trials, 1000000));
  }
  return Status::Ok();
}

Status ConfigReader::ReadCheckpoints(const YAML::Node& node, CheckpointPolicy& policy) const {
  HYP_RETURN_IF_ERROR(ExpectMap(node, "checkpoints", "checkpoints: {keep_best: 5}"));
  HYP_RETURN_IF_ERROR(CheckKeys(node, "checkpoints.", {"keep_best"}));
  if (!node["keep_best"]) return Status::Ok();
  if (node["keep_best"].IsScalar() && node["keep_best"].Scalar() == "all") {
    policy.keep_best.reset();
    return Status::Ok();
  }
  auto keep = Integer(node["keep_best"], "checkpoints.keep_best", 0);
  if (!keep.ok()) {
    return Error(node["keep_best"], "checkpoints.keep_best",
                 "expected a whole number of checkpoints to keep, or all");
  }
  policy.keep_best = static_cast<int>(std::min<int64_t>(*keep, 1000000));
  return Status::Ok();
}

Status ConfigReader::CheckTrainingUse(const YAML::Node& root, ExperimentConfig& config) const {
  StrategyConfig& strategy = config.strategy;
  const Training& training = config.training;
  if (strategy.span && !training.enabled()) {
    return Error(root["strategy"]["span"], "strategy.span",
                 "needs a training budget to count in; add training: {unit: epochs, max: 20}");
  }
  if (strategy.type == "pbt" && !training.enabled()) {
    return Error(root["strategy"], "strategy.type",
                 "pbt trains each member in spans and needs a training budget; add training: {unit: epochs, "
                 "max: 20}");
  }
  if (training.enabled() && (strategy.type == "beam" || strategy.type == "pbt") && !strategy.span) {
    // A quarter of a run; whole units when the run is a whole number of them (epochs, not 1.25 epochs).
    double quarter = training.max / 4;
    strategy.span = std::floor(training.max) == training.max ? std::max(1.0, std::round(quarter)) : quarter;
  }
  if (strategy.span && *strategy.span > training.max) {
    return Error(root["strategy"]["span"], "strategy.span",
                 "is longer than a full run (training.max " + FormatNumber(training.max) + ")");
  }
  // A pruner compares trials at the same step of training; a trial that continues its parent's checkpoint
  // starts at its parent's step, so its milestones would be measured against trials that trained less.
  const bool spans =
      strategy.type == "beam" || strategy.type == "pbt" || (strategy.type == "evolution" && strategy.span);
  if (config.pruner.type != "none" && spans && training.enabled()) {
    return Error(root["pruner"]["type"], "pruner.type",
                 "cannot be combined with strategy " + strategy.type +
                     (strategy.type == "evolution" ? " with a span" : "") +
                     ": its trials continue their parents' checkpoints, and the strategy already drops weak "
                     "lines; remove the pruner");
  }
  if (config.pruner.max_step && training.enabled() && *config.pruner.max_step > training.max &&
      root["pruner"]["max_step"]) {
    return Error(
        root["pruner"]["max_step"], "pruner.max_step",
        "is beyond a full run (training.max " + FormatNumber(training.max) + "): no trial reports that far");
  }
  if (config.pruner.type == "asha" || config.pruner.type == "hyperband") {
    if (!config.pruner.max_step) {
      if (!training.enabled() && config.pruner.type == "hyperband") {
        return Error(root["pruner"], "pruner.max_step",
                     "missing; hyperband needs the last milestone: give pruner.max_step or training.max");
      }
      if (training.enabled()) config.pruner.max_step = training.max;
    }
    if (config.pruner.max_step && *config.pruner.max_step <= config.pruner.min_step) {
      return Error(root["pruner"], "pruner.min_step",
                   "must be smaller than the last milestone (" + FormatNumber(*config.pruner.max_step) + ")");
    }
  }
  return Status::Ok();
}

Status ConfigReader::ReadResources(const YAML::Node& node, ResourcesConfig& resources) const {
  HYP_RETURN_IF_ERROR(
      ExpectMap(node, "resources", "resources: {gpus: [0, 1], gpus_per_trial: 0.5, cpus_per_trial: 2}"));
  HYP_RETURN_IF_ERROR(
      CheckKeys(node, "resources.",
                {"gpus", "gpus_per_trial", "cpus", "cpus_per_trial", "memory", "memory_per_trial"}));
  resources.given = true;
  const YAML::Node gpus = node["gpus"];
  if (gpus && gpus.IsScalar() && gpus.Scalar() == "auto") {
    resources.gpus_auto = true;
  } else if (gpus && gpus.IsSequence()) {
    for (const auto& item : gpus) {
      if (!item.IsScalar() || item.Scalar().empty())
        return Error(item, "resources.gpus", "expected GPU ids such as [0, 1, 3] or auto");
      resources.gpus.push_back(item.Scalar());
    }
  } else if (gpus) {
    return Error(gpus, "resources.gpus", "expected auto or a list of GPU ids such as [0, 1, 3]");
  }
  if (node["gpus_per_trial"]) {
    HYP_ASSIGN_OR_RETURN(resources.gpus_per_trial,
                         Number(node["gpus_per_trial"], "resources.gpus_per_trial"));
    Status share = ResourcePool::CheckGpuShare(*resources.gpus_per_trial);
    if (!share.ok()) return Error(node["gpus_per_trial"], "", share.message());
  }
  const YAML::Node cpus = node["cpus"];
  if (cpus && cpus.IsSequence()) {
    resources.cpus_auto = false;
    for (const auto& item : cpus) {
      HYP_ASSIGN_OR_RETURN(int64_t core, Integer(item, "resources.cpus", 0));
      resources.cpus.push_back(static_cast<int>(std::min<int64_t>(core, 1 << 20)));
    }
  } else if (cpus && !(cpus.IsScalar() && cpus.Scalar() == "auto")) {
    return Error(cpus, "resources.cpus", "expected auto or a list of core ids such as [0, 1, 2, 3]");
  }
  if (node["cpus_per_trial"]) {
    HYP_ASSIGN_OR_RETURN(int64_t per_trial, Integer(node["cpus_per_trial"], "resources.cpus_per_trial", 1));
    resources.cpus_per_trial = static_cast<int>(std::min<int64_t>(per_trial, 1 << 20));
  }
  for (auto [key, out] : {std::pair{"memory", &resources.memory_mb},
                          std::pair{"memory_per_trial", &resources.memory_per_trial_mb}}) {
    const YAML::Node value = node[key];
    if (!value || (std::string(key) == "memory" && value.IsScalar() && value.Scalar() == "auto")) continue;
    auto mb = value.IsScalar()
                  ? ParseMemoryMb(value.Scalar())
                  : Result<int64_t>(InvalidArgumentError("expected an amount such as 4G or 512M"));
    if (!mb.ok()) return Error(value, std::string("resources.") + key, mb.status().message());
    *out = *mb;
  }
  return Status::Ok();
}

Status ConfigReader::ReadTracking(const YAML::Node& node, const fs::path& base,
                                  TrackingConfig& tracking) const {
  HYP_RETURN_IF_ERROR(ExpectMap(node, "tracking",
                                "tracking: {mlflow: {uri: http://127.0.0.1:5000}, tensorboard: true, wandb: "
                                "{project: digits}}"));
  HYP_RETURN_IF_ERROR(CheckKeys(node, "tracking.", {"mlflow", "tensorboard", "wandb"}));
  if (const YAML::Node mlflow = node["mlflow"]) {
    HYP_RETURN_IF_ERROR(
        ExpectMap(mlflow, "tracking.mlflow", "mlflow: {uri: http://127.0.0.1:5000, experiment: digits}"));
    HYP_RETURN_IF_ERROR(CheckKeys(mlflow, "tracking.mlflow.", {"uri", "experiment"}));
    if (!mlflow["uri"]) {
      return Error(mlflow, "tracking.mlflow.uri",
                   "missing; give the tracking server's address, e.g. uri: http://127.0.0.1:5000");
    }
    HYP_ASSIGN_OR_RETURN(tracking.mlflow_uri, String(mlflow["uri"], "tracking.mlflow.uri"));
    static const std::regex kUrl("https?://[^/\\s?#]+(/[^\\s?#]*)?");
    if (!std::regex_match(tracking.mlflow_uri, kUrl)) {
      return Error(mlflow["uri"], "tracking.mlflow.uri",
                   "'" + tracking.mlflow_uri +
                       "' is not an http:// or https:// URL; give the server's address, e.g. "
                       "http://127.0.0.1:5000 (file stores and databases are not supported: run `mlflow "
                       "server` on them)");
    }
    while (tracking.mlflow_uri.size() > 1 && tracking.mlflow_uri.back() == '/')
      tracking.mlflow_uri.pop_back();
    if (mlflow["experiment"]) {
      HYP_ASSIGN_OR_RETURN(tracking.mlflow_experiment,
                           String(mlflow["experiment"], "tracking.mlflow.experiment"));
      if (tracking.mlflow_experiment.empty())
        return Error(mlflow["experiment"], "tracking.mlflow.experiment", "must not be empty");
    }
  }
  if (const YAML::Node tb = node["tensorboard"]) {
    if (tb.IsScalar() && (tb.Scalar() == "true" || tb.Scalar() == "false")) {
      tracking.tensorboard = tb.Scalar() == "true";
    } else {
      HYP_RETURN_IF_ERROR(
          ExpectMap(tb, "tracking.tensorboard", "tensorboard: true, or tensorboard: {logdir: tb}"));
      HYP_RETURN_IF_ERROR(CheckKeys(tb, "tracking.tensorboard.", {"logdir"}));
      tracking.tensorboard = true;
      if (tb["logdir"]) {
        HYP_ASSIGN_OR_RETURN(std::string dir, String(tb["logdir"], "tracking.tensorboard.logdir"));
        if (dir.empty()) return Error(tb["logdir"], "tracking.tensorboard.logdir", "must not be empty");
        fs::path p(dir);
        tracking.tensorboard_logdir = (p.is_absolute() ? p : base / p).lexically_normal().string();
      }
    }
  }
  if (const YAML::Node wandb = node["wandb"]) {
    if (wandb.IsScalar() && (wandb.Scalar() == "true" || wandb.Scalar() == "false")) {
      tracking.wandb = wandb.Scalar() == "true";
      return Status::Ok();
    }
    HYP_RETURN_IF_ERROR(ExpectMap(wandb, "tracking.wandb", "wandb: {project: digits, mode: offline}"));
    HYP_RETURN_IF_ERROR(CheckKeys(wandb, "tracking.wandb.", {"project", "entity", "mode", "tags"}));
    tracking.wandb = true;
    if (wandb["project"]) {
      HYP_ASSIGN_OR_RETURN(tracking.wandb_project, String(wandb["project"], "tracking.wandb.project"));
    }
    if (wandb["entity"]) {
      HYP_ASSIGN_OR_RETURN(tracking.wandb_entity, String(wandb["entity"], "tracking.wandb.entity"));
    }
    if (wandb["mode"]) {
      HYP_ASSIGN_OR_RETURN(tracking.wandb_mode, String(wandb["mode"], "tracking.wandb.mode"));
      if (tracking.wandb_mode != "online" && tracking.wandb_mode != "offline" &&
          tracking.wandb_mode != "disabled")
        return Error(wandb["mode"], "tracking.wandb.mode", "expected online, offline or disabled");
    }
    if (const YAML::Node tags = wandb["tags"]) {
      if (!tags.IsSequence())
        return Error(tags, "tracking.wandb.tags", "expected a list such as [baseline, lr]");
      for (const auto& tag : tags) {
        HYP_ASSIGN_OR_RETURN(std::string text, String(tag, "tracking.wandb.tags"));
        // W&B reads WANDB_TAGS as a comma-separated list, so a tag cannot hold a comma.
        if (text.empty() || text.find(',') != std::string::npos)
          return Error(tag, "tracking.wandb.tags", "a tag must be non-empty and hold no comma");
        tracking.wandb_tags.push_back(text);
      }
    }
  }
  return Status::Ok();
}

Status ConfigReader::ReadBudget(const YAML::Node& node, Budget& budget) const {
  HYP_RETURN_IF_ERROR(ExpectMap(node, "budget", "budget: {max_trials: 50, max_time: 2h}"));
  HYP_RETURN_IF_ERROR(CheckKeys(node, "budget.", {"max_trials", "max_time"}));
  if (node["max_trials"]) {
    HYP_ASSIGN_OR_RETURN(budget.max_trials, Integer(node["max_trials"], "budget.max_trials", 1));
  }
  if (node["max_time"]) {
    HYP_ASSIGN_OR_RETURN(budget.max_time, Duration(node["max_time"], "budget.max_time"));
  }
  return Status::Ok();
}

Status ConfigReader::ReadTrialPolicy(const YAML::Node& node, TrialPolicy& policy) const {
  HYP_RETURN_IF_ERROR(ExpectMap(node, "trial", "trial: {timeout: 30m, retries: 1}"));
  HYP_RETURN_IF_ERROR(CheckKeys(node, "trial.", {"timeout", "retries", "kill_grace"}));
  if (node["timeout"]) {
    HYP_ASSIGN_OR_RETURN(policy.timeout, Duration(node["timeout"], "trial.timeout"));
  }
  if (node["retries"]) {
    HYP_ASSIGN_OR_RETURN(int64_t retries, Integer(node["retries"], "trial.retries", 0));
    policy.retries = static_cast<int>(std::min<int64_t>(retries, 1000));
  }
  if (node["kill_grace"]) {
    HYP_ASSIGN_OR_RETURN(policy.kill_grace, Duration(node["kill_grace"], "trial.kill_grace"));
  }
  return Status::Ok();
}

const std::vector<std::string>& LlmResponseFormats() {
  static const std::vector<std::string> kFormats = {"auto", "json_schema", "json_object", "none"};
  return kFormats;
}

Status ConfigReader::ReadLlm(const YAML::Node& node, LlmConfig& llm) const {
  HYP_RETURN_IF_ERROR(ExpectMap(node, "llm", "llm: {endpoint: http://127.0.0.1:8000/v1, model: qwen2.5-7b}"));
  HYP_RETURN_IF_ERROR(CheckKeys(node, "llm.",
                                {"endpoint", "model", "api_key_env", "temperature", "timeout", "retries",
                                 "max_tokens", "wait", "response_format"}));
  for (const char* key : {"endpoint", "model"}) {
    if (!node[key]) {
      return Error(node, std::string("llm.") + key,
                   "missing; the LLM agent needs the server's base URL and the model it serves, e.g. llm: "
                   "{endpoint: http://127.0.0.1:8000/v1, model: qwen2.5-7b}");
    }
  }
  HYP_ASSIGN_OR_RETURN(llm.endpoint, String(node["endpoint"], "llm.endpoint"));
  static const std::regex kUrl("https?://[^/\\s?#]+(/[^\\s?#]*)?");
  if (!std::regex_match(llm.endpoint, kUrl)) {
    return Error(node["endpoint"], "llm.endpoint",
                 "'" + llm.endpoint +
                     "' is not an http:// or https:// URL; give the server's base URL, e.g. "
                     "http://127.0.0.1:8000/v1");
  }
  while (llm.endpoint.size() > 1 && llm.endpoint.back() == '/') llm.endpoint.pop_back();
  const std::string suffix = "/chat/completions";
  if (llm.endpoint.size() > suffix.size() &&
      llm.endpoint.compare(llm.endpoint.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return Error(node["endpoint"], "llm.endpoint",
                 "give the base URL (" + llm.endpoint.substr(0, llm.endpoint.size() - suffix.size()) +
                     "); the agent appends /chat/completions itself");
  }
  HYP_ASSIGN_OR_RETURN(llm.model, String(node["model"], "llm.model"));
  if (llm.model.empty()) return Error(node["model"], "llm.model", "must not be empty");
  if (node["api_key_env"]) {
    HYP_ASSIGN_OR_RETURN(llm.api_key_env, String(node["api_key_env"], "llm.api_key_env"));
    static const std::regex kEnvName("[A-Za-z_][A-Za-z0-9_]*");
    if (!std::regex_match(llm.api_key_env, kEnvName)) {
      // The commonest mistake is pasting the key itself here; the message must not repeat it.
      return Error(node["api_key_env"], "llm.api_key_env",
                   "expected the NAME of an environment variable that holds the key (letters, digits, _), "
                   "e.g. api_key_env: OPENAI_API_KEY; never the key itself");
    }
  }
  if (node["temperature"]) {
    HYP_ASSIGN_OR_RETURN(llm.temperature, Number(node["temperature"], "llm.temperature"));
    if (!(llm.temperature >= 0 && llm.temperature <= 2))
      return Error(node["temperature"], "llm.temperature", "must be in [0, 2]");
  }
  if (node["timeout"]) {
    HYP_ASSIGN_OR_RETURN(llm.timeout, Duration(node["timeout"], "llm.timeout"));
  }
  if (node["retries"]) {
    HYP_ASSIGN_OR_RETURN(int64_t retries, Integer(node["retries"], "llm.retries", 0));
    if (retries > 10) return Error(node["retries"], "llm.retries", "must be at most 10");
    llm.retries = static_cast<int>(retries);
  }
  if (node["max_tokens"]) {
    HYP_ASSIGN_OR_RETURN(int64_t tokens, Integer(node["max_tokens"], "llm.max_tokens", 1));
    llm.max_tokens = static_cast<int>(std::min<int64_t>(tokens, 10000000));
  }
  if (node["wait"]) {
    // Zero is meaningful here: free slots never wait for the LLM.
    if (!node["wait"].IsScalar()) return Error(node["wait"], "llm.wait", "expected a duration such as 2s");
    auto seconds = ParseDuration(node["wait"].Scalar());
    if (!seconds.ok()) return Error(node["wait"], "llm.wait", seconds.status().message());
    if (!(*seconds >= 0)) return Error(node["wait"], "llm.wait", "must not be negative");
    llm.wait = *seconds;
  }
  if (node["response_format"]) {
    HYP_ASSIGN_OR_RETURN(llm.response_format, String(node["response_format"], "llm.response_format"));
    const auto& known = LlmResponseFormats();
    if (std::find(known.begin(), known.end(), llm.response_format) == known.end()) {
      auto hint = ClosestMatch(llm.response_format, known);
      return Error(node["response_format"], "llm.response_format",
                   "unknown format '" + llm.response_format + "'" +
                       (hint ? "; did you mean '" + *hint + "'?" : ".") + " Valid: " + JoinStrings(known));
    }
  }
  return Status::Ok();
}

Status ConfigReader::CheckLlmUse(const YAML::Node& root, ExperimentConfig& config) const {
  const bool llm = config.strategy.type == "llm";
  if (llm && !root["llm"]) {
    return Error(root["strategy"], "llm",
                 "missing; strategy llm needs the server to ask, e.g. llm: {endpoint: "
                 "http://127.0.0.1:8000/v1, model: qwen2.5-7b}");
  }
  if (!llm && root["llm"]) {
    return Error(root["llm"], "llm",
                 "applies to strategy llm, not to " + config.strategy.type +
                     "; remove it or write strategy: {type: llm}");
  }
  if (llm) HYP_RETURN_IF_ERROR(ReadLlm(root["llm"], config.llm));
  return Status::Ok();
}

Result<ExperimentConfig> ConfigReader::Read(const YAML::Node& root) {
  if (!root.IsMap())
    return Error(root, "", "the config must be a YAML mapping with keys such as name, command, space");
  HYP_RETURN_IF_ERROR(CheckKeys(root, "", kTopLevelKeys));
  ExperimentConfig config;
  config.source_path = path_;
  for (const char* required : {"name", "command", "objective", "space"}) {
    if (!root[required])
      return Error(root, required, "missing; every experiment needs name, command, objective and space");
  }
  HYP_ASSIGN_OR_RETURN(config.name, String(root["name"], "name"));
  if (config.name.empty()) return Error(root["name"], "name", "must not be empty");
  HYP_RETURN_IF_ERROR(ReadObjective(root["objective"], config.objective));
  HYP_RETURN_IF_ERROR(ReadSpace(root["space"], config));
  HYP_RETURN_IF_ERROR(ReadCommand(root["command"], config));

  fs::path base = fs::absolute(fs::path(path_)).parent_path();
  config.workdir = base.string();
  if (root["workdir"]) {
    HYP_ASSIGN_OR_RETURN(std::string workdir, String(root["workdir"], "workdir"));
    fs::path p(workdir);
    config.workdir = (p.is_absolute() ? p : base / p).lexically_normal().string();
    if (!fs::is_directory(config.workdir)) {
      return Error(root["workdir"], "workdir", "'" + config.workdir + "' is not a directory");
    }
  }
  if (root["training"]) HYP_RETURN_IF_ERROR(ReadTraining(root["training"], config.training));
  if (root["strategy"]) HYP_RETURN_IF_ERROR(ReadStrategy(root["strategy"], config.strategy));
  if (root["pruner"]) HYP_RETURN_IF_ERROR(ReadPruner(root["pruner"], config.pruner));
  if (root["checkpoints"]) HYP_RETURN_IF_ERROR(ReadCheckpoints(root["checkpoints"], config.checkpoints));
  HYP_RETURN_IF_ERROR(CheckTrainingUse(root, config));
  HYP_RETURN_IF_ERROR(CheckLlmUse(root, config));
  if (root["resources"]) HYP_RETURN_IF_ERROR(ReadResources(root["resources"], config.resources));
  if (root["parallel"]) {
    HYP_ASSIGN_OR_RETURN(int64_t parallel, Integer(root["parallel"], "parallel", 1));
    config.parallel = static_cast<int>(std::min<int64_t>(parallel, 100000));
  } else if (config.resources.given) {
    config.parallel = 0;  // as many as the resources fit, resolved when the run starts
  }
  if (root["budget"]) HYP_RETURN_IF_ERROR(ReadBudget(root["budget"], config.budget));
  if (root["trial"]) HYP_RETURN_IF_ERROR(ReadTrialPolicy(root["trial"], config.trial));
  if (root["storage"]) {
    HYP_ASSIGN_OR_RETURN(config.storage, String(root["storage"], "storage"));
    config.storage = ResolveStoragePath(config.storage, base);
  }
  if (root["output_dir"]) {
    HYP_ASSIGN_OR_RETURN(std::string dir, String(root["output_dir"], "output_dir"));
    fs::path p(dir);
    config.output_dir = (p.is_absolute() ? p : base / p).lexically_normal().string();
  }
  if (root["tracking"]) HYP_RETURN_IF_ERROR(ReadTracking(root["tracking"], base, config.tracking));
  if (root["env"]) {
    HYP_RETURN_IF_ERROR(ExpectMap(root["env"], "env", "env: {OMP_NUM_THREADS: \"1\"}"));
    static const std::regex kEnvName("[A-Za-z_][A-Za-z0-9_]*");
    for (const auto& entry : root["env"]) {
      std::string key = entry.first.Scalar();
      if (!std::regex_match(key, kEnvName)) {
        return Error(entry.first, "env." + key,
                     "is not a valid environment variable name (letters, digits, _)");
      }
      if (config.env.count(key)) return Error(entry.first, "env." + key, "is given twice; keep one");
      HYP_ASSIGN_OR_RETURN(config.env[key], String(entry.second, "env." + key));
    }
  }
  if (root["metrics"]) {
    HYP_RETURN_IF_ERROR(ExpectMap(root["metrics"], "metrics", "metrics: {stdout: false}"));
    HYP_RETURN_IF_ERROR(CheckKeys(root["metrics"], "metrics.", {"stdout"}));
    if (root["metrics"]["stdout"]) {
      HYP_ASSIGN_OR_RETURN(config.stdout_metrics, Bool(root["metrics"]["stdout"], "metrics.stdout"));
    }
  }
  return config;
}

}  // namespace

std::string ResolveStoragePath(const std::string& url, const std::filesystem::path& base) {
  const std::string sqlite_prefix = "sqlite://";
  bool with_scheme = url.rfind(sqlite_prefix, 0) == 0;
  if (!with_scheme && url.find("://") != std::string::npos) return url;  // another back end's URL
  std::string path = with_scheme ? url.substr(sqlite_prefix.size()) : url;
  if (path.empty() || path[0] == '/') return url;
  std::string resolved = (base / path).lexically_normal().string();
  return with_scheme ? sqlite_prefix + resolved : resolved;
}

Training Training::FromJson(const Json& json) {
  Training training;
  if (json.is_object() && json.value("unit", Json()).is_string() && json.value("max", Json()).is_number()) {
    training.unit = json["unit"].get<std::string>();
    training.max = json["max"].get<double>();
  }
  return training;
}

const char* ObjectiveModeName(ObjectiveMode mode) { return mode == ObjectiveMode::kMaximize ? "max" : "min"; }

const std::vector<std::string>& KnownStrategyTypes() {
  static const std::vector<std::string> kTypes = {"agent", "llm",  "random", "grid",     "tpe",
                                                  "gp",    "beam", "pbt",    "evolution"};
  return kTypes;
}

const std::vector<std::string>& KnownPrunerTypes() {
  static const std::vector<std::string> kTypes = {"none", "asha", "hyperband", "median"};
  return kTypes;
}

namespace {

Json ResourcesJson(const ResourcesConfig& r) {
  if (!r.given) return Json();
  return Json{{"gpus", r.gpus_auto ? Json("auto") : Json(r.gpus)},
              {"gpus_per_trial", r.gpus_per_trial ? Json(*r.gpus_per_trial) : Json()},
              {"cpus", r.cpus_auto ? Json("auto") : Json(r.cpus)},
              {"cpus_per_trial", r.cpus_per_trial},
              {"memory_mb", r.memory_mb > 0 ? Json(r.memory_mb) : Json("auto")},
              {"memory_per_trial_mb", r.memory_per_trial_mb}};
}

Json TrackingJson(const TrackingConfig& t) {
  if (!t.any()) return Json();
  Json json = Json::object();
  if (!t.mlflow_uri.empty()) json["mlflow"] = {{"uri", t.mlflow_uri}, {"experiment", t.mlflow_experiment}};
  if (t.tensorboard) json["tensorboard"] = {{"logdir", t.tensorboard_logdir}};
  if (t.wandb) {
    json["wandb"] = {{"project", t.wandb_project},
                     {"entity", t.wandb_entity},
                     {"mode", t.wandb_mode},
                     {"tags", t.wandb_tags}};
  }
  return json;
}

}  // namespace

Json ExperimentConfig::ToJson() const {
  auto optional = [](const auto& v) { return v ? Json(*v) : Json(); };
  Json env_json = Json::object();
  for (const auto& [k, v] : env) env_json[k] = v;
  return Json{
      {"name", name},
      {"command", command},
      {"workdir", workdir},
      {"objective",
       {{"metric", objective.metric},
        {"mode", ObjectiveModeName(objective.mode)},
        {"value", objective.value == ValueRule::kBest ? "best" : "last"}}},
      {"space", space.ToJson()},
      {"strategy",
       {{"type", strategy.type},
        {"seed", optional(strategy.seed)},
        {"resolution", strategy.grid_resolution},
        {"multivariate", strategy.multivariate},
        {"width", strategy.width},
        {"branches", strategy.branches},
        {"population", strategy.population},
        {"span", optional(strategy.span)},
        {"quantile", strategy.quantile},
        {"resample", strategy.resample},
        {"mutation", strategy.mutation},
        {"crossover", strategy.crossover},
        {"elite", strategy.elite},
        {"patience", optional(strategy.patience)},
        {"tolerance", strategy.tolerance}}},
      {"training", training.enabled() ? Json{{"unit", training.unit}, {"max", training.max}} : Json()},
      {"pruner",
       {{"type", pruner.type},
        {"min_step", pruner.min_step},
        {"max_step", optional(pruner.max_step)},
        {"reduction", pruner.reduction},
        {"min_trials", pruner.min_trials},
        {"warmup_steps", pruner.warmup_steps}}},
      {"checkpoints", {{"keep_best", checkpoints.keep_best ? Json(*checkpoints.keep_best) : Json("all")}}},
      {"parallel", parallel},
      {"resources", ResourcesJson(resources)},
      {"tracking", TrackingJson(tracking)},
      {"budget", {{"max_trials", optional(budget.max_trials)}, {"max_time", optional(budget.max_time)}}},
      {"trial",
       {{"timeout", optional(trial.timeout)}, {"retries", trial.retries}, {"kill_grace", trial.kill_grace}}},
      {"llm", llm.enabled() ? Json{{"endpoint", llm.endpoint},
                                   {"model", llm.model},
                                   {"api_key_env", llm.api_key_env},
                                   {"temperature", llm.temperature},
                                   {"timeout", llm.timeout},
                                   {"retries", llm.retries},
                                   {"max_tokens", optional(llm.max_tokens)},
                                   {"wait", llm.wait},
                                   {"response_format", llm.response_format}}
                            : Json()},
      {"output_dir", output_dir},
      {"env", env_json},
      {"metrics", {{"stdout", stdout_metrics}}},
      {"source_path", source_path}};
}

Result<ExperimentConfig> ParseConfig(const std::string& yaml_text, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    std::ostringstream out;
    out << path << ":" << e.mark.line + 1 << ":" << e.mark.column + 1
        << ": the file is not valid YAML: " << e.msg;
    return InvalidArgumentError(out.str());
  }
  try {
    return ConfigReader(path).Read(root);
  } catch (const YAML::Exception& e) {
    std::ostringstream out;
    out << path << ":" << e.mark.line + 1 << ":" << e.mark.column + 1 << ": " << e.msg;
    return InvalidArgumentError(out.str());
  }
}

Result<ExperimentConfig> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read config '" + path + "': " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

Result<std::vector<std::string>> SubstituteCommand(const std::vector<std::string>& command,
                                                   const Json& params) {
  std::vector<std::string> out;
  out.reserve(command.size());
  for (const auto& arg : command) {
    std::string result;
    for (size_t i = 0; i < arg.size(); ++i) {
      char c = arg[i];
      if ((c == '{' || c == '}') && i + 1 < arg.size() && arg[i + 1] == c) {  // "{{" or "}}": a literal brace
        result += c;
        ++i;
        continue;
      }
      if (c != '{') {
        result += c;
        continue;
      }
      size_t close = arg.find('}', i + 1);
      if (close == std::string::npos) {
        return InvalidArgumentError("'" + arg +
                                    "' has a '{' without a closing '}'; write {{ for a literal brace");
      }
      std::string name = arg.substr(i + 1, close - i - 1);
      if (!params.contains(name)) {
        std::vector<std::string> names;
        for (const auto& [k, v] : params.items()) names.push_back(k);
        auto hint = ClosestMatch(name, names);
        return InvalidArgumentError("'{" + name + "}' names no parameter of the space" +
                                    (hint ? "; did you mean '{" + *hint + "}'?" : ".") +
                                    " Parameters: " + JoinStrings(names));
      }
      result += ScalarToArgument(params[name]);
      i = close;
    }
    out.push_back(std::move(result));
  }
  return out;
}

}  // namespace hyperion
