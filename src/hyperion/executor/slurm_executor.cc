#include "hyperion/executor/slurm_executor.h"

#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hyperion/common/clock.h"
#include "hyperion/common/subprocess.h"
#include "hyperion/common/text.h"
#include "hyperion/executor/slurm_job.h"

namespace hyperion {
namespace {

namespace fs = std::filesystem;

// Slurm's commands answer in milliseconds; a controller that takes longer is in trouble, and a later look
// will try again.
constexpr double kQueryTimeout = 30;
constexpr double kSubmitTimeout = 60;
constexpr double kRecancelSeconds = 5;

const std::vector<std::string> kSqueue = {"squeue", "--me", "--noheader", "--format=%i|%T|%r"};

// The exit status the batch script recorded, or nullopt when it did not get that far.
std::optional<int> RecordedStatus(const std::string& trial_dir) {
  std::ifstream in(trial_dir + "/" + slurm::kExitCodeFile);
  int status = 0;
  if (in >> status) return status;
  return std::nullopt;
}

// Slurm's record of the job: nullopt with `known` false when Slurm no longer knows it; nullopt with `known`
// true when scontrol could not be asked (try again later).
std::optional<slurm::JobRecord> ShowJob(const std::string& job_id, bool& known) {
  auto shown = RunProgram({"scontrol", "show", "job", job_id}, kQueryTimeout);
  known = true;
  if (!shown.ok()) return std::nullopt;
  if (!shown->ok()) {
    known = shown->LastErrorLine().find("Invalid job id") == std::string::npos;
    return std::nullopt;
  }
  auto record = slurm::ParseScontrolJob(shown->out);
  known = record.has_value();
  return record;
}

}  // namespace

Result<std::unique_ptr<SlurmExecutor>> SlurmExecutor::Create(const ExecutorConfig& config) {
  auto queue = RunProgram(kSqueue, kQueryTimeout);
  if (!queue.ok()) {
    return UnavailableError("executor.type slurm: cannot run Slurm's commands here (" +
                            queue.status().message() +
                            "); install Slurm's client (Debian: slurm-client), or use executor.type local");
  }
  if (!queue->ok()) {
    return UnavailableError("executor.type slurm: Slurm does not answer (squeue: " + queue->LastErrorLine() +
                            "); is slurmctld running? scripts/start-slurm starts a single-host cluster");
  }
  if (!config.partition.empty()) {
    auto partition = RunProgram({"scontrol", "show", "partition", config.partition}, kQueryTimeout);
    if (partition.ok() && !partition->ok()) {
      auto listed = RunProgram({"sinfo", "--noheader", "--format=%R"}, kQueryTimeout);
      std::vector<std::string> names;
      if (listed.ok()) {
        std::istringstream lines(listed->out);
        for (std::string name; lines >> name;) names.push_back(name);
      }
      return InvalidArgumentError(
          "executor.partition '" + config.partition + "' is not a partition of this Slurm cluster (it has: " +
          JoinStrings(names) + "); name one of those, or leave partition out for the default");
    }
  }
  std::unique_ptr<SlurmExecutor> executor(new SlurmExecutor(config));
  executor->poller_ = std::thread([raw = executor.get()] { raw->PollLoop(); });
  return executor;
}

SlurmExecutor::~SlurmExecutor() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (poller_.joinable()) poller_.join();
}

Status SlurmExecutor::Launch(const LaunchRequest& request) {
  if (request.argv.empty()) return InvalidArgumentError("the command is empty");
  HYP_ASSIGN_OR_RETURN(std::string script, slurm::JobScript(request));
  const std::string script_path = request.trial_dir + "/" + slurm::kJobScript;
  // What an earlier attempt's job recorded must not be read as this one's.
  std::error_code ec;
  for (const char* name : {slurm::kExitCodeFile, slurm::kJobStartedFile})
    fs::remove(fs::path(request.trial_dir) / name, ec);
  {
    std::ofstream out(script_path, std::ios::binary | std::ios::trunc);
    out << script;
    if (!out.flush()) return UnavailableError("cannot write the batch script " + script_path);
  }
  ::chmod(script_path.c_str(), 0700);
  auto submitted = RunProgram(slurm::SbatchArguments(config_, request, script_path), kSubmitTimeout);
  if (!submitted.ok())
    return UnavailableError("cannot submit the trial's job: " + submitted.status().message());
  if (!submitted->ok())
    return UnavailableError("sbatch refused the trial's job: " + submitted->LastErrorLine());
  HYP_ASSIGN_OR_RETURN(std::string job_id, slurm::ParseSbatchJobId(submitted->out));
  std::lock_guard<std::mutex> lock(mutex_);
  jobs_[request.trial_id] = Job{job_id, request.trial_dir};
  return Status::Ok();
}

