// MLflow over its REST API (/api/2.0/mlflow/...): the experiment (found by name or created), one parent run
// for the Hyperion experiment and one nested run per trial (tag mlflow.parentRunId) with its parameters, its
// metric history with steps, the operator, change label and rationale as tags, and its final state
// (completed -> FINISHED, failed and timed out -> FAILED, pruned and interrupted -> KILLED). The parent run
// also gets the best value so far as metric `best_<objective>`.
//
// Metrics are batched (at most 1000 metrics and about 1 MB per log-batch call, 100 params or tags per call,
// as MLflow allows). Resuming finds the runs of the same Hyperion experiment again by their tag
// hyperion.experiment_key and continues them. Non-finite values are not sent (JSON cannot carry them);
// metric and parameter names keep letters, digits and `_ - . /` and space, anything else becomes `_`;
// parameter values longer than 500 characters and tags longer than 5000 are cut.
//
// Authentication from the environment only: MLFLOW_TRACKING_TOKEN (bearer), or MLFLOW_TRACKING_USERNAME and
// MLFLOW_TRACKING_PASSWORD (basic). A server that does not answer, or answers 429 or 5xx, is kUnavailable
// (the queue retries); other refusals are kInvalidArgument with MLflow's message.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "hyperion/common/json.h"
#include "hyperion/tracking/tracker.h"

namespace hyperion {

class MlflowTracker final : public Tracker {
 public:
  // `experiment_name` empty: the Hyperion experiment's name.
  MlflowTracker(std::string uri, std::string experiment_name);

  std::string Name() const override { return "MLflow at " + uri_; }
  Status Start(const ExperimentRecord& experiment) override;
  Status TrialStarted(const Trial& trial) override;
  Status TrialReported(const Trial& trial, int64_t step, double time, const MetricValues& metrics) override;
  Status TrialEnded(const Trial& trial) override;
  Status Finish(const std::string& status) override;
  Status Flush() override;

  // A metric or parameter name as MLflow accepts it.
  static std::string SafeKey(const std::string& name);

 private:
  struct PendingMetric {
    std::string run_id;
    Json metric;  // {key, value, timestamp, step}
  };

  Result<Json> Call(const std::string& method, const std::string& path, const Json& body);
  Status FindOrCreateExperiment(const std::string& name);
  Status FindRuns();
  Status LogBatch(const std::string& run_id, const Json& params, const Json& tags);
  Status UpdateRun(const std::string& run_id, const std::string& status, double end_time);

  std::string uri_;
  std::string experiment_name_;
  std::string experiment_id_;
  std::string experiment_key_;  // tags every run of this Hyperion experiment
  std::string objective_;
  bool maximize_ = false;
  std::string parent_run_;
  std::map<int64_t, std::string> runs_;  // trial number -> run id
  std::vector<PendingMetric> pending_;
  std::optional<double> best_;
  int finished_ = 0;
};

}  // namespace hyperion
