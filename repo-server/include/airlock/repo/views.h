// What the isolated side shows about its content without changing it: one
// snapshot, the package diff between two, and every change of the channels
// with the package diff each one made. All computed from the snapshots'
// package lists (store/snapshot.h), never from whole indices.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "airlock/store/store.h"
#include "airlock/transfer/manifest.h"
#include "airlock/transfer/snapshot_view.h"

namespace airlock::repo {

// `snapshots show ID`: the snapshot as stored (repository, upstream, sync
// time, release information, entries, packages, filtered or not) and, for
// rpm, its advisories: as the online side shows it.
using airlock::SnapshotView;

// `diff A B`: what changed by package from snapshot `from` to `to`, in the
// form a bundle carries its changes (transfer/manifest.h), so that one
// renderer shows both (transfer/changes.h).
struct SnapshotDiff {
  Digest from, to;
  std::string from_repo;  // `to`'s repository is changes.repo
  RepoChanges changes;    // sorted by package and architecture, sizes of `to`'s packages
};

// One change of one repository of a channel, as its history records it.
struct ChannelChange {
  std::string channel;
  std::string repo;
  TimePoint time{};
  // publish, promote, rollback, import (import --publish) or delete;
  // "unknown" for a history note that is not the JSON this side writes.
  std::string action;
  std::string operator_name, reason, change_ref;
  std::string from;              // promote: the channel it was copied from
  std::string bundle;            // import: the bundle that was published
  std::optional<Digest> before;  // none when the channel did not serve the repository
  std::optional<Digest> after;   // none after a delete
  RepoChanges changes;           // before -> after, named for repo
};

}  // namespace airlock::repo
