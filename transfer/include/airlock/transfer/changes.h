// The package changes a bundle carries (Manifest::changes), for people and
// for scripts: what the export prints, what a co-signer reviews, what
// airlock-verify bundle --list and an import show. One rendering for all.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "airlock/store/snapshot.h"
#include "airlock/transfer/manifest.h"

namespace airlock {

// The package changes from before to after (either may be absent: no
// packages), named repo, each new version with the size of after's package
// files. Computed from the snapshots' package lists.
RepoChanges package_changes(const std::string& repo, const Snapshot* before, const Snapshot* after);

// Per repository, counts and sizes first ("debian: 2 added (1.2 MiB), 1
// upgraded (800 KiB), 0 downgraded, 1 removed"), then one line a package.
// Names and versions come from vendor indices: escaped for the terminal.
void print_changes(std::ostream& out, const std::vector<RepoChanges>& changes);

// [{"repo", "added", "upgraded", "downgraded", "removed", "bytes", "packages": [...]}]
nlohmann::json changes_json(const std::vector<RepoChanges>& changes);

}  // namespace airlock
