// Tells the trackers of the config's `tracking:` section what the run records, beside the progress display:
// every call goes to `inner` first, then into the tracking queue (which never blocks the loop). Messages from
// the trackers (a server away, back again, a refusal) are shown through `inner` on the next tick.
// Called on the orchestrator's loop thread, like any RunObserver.
#pragma once

#include <memory>
#include <string>

#include "hyperion/orchestrator/orchestrator.h"
#include "hyperion/tracking/tracking_queue.h"

namespace hyperion::cli {

class TrackingObserver final : public RunObserver {
 public:
  TrackingObserver(RunObserver& inner, std::unique_ptr<TrackingQueue> queue)
      : inner_(inner), queue_(std::move(queue)) {}

  void OnRunStarted(const ExperimentRecord& experiment, const std::vector<Trial>& resumed,
                    int slots) override;
  void OnTrialStarted(const Trial& trial) override;
  void OnTrialReport(const Trial& trial, const ParsedReport& report) override;
  void OnTrialEnded(const Trial& trial, const std::optional<Trial>& best) override;
  void OnMessage(const std::string& text) override { inner_.OnMessage(text); }
  void OnTick(const std::vector<const Trial*>& running) override;

  // After the run: finishes the trackers with `status` ("finished", "interrupted", "failed"), waiting up to
  // `wait` seconds for what they still have to send.
  void Finish(const std::string& status, double wait);

 private:
  void ShowMessages();

  RunObserver& inner_;
  std::unique_ptr<TrackingQueue> queue_;  // nullptr: no trackers
};

}  // namespace hyperion::cli
