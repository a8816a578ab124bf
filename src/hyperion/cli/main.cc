// The `hyperion` command: run an experiment and query what is stored.
//
// Exit codes: 0 success; 1 a failure while running or querying (the message says what); 2 bad input (an
// invalid config, an unknown option, a bad storage URL), with nothing run or stored; 130 / 143 when a run was
// interrupted by SIGINT / SIGTERM.
#include <csignal>

#include "hyperion/cli/commands.h"

int main(int argc, char** argv) {
  // A reader that goes away (`hyperion run ... | head`) must not kill a run with trials in flight: writes to
  // the closed pipe fail instead, and the run goes on. Trials get the default action back (executor/).
  std::signal(SIGPIPE, SIG_IGN);
  return hyperion::cli::Main(argc, argv);
}
