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
                                                Digest* id, const SnapshotVisitor& visitor) {
  auto list = store.list_snapshots();
  if (!list) return fail(list.error());
  const SnapshotInfo* best = nullptr;
  for (const auto& s : *list) {
    if (s.repo == repo) best = &s;  // the list is oldest first
  }
  if (!best) return std::optional<Snapshot>{};
  auto snap = store.get_snapshot(best->id, visitor);
  if (!snap) return fail(snap.error());
  if (id) *id = best->id;
  return std::optional<Snapshot>(std::move(*snap));
}

Result<std::vector<PackageVersion>> snapshot_packages(const Store&, const Snapshot& snapshot) {
  std::vector<PackageVersion> out;
  out.reserve(snapshot.packages.size());
  for (const auto& p : snapshot.packages) out.push_back({p.name, p.architecture, p.version});
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

}  // namespace airlock::mirror
