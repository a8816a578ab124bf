#include "hyperion/executor/slurm_job.h"

#include <cmath>
#include <regex>
#include <sstream>

namespace hyperion::slurm {
namespace {

std::string Trim(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

// The value of `Key=` in scontrol's text; empty when absent.
std::string Field(const std::string& text, const std::string& key) {
  std::regex pattern("(^|\\s)" + key + "=(\\S*)");
  std::smatch match;
  return std::regex_search(text, match, pattern) ? match[2].str() : "";
}

// An exit status as the batch script recorded it: what bash's $? holds, 128 + N for a command killed by
// signal N (as shells report it).
TrialExit FromStatus(int64_t trial_id, int status) {
  TrialExit exit;
  exit.trial_id = trial_id;
  exit.signaled = status > 128 && status < 128 + 65;
  exit.code = exit.signaled ? status - 128 : status;
  return exit;
}

}  // namespace

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'')
      quoted += "'\\''";
    else
      quoted += c;
  }
  return quoted + "'";
}

Result<std::string> JobScript(const LaunchRequest& request) {
  static const std::regex kEnvName("[A-Za-z_][A-Za-z0-9_]*");
  const std::string dir = request.trial_dir + "/";
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# Trial " << request.name
    << ", written by Hyperion and submitted with sbatch (see docs/cluster.md).\n"
    << "# It runs the trial's command in its workdir with the trial's environment, and records the "
       "command's\n"
    << "# exit status in " << kExitCodeFile
    << ": Slurm forgets a finished job after a while, the file stays.\n"
    << "printf '%s %s\\n' \"${SLURM_JOB_ID:-}\" \"$(date +%s.%N)\" > " << ShellQuote(dir + kJobStartedFile)
    << "\n"
    << "cd -- " << ShellQuote(request.workdir) << " || { printf '1\\n' > " << ShellQuote(dir + kExitCodeFile)
    << "; exit 1; }\n";
  for (const auto& [name, value] : request.env) {
    if (!std::regex_match(name, kEnvName)) {
      return InvalidArgumentError("environment variable name '" + name +
                                  "' cannot be exported by a batch script (letters, digits and _ only)");
    }
    s << "export " << name << "=" << ShellQuote(value) << "\n";
  }
  // A stop (a timeout, a prune, an interrupt) sends SIGTERM to the command and to this shell alike
  // (scancel --full). With a handler set, the shell waits for the command to end instead of dying first, so
  // its exit status is still recorded; the command gets the default disposition back when it starts.
  s << "trap 'true' TERM\n";
  // The shell's own notice of a command killed by a signal ("line 9: 123 Killed  'python3' ...") would
  // become the last line of stderr.log, the failure's reason: the shell's stderr goes to /dev/null, the
  // command's to the log.
  s << "exec 3>&2 2>/dev/null\n";
  for (size_t i = 0; i < request.argv.size(); ++i) s << (i ? " " : "") << ShellQuote(request.argv[i]);
  s << " 2>&3 3>&-\n"
    << "status=$?\n"
    << "printf '%s\\n' \"$status\" > " << ShellQuote(dir + kExitCodeFile + ".tmp") << " && mv -f "
    << ShellQuote(dir + kExitCodeFile + ".tmp") << " " << ShellQuote(dir + kExitCodeFile) << "\n"
    << "exit \"$status\"\n";
  return s.str();
}

std::vector<std::string> SbatchArguments(const ExecutorConfig& config, const LaunchRequest& request,
                                         const std::string& script_path) {
  std::vector<std::string> args = {
      "sbatch", "--parsable", "--job-name=" + request.name, "--output=" + request.trial_dir + "/stdout.log",
      "--error=" + request.trial_dir + "/stderr.log",
      // The metric reader tails these files from where it stopped: never truncate under it.
      "--open-mode=append",
      // Slurm would run a job again after a node failure in the same folder, doubling its reports; Hyperion
      // runs it again as a new attempt instead.
      "--no-requeue",
      // The trial's environment is the orchestrator's plus the script's exports, as for local trials.
      "--export=ALL", "--chdir=" + request.workdir};
  if (!config.partition.empty()) args.push_back("--partition=" + config.partition);
  if (config.time_limit) args.push_back("--time=" + SlurmTimeLimit(*config.time_limit));
  const ResourceGrant& grant = request.resources;
  if (request.resources_managed && grant.cpu_count > 0)
    args.push_back("--cpus-per-task=" + std::to_string(grant.cpu_count));
  if (request.resources_managed && grant.memory_mb > 0)
    args.push_back("--mem=" + std::to_string(grant.memory_mb) + "M");
  if (!config.gres.empty()) {
    args.push_back("--gres=" + config.gres);
  } else if (request.resources_managed && grant.gpus_per_trial >= 1) {
    // Config validation refuses fractional shares with Slurm; whole GPUs only here.
    args.push_back("--gres=gpu:" + std::to_string(static_cast<int>(std::floor(grant.gpus_per_trial))));
  }
  args.insert(args.end(), config.extra_args.begin(), config.extra_args.end());
  args.push_back(script_path);
  return args;
}

