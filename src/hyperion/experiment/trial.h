// Plain values of an experiment's records: trials, their states and reports, and the event log.
//
// A Trial is a node of the experiment graph: 0 parents (a fresh sample), 1 (a branch) or 2 (a merge). It
// records the operator that made it, a short change label a person can scan, the rationale and the evidence
// behind it. The state machine is explicit; CanTransition() is the one place that says which moves are legal.
// Values only: no I/O, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/common/status.h"

namespace hyperion {

enum class TrialState { kPending, kRunning, kCompleted, kFailed, kPruned, kTimedOut, kInterrupted };

const char* TrialStateName(TrialState state);
Result<TrialState> TrialStateFromName(const std::string& name);

// "trial-0007": the trial's folder, and its name in MLflow, TensorBoard and W&B.
std::string TrialName(int64_t number);

// Completed, failed, pruned and timed_out trials are over. Interrupted ones were stopped from outside (a
// signal to the orchestrator, the experiment's time limit) and are run again by a resume.
bool IsFinished(TrialState state);
bool CanTransition(TrialState from, TrialState to);
Status CheckTransition(int64_t trial_number, TrialState from, TrialState to);

struct Trial {
  int64_t id = 0;  // unique in the database
  int64_t experiment_id = 0;
  int64_t number = 0;  // 1, 2, ... within the experiment
  TrialState state = TrialState::kPending;
  Json params = Json::object();
  std::optional<double> value;        // the objective, once known
  std::optional<int64_t> value_step;  // the step the value was taken at
  // The graph: who this trial descends from and why it exists.
  std::vector<int64_t> parents;  // trial ids; the first is the primary parent (checkpoint donor)
  std::string op =
      "sample";  // the operator that made it: sample, grid, branch, perturb, exploit, crossover...
  std::string change_label;        // "lr x3", "batch 64->128"; empty for fresh samples
  std::string rationale;           // a sentence a person can read
  Json evidence = Json::object();  // the ids and numbers the rationale rests on
  // The span of training this trial covers, in the budget unit of the config, when there is one.
  std::optional<double> budget_from;
  std::optional<double> budget_to;
  // Where it runs and what it restores.
  std::string trial_dir;
  std::string checkpoint_dir;
  std::string restore_from;
  int attempt = 1;                   // 1 + retries so far
  std::string error;                 // why it failed, timed out, was pruned or interrupted
  std::optional<int64_t> pid;        // process id while running locally
  std::string external_id;           // e.g. a Slurm job id
  int priority = 0;                  // higher runs first among pending trials
  std::optional<double> created_at;  // wall seconds
  std::optional<double> started_at;
  std::optional<double> ended_at;

  // The JSON shape of `hyperion trials --json`.
  Json ToJson() const;
};

// One metric value of one report.
struct Report {
  int64_t trial_id = 0;
  int attempt = 1;
  int64_t step = 0;
  std::string metric;
  double value = 0;
  double time = 0;  // wall seconds
};

// An entry of the experiment's event log: what happened, when, to which trial, with details as JSON.
struct Event {
  int64_t id = 0;
  int64_t experiment_id = 0;
  std::optional<int64_t> trial_id;
  double time = 0;
  std::string type;  // experiment_started, trial_proposed, trial_started, trial_completed, trial_failed, ...
  Json payload = Json::object();
};

}  // namespace hyperion
