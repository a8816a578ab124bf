// `hyperion completion bash|zsh`: a completion script generated from the command line's own definition, so it
// always offers exactly the subcommands and options this build has. Subcommands complete first; then the
// subcommand's options (after a `-`), and files otherwise (configs, databases, output folders).
//
//   source <(hyperion completion bash)          # or save it to /etc/bash_completion.d/hyperion
//   source <(hyperion completion zsh)           # zsh, through bashcompinit
//
// Pure function of the parsed-app definition; any thread.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "hyperion/common/status.h"

namespace hyperion::cli {

// kInvalidArgument for a shell other than bash or zsh.
Result<std::string> CompletionScript(const CLI::App& app, const std::string& shell);

}  // namespace hyperion::cli
