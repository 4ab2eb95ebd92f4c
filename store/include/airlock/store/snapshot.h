// Snapshots: one repository at one sync, as canonical JSON.
//
// Canonical form: keys sorted, no insignificant whitespace, entries sorted by
// path with unique paths. The snapshot's id is the SHA-256 of exactly those
// bytes, so the same content always has the same id.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/base/time.h"
#include "airlock/verify/digest.h"

namespace airlock {

struct SnapshotEntry {
  std::string path;  // relative upstream path, e.g. "pool/main/o/openssl/libssl3_3.0.11_amd64.deb"
  Digest sha256;
  std::uint64_t size = 0;

  bool operator==(const SnapshotEntry&) const = default;
};

// One package a snapshot carries, as its vendor-verified index describes it.
struct PackageEntry {
  std::string name;
  std::string version;
  std::string architecture;
  std::string source;  // the source package (the name when the index gives none)
  std::uint64_t size = 0;
  Digest sha256;
  std::string path;   // the package file, an entry of the snapshot
  std::string index;  // the index it was taken from (e.g. dists/x/main/binary-amd64/Packages.xz)

  bool operator==(const PackageEntry&) const = default;
};

// What a streaming read does with each entry and package as it reads it,
// so that a caller keeps only what it needs: a callback that is set takes
// them (the snapshot returned then has none of that kind), in file order
// (sorted), and its first error ends the read and is returned as it is.
// What it is given is provisional until the read succeeds: the bytes are
// checked against their digest, and the snapshot as a whole, at the end.
struct SnapshotVisitor {
  std::function<Status(SnapshotEntry&&)> entry;
  std::function<Status(PackageEntry&&)> package;
};

struct Snapshot {
  std::string repo;      // configured repository name
  std::string kind;      // "apt" | "rpm" | "files"
  std::string upstream;  // URL it was synced from
  TimePoint synced_at{};
  std::map<std::string, std::string> release;  // release information, e.g. "bookworm/Date"
  std::vector<SnapshotEntry> entries;          // sorted by path on serialization
  // The packages it carries, sorted by (name, architecture, version, path)
  // on serialization: derived from the vendor-verified indices at sync,
  // used for every summary and diff. Each path and index is an entry.
  std::vector<PackageEntry> packages;
  // True when a filter selected the packages: the indices list more than
  // the snapshot carries.
  bool filtered = false;

  // Canonical JSON bytes; sorts copies of entries and packages.
  // invalid_input for duplicate paths, unsafe paths (absolute, "..", empty
  // segments, NUL), or a package whose path or index is not an entry.
  Result<std::string> to_canonical_json() const;
  // The same bytes given to out a piece at a time (never more than about
  // 64 KiB held), for a large snapshot that should not be held whole. The
  // same refusals, made before out is first called; the first error out
  // returns ends the writing and is returned.
  Status write_canonical_json(const std::function<Status(std::string_view)>& out) const;
  // Parses and validates without building a JSON tree; refuses anything
  // that is not in canonical form, so that parse(bytes)->to_canonical_json()
  // == bytes.
  static Result<Snapshot> parse(std::string_view json);

  // Puts up to buf.size() bytes into buf and answers how many; 0 at the end.
  using Source = std::function<Result<std::size_t>(std::span<char> buf)>;
  // Whether parse checks canonical form by writing the snapshot again:
  // known for bytes that were checked when they were stored (the store
  // indexes a snapshot only after that, and re-hashes its bytes on reading).
  enum class Canonical { check, known };
  // parse() of the bytes in yields, taken a piece at a time and never held
  // whole. Reads to the end even when they are not a snapshot and sets
  // digest to the SHA-256 of all of them, so that a caller can tell damaged
  // bytes from a bad snapshot (digest is unspecified after an error of in,
  // which ends the reading and is returned as it is).
  // With a visitor (see SnapshotVisitor), canonical must be known: the
  // form cannot be written again without what the visitor took.
  static Result<Snapshot> parse(const Source& in, Digest& digest,
                                Canonical canonical = Canonical::check,
                                const SnapshotVisitor* visitor = nullptr);

  std::uint64_t total_size() const;
  const SnapshotEntry* find(std::string_view path) const;  // entries must be sorted
};

// True for a relative path of non-empty segments without "." or "..", NUL,
// or backslash. Used for snapshot paths and anything that maps to them.
bool is_safe_relative_path(std::string_view path);

// The rule for a repository's name wherever one crosses a boundary (a
// snapshot's own repo, a bundle manifest's snapshot list): 1-128 characters
// of A-Z a-z 0-9 - _ . and neither "." nor "..", so it is one safe path segment.
bool valid_repo_name(std::string_view name);

}  // namespace airlock
