// The documented command line of airlock-repo: for each command its name,
// the one-line summary of the program's help and its own help (usage, what it
// does, examples). Used by --help; the manual pages say the same.
#pragma once

#include <span>
#include <string_view>

namespace airlock::repo {

struct CommandUsage {
  std::string_view name;
  std::string_view summary;
  std::string_view help;
};

std::span<const CommandUsage> repo_usage();
// The entry of command (the first entry when there is none).
const CommandUsage& repo_usage(std::string_view command);

}  // namespace airlock::repo
