// Looking inside without changing anything: a snapshot, the package diff of
// two, and the history of the channels with the package diff of each change.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>

#include "airlock/base/json.h"
#include "airlock/formats/package_diff.h"
#include "airlock/repo/home.h"
#include "airlock/transfer/changes.h"
#include "channel_refs.h"
#include "snapshot_cache.h"

namespace airlock::repo {
namespace {

using json = nlohmann::json;

// Who did what and why, as the history note says.
ChannelChange from_note(const RefUpdate& u) {
  ChannelChange c;
  const json n = json::parse(u.note, nullptr, false);
  c.time = u.time;
  c.action = json_string(n, "action");
  if (c.action.empty()) c.action = "unknown";
  c.operator_name = json_string(n, "operator");
  c.reason = json_string(n, "reason");
  c.change_ref = json_string(n, "change_ref");
  c.from = json_string(n, "from");
  c.bundle = json_string(n, "bundle");
  c.after = u.target;
  return c;
}

// Every change of one channel/repo ref, oldest first, onto out.
Status ref_changes(const Store& store, const std::string& channel, const std::string& repo,
                   SnapshotCache& snapshots, std::vector<ChannelChange>& out) {
  auto history = store.ref_history(channel_ref(channel, repo));
  if (!history) return fail(history.error());
  std::optional<Digest> before;
  for (const auto& u : *history) {
    ChannelChange c = from_note(u);
    c.channel = channel;
    c.repo = repo;
    c.before = before;
    auto old_snap = snapshots.get(c.before);
    if (!old_snap) return fail(old_snap.error());
    auto new_snap = snapshots.get(c.after);
    if (!new_snap) return fail(new_snap.error());
    c.changes = package_changes(repo, *old_snap, *new_snap);
    before = c.after;
    out.push_back(std::move(c));
  }
  return {};
}

}  // namespace

Result<Digest> Home::resolve_snapshot(std::string_view id) const {
  return airlock::resolve_snapshot(store(), id);
}

Result<SnapshotView> Home::snapshot(std::string_view id) const {
  auto resolved = resolve_snapshot(id);
  if (!resolved) return fail(resolved.error());
  return load_snapshot_view(store(), *resolved);
}

Result<SnapshotDiff> Home::diff(std::string_view from, std::string_view to) const {
  auto a = snapshot(from);
  if (!a) return fail(a.error());
  auto b = snapshot(to);
  if (!b) return fail(b.error());
  return SnapshotDiff{a->id, b->id, a->snapshot.repo,
                      package_changes(b->snapshot.repo, &a->snapshot, &b->snapshot)};
}

Result<std::vector<ChannelChange>> Home::channel_history(const std::string& channel) const {
  if (!channel.empty()) {
    if (auto s = check_channel_name(channel); !s) return fail(s.error());
  }
  auto refs = channel_repos_ever(store(), channel);
  if (!refs) return fail(refs.error());
  if (!channel.empty() && refs->empty()) {
    if (auto s = require_channel(store(), channel); !s) return fail(s.error());
  }
  SnapshotCache snapshots(store());
  std::vector<ChannelChange> out;
  for (const auto& [ch, repo] : *refs) {
    if (auto s = ref_changes(store(), ch, repo, snapshots, out); !s) return fail(s.error());
  }
  // Grouped by channel; within a channel, by the refs' update times. Those
  // strictly increase per ref, a second apart at least (store.h), so a ref
  // changed several times within a second is stamped ahead of the clock, and
  // changes of different repositories close together may show in another
  // order than they were made. The transfer log keeps the exact order.
  std::stable_sort(out.begin(), out.end(), [](const ChannelChange& a, const ChannelChange& b) {
    return std::tie(a.channel, a.time) < std::tie(b.channel, b.time);
  });
  return out;
}

}  // namespace airlock::repo
