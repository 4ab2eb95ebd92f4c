// Snapshots: one repository at one sync, as canonical JSON.
//
// Canonical form: keys sorted, no insignificant whitespace, entries sorted by
// path with unique paths. The snapshot's id is the SHA-256 of exactly those
// bytes, so the same content always has the same id.
#pragma once

#include <cstdint>
#include <map>
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

struct Snapshot {
  std::string repo;      // configured repository name
  std::string kind;      // "apt" | "rpm" | "files"
  std::string upstream;  // URL it was synced from
  TimePoint synced_at{};
  std::map<std::string, std::string> release;  // release information, e.g. "bookworm/Date"
  std::vector<SnapshotEntry> entries;          // sorted by path on serialization

  // Canonical JSON bytes; sorts a copy of entries. invalid_input for
  // duplicate paths or unsafe paths (absolute, "..", empty segments, NUL).
  Result<std::string> to_canonical_json() const;
  // Parses and validates; refuses anything that is not in canonical form, so
  // that parse(bytes)->to_canonical_json() == bytes.
  static Result<Snapshot> parse(std::string_view json);

  std::uint64_t total_size() const;
  const SnapshotEntry* find(std::string_view path) const;  // entries must be sorted
};

// True for a relative path of non-empty segments without "." or "..", NUL,
// or backslash. Used for snapshot paths and anything that maps to them.
bool is_safe_relative_path(std::string_view path);

}  // namespace airlock
