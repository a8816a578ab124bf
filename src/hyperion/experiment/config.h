// The experiment config: what to run, what to optimise, over which space, how many at once, within which
// budget.
//
// LoadConfig() reads the YAML file and validates all of it before anything runs or is stored. Every problem
// is reported as one message naming the file, line and column, the key (as a dotted path: "space.lr.low") and
// what would be valid; the CLI prints it and exits with code 2. Plain values; any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/common/status.h"
#include "hyperion/space/space.h"

namespace hyperion {

enum class ObjectiveMode { kMinimize, kMaximize };
enum class ValueRule { kLast, kBest };

struct Objective {
  std::string metric;
  ObjectiveMode mode = ObjectiveMode::kMinimize;
  ValueRule value = ValueRule::kLast;  // the trial's value: the metric at its last report, or its best

  // True when a is strictly better than b under the mode.
  bool Better(double a, double b) const { return mode == ObjectiveMode::kMaximize ? a > b : a < b; }
};

const char* ObjectiveModeName(ObjectiveMode mode);

struct Budget {
  std::optional<int64_t> max_trials;  // trials the strategy may propose (retries of one trial count once)
  std::optional<double> max_time;     // seconds from the start of the run; no trial starts after it
};

struct TrialPolicy {
  std::optional<double> timeout;  // seconds a trial may run; then its whole process tree is stopped
  int retries = 0;                // extra attempts for a trial that failed or timed out
  double kill_grace = 10;         // seconds between SIGTERM and SIGKILL when stopping a trial
};

struct StrategyConfig {
  std::string type = "random";
  std::optional<uint64_t> seed;  // chosen at random and recorded when not given
  int grid_resolution = 5;       // grid: values per continuous parameter
  bool multivariate = false;     // tpe: one joint density instead of one per parameter
};

struct ExperimentConfig {
  std::string name;
  std::vector<std::string> command;  // argument vector; "{param}" placeholders are substituted per argument
  std::string workdir;               // absolute
  Objective objective;
  Space space = *Space::Create({});
  StrategyConfig strategy;
  int parallel = 1;
  Budget budget;
  TrialPolicy trial;
  std::string storage;     // URL or path (relative paths resolved against the config folder); empty: default
  std::string output_dir;  // where trial folders go; empty: ./hyperion-runs
  std::map<std::string, std::string> env;  // extra environment for every trial
  bool stdout_metrics = true;              // parse name=value lines on the trial's stdout
  std::string source_path;                 // the file it was read from

  // The normalised config as stored with the experiment.
  Json ToJson() const;
};

// The strategies this build knows, for validation and did-you-mean.
const std::vector<std::string>& KnownStrategyTypes();

// Reads and validates a config file. Relative `workdir` is resolved against the file's folder.
Result<ExperimentConfig> LoadConfig(const std::string& path);
// The same from text, for tests; `path` is used in messages and to resolve relative paths.
Result<ExperimentConfig> ParseConfig(const std::string& yaml_text, const std::string& path);

// A relative SQLite path in a config ("runs.db", "sqlite://runs.db") made absolute against the config's
// folder; other URLs unchanged.
std::string ResolveStoragePath(const std::string& url, const std::filesystem::path& base);

// Substitutes "{name}" placeholders in each argument with the parameter's value ("{{" and "}}" are literal
// braces). Never goes through a shell. Fails when a placeholder names no parameter.
Result<std::vector<std::string>> SubstituteCommand(const std::vector<std::string>& command,
                                                   const Json& params);

}  // namespace hyperion
