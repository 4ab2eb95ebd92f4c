// What a snapshot carries as packages, and what changed between two: read
// from the vendor-verified Packages indices the snapshot holds, never from
// anything else.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/store/store.h"

namespace airlock::mirror {

// The latest snapshot of a repository, if any (and its id in *id).
Result<std::optional<Snapshot>> latest_snapshot(const Store& store, std::string_view repo,
                                                Digest* id = nullptr);

// Every package in a snapshot's Packages indices (one variant per directory).
struct PackageVersion {
  std::string package, architecture, version;
};
// corrupt or invalid_input, naming the index, when one cannot be read.
Result<std::vector<PackageVersion>> snapshot_packages(const Store& store, const Snapshot& snapshot);
// The packages of several snapshots together.
Result<std::vector<PackageVersion>> snapshots_packages(const Store& store,
                                                       const std::vector<Digest>& ids);

struct PackageChange {
  enum Kind { added, upgraded, downgraded, removed } kind;
  std::string package, architecture, old_version, new_version;
};
// "added", "upgraded", "downgraded" or "removed".
std::string_view change_name(PackageChange::Kind kind);
// What changed from `before` (may be empty) to `after`, sorted by package.
std::vector<PackageChange> diff_packages(const std::vector<PackageVersion>& before,
                                         const std::vector<PackageVersion>& after);

}  // namespace airlock::mirror