std::vector<TrialExit> SlurmExecutor::CollectExits() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<TrialExit> exits;
  exits.swap(exits_);
  return exits;
}

void SlurmExecutor::Signal(int64_t trial_id, int signal) {
  std::string job_id;
  bool cancel;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(trial_id);
    if (it == jobs_.end()) return;
    job_id = it->second.id;
    // A pending job has nothing to be graceful about, and scancel cannot signal it.
    cancel = signal == SIGKILL || it->second.state == "PENDING";
    // The orchestrator repeats SIGKILL on every turn of its loop until the exit is collected; that is
    // cheap for a process, not for the controller: one scancel, again only when it did not take.
    const double now = MonotonicSeconds();
    if (cancel && now - it->second.cancel_sent_at < kRecancelSeconds) return;
    if (cancel) {
      it->second.cancelled = true;
      it->second.cancel_sent_at = now;
    }
  }
  if (!cancel) {
    const char* name = sigabbrev_np(signal);
    auto sent =
        RunProgram({"scancel", "--full",
                    std::string("--signal=") + (name ? name : std::to_string(signal).c_str()), job_id},
                   kQueryTimeout);
    if (sent.ok() && sent->ok()) return;
    // It started or ended meanwhile, or Slurm refused: cancelling is what stopping it means.
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = jobs_.find(trial_id); it != jobs_.end()) {
      it->second.cancelled = true;
      it->second.cancel_sent_at = MonotonicSeconds();
    }
  }
  (void)RunProgram({"scancel", job_id}, kQueryTimeout);
}

std::string SlurmExecutor::ExternalId(int64_t trial_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(trial_id);
  return it == jobs_.end() ? "" : it->second.id;
}

std::optional<std::string> SlurmExecutor::QueuedState(const std::string& job_id, bool& answered) const {
  auto queue = RunProgram(kSqueue, kQueryTimeout);
  answered = queue.ok() && queue->ok();
  if (!answered) return std::nullopt;
  auto jobs = slurm::ParseSqueue(queue->out);
  auto it = jobs.find(job_id);
  if (it == jobs.end()) return std::nullopt;
  return it->second.state;
}

bool SlurmExecutor::Reattach(int64_t trial_id, const std::string& external_id, const std::string& trial_dir) {
  if (external_id.empty() || external_id.find_first_not_of("0123456789") != std::string::npos) return false;
  bool answered = false;
  auto state = QueuedState(external_id, answered);
  // Still queued or running; or ended while no orchestrator watched, with a status recorded or a record
  // Slurm still keeps: either way the poller collects it. When Slurm does not answer now, the poller asks
  // again later rather than running the trial twice.
  bool take = state.has_value() || !answered || RecordedStatus(trial_dir).has_value();
  if (!take) {
    bool known = false;
    ShowJob(external_id, known);
    take = known;
  }
  if (!take) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  Job job{external_id, trial_dir};
  if (state) job.state = *state;
  jobs_[trial_id] = job;
  return true;
}

void SlurmExecutor::PollLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, std::chrono::duration<double>(config_.poll_interval));
    if (stop_ || jobs_.empty()) continue;
    lock.unlock();
    PollOnce();
    lock.lock();
  }
}

void SlurmExecutor::PollOnce() {
  std::map<int64_t, Job> tracked;
  {
    // Taken before squeue runs: a job submitted after this look is judged by the next one.
    std::lock_guard<std::mutex> lock(mutex_);
    tracked = jobs_;
  }
  auto queue = RunProgram(kSqueue, kQueryTimeout);
  if (!queue.ok() || !queue->ok()) {
    if (!warned_) {
      std::fprintf(stderr,
                   "hyperion: squeue failed (%s); trials on Slurm are not followed until it answers\n",
                   queue.ok() ? queue->LastErrorLine().c_str() : queue.status().message().c_str());
      warned_ = true;
    }
    return;
  }
  warned_ = false;
  const auto queued = slurm::ParseSqueue(queue->out);
  for (const auto& [trial_id, job] : tracked) {
    auto listed = queued.find(job.id);
    if (listed != queued.end()) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (auto it = jobs_.find(trial_id); it != jobs_.end()) it->second.state = listed->second.state;
      continue;
    }
    // Gone from the queue: it ended. Slurm's record says how (while it keeps one, MinJobAge).
    bool known = true;
    auto record = ShowJob(job.id, known);
    if (!record && known) continue;  // scontrol did not answer; look again next time
    const auto recorded = RecordedStatus(job.trial_dir);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(trial_id);
    if (it == jobs_.end() || it->second.id != job.id) continue;
    exits_.push_back(slurm::JobExit(trial_id, job.id, record, recorded, it->second.cancelled));
    jobs_.erase(it);
  }
}

}  // namespace hyperion