Result<std::string> ParseSbatchJobId(const std::string& output) {
  std::string id = Trim(output);
  size_t nl = id.rfind('\n');
  if (nl != std::string::npos) id = Trim(id.substr(nl + 1));  // warnings may come first
  id = id.substr(0, id.find(';'));
  static const std::regex kJobId("[0-9]+");
  if (!std::regex_match(id, kJobId))
    return UnavailableError("sbatch printed no job id (it printed '" + Trim(output) + "')");
  return id;
}

std::map<std::string, QueuedJob> ParseSqueue(const std::string& output) {
  std::map<std::string, QueuedJob> jobs;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    line = Trim(line);
    size_t first = line.find('|');
    if (line.empty() || first == std::string::npos) continue;
    size_t second = line.find('|', first + 1);
    QueuedJob job;
    job.state = line.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
    if (second != std::string::npos) job.reason = line.substr(second + 1);
    jobs[line.substr(0, first)] = job;
  }
  return jobs;
}

std::optional<JobRecord> ParseScontrolJob(const std::string& text) {
  JobRecord record;
  record.state = Field(text, "JobState");
  if (record.state.empty()) return std::nullopt;
  record.reason = Field(text, "Reason");
  record.time_limit = Field(text, "TimeLimit");
  const std::string exit_code = Field(text, "ExitCode");
  size_t colon = exit_code.find(':');
  if (colon != std::string::npos) {
    record.exit_code = std::atoi(exit_code.substr(0, colon).c_str());
    record.signal = std::atoi(exit_code.substr(colon + 1).c_str());
  }
  return record;
}

TrialExit JobExit(int64_t trial_id, const std::string& job_id, const std::optional<JobRecord>& record,
                  std::optional<int> recorded_status, bool cancelled_by_us) {
  const std::string job = "Slurm job " + job_id;
  const std::string why = record && !record->reason.empty() && record->reason != "None"
                              ? " (reason: " + record->reason + ")"
                              : "";
  TrialExit exit = recorded_status ? FromStatus(trial_id, *recorded_status) : TrialExit{};
  exit.trial_id = trial_id;
  if (!record) {
    if (recorded_status) return exit;
    exit.ended_by = EndedBy::kScheduler;
    exit.reason = job + " is no longer known to Slurm and recorded no exit status (" + kExitCodeFile +
                  "): it ended while nobody watched, before its command finished";
    return exit;
  }
  const std::string& state = record->state;
  if (state == "NODE_FAIL" || state == "PREEMPTED" || state == "BOOT_FAIL") {
    exit.ended_by = EndedBy::kInfrastructure;
    exit.reason = job + " ended " + state +
                  (state == "NODE_FAIL"   ? " (its node failed)"
                   : state == "PREEMPTED" ? " (preempted by a job of higher priority)"
                                          : " (its node failed to boot)") +
                  why;
  } else if (state == "TIMEOUT") {
    exit.ended_by = EndedBy::kTimeLimit;
    exit.reason = job + " reached its Slurm time limit (" + record->time_limit + ", executor.time_limit)";
  } else if (state == "DEADLINE") {
    exit.ended_by = EndedBy::kScheduler;
    exit.reason = job + " reached its deadline (sbatch --deadline) and was stopped by Slurm";
  } else if (state == "OUT_OF_MEMORY") {
    exit.ended_by = EndedBy::kScheduler;
    exit.reason = job + " ran out of memory (OUT_OF_MEMORY): raise resources.memory_per_trial";
  } else if (state == "CANCELLED" && !cancelled_by_us) {
    exit.ended_by = EndedBy::kScheduler;
    exit.reason = job + " was cancelled outside Hyperion (scancel or an administrator)" + why;
  } else if (!recorded_status) {
    // FAILED, or COMPLETED and cancelled jobs whose script got no chance to record: Slurm's exit code.
    exit.signaled = record->signal != 0;
    exit.code = exit.signaled ? record->signal : record->exit_code;
  }
  return exit;
}

}  // namespace hyperion::slurm
