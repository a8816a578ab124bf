// The subcommands of `hyperion`. Each returns the process exit code and prints errors as one line on stderr:
// "hyperion: <what went wrong, where, how to fix it>".
#pragma once

namespace hyperion::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int Main(int argc, char** argv);

}  // namespace hyperion::cli
