// What every upstream driver's sync shares (private to the mirror): the
// downloads of verified files into the store, the carried packages' files,
// and the snapshot recorded with its `sync` record. A driver (apt, rpm,
// files) verifies its upstream's signed metadata, fills entries_ (the
// metadata files), packages_ (what the snapshot carries) and
// release_info_, and calls the steps below.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "airlock/mirror/apt_sync.h"
#include "airlock/store/store.h"
#include "airlock/verify/gpgv.h"

namespace airlock::mirror {

// One metadata or package file to fetch.
struct Want {
  std::string path;          // repository-relative path in the snapshot
  std::string url;           // empty for the path's own address (see SyncCore::address)
  std::string fallback_url;  // canonical path when url is a by-hash address
  Digest sha256;
  std::uint64_t size = 0;
  // Metadata: one variant of index (the upstream may not serve it; apt and
  // aptly fall back to another variant the Release lists).
  std::string index;
  bool sized = true;  // false: the size is not known (a checksum list gives none)
};

// A package file the store lacks: its path is that of the new snapshot's
// entry (pool_), which outlives it.
struct PoolFile {
  const std::string* path;
  Digest sha256;
  std::uint64_t size = 0;
};

// How downloads for repo run: jobs in parallel, cut off when too slow.
FetchOptions fetch_options(const RepoConfig& repo, int jobs);

// The fetcher's single result, or an error when it broke its contract.
Result<FetchResult> fetch_one(Fetcher& fetcher, const FetchJob& job, const FetchOptions& fo);

// A string member of a JSON object, or "" when absent or not a string.
std::string text_field(const nlohmann::json& j, const char* key);

// A clearsigned file (an InRelease, a clearsigned checksum list) must be
// exactly one clearsigned message with a good signature by repo's keyring:
// bytes before or after it would be carried to hosts unverified. Returns
// gpgv's signed text, the only text to read; refused naming repo and where
// otherwise.
Result<GpgvSignature> verify_clearsigned(const RepoConfig& repo, const std::filesystem::path& file,
                                         const std::string& where,
                                         const std::filesystem::path& scratch,
                                         std::uint64_t max_size);

class SyncCore {
 public:
  SyncCore(const RepoConfig& repo, Ledger& ledger, const SyncOptions& options)
      : repo_(repo), ledger_(ledger), store_(ledger.store()), env_(ledger.env()), opt_(options) {}

 protected:
  using json = nlohmann::json;

  // Fetches wants into their partial files; progress is told as the part of
  // a larger fetch that follows before (files and bytes done and the
  // whole's totals), when given. A by-hash address the server lacks is
  // tried once more at its fallback_url.
  Result<std::vector<FetchResult>> fetch(std::span<const Want> wants, const std::string& phase,
                                         const FetchProgress& before = {});
  // A signed head file (an InRelease, repomd.xml, SHA256SUMS) at path, into
  // dest (removed first), asked with the validators of the copy the last
  // snapshot holds when held: a 304 answer means that copy is current. A
  // fresh copy's validators are kept for the snapshot (validators_).
  Result<FetchResult> fetch_head(const std::string& path, const std::filesystem::path& dest,
                                 std::uint64_t max_size, bool held);
  // A detached signature at path into dest (removed first): nullopt when
  // the upstream serves none.
  Result<std::optional<FetchResult>> fetch_signature(const std::string& path,
                                                     const std::filesystem::path& dest);
  // The last snapshot of repo_ (its id into prev_id_) with its release
  // information and only the entries of paths (its signed head files), or
  // nullopt when there is none.
  Result<std::optional<Snapshot>> last_snapshot(const std::vector<std::string>& paths);
  // A file of the last snapshot (its entry held), copied to dest for gpgv and
  // made an entry of the new one; returns its bytes.
  Result<std::string> restore_held(const SnapshotEntry& held, const std::filesystem::path& dest,
                                   std::uint64_t max_size);
  // Records the selection digest of repo_ in release_info_ and whether it
  // differs from that of last (the last snapshot).
  void check_selection(const std::optional<Snapshot>& last);
  // Moves the verified downloads of wants into the store (objects only),
  // committing every so many files or bytes.
  Status store_files(std::span<const Want> wants, const std::vector<FetchResult>& results);
  // A signed file fetched outside the store (a Release, repomd.xml, a
  // checksum list): an entry of the snapshot, stored by store_direct.
  void keep_direct(const std::string& path, const FetchResult& r,
                   const std::filesystem::path& file);
  Status store_direct();
  // The files of packages_ into pool_: each path once, in path order;
  // refused for an unsafe path (naming the package's index) or a path
  // listed with two contents.
  Status carry_packages();
  // What of pool_ the store lacks, each content once, in path order.
  Result<std::vector<PoolFile>> pool_wants();
  // Downloads and stores pool a slice at a time; refused or io naming how
  // many failed (what was fetched stays stored, for a resume).
  Status fetch_pool(const std::vector<PoolFile>& pool);
  // The last steps of a sync of kind, once pool_ holds the package files:
  // fetches what the store lacks (nothing when report_.unchanged) and
  // records the snapshot, the unchanged sync, or (dry run) nothing.
  Result<SyncReport> finish(const std::string& kind);
  // What the sync that follows would fetch and whether it would record a
  // snapshot: wants is what it would fetch.
  Result<SyncReport> dry_report(const std::vector<PoolFile>& wants);
  // The upstream and the selection are unchanged: a `sync` record naming
  // the last snapshot.
  Result<SyncReport> record_unchanged();
  // The snapshot of kind (pool_ and entries_, the package list, the release
  // information) and the fetch validators, committed with the `sync` record.
  Result<SyncReport> record_snapshot(const std::string& kind);

  std::filesystem::path partial(const Digest& id) const {
    return opt_.workdir / "partial" / id.hex();
  }
  std::filesystem::path scratch() const { return opt_.workdir / "gpg"; }
  std::string url(const std::string& path) const { return repo_.url + "/" + path; }
  std::string address(const Want& w) const { return w.url.empty() ? url(w.path) : w.url; }

  const RepoConfig& repo_;
  Ledger& ledger_;
  Store& store_;
  Env& env_;
  const SyncOptions& opt_;
  Digest prev_id_;                                // the last snapshot, when there is one
  std::map<std::string, SnapshotEntry> entries_;  // the new snapshot's metadata
  // Its package files: sorted by path, each once (a vector: a map node
  // would cost twice as much).
  std::vector<SnapshotEntry> pool_;
  std::map<std::string, std::string> release_info_;
  // What the snapshot carries; the snapshot sorts them when written.
  std::vector<PackageEntry> packages_;
  std::vector<std::pair<std::string, std::string>> validators_;  // meta key -> json
  std::map<Digest, std::filesystem::path> dry_files_;  // verified files, before they are stored
  // Where the chain of custody starts, merged into the `sync` record (apt:
  // "suites"; rpm: "repomd"; files: "list").
  json origin_ = json::object();
  SyncReport report_;

 private:
  void add_counts(json& record) const;
  struct Direct {
    std::string path;
    Digest sha256;
    std::uint64_t size;
    std::filesystem::path file;
  };
  std::vector<Direct> direct_;  // signed files as fetched
};

}  // namespace airlock::mirror
