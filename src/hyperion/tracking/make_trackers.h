// The trackers a `tracking:` section names (MLflow, TensorBoard), in a TrackingQueue. W&B needs no tracker:
// it is the trial's environment (wandb_environment.h). Any thread.
#pragma once

#include <memory>

#include "hyperion/experiment/config.h"
#include "hyperion/tracking/tracking_queue.h"

namespace hyperion {

// nullptr when the config names no tracker.
std::unique_ptr<TrackingQueue> MakeTrackingQueue(const TrackingConfig& tracking);

}  // namespace hyperion
