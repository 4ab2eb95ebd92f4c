#include "airlock/formats/package_diff.h"

#include <algorithm>
#include <tuple>

#include "airlock/formats/rpm.h"
#include "airlock/formats/version.h"

namespace airlock::apt {

std::string_view change_name(PackageChange::Kind kind) {
  switch (kind) {
    case PackageChange::added:
      return "added";
    case PackageChange::upgraded:
      return "upgraded";
    case PackageChange::downgraded:
      return "downgraded";
    case PackageChange::removed:
      return "removed";
  }
  return "changed";
}

VersionOrder version_order(std::string_view kind) {
  if (kind == "rpm") return VersionOrder::rpm;
  if (kind == "files") return VersionOrder::content;
  return VersionOrder::debian;
}

namespace {

// <0, 0 or >0 as a is older than, as old as, or newer than b.
int compare(VersionOrder order, std::string_view a, std::string_view b) {
  switch (order) {
    case VersionOrder::debian:
      return compare_versions(a, b);
    case VersionOrder::rpm:
      return rpm::compare_evr(a, b);
    case VersionOrder::content:
      return a == b ? 0 : -1;
  }
  return 0;
}

// The newest version of each (package, architecture), sorted by them.
std::vector<PackageKey> newest(std::vector<PackageKey> list, VersionOrder order) {
  auto name = [](const PackageKey& k) { return std::tie(k.package, k.architecture); };
  // Stable: of versions that compare equal ("1.0", "0:1.0"), the first listed counts.
  std::stable_sort(list.begin(), list.end(),
                   [&](const PackageKey& a, const PackageKey& b) { return name(a) < name(b); });
  std::vector<PackageKey> out;
  for (const auto& k : list) {
    if (out.empty() || name(out.back()) != name(k)) {
      out.push_back(k);
    } else if (order != VersionOrder::content &&
               compare(order, out.back().version, k.version) < 0) {
      out.back().version = k.version;
    }
  }
  return out;
}

std::string text(std::string_view v) { return std::string(v); }

}  // namespace

void diff_packages(std::vector<PackageKey> before, std::vector<PackageKey> after,
                   const std::function<void(PackageChange&&)>& emit, VersionOrder order) {
  const auto a = newest(std::move(before), order), b = newest(std::move(after), order);
  auto name = [](const PackageKey& k) { return std::tie(k.package, k.architecture); };
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && name(a[i]) < name(b[j]))) {
      emit({PackageChange::removed, text(a[i].package), text(a[i].architecture), text(a[i].version),
            ""});
      ++i;
    } else if (i == a.size() || name(b[j]) < name(a[i])) {
      emit({PackageChange::added, text(b[j].package), text(b[j].architecture), "",
            text(b[j].version)});
      ++j;
    } else {
      if (int c = compare(order, a[i].version, b[j].version); c != 0) {
        emit({c < 0 ? PackageChange::upgraded : PackageChange::downgraded, text(b[j].package),
              text(b[j].architecture), text(a[i].version), text(b[j].version)});
      }
      ++i;
      ++j;
    }
  }
}

std::vector<PackageChange> diff_packages(const std::vector<PackageVersion>& before,
                                         const std::vector<PackageVersion>& after,
                                         VersionOrder order) {
  auto keys = [](const std::vector<PackageVersion>& list) {
    std::vector<PackageKey> out;
    out.reserve(list.size());
    for (const auto& p : list) out.push_back({p.package, p.architecture, p.version});
    return out;
  };
  std::vector<PackageChange> out;
  diff_packages(
      keys(before), keys(after), [&](PackageChange&& c) { out.push_back(std::move(c)); }, order);
  return out;
}

}  // namespace airlock::apt
