#include "hyperion/common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hyperion/common/clock.h"

namespace hyperion {
namespace {

constexpr size_t kMaxOutputBytes = 4 << 20;

std::string LastLineOf(const std::string& text) {
  size_t end = text.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace

int ReadExecError(int read_fd) {
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(read_fd, &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(read_fd);
  return n == static_cast<ssize_t>(sizeof child_errno) ? child_errno : 0;
}

std::string ProgramOutput::LastErrorLine() const {
  std::string line = LastLineOf(err);
  return line.empty() ? LastLineOf(out) : line;
}

Result<ProgramOutput> RunProgram(const std::vector<std::string>& argv, double timeout_seconds) {
  if (argv.empty()) return InvalidArgumentError("no program to run");
  std::vector<std::string> args = argv;
  std::vector<char*> arg_ptrs;
  for (auto& a : args) arg_ptrs.push_back(a.data());
  arg_ptrs.push_back(nullptr);
  int out_pipe[2], err_pipe[2], report[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0)
    return UnavailableError(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    for (int fd : out_pipe) ::close(fd);
    return UnavailableError(std::string("pipe: ") + std::strerror(errno));
  }
  if (::pipe2(report, O_CLOEXEC) != 0) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) ::close(fd);
    return UnavailableError(std::string("pipe: ") + std::strerror(errno));
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = ::fork();
  if (pid < 0) {
    int saved = errno;
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], report[0], report[1], null_fd}) {
      if (fd >= 0) ::close(fd);
    }
    return UnavailableError(std::string("cannot start ") + argv[0] + ": " + std::strerror(saved));
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGHUP}) ::signal(s, SIG_DFL);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execvp(arg_ptrs[0], arg_ptrs.data());
    int err = errno;
    ssize_t ignored = ::write(report[1], &err, sizeof err);
    (void)ignored;
    ::_exit(127);
  }
  for (int fd : {out_pipe[1], err_pipe[1], report[1], null_fd}) {
    if (fd >= 0) ::close(fd);
  }
  if (int child_errno = ReadExecError(report[0]); child_errno != 0) {
    for (int fd : {out_pipe[0], err_pipe[0]}) ::close(fd);
    ::waitpid(pid, nullptr, 0);
    return UnavailableError(argv[0] + ": " + std::strerror(child_errno) +
                            (child_errno == ENOENT ? " (not found on PATH)" : ""));
  }

  ProgramOutput result;
  const double deadline = MonotonicSeconds() + timeout_seconds;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  bool timed_out = false;
  int open_fds = 2;
  while (open_fds > 0) {
    double left = deadline - MonotonicSeconds();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    int ready = ::poll(fds, 2, static_cast<int>(left * 1000) + 1);
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[8192];
      ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
      if (got > 0) {
        if (sinks[i]->size() < kMaxOutputBytes) sinks[i]->append(buffer, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return UnavailableError(argv[0] + " did not answer within " +
                            std::to_string(static_cast<int>(timeout_seconds)) + " s (killed)");
  }
  result.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  return result;
}

}  // namespace hyperion
