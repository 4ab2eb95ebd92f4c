// What changed between two package lists: added, upgraded (old -> new
// version), downgraded, removed, by (name, architecture), in the version
// order of the repository's kind. Pure computation over lists both sides
// derive from vendor-verified indices.
#pragma once

#include <compare>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace airlock::apt {

struct PackageVersion {
  std::string package, architecture, version;

  // By name, architecture, then version as text (not in dpkg's order).
  auto operator<=>(const PackageVersion&) const = default;
};

struct PackageChange {
  enum Kind { added, upgraded, downgraded, removed } kind;
  std::string package, architecture, old_version, new_version;
};

// "added", "upgraded", "downgraded" or "removed".
std::string_view change_name(PackageChange::Kind kind);

// How versions are ordered: Debian's (dpkg), rpm's ([epoch:]version-release
// with rpmvercmp), or not at all (a file set, whose version names the
// content: a file whose content changed is upgraded, the newer list being
// the vendor's update).
enum class VersionOrder { debian, rpm, content };
// The order of a snapshot kind: "rpm", "files", anything else Debian's.
VersionOrder version_order(std::string_view kind);

// What changed from `before` (may be empty) to `after`, sorted by package and
// architecture. Where a list holds several versions of one package, the
// newest counts.
std::vector<PackageChange> diff_packages(const std::vector<PackageVersion>& before,
                                         const std::vector<PackageVersion>& after,
                                         VersionOrder order = VersionOrder::debian);

// A package as the diff reads it: views into the caller's lists.
struct PackageKey {
  std::string_view package, architecture, version;
};

// The same changes, in the same order, given to emit one at a time: a few
// pointers a package instead of copies of every name and version.
void diff_packages(std::vector<PackageKey> before, std::vector<PackageKey> after,
                   const std::function<void(PackageChange&&)>& emit,
                   VersionOrder order = VersionOrder::debian);

}  // namespace airlock::apt
