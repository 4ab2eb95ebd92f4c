#include "airlock/mirror/packages.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "airlock/formats/compress.h"
#include "airlock/formats/packages.h"
#include "airlock/formats/version.h"
#include "apt_paths.h"

namespace airlock::mirror {

namespace {
constexpr std::uint64_t kMaxIndex = 1ull << 30;
}  // namespace

Result<std::optional<Snapshot>> latest_snapshot(const Store& store, std::string_view repo,
                                                Digest* id) {
  auto list = store.list_snapshots();
  if (!list) return fail(list.error());
  const SnapshotInfo* best = nullptr;
  for (const auto& s : *list) {
    if (s.repo == repo) best = &s;  // the list is oldest first
  }
  if (!best) return std::optional<Snapshot>{};
  auto snap = store.get_snapshot(best->id);
  if (!snap) return fail(snap.error());
  if (id) *id = best->id;
  return std::optional<Snapshot>(std::move(*snap));
}

Result<std::vector<PackageVersion>> snapshot_packages(const Store& store,
                                                      const Snapshot& snapshot) {
  // One Packages variant per directory, the cheapest to read.
  std::map<std::string, const SnapshotEntry*> chosen;
  for (const auto& e : snapshot.entries) {
    auto dir = parent(e.path);
    if (!e.path.starts_with("dists/") || dir.find("/binary-") == std::string::npos) continue;
    if (!is_index_of(e.path, dir + "/", "Packages")) continue;
    auto& slot = chosen[dir];
    if (!slot || variant_rank(e.path) < variant_rank(slot->path)) slot = &e;
  }
  std::vector<PackageVersion> out;
  for (const auto& [dir, e] : chosen) {
    auto bytes = store.read(e->sha256, kMaxIndex);
    if (!bytes) return fail(bytes.error());
    auto text = formats::decompress_index(*bytes);
    if (!text) return fail(text.error().context(e->path));
    auto records = apt::parse_packages(*text);
    if (!records) return fail(records.error().context(e->path));
    for (auto& r : *records) out.push_back({r.package, r.architecture, r.version});
  }
  return out;
}

Result<std::vector<PackageVersion>> snapshots_packages(const Store& store,
                                                       const std::vector<Digest>& ids) {
  std::vector<PackageVersion> out;
  for (const auto& id : ids) {
    auto snap = store.get_snapshot(id);
    if (!snap) return fail(snap.error());
    auto pkgs = snapshot_packages(store, *snap);
    if (!pkgs) return fail(pkgs.error());
    out.insert(out.end(), pkgs->begin(), pkgs->end());
  }
  return out;
}

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
      if (v.empty() || apt::compare_versions(v, p.version) < 0) v = p.version;
    }
    return m;
  };
  auto a = newest(before), b = newest(after);
  std::vector<PackageChange> out;
  for (const auto& [key, version] : b) {
    auto it = a.find(key);
    if (it == a.end()) {
      out.push_back({PackageChange::added, key.first, key.second, "", version});
    } else if (int c = apt::compare_versions(it->second, version); c != 0) {
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

}  // namespace airlock::mirror
