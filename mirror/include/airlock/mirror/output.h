// How airlock-mirror's results read: each result as JSON (--json) and as
// text for a terminal, strings from upstream indices and paths escaped. One
// place for both, so that the program stays an argument adapter and tests
// check the output without starting a process.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string_view>
#include <vector>

#include "airlock/mirror/home.h"
#include "airlock/transfer/snapshot_view.h"

namespace airlock::mirror {

nlohmann::json to_json(const InitReport& report);
void print_init(std::ostream& out, const InitReport& report);
nlohmann::json to_json(const KeyReport& report);
void print_key(std::ostream& out, const KeyReport& report);

// The repositories that synced (failures are reported by
// print_sync_problems): what each carries, and, with a packages filter, how
// many packages it matched and its dependency closure added.
nlohmann::json to_json(const std::vector<RepoSync>& results);
void print_sync(std::ostream& out, const std::vector<RepoSync>& results);
// On err: "<program>: <error>" for each repository that failed, and
// "<program>: warning: <repo>: <package> <version> (<arch>) Depends: <group>:
// nothing in the indices satisfies it" for each unsatisfiable dependency of
// one that synced. Returns the exit code of the last failure, 0 when none
// failed (warnings do not count).
int print_sync_problems(std::ostream& err, std::string_view program,
                        const std::vector<RepoSync>& results);

nlohmann::json to_json(const std::vector<SnapshotInfo>& snapshots);
void print_snapshots(std::ostream& out, const std::vector<SnapshotInfo>& snapshots);
nlohmann::json to_json(const SnapshotView& view);

// The changes, as an array of {change, package, architecture, old, new}.
nlohmann::json to_json(const DiffReport& report);
void print_diff(std::ostream& out, const DiffReport& report);

nlohmann::json to_json(const ExportSummary& summary);
void print_export(std::ostream& out, const ExportSummary& summary);

nlohmann::json to_json(const SignReport& report);
// What a co-signer reviews: the bundle, its checks, its signers, its changes.
void print_review(std::ostream& out, const BundleReview& review);
void print_sign(std::ostream& out, const SignReport& report);

}  // namespace airlock::mirror
