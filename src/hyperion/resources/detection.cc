#include "hyperion/resources/detection.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

namespace hyperion {
namespace {

std::vector<std::string> SplitIds(const std::string& text, char separator) {
  std::vector<std::string> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, separator)) {
    size_t begin = item.find_first_not_of(" \t\r\n");
    size_t end = item.find_last_not_of(" \t\r\n");
    if (begin != std::string::npos) ids.push_back(item.substr(begin, end - begin + 1));
  }
  return ids;
}

// Runs nvidia-smi for the GPU indexes; nullopt when it is absent or fails. Argument vector, no shell.
std::optional<std::string> RunNvidiaSmi() {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return std::nullopt;
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return std::nullopt;
  }
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    int null_fd = ::open("/dev/null", O_WRONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDERR_FILENO);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    ::execlp("nvidia-smi", "nvidia-smi", "--query-gpu=index", "--format=csv,noheader", nullptr);
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string output;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) output.append(buffer, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return output;
}

}  // namespace

DetectedGpus DetectGpus() {
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) {
    std::string value = visible;
    if (value.empty() || value == "-1" || value == "NoDevFiles")
      return {{}, "CUDA_VISIBLE_DEVICES='" + value + "' hides every GPU"};
    return {SplitIds(value, ','), "CUDA_VISIBLE_DEVICES"};
  }
  auto listed = RunNvidiaSmi();
  if (!listed) return {{}, "CUDA_VISIBLE_DEVICES is not set and nvidia-smi is absent or failed"};
  auto ids = SplitIds(*listed, '\n');
  if (ids.empty()) return {{}, "nvidia-smi lists no GPU"};
  return {ids, "nvidia-smi"};
}

std::vector<int> AvailableCpus() {
  std::vector<int> cores;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i) {
      if (CPU_ISSET(i, &set)) cores.push_back(i);
    }
  }
  if (cores.empty()) {
    long count = ::sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < std::max(1L, count); ++i) cores.push_back(static_cast<int>(i));
  }
  return cores;
}

int64_t TotalMemoryMb() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemTotal:") return kib / 1024;
  }
  return 0;
}

}  // namespace hyperion
