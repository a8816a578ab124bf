#include "hyperion/executor/local_executor.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "hyperion/common/subprocess.h"

extern char** environ;  // the orchestrator's environment, copied into each trial's

namespace hyperion {

Result<std::string> ResolveProgram(const std::string& program, const std::string& workdir) {
  namespace fs = std::filesystem;
  auto runnable = [](const fs::path& p) { return fs::is_regular_file(p) && ::access(p.c_str(), X_OK) == 0; };
  if (program.empty()) return InvalidArgumentError("the command's first argument is empty");
  if (program.find('/') != std::string::npos) {
    fs::path p = fs::path(program).is_absolute() ? fs::path(program) : fs::path(workdir) / program;
    if (runnable(p)) return p.lexically_normal().string();
    return InvalidArgumentError("'" + program + "' is not an executable file (looked at " + p.string() + ")");
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    fs::path candidate = (dir.empty() ? fs::path(workdir) : fs::path(dir)) / program;
    if (runnable(candidate)) return candidate.string();
    start = end + 1;
  }
  return InvalidArgumentError("'" + program +
                              "' is not found on PATH; give its full path, e.g. /usr/bin/python3");
}

LocalExecutor::~LocalExecutor() {
  for (const auto& [trial, pid] : pids_) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
}

Status LocalExecutor::Launch(const LaunchRequest& request) {
  if (request.argv.empty()) return InvalidArgumentError("the command is empty");
  HYP_ASSIGN_OR_RETURN(std::string program, ResolveProgram(request.argv[0], request.workdir));
  // Everything the child needs is built before fork(): after it, only async-signal-safe calls are allowed.
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    size_t eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : request.env) env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = request.argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::string out_path = request.trial_dir + "/stdout.log";
  std::string err_path = request.trial_dir + "/stderr.log";

  int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int report[2];  // the child writes errno here when exec fails; closes on exec otherwise
  if (out_fd < 0 || err_fd < 0 || null_fd < 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    int saved = errno;
    for (int fd : {out_fd, err_fd, null_fd})
      if (fd >= 0) ::close(fd);
    return UnavailableError("cannot prepare the trial's output files in " + request.trial_dir + ": " +
                            std::strerror(saved));
  }

  // Built before fork: the child only calls async-signal-safe functions.
  cpu_set_t cores;
  CPU_ZERO(&cores);
  for (int core : request.resources.cpus) {
    if (core >= 0 && core < CPU_SETSIZE) CPU_SET(core, &cores);
  }
  const bool pin = !request.resources.cpus.empty();

  pid_t pid = ::fork();
  if (pid < 0) {
    int saved = errno;
    for (int fd : {out_fd, err_fd, null_fd, report[0], report[1]}) ::close(fd);
    return UnavailableError(std::string("cannot start a process: ") + std::strerror(saved));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGHUP, SIGQUIT}) ::signal(s, SIG_DFL);
    // Pinned to its cores, so its thread pools cannot crowd out the trials beside it.
    if (pin) ::sched_setaffinity(0, sizeof cores, &cores);
    ::dup2(null_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    int err = 0;
    if (::chdir(request.workdir.c_str()) != 0) {
      err = errno;
    } else {
      // execve, not execvp: a file without a #! line must fail to start, not be handed to /bin/sh.
      ::execve(program.c_str(), argv.data(), envp.data());
      err = errno;
    }
    ssize_t ignored = ::write(report[1], &err, sizeof err);
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also in the parent, so the group exists before anyone signals it
  for (int fd : {out_fd, err_fd, null_fd, report[1]}) ::close(fd);
  if (int child_errno = ReadExecError(report[0]); child_errno != 0) {
    ::waitpid(pid, nullptr, 0);
    if (::access(request.workdir.c_str(), X_OK) != 0) {
      return FailedPreconditionError("cannot enter workdir '" + request.workdir +
                                     "': " + std::strerror(child_errno));
    }
    std::string hint = child_errno == ENOEXEC  ? " (not a program: a script needs a #! line)"
                       : child_errno == ENOENT ? " (a script's #! line may name a missing interpreter)"
                                               : "";
    return FailedPreconditionError("cannot run '" + program + "': " + std::strerror(child_errno) + hint);
  }
  pids_[request.trial_id] = pid;
  return Status::Ok();
}

std::vector<TrialExit> LocalExecutor::CollectExits() {
  std::vector<TrialExit> exits;
  for (auto it = pids_.begin(); it != pids_.end();) {
    siginfo_t info{};
    // WNOWAIT leaves the child a zombie, so its pid (the group id) cannot be reused while we clean up the
    // group.
    if (::waitid(P_PID, it->second, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) {
      ++it;
      continue;
    }
    ::kill(-it->second, SIGKILL);  // children the trial left behind
    int status = 0;
    ::waitpid(it->second, &status, 0);
    TrialExit exit;
    exit.trial_id = it->first;
    exit.signaled = WIFSIGNALED(status);
    exit.code = exit.signaled ? WTERMSIG(status) : WEXITSTATUS(status);
    exits.push_back(exit);
    it = pids_.erase(it);
  }
  return exits;
}

void LocalExecutor::Signal(int64_t trial_id, int signal) {
  auto it = pids_.find(trial_id);
  if (it != pids_.end()) ::kill(-it->second, signal);
}

int64_t LocalExecutor::ProcessId(int64_t trial_id) const {
  auto it = pids_.find(trial_id);
  return it == pids_.end() ? 0 : it->second;
}

}  // namespace hyperion
