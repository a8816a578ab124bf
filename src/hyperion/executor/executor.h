// Executors run a trial's command somewhere and say when it has ended. The trial talks back through the files
// of its trial folder (metric_stream.h), so the orchestrator reads metrics the same way whatever runs the
// trial.
//
// Called from the orchestrator's thread only. Launch() failing means the trial never started (the program
// could not be found, the folder could not be made): the orchestrator records that as the trial's failure
// reason.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hyperion/common/status.h"
#include "hyperion/resources/resource_pool.h"

namespace hyperion {

struct LaunchRequest {
  int64_t trial_id = 0;
  std::vector<std::string> argv;  // argv[0] is looked up on PATH when it has no slash
  std::string workdir;
  std::map<std::string, std::string> env;  // added to (and overriding) the orchestrator's environment
  std::string trial_dir;                   // stdout.log and stderr.log are written here
  // What the resource pool granted the trial: the local executor sets CUDA_VISIBLE_DEVICES and pins cores
  // from it; a scheduler turns the amounts into its own requests (Slurm: --gres, --cpus-per-task, --mem).
  ResourceGrant resources;
  bool resources_managed = false;  // the config has a `resources:` section
};

struct TrialExit {
  int64_t trial_id = 0;
  bool signaled = false;  // killed by a signal rather than exiting
  int code = 0;           // exit code, or the signal number when signaled

  // "exit code 3", "killed by signal 9 (SIGKILL)"
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
  // The process id of a running trial, or 0.
  virtual int64_t ProcessId(int64_t trial_id) const = 0;
  // True when a scheduler picks each trial's devices (Slurm): the resource pool then only counts amounts.
  virtual bool PlacesTrials() const { return false; }
};

}  // namespace hyperion
