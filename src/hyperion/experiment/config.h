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

// The length of one full training run, in the unit the trials report their steps in (epochs, iterations).
// With it, a trial covers a span of training (budget from..to) and may continue from its parent's
// checkpoint; without it (unit empty) every trial is a whole run and the span variables are empty.
struct Training {
  std::string unit;  // "epochs"; empty when the config has no `training:` section
  double max = 0;    // a full run, in `unit`; > 0 when unit is set

  bool enabled() const { return !unit.empty(); }
  // From the stored config's "training" entry ({"unit", "max"} or null); empty when absent or malformed.
  static Training FromJson(const Json& json);
};

struct StrategyConfig {
  std::string type = "agent";    // the built-in analyst
  std::optional<uint64_t> seed;  // chosen at random and recorded when not given
  int grid_resolution = 5;       // grid: values per continuous parameter
  bool multivariate = false;     // tpe: one joint density instead of one per parameter
  // The graph strategies (beam, pbt, evolution).
  int width = 3;               // beam: nodes kept per level
  int branches = 3;            // beam: children per kept node (the first continues unchanged)
  int population = 8;          // pbt, evolution: members per generation
  std::optional<double> span;  // beam, pbt, evolution: training per trial (pbt's ready interval)
  double quantile = 0.25;      // pbt: the bottom fraction exploits the top fraction
  double resample = 0.25;      // pbt: chance that explore resamples a parameter instead of perturbing it
  double mutation = 0.3;       // evolution: chance that each parameter of a child mutates
  double crossover = 0.7;      // evolution: share of children made from two parents
  int elite = 1;               // evolution: best members carried into the next generation unchanged
  // The analyst (agent): it stops once the best value has not improved by more than `tolerance` (relative
  // to the best) over the last `patience` finished trials; unset patience: max(20, 5 x parameters).
  std::optional<int> patience;
  double tolerance = 1e-4;
};

// Early stopping on reported steps, usable with any strategy. Steps are the ones the trials report.
struct PrunerConfig {
  std::string type = "none";       // none, asha, hyperband, median
  double min_step = 1;             // asha, hyperband: the first milestone
  std::optional<double> max_step;  // asha, hyperband: the last (default: training.max)
  double reduction = 3;            // asha, hyperband: keep the top 1/reduction at each milestone
  int min_trials = 3;              // no decision at a milestone before this many trials reached it
  double warmup_steps = 0;         // median: no decision before this step
};

// Which trials' checkpoint folders are kept once no unfinished trial restores from them: the strategy's
// frontier (trials it may still branch from) and the best `keep_best` by value; others are removed.
struct CheckpointPolicy {
  std::optional<int> keep_best = 5;  // nullopt: keep every checkpoint
};

// The LLM agent's server (`strategy.type: llm`): an OpenAI-compatible chat endpoint. The API key itself is
// never part of the config: only the name of the environment variable that holds it, read at call time.
struct LlmConfig {
  std::string
      endpoint;       // base URL, "http://127.0.0.1:8000/v1"; the agent POSTs to <endpoint>/chat/completions
  std::string model;  // the model name the server knows
  std::string
      api_key_env;  // name of the variable holding the key, sent as "Authorization: Bearer"; empty: none
  double temperature = 0.2;
  double timeout = 60;  // seconds one call may take
  int retries = 2;      // further calls after a reply with invalid decisions, the reasons fed back
  std::optional<int> max_tokens;
  double wait = 2;  // seconds the orchestrator waits for a reply before the fallback fills a free slot
  // auto (json_schema, downgraded to json_object and then none when the server refuses it), json_schema,
  // json_object or none.
  std::string response_format = "auto";

  bool enabled() const { return !endpoint.empty(); }
};

// What each trial needs and what the experiment may use (`resources:`). Without the section, `parallel`
// trials run at once and GPUs are left as the environment has them.
struct ResourcesConfig {
  bool given = false;                    // the config has a `resources:` section
  bool gpus_auto = false;                // gpus: auto (CUDA_VISIBLE_DEVICES, else nvidia-smi, else none)
  std::vector<std::string> gpus;         // listed device ids ("0", "3", "GPU-<uuid>")
  std::optional<double> gpus_per_trial;  // 0, 1/k (k trials per GPU) or whole; default 1 with GPUs, else 0
  bool cpus_auto = true;                 // cpus: auto (the cores this process may use)
  std::vector<int> cpus;                 // listed core ids
  int cpus_per_trial = 0;                // 0: cores are not managed
  int64_t memory_mb = 0;                 // 0: the machine's memory
  int64_t memory_per_trial_mb = 0;       // 0: memory is not managed
};

// Where the run also sends what it records (`tracking:`); each part is off unless its section is there.
struct TrackingConfig {
  std::string mlflow_uri;         // MLflow tracking server, http(s)://host:port; empty: off
  std::string mlflow_experiment;  // the MLflow experiment; empty: the Hyperion experiment's name
  bool tensorboard = false;
  std::string tensorboard_logdir;  // absolute; empty: <experiment folder>/tensorboard
  bool wandb = false;              // set the W&B environment of each trial
  std::string wandb_project;       // empty: the experiment's name
  std::string wandb_entity;        // empty: the user's default
  std::string wandb_mode;          // online, offline, disabled; empty: as the trial's environment says
  std::vector<std::string> wandb_tags;

  bool any() const { return !mlflow_uri.empty() || tensorboard || wandb; }
};

struct ExperimentConfig {
  std::string name;
  std::vector<std::string> command;  // argument vector; "{param}" placeholders are substituted per argument
  std::string workdir;               // absolute
  Objective objective;
  Space space = *Space::Create({});
  StrategyConfig strategy;
  Training training;
  PrunerConfig pruner;
  CheckpointPolicy checkpoints;
  // Trials at once; with `resources:` and no `parallel`, 0 until the run resolves it to what the resources
  // fit.
  int parallel = 1;
  ResourcesConfig resources;
  Budget budget;
  TrialPolicy trial;
  LlmConfig llm;  // set when strategy.type is llm, empty otherwise
  TrackingConfig tracking;
  std::string storage;     // URL or path (relative paths resolved against the config folder); empty: default
  std::string output_dir;  // where trial folders go; empty: ./hyperion-runs
  std::map<std::string, std::string> env;  // extra environment for every trial
  bool stdout_metrics = true;              // parse name=value lines on the trial's stdout
  std::string source_path;                 // the file it was read from

  // The normalised config as stored with the experiment.
  Json ToJson() const;
};

// The strategies and pruners this build knows, for validation and did-you-mean.
const std::vector<std::string>& KnownStrategyTypes();
const std::vector<std::string>& KnownPrunerTypes();

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
