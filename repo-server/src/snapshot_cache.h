// Snapshots read once each, for the views that name many (channel history,
// the report). Holds every snapshot it read until destroyed.
#pragma once

#include <map>
#include <optional>

#include "airlock/store/store.h"

namespace airlock::repo {

class SnapshotCache {
 public:
  explicit SnapshotCache(const Store& store) : store_(store) {}

  // The snapshot id names; nullptr for no id. The store's error when it
  // cannot be read.
  Result<const Snapshot*> get(const std::optional<Digest>& id) {
    if (!id) return nullptr;
    auto it = snapshots_.find(*id);
    if (it == snapshots_.end()) {
      auto snap = store_.get_snapshot(*id);
      if (!snap) return fail(snap.error());
      it = snapshots_.emplace(*id, std::move(*snap)).first;
    }
    return &it->second;
  }

 private:
  const Store& store_;
  std::map<Digest, Snapshot> snapshots_;
};

}  // namespace airlock::repo
