#include "hyperion/cli/completion.h"

#include <vector>

#include "hyperion/common/text.h"

namespace hyperion::cli {
namespace {

// Every long and short name of the options of `app` (positional arguments have none).
std::vector<std::string> OptionNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* option : app.get_options()) {
    for (const auto& name : option->get_lnames()) names.push_back("--" + name);
    for (const auto& name : option->get_snames()) names.push_back("-" + name);
  }
  return names;
}

std::string BashFunction(const CLI::App& app) {
  std::vector<std::string> commands;
  std::string cases;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    commands.push_back(sub->get_name());
    cases += "    " + sub->get_name() + ") opts=\"" + JoinStrings(OptionNames(*sub), " ") + "\" ;;\n";
  }
  return "_hyperion() {\n"
         "  # Offsets (${a[@]:i:1}) rather than subscripts: the same in bash and in zsh's bashcompinit.\n"
         "  local cur=\"${COMP_WORDS[@]:$COMP_CWORD:1}\" command=\"${COMP_WORDS[@]:1:1}\" opts=\"\"\n"
         "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
         "    COMPREPLY=($(compgen -W \"" +
         JoinStrings(commands, " ") + " " + JoinStrings(OptionNames(app), " ") +
         "\" -- \"$cur\"))\n"
         "    return\n"
         "  fi\n"
         "  case \"$command\" in\n" +
         cases +
         "  esac\n"
         "  if [[ \"$cur\" == -* ]]; then\n"
         "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
         "  else\n"
         "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
         "  fi\n"
         "}\n";
}

}  // namespace

Result<std::string> CompletionScript(const CLI::App& app, const std::string& shell) {
  if (shell == "bash") {
    return "# bash completion for hyperion: source <(hyperion completion bash)\n" + BashFunction(app) +
           "complete -o filenames -o bashdefault -F _hyperion hyperion\n";
  }
  if (shell == "zsh") {
    // zsh runs the bash function through its bash-compatible completion layer.
    return "#compdef hyperion\n# zsh completion for hyperion: source <(hyperion completion zsh)\n"
           "autoload -U +X compinit && { (( ${+_comps} )) || compinit }\n"
           "autoload -U +X bashcompinit && bashcompinit\n" +
           BashFunction(app) + "complete -o filenames -F _hyperion hyperion\n";
  }
  return InvalidArgumentError("no completion for shell '" + shell + "'; use bash or zsh");
}

}  // namespace hyperion::cli
