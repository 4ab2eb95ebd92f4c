#include "airlock/formats/package_diff.h"

#include <algorithm>
#include <map>
#include <tuple>

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

std::vector<PackageChange> diff_packages(const std::vector<PackageVersion>& before,
                                         const std::vector<PackageVersion>& after) {
  auto newest = [](const std::vector<PackageVersion>& list) {
    std::map<std::pair<std::string, std::string>, std::string> m;
    for (const auto& p : list) {
      auto& v = m[{p.package, p.architecture}];
      if (v.empty() || compare_versions(v, p.version) < 0) v = p.version;
    }
    return m;
  };
  auto a = newest(before), b = newest(after);
  std::vector<PackageChange> out;
  for (const auto& [key, version] : b) {
    auto it = a.find(key);
    if (it == a.end()) {
      out.push_back({PackageChange::added, key.first, key.second, "", version});
    } else if (int c = compare_versions(it->second, version); c != 0) {
      out.push_back({c < 0 ? PackageChange::upgraded : PackageChange::downgraded, key.first,
                     key.second, it->second, version});
    }
  }
  for (const auto& [key, version] : a) {
    if (!b.contains(key))
      out.push_back({PackageChange::removed, key.first, key.second, version, ""});
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return std::tie(x.package, x.architecture) < std::tie(y.package, y.architecture);
  });
  return out;
}

}  // namespace airlock::apt
