// TensorBoard: one run folder per trial under the log dir (trial-0007/), holding a TFRecord event file
// (events.out.tfevents.<time>.<host>.<pid>) with a scalar per metric and step, and the HParams plugin's
// session start (the trial's parameters) and end (its status), so `tensorboard --logdir` shows the scalars
// and the HParams dashboard. The log dir's own event file describes the experiment: every parameter with its
// type and domain, and the objective as the metric.
//
// Statuses: completed -> SUCCESS, failed and timed out -> FAILURE, pruned and interrupted -> UNKNOWN. A
// resumed or retried trial appends a new event file to its folder; TensorBoard reads them all.
// Called by one TrackingQueue worker.
#pragma once

#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "hyperion/tracking/tracker.h"

namespace hyperion {

// Appends TFRecord-framed Event messages to one new event file in `dir`.
class EventFileWriter {
 public:
  // Creates `dir` (owner-only) and a new event file in it, starting with the file_version event.
  static Result<std::unique_ptr<EventFileWriter>> Create(const std::string& dir);
  ~EventFileWriter();

  Status WriteScalar(const std::string& tag, int64_t step, double wall_time, float value);
  // An Event holding one Summary.Value of the HParams plugin (tag `_hparams_/...`, content its
  // HParamsPluginData).
  Status WriteHParams(const std::string& tag, const std::string& plugin_data, double wall_time);
  Status Flush();
  const std::string& path() const { return path_; }

 private:
  EventFileWriter(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {}
  Status WriteEvent(const std::string& event);

  std::FILE* file_;
  std::string path_;
};

class TensorBoardTracker final : public Tracker {
 public:
  // `logdir` empty: <experiment folder>/tensorboard.
  explicit TensorBoardTracker(std::string logdir) : logdir_(std::move(logdir)) {}

  std::string Name() const override {
    return "TensorBoard in " + (logdir_.empty() ? "<experiment>/tensorboard" : logdir_);
  }
  Status Start(const ExperimentRecord& experiment) override;
  Status TrialStarted(const Trial& trial) override;
  Status TrialReported(const Trial& trial, int64_t step, double time, const MetricValues& metrics) override;
  Status TrialEnded(const Trial& trial) override;
  Status Finish(const std::string& status) override;
  Status Flush() override;

 private:
  Result<EventFileWriter*> WriterFor(const Trial& trial);

  std::string logdir_;
  std::map<int64_t, std::unique_ptr<EventFileWriter>> writers_;  // by trial id; closed when it ends
  std::set<std::string> as_text_;  // categoricals of mixed types, written as text
};

}  // namespace hyperion
