// Which packages of an apt repository a snapshot carries (private to the
// apt sync): every package of its indices, or, with a `packages` filter,
// the packages the globs match and, unless with_dependencies is off, their
// dependency closure (formats/depends.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/formats/depends.h"
#include "airlock/formats/packages.h"
#include "airlock/mirror/config.h"
#include "airlock/store/snapshot.h"
#include "airlock/verify/digest.h"

namespace airlock::mirror {

// The records of a repository's Packages indices, each package file once.
class IndexRecords {
 public:
  // What is kept of each record: all of it (a filter chooses among them by
  // name and relationships), or only what a snapshot's package list holds
  // (without a filter every record is carried).
  enum class Keep { records, packages };
  explicit IndexRecords(Keep keep = Keep::records) : keep_(keep) {}

  // Adds a record of index. A package (name, architecture, version, file)
  // an earlier record listed is kept once, with the earlier index; refused,
  // naming repo and the file, when the two disagree about its SHA-256.
  Status add(const std::string& repo, const std::string& index, apt::PackageRecord record);
  // Keep::records: the records, and the index record i was read from.
  const std::vector<apt::PackageRecord>& records() const { return records_; }
  const std::string& index_of(std::size_t i) const { return index_names_[index_of_[i]]; }
  // Keep::packages: the package entries in the order read, moved out.
  // Nothing can be added after.
  std::vector<PackageEntry> take_packages() {
    seen_ = {};
    return std::move(packages_);
  }

 private:
  Keep keep_;
  std::vector<apt::PackageRecord> records_;
  std::vector<std::string> index_names_;  // each index once
  std::vector<std::uint32_t> index_of_;   // per record, its index in index_names_
  std::vector<PackageEntry> packages_;
  // Positions in records_ (or packages_) by a hash of (name, architecture,
  // version, file): a few bytes a record where a map of copied keys took
  // hundreds.
  std::unordered_multimap<std::uint64_t, std::size_t> seen_;
};

// Indices into the records, each list sorted.
struct Selection {
  std::vector<std::size_t> carried;
  std::size_t selected = 0;        // matched by the filter (without one: every package)
  std::vector<std::size_t> added;  // carried because something carried depends on them
  std::vector<apt::UnsatisfiedDependency> unsatisfied;
};

// What repo carries of records. The closure's errors (a relationship field
// that does not parse) come back as they are.
Result<Selection> select_packages(const RepoConfig& repo,
                                  const std::vector<apt::PackageRecord>& records);

// The snapshot's release key under which the selection digest is recorded.
inline constexpr const char* kSelectionKey = "selection";

// A digest of the settings that decide what a snapshot of repo holds:
// suites, components, architectures, translations and, with a filter, the
// globs and with_dependencies. Order and repetition in the lists do not
// count; with_dependencies does not count without a filter.
Digest selection_digest(const RepoConfig& repo);

}  // namespace airlock::mirror
