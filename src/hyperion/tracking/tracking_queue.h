// Delivers tracking calls off the run's loop thread: one worker thread and one ordered queue per tracker, so
// a tracker whose server is away (retried with backoff, 0.5 s doubling to 10 s) holds up neither the run nor
// the other trackers.
//
// The loop thread enqueues (never blocks on a tracker) and reads messages for the user with TakeMessages().
// Close() enqueues Finish and waits up to `wait` seconds for every queue to drain; what is still undelivered
// then is counted in the message it leaves ("MLflow at ...: 12 calls not delivered ...").
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hyperion/tracking/tracker.h"

namespace hyperion {

class TrackingQueue {
 public:
  explicit TrackingQueue(std::vector<std::unique_ptr<Tracker>> trackers);
  ~TrackingQueue();  // Close("interrupted", 2 s) unless closed

  void Start(const ExperimentRecord& experiment);
  void TrialStarted(const Trial& trial);
  void TrialReported(const Trial& trial, int64_t step, double time, MetricValues metrics);
  void TrialEnded(const Trial& trial);
  // Finishes every tracker and waits for delivery. Returns the calls left undelivered.
  int Close(const std::string& status, double wait);

  // Lines for the user (errors, a server away and back); any thread.
  std::vector<std::string> TakeMessages();
  bool empty() const { return workers_.empty(); }

 private:
  struct Worker;
  void Enqueue(std::function<Status(Tracker&)> call);
  void Run(Worker& worker);
  void Say(const std::string& line);

  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex messages_mutex_;
  std::vector<std::string> messages_;
  bool closed_ = false;
};

}  // namespace hyperion
