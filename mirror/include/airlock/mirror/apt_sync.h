// Syncing one apt repository into the store: verified metadata, selected
// pool files, one immutable snapshot.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "airlock/mirror/config.h"
#include "airlock/mirror/fetcher.h"
#include "airlock/store/store.h"
#include "airlock/transfer/log.h"

namespace airlock::mirror {

struct SyncOptions {
  Fetcher* fetcher = nullptr;
  int jobs = 8;
  bool dry_run = false;
  TimePoint now{};
  std::filesystem::path workdir;  // scratch space and partial downloads (kept for resume)
  std::function<void(const std::string& phase, const FetchProgress&)> progress;
};

struct SyncReport {
  std::string repo;
  bool unchanged = false;           // every suite answered 304: no new snapshot
  std::optional<Digest> snapshot;   // the new (or, unchanged, the current) snapshot
  std::size_t metadata_fetched = 0;
  std::size_t pool_files = 0;       // selected pool files in the snapshot
  std::uint64_t pool_bytes = 0;
  std::size_t pool_fetched = 0;     // of those, downloaded now
  std::uint64_t bytes_fetched = 0;
  std::size_t pool_missing = 0;     // dry run: would be fetched
  std::uint64_t bytes_missing = 0;
};

// Syncs repo. A sync that fails midway keeps what was verified and stored
// and records no snapshot; the next run resumes. Writes a `sync` record to
// log when a snapshot is recorded (or the upstream is unchanged).
Result<SyncReport> sync_apt(const RepoConfig& repo, Store& store, TransferLog& log,
                            const SyncOptions& options);

// The latest snapshot of a repository, if any.
Result<std::optional<Snapshot>> latest_snapshot(const Store& store, std::string_view repo,
                                                Digest* id = nullptr);

// Every package in a snapshot's Packages indices: (name, architecture) -> version.
struct PackageVersion {
  std::string package, architecture, version;
};
Result<std::vector<PackageVersion>> snapshot_packages(const Store& store, const Snapshot& snapshot);

struct PackageChange {
  enum Kind { added, upgraded, downgraded, removed } kind;
  std::string package, architecture, old_version, new_version;
};
// What changed from `before` (may be empty) to `after`, sorted by package.
std::vector<PackageChange> diff_packages(const std::vector<PackageVersion>& before,
                                         const std::vector<PackageVersion>& after);

}  // namespace airlock::mirror
