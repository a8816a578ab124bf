// Runs each trial as a Slurm job: Launch() writes the batch script trial_dir/job.sh (slurm_job.h) and submits
// it with sbatch; a poller thread looks at the queue (one squeue call for all jobs, every
// executor.poll_interval) and turns each job that left it into a TrialExit, from the exit status the script
// recorded in the trial folder and from `scontrol show job` (NODE_FAIL, PREEMPTED, TIMEOUT, CANCELLED...).
// Signal() stops a job with scancel. Metrics reach the orchestrator through the trial folder, which must be
// on a filesystem the job's node shares with the orchestrator.
//
// Slurm's commands run as child processes with an argument vector and a timeout, never through a shell.
// Queue polling runs on the executor's own thread, so a slow controller never holds up the orchestrator's
// loop; Launch() and Signal() call sbatch and scancel on the caller's thread (they are rare and must have
// happened when they return). The Executor methods are called from the orchestrator's thread only.
//
// Destroying the executor leaves jobs that still run alone: a resumed orchestrator re-attaches to them
// (Reattach()) through the job id stored with each trial.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "hyperion/executor/executor.h"

namespace hyperion {

class SlurmExecutor final : public Executor {
 public:
  // Checks that Slurm answers (squeue) and that executor.partition exists. Errors: kUnavailable (Slurm's
  // commands missing, the controller silent), kInvalidArgument (no such partition).
  static Result<std::unique_ptr<SlurmExecutor>> Create(const ExecutorConfig& config);
  ~SlurmExecutor() override;

  std::string Name() const override { return "slurm"; }
  Status Launch(const LaunchRequest& request) override;
  std::vector<TrialExit> CollectExits() override;
  // SIGKILL, or any signal to a job still pending: scancel. Another signal: scancel --full --signal, which
  // reaches the batch script and the command it runs (the trial's grace period works as for local trials).
  void Signal(int64_t trial_id, int signal) override;
  int64_t ProcessId(int64_t /*trial_id*/) const override { return 0; }
  std::string ExternalId(int64_t trial_id) const override;
  // Slurm picks each job's node, GPUs and cores; the pool only counts amounts, given as sbatch requests.
  bool PlacesTrials() const override { return true; }
  bool Reattach(int64_t trial_id, const std::string& external_id, const std::string& trial_dir) override;

 private:
  struct Job {
    std::string id;
    std::string trial_dir;
    std::string state = "PENDING";  // as squeue last showed it
    bool cancelled = false;         // Hyperion cancelled it (scancel), so CANCELLED is no surprise
    double cancel_sent_at = -1e9;   // monotonic; the last scancel
  };

  explicit SlurmExecutor(ExecutorConfig config) : config_(std::move(config)) {}
  void PollLoop();
  // One look at the queue; jobs that left it become exits.
  void PollOnce();
  // The job's entry in the queue, or nullopt with `answered` false when squeue failed.
  std::optional<std::string> QueuedState(const std::string& job_id, bool& answered) const;

  const ExecutorConfig config_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<int64_t, Job> jobs_;   // guarded by mutex_; by trial id, until the job's exit is collected
  std::vector<TrialExit> exits_;  // guarded by mutex_; ended jobs not yet collected
  bool stop_ = false;             // guarded by mutex_
  bool warned_ = false;           // poller thread only: a failing squeue was reported
  std::thread poller_;
};

}  // namespace hyperion
