#include "hyperion/tracking/make_trackers.h"

#include "hyperion/tracking/mlflow_tracker.h"
#include "hyperion/tracking/tensorboard_tracker.h"

namespace hyperion {

std::unique_ptr<TrackingQueue> MakeTrackingQueue(const TrackingConfig& tracking) {
  std::vector<std::unique_ptr<Tracker>> trackers;
  if (!tracking.mlflow_uri.empty())
    trackers.push_back(std::make_unique<MlflowTracker>(tracking.mlflow_uri, tracking.mlflow_experiment));
  if (tracking.tensorboard)
    trackers.push_back(std::make_unique<TensorBoardTracker>(tracking.tensorboard_logdir));
  if (trackers.empty()) return nullptr;
  return std::make_unique<TrackingQueue>(std::move(trackers));
}

}  // namespace hyperion
