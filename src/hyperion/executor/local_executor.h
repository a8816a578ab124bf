// Runs each trial as a child process of this one, in its own process group, with stdout and stderr sent to
// files in the trial folder. The process group is what timeouts, pruning and shutdown signal, so a trial's
// own children are stopped with it; when the trial's main process ends, whatever it left in its group is
// killed. A trial granted CPU cores (LaunchRequest::resources) is pinned to them; the GPUs it may see reach
// it through CUDA_VISIBLE_DEVICES in its environment.
//
// The orchestrator must have SIGCHLD delivered (not ignored) and call CollectExits() when it arrives or on
// its tick.
#pragma once

#include <map>

#include "hyperion/executor/executor.h"

namespace hyperion {

// The file a command's first argument names: a path (relative ones against `workdir`) or a name looked up on
// PATH. kInvalidArgument, saying where it looked, when there is no such executable file.
Result<std::string> ResolveProgram(const std::string& program, const std::string& workdir);

class LocalExecutor final : public Executor {
 public:
  LocalExecutor() = default;
  ~LocalExecutor() override;  // kills what is still running

  std::string Name() const override { return "local"; }
  Status Launch(const LaunchRequest& request) override;
  std::vector<TrialExit> CollectExits() override;
  void Signal(int64_t trial_id, int signal) override;
  int64_t ProcessId(int64_t trial_id) const override;

 private:
  std::map<int64_t, int> pids_;  // trial id -> pid (also its process group id)
};

}  // namespace hyperion
