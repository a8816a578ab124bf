#include "hyperion/executor/executor.h"

#include <cstring>

#include "hyperion/executor/local_executor.h"
#include "hyperion/executor/slurm_executor.h"

namespace hyperion {

const char* EndedByName(EndedBy ended_by) {
  switch (ended_by) {
    case EndedBy::kScheduler:
      return "scheduler";
    case EndedBy::kTimeLimit:
      return "time_limit";
    case EndedBy::kInfrastructure:
      return "infrastructure";
    case EndedBy::kCommand:
      break;
  }
  return "command";
}

EndedBy EndedByFromName(const std::string& name) {
  for (EndedBy e : {EndedBy::kScheduler, EndedBy::kTimeLimit, EndedBy::kInfrastructure}) {
    if (name == EndedByName(e)) return e;
  }
  return EndedBy::kCommand;
}

std::string TrialExit::Describe() const {
  if (!reason.empty()) return reason;
  if (!signaled) return "exit code " + std::to_string(code);
  const char* name = sigabbrev_np(code);
  return "killed by signal " + std::to_string(code) +
         (name ? std::string(" (SIG") + name + ")" : std::string());
}

Result<std::unique_ptr<Executor>> MakeExecutor(const ExecutorConfig& config) {
  if (config.slurm()) {
    HYP_ASSIGN_OR_RETURN(std::unique_ptr<SlurmExecutor> slurm, SlurmExecutor::Create(config));
    return std::unique_ptr<Executor>(std::move(slurm));
  }
  return std::unique_ptr<Executor>(std::make_unique<LocalExecutor>());
}

}  // namespace hyperion
