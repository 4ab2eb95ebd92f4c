// Syncing one apt repository into a home's store: verified metadata,
// selected pool files, one immutable snapshot, committed with its `sync`
// record through the home's ledger.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "airlock/formats/depends.h"
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
  // Every suite answered 304 and the selection is the last snapshot's: no
  // new snapshot (a dry run: none would be recorded).
  bool unchanged = false;
  // The settings that decide what is carried (selection_digest: suites,
  // components, architectures, translations, packages, with_dependencies)
  // differ from those of the last snapshot: a new one is recorded even when
  // the upstream answered 304.
  bool selection_changed = false;
  std::optional<Digest> snapshot;  // the new (or, unchanged, the current) snapshot
  bool filtered = false;           // a packages filter chose what is carried
  // The packages the snapshot carries (or, dry run, would carry): the
  // entries of its package list, one per name, architecture, version and file.
  std::size_t packages = 0;
  std::size_t packages_selected = 0;  // of those, matched by the filter (without one: all)
  std::vector<PackageVersion> added;  // of those, pulled in by dependencies only; sorted
  // Dependencies of carried packages that the indices cannot satisfy:
  // reported, not a failure.
  std::vector<apt::UnsatisfiedDependency> unsatisfied;
  // Index variants the Release lists but the upstream does not serve
  // (Packages.gz of a mirror that keeps only Packages.xz, a per-architecture
  // Release): skipped and not carried, as long as another variant of each
  // index hosts need was verified. Repository paths, in fetch order.
  std::vector<std::string> skipped;
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
// the next run resumes). The new snapshot (its release map holding the
// selection digest under "selection") and the fetch validators are
// committed in one change with a `sync` record; an unchanged upstream with
// an unchanged selection is a `sync` record alone. A dry run stores and
// records nothing, and reports what the sync that follows it would fetch
// and record. refused for anything the upstream's signatures or indices do
// not vouch for; invalid_input for a relationship field of the index that
// the dependency closure cannot parse.
Result<SyncReport> sync_apt(const RepoConfig& repo, Ledger& ledger, const SyncOptions& options);

}  // namespace airlock::mirror
