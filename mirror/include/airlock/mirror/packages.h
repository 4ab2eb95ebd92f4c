// What a snapshot carries as packages, and what changed between two: read
// from the vendor-verified Packages indices the snapshot holds, never from
// anything else.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/formats/package_diff.h"
#include "airlock/store/store.h"
#include "airlock/transfer/manifest.h"

namespace airlock::mirror {

// The latest snapshot of a repository, if any (and its id in *id); with a
// visitor, read as Store::get_snapshot(id, visitor) reads it.
Result<std::optional<Snapshot>> latest_snapshot(const Store& store, std::string_view repo,
                                                Digest* id = nullptr,
                                                const SnapshotVisitor& visitor = {});

using apt::change_name;
using apt::diff_packages;
using apt::PackageChange;
using apt::PackageVersion;

// The packages a snapshot carries (its package list).
Result<std::vector<PackageVersion>> snapshot_packages(const Store& store, const Snapshot& snapshot);
// The packages of several snapshots together.
Result<std::vector<PackageVersion>> snapshots_packages(const Store& store,
                                                       const std::vector<Digest>& ids);

}  // namespace airlock::mirror
