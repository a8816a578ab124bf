#include "hyperion/tracking/tracking_queue.h"

#include <algorithm>
#include <chrono>

#include "hyperion/common/text.h"

namespace hyperion {

struct TrackingQueue::Worker {
  std::unique_ptr<Tracker> tracker;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<Status(Tracker&)>> calls;
  bool closing = false;
  std::chrono::steady_clock::time_point give_up_at = std::chrono::steady_clock::time_point::max();
  bool busy = false;  // a call is out
  std::thread thread;
};

TrackingQueue::TrackingQueue(std::vector<std::unique_ptr<Tracker>> trackers) {
  for (auto& tracker : trackers) {
    auto worker = std::make_unique<Worker>();
    worker->tracker = std::move(tracker);
    workers_.push_back(std::move(worker));
  }
  for (auto& worker : workers_) {
    Worker* w = worker.get();
    w->thread = std::thread([this, w] { Run(*w); });
  }
}

TrackingQueue::~TrackingQueue() {
  if (!closed_) Close("interrupted", 2);
}

void TrackingQueue::Enqueue(std::function<Status(Tracker&)> call) {
  for (auto& worker : workers_) {
    {
      std::lock_guard<std::mutex> lock(worker->mutex);
      worker->calls.push_back(call);
    }
    worker->wake.notify_one();
  }
}

void TrackingQueue::Start(const ExperimentRecord& experiment) {
  Enqueue([experiment](Tracker& t) { return t.Start(experiment); });
}

void TrackingQueue::TrialStarted(const Trial& trial) {
  Enqueue([trial](Tracker& t) { return t.TrialStarted(trial); });
}

void TrackingQueue::TrialReported(const Trial& trial, int64_t step, double time, MetricValues metrics) {
  // The trial as it was when the report came; trackers need its number and params, not later changes.
  Enqueue([trial, step, time, metrics = std::move(metrics)](Tracker& t) {
    return t.TrialReported(trial, step, time, metrics);
  });
}

void TrackingQueue::TrialEnded(const Trial& trial) {
  Enqueue([trial](Tracker& t) { return t.TrialEnded(trial); });
}

void TrackingQueue::Say(const std::string& line) {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  messages_.push_back(line);
}

std::vector<std::string> TrackingQueue::TakeMessages() {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  std::vector<std::string> out;
  out.swap(messages_);
  return out;
}

void TrackingQueue::Run(Worker& w) {
  using Clock = std::chrono::steady_clock;
  double backoff = 0.5;
  bool away = false;            // the server did not answer the last try
  std::string last_error_kind;  // errors other than "away" are said once per kind of call
  auto last_flush = Clock::now();
  while (true) {
    std::function<Status(Tracker&)> call;
    {
      std::unique_lock<std::mutex> lock(w.mutex);
      w.wake.wait_for(lock, std::chrono::seconds(1), [&] { return !w.calls.empty() || w.closing; });
      if (w.calls.empty()) {
        if (w.closing) {
          lock.unlock();
          (void)w.tracker->Flush();
          return;
        }
      } else {
        call = w.calls.front();
        w.busy = true;
      }
    }
    if (call) {
      while (true) {
        Status status = call(*w.tracker);
        if (status.code() != StatusCode::kUnavailable) {
          if (away) Say(w.tracker->Name() + ": reachable again; what waited was sent");
          away = false;
          backoff = 0.5;
          if (!status.ok() && status.message() != last_error_kind) {
            last_error_kind = status.message();
            Say(w.tracker->Name() + ": " + status.message() + " (skipped; the run goes on)");
          }
          break;
        }
        if (!away) Say(w.tracker->Name() + ": " + status.message() + "; retrying in the background");
        away = true;
        std::unique_lock<std::mutex> lock(w.mutex);
        if (Clock::now() >= w.give_up_at) {
          // Closing and out of time: what is left stays undelivered (Close counts it).
          w.busy = false;
          return;
        }
        w.wake.wait_for(lock, std::chrono::duration<double>(backoff),
                        [&] { return Clock::now() >= w.give_up_at; });
        backoff = std::min(backoff * 2, 10.0);
      }
      std::lock_guard<std::mutex> lock(w.mutex);
      w.calls.pop_front();
      w.busy = false;
    }
    bool idle;
    {
      std::lock_guard<std::mutex> lock(w.mutex);
      idle = w.calls.empty();
    }
    if (idle || Clock::now() - last_flush > std::chrono::seconds(1)) {
      Status flushed = w.tracker->Flush();
      if (!flushed.ok() && flushed.code() != StatusCode::kUnavailable &&
          flushed.message() != last_error_kind) {
        last_error_kind = flushed.message();
        Say(w.tracker->Name() + ": " + flushed.message());
      }
      last_flush = Clock::now();
    }
  }
}

int TrackingQueue::Close(const std::string& status, double wait) {
  if (closed_) return 0;
  closed_ = true;
  Enqueue([status](Tracker& t) { return t.Finish(status); });
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(wait));
  for (auto& worker : workers_) {
    {
      std::lock_guard<std::mutex> lock(worker->mutex);
      worker->closing = true;
      worker->give_up_at = deadline;
    }
    worker->wake.notify_all();
  }
  int undelivered = 0;
  for (auto& worker : workers_) {
    worker->thread.join();
    int left = static_cast<int>(worker->calls.size());
    if (left > 0) {
      undelivered += left;
      Say(worker->tracker->Name() + ": " + std::to_string(left) + " call(s) not delivered within " +
          FormatDuration(wait) + "; send them later with `hyperion export --to ...` (docs/integrations.md)");
    }
  }
  return undelivered;
}

}  // namespace hyperion
