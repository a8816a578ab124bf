// The pure parts of the Slurm executor (slurm_executor.h): the batch script a trial runs as, sbatch's
// arguments, reading what squeue, scontrol and sbatch print, and how an ended job becomes a TrialExit.
// No I/O here, so tests need no cluster. Plain functions; any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/common/status.h"
#include "hyperion/executor/executor.h"
#include "hyperion/experiment/config.h"

namespace hyperion::slurm {

// Files in the trial folder besides the logs.
inline constexpr const char* kJobScript = "job.sh";        // the batch script
inline constexpr const char* kExitCodeFile = "exit_code";  // the command's exit status, written at its end
inline constexpr const char* kJobStartedFile = "job_started";  // "<job id> <unix time>" when the job began

// One argument for bash, quoted so that it reaches the program literally ('it'\''s').
std::string ShellQuote(const std::string& text);

// The batch script: enters the workdir, exports the request's environment, runs the argument vector, and
// records its exit status in kExitCodeFile. kInvalidArgument for an environment name a shell cannot export.
Result<std::string> JobScript(const LaunchRequest& request);

// sbatch's argument vector (argv[0] is "sbatch"), the script path last.
std::vector<std::string> SbatchArguments(const ExecutorConfig& config, const LaunchRequest& request,
                                         const std::string& script_path);

// The job id `sbatch --parsable` printed ("42" or "42;cluster"). kUnavailable when there is none.
Result<std::string> ParseSbatchJobId(const std::string& output);

// squeue's "%i|%T|%r" lines: job id -> state (PENDING, RUNNING, COMPLETING...) and its reason.
struct QueuedJob {
  std::string state;
  std::string reason;
};
std::map<std::string, QueuedJob> ParseSqueue(const std::string& output);

// What `scontrol show job ID` says about an ended job.
struct JobRecord {
  std::string state;   // COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, PREEMPTED, OUT_OF_MEMORY...
  std::string reason;  // "None", "NonZeroExitCode", "JobHeldUser"...
  int exit_code = 0;   // ExitCode=<code>:<signal>
  int signal = 0;
  std::string time_limit;  // "00:10:00", "UNLIMITED"
};
// nullopt when the text holds no JobState (the job is not known any more).
std::optional<JobRecord> ParseScontrolJob(const std::string& text);

// How job `job_id` of trial `trial_id` ended, from Slurm's record (when it still has one), the exit status
// the batch script recorded (when it got that far), and whether Hyperion cancelled it itself.
TrialExit JobExit(int64_t trial_id, const std::string& job_id, const std::optional<JobRecord>& record,
                  std::optional<int> recorded_status, bool cancelled_by_us);

}  // namespace hyperion::slurm
