// Syncing one apt repository into a home's store: verified metadata,
// selected pool files, one immutable snapshot, committed with its `sync`
// record through the home's ledger.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "airlock/mirror/config.h"
#include "airlock/mirror/fetcher.h"
#include "airlock/mirror/packages.h"
#include "airlock/transfer/ledger.h"

namespace airlock::mirror {

struct SyncOptions {
  Fetcher* fetcher = nullptr;  // required; must outlive the call
  int jobs = 8;
  bool dry_run = false;
  TimePoint now{};
  std::filesystem::path workdir;  // scratch space and partial downloads (kept for resume)
  std::string operator_name;      // written into the `sync` record (any bytes; escaped)
  std::function<void(const std::string& phase, const FetchProgress&)> progress;
};

struct SyncReport {
  std::string repo;
  bool dry_run = false;
  bool unchanged = false;          // every suite answered 304: no new snapshot
  std::optional<Digest> snapshot;  // the new (or, unchanged, the current) snapshot
  std::size_t metadata_fetched = 0;
  std::size_t pool_files = 0;  // selected pool files in the snapshot
  std::uint64_t pool_bytes = 0;
  std::size_t pool_fetched = 0;  // of those, downloaded now
  std::uint64_t bytes_fetched = 0;
  std::size_t pool_missing = 0;  // dry run: would be fetched
  std::uint64_t bytes_missing = 0;
};

// Syncs repo into ledger's store. Verified files are stored as they arrive
// (objects only: a sync that fails midway keeps them, records nothing, and
// the next run resumes). The new snapshot and the fetch validators are
// committed in one change with a `sync` record; an unchanged upstream is a
// `sync` record alone. A dry run stores and records nothing. refused for
// anything the upstream's signatures or indices do not vouch for.
Result<SyncReport> sync_apt(const RepoConfig& repo, Ledger& ledger, const SyncOptions& options);

}  // namespace airlock::mirror
