// Importing a bundle on the isolated side, in the order DESIGN.md fixes:
// signatures before parsing, sequence and previous-hash against this side's
// state, every volume hashed (and staged) before anything is decompressed,
// every object checked as it streams into the store, every snapshot complete,
// then one commit. A refused import changes nothing but is itself logged.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "airlock/store/store.h"
#include "airlock/transfer/bundle.h"

namespace airlock::repo {

struct ImportOptions {
  std::string operator_name;
  std::string media_label;
  std::optional<std::string> publish;  // channel to publish the bundle's snapshots to
  bool create = false;                 // publish may make a new channel (else it must exist)
  std::string reason;
  std::string change_ref;
  // Run on every new object before commit, "{}" replaced by the file's path
  // (e.g. "clamscan --no-summary {}"); a non-zero exit refuses the import.
  std::string scan_cmd;
  TimePoint now{};
  std::function<void(const std::string& phase, std::uint64_t done, std::uint64_t total)> progress;
  // Called once everything is verified and before the commit, with the
  // package changes the bundle carries (signed in its manifest): what is
  // about to enter.
  std::function<void(const std::vector<RepoChanges>& changes)> verified;
};

struct ImportReport {
  bool already_imported = false;
  std::string bundle;  // airlock-<stream>-<seq>
  Digest manifest_sha256;
  std::string stream;
  std::uint64_t sequence = 0;
  std::string kind;
  std::size_t objects = 0;  // objects the bundle carried
  std::uint64_t bytes = 0;
  std::vector<BundleSnapshot> snapshots;
  std::optional<std::string> published;
  std::vector<std::string> staged_volumes;  // volumes now waiting in staging (incomplete import)
  std::vector<RepoChanges> changes;         // the package changes the bundle carries
  // The site indices made for the bundle's filtered snapshots, signed by the
  // site key (site_key: its fingerprint).
  struct SiteIndex {
    std::string repo;
    Digest snapshot, index;
  };
  std::vector<SiteIndex> site_indices;
  std::string site_key;
};

// The import state of a stream: the last sequence and manifest imported.
struct StreamHead {
  std::string stream;
  std::uint64_t sequence = 0;
  Digest manifest;
  TimePoint imported_at{};
};
Result<std::vector<StreamHead>> stream_heads(const Store& store);

}  // namespace airlock::repo
