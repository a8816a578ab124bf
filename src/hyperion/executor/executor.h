// Executors run a trial's command somewhere and say when it has ended. The trial talks back through the files
// of its trial folder (metric_stream.h), so the orchestrator reads metrics the same way whatever runs the
// trial.
//
// Called from the orchestrator's thread only. Launch() failing means the trial never started (the program
// could not be found, the folder could not be made, the scheduler refused the job): the orchestrator records
// that as the trial's failure reason.
//
// MakeExecutor() picks the implementation the config names: LocalExecutor (local_executor.h) or
// SlurmExecutor (slurm_executor.h).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hyperion/common/status.h"
#include "hyperion/experiment/config.h"
#include "hyperion/resources/resource_pool.h"

namespace hyperion {

struct LaunchRequest {
  int64_t trial_id = 0;
  std::string name;               // "<experiment>-<trial number>", for a scheduler's job list
  std::vector<std::string> argv;  // argv[0] is looked up on PATH when it has no slash
  std::string workdir;
  std::map<std::string, std::string> env;  // added to (and overriding) the orchestrator's environment
  std::string trial_dir;                   // stdout.log and stderr.log are written here
  // What the resource pool granted the trial: the local executor sets CUDA_VISIBLE_DEVICES and pins cores
  // from it; a scheduler turns the amounts into its own requests (Slurm: --gres, --cpus-per-task, --mem).
  ResourceGrant resources;
  bool resources_managed = false;  // the config has a `resources:` section
};

// Who ended a trial, when a scheduler can tell more than the command's exit status.
enum class EndedBy {
  kCommand,         // the command exited: `code` and `signaled` say how
  kScheduler,       // the scheduler stopped it (cancelled outside Hyperion, out of memory, lost): a failure
  kTimeLimit,       // the scheduler's own time limit (Slurm TIMEOUT): timed out
  kInfrastructure,  // not the trial's fault (node failure, preemption, boot failure): run again without
                    // counting against trial.retries (see docs/cluster.md)
};

// "command", "scheduler", "time_limit", "infrastructure"; FromName gives kCommand for an unknown name.
const char* EndedByName(EndedBy ended_by);
EndedBy EndedByFromName(const std::string& name);

struct TrialExit {
  int64_t trial_id = 0;
  bool signaled = false;  // killed by a signal rather than exiting
  int code = 0;           // exit code, or the signal number when signaled
  EndedBy ended_by = EndedBy::kCommand;
  std::string reason;  // set with any EndedBy but kCommand: "Slurm job 42 ended NODE_FAIL (...)"

  // The reason when there is one, else "exit code 3", "killed by signal 9 (SIGKILL)".
  std::string Describe() const;
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual std::string Name() const = 0;

  virtual Status Launch(const LaunchRequest& request) = 0;
  // Trials whose processes have ended since the last call (non-blocking). After a trial's exit is reported,
  // every process it left behind in its process group has been killed.
  virtual std::vector<TrialExit> CollectExits() = 0;
  // Sends `signal` to the trial's whole process tree (its process group). No-op for a trial that has ended.
  virtual void Signal(int64_t trial_id, int signal) = 0;
  // The process id of a running trial, or 0 (always 0 where a scheduler runs it elsewhere).
  virtual int64_t ProcessId(int64_t trial_id) const = 0;
  // The scheduler's id for a launched trial (a Slurm job id), stored with the trial so that a resumed
  // orchestrator can find it again; empty for local processes.
  virtual std::string ExternalId(int64_t /*trial_id*/) const { return ""; }
  // Resume: takes back a trial that a previous orchestrator launched as `external_id` and that was left
  // running. True when the executor now tracks it (still queued or running, or ended meanwhile: its exit is
  // then reported by a later CollectExits()); false when there is nothing to take back (local processes,
  // which a resume stops; a job the scheduler no longer knows that recorded no exit status), and the
  // trial is run again.
  virtual bool Reattach(int64_t /*trial_id*/, const std::string& /*external_id*/,
                        const std::string& /*trial_dir*/) {
    return false;
  }
  // True when a scheduler picks each trial's devices (Slurm): the resource pool then only counts amounts.
  virtual bool PlacesTrials() const { return false; }
};

// The executor `config` names. Errors: kUnavailable when it cannot work here (Slurm's commands are missing or
// its controller does not answer), kInvalidArgument for a partition the cluster does not have.
Result<std::unique_ptr<Executor>> MakeExecutor(const ExecutorConfig& config);

}  // namespace hyperion
