// Trackers send what a run records to the tools researchers already have open (MLflow, TensorBoard). The run
// tells them, in order: Start (the experiment), then per trial TrialStarted, TrialReported (each report as it
// arrives), TrialEnded, and finally Finish. A trial that is retried starts again in the same tracked run.
//
// Calls come from one TrackingQueue worker thread per tracker (tracking_queue.h), never from the run's loop,
// so a slow or absent server never slows trials down. kUnavailable means "the server is away, call again
// later": the queue retries the same call with backoff. Any other error is reported once and that call is
// dropped. Flush() sends what a tracker batches; the queue calls it when idle and at least once a second.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "hyperion/common/status.h"
#include "hyperion/experiment/trial.h"
#include "hyperion/storage/storage.h"

namespace hyperion {

using MetricValues = std::vector<std::pair<std::string, double>>;

// The same number for every run (and resume) of one experiment, and another for a new experiment of the same
// name: the trackers' key for finding their runs again.
uint64_t ExperimentFingerprint(const std::string& name, double created_at);

class Tracker {
 public:
  virtual ~Tracker() = default;
  // "MLflow at http://...", "TensorBoard in /path": for messages.
  virtual std::string Name() const = 0;

  virtual Status Start(const ExperimentRecord& experiment) = 0;
  virtual Status TrialStarted(const Trial& trial) = 0;
  virtual Status TrialReported(const Trial& trial, int64_t step, double time,
                               const MetricValues& metrics) = 0;
  virtual Status TrialEnded(const Trial& trial) = 0;
  // The run ended: "finished", "interrupted" or "failed".
  virtual Status Finish(const std::string& status) = 0;
  virtual Status Flush() { return Status::Ok(); }
  // From another thread: the call in progress should end soon (the run is over and out of time for it).
  virtual void Cancel() {}
};

}  // namespace hyperion
