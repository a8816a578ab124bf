#include "hyperion/cli/tracking_observer.h"

#include "hyperion/common/clock.h"

namespace hyperion::cli {

void TrackingObserver::OnRunStarted(const ExperimentRecord& experiment, const std::vector<Trial>& resumed,
                                    int slots) {
  inner_.OnRunStarted(experiment, resumed, slots);
  if (queue_) queue_->Start(experiment);
}

void TrackingObserver::OnTrialStarted(const Trial& trial) {
  inner_.OnTrialStarted(trial);
  if (queue_) queue_->TrialStarted(trial);
}

void TrackingObserver::OnTrialReport(const Trial& trial, const ParsedReport& report) {
  inner_.OnTrialReport(trial, report);
  // A report without its own time is stamped when it was read, not when a tracker gets to it.
  if (queue_)
    queue_->TrialReported(trial, report.step, report.time > 0 ? report.time : WallSeconds(), report.metrics);
}

void TrackingObserver::OnTrialEnded(const Trial& trial, const std::optional<Trial>& best) {
  inner_.OnTrialEnded(trial, best);
  if (queue_) queue_->TrialEnded(trial);
}

void TrackingObserver::OnTick(const std::vector<const Trial*>& running) {
  inner_.OnTick(running);
  ShowMessages();
}

void TrackingObserver::ShowMessages() {
  if (!queue_) return;
  for (const auto& line : queue_->TakeMessages()) inner_.OnMessage(line);
}

void TrackingObserver::Finish(const std::string& status, double wait) {
  if (!queue_) return;
  queue_->Close(status, wait);
  ShowMessages();
}

}  // namespace hyperion::cli
