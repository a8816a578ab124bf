// Running a helper program (squeue, sbatch, nvidia-smi) and reading what it prints.
//
// RunProgram() starts argv[0] (looked up on PATH) with an argument vector, never through a shell, with stdin
// from /dev/null, collects stdout and stderr, and kills the program when it outlives its timeout. Any thread:
// everything the child needs is prepared before fork(), and the descriptors it uses close on exec, so a
// program started by another thread at the same moment inherits none of them.
#pragma once

#include <string>
#include <vector>

#include "hyperion/common/status.h"

namespace hyperion {

struct ProgramOutput {
  int exit_code = 0;     // the exit status; 128 + N when killed by signal N
  std::string out, err;  // what it printed (each capped at 4 MiB)

  bool ok() const { return exit_code == 0; }
  // The last non-empty line of stderr, else of stdout: what a failing tool says about why.
  std::string LastErrorLine() const;
};

// For a child forked with a close-on-exec pipe whose write end it holds: the errno the child wrote there when
// its exec failed, or 0 when the exec happened (the pipe closed without a word). Closes `read_fd`.
int ReadExecError(int read_fd);

// Errors: kUnavailable when the program cannot be started (not on PATH: "sbatch: not found"), or when it
// ran past `timeout_seconds` (it is then killed). A program that runs and exits non-zero is not an error:
// look at exit_code.
Result<ProgramOutput> RunProgram(const std::vector<std::string>& argv, double timeout_seconds);

}  // namespace hyperion
