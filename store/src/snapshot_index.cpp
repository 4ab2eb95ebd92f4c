// Snapshots in the store: the canonical JSON is an ordinary object; the
// snapshots table names which objects are snapshots and keeps a summary of
// each for listing without reading the JSON.
#include <fcntl.h>

#include <algorithm>
#include <tuple>

#include "codec.h"
#include "store_impl.h"

namespace airlock {

namespace {

SnapshotInfo summary(const Digest& id, const Snapshot& snap) {
  return SnapshotInfo{
      id, snap.repo, snap.kind, snap.synced_at, snap.entries.size(), snap.total_size()};
}

}  // namespace

Status Batch::State::check_snapshot(const Snapshot& snap) const {
  for (const auto& e : snap.entries) {
    auto size = size_of(e.sha256);
    if (!size) return fail(size.error());
    if (!*size) {
      return fail(Code::refused, "snapshot of " + snap.repo + " references " + e.path +
                                     " (sha256 " + e.sha256.hex() + ") which is not in the store");
    }
    if (**size != e.size) {
      return fail(Code::refused, "snapshot of " + snap.repo + " says " + e.path + " has " +
                                     std::to_string(e.size) + " bytes, the stored object has " +
                                     std::to_string(**size));
    }
  }
  return {};
}

// A snapshot indexed before keeps its entry and so its place in the order.
// seq, the count of snapshots recorded before, orders snapshots whose
// synced_at is the same second.
Status Batch::State::index_snapshots(WriteCtx& w) const {
  for (SnapshotInfo info : snapshots) {
    const std::string key = store_codec::encode_digest_key(info.id);
    auto existing = lmdb::get(w.txn, store->snapshots, key);
    if (!existing) return fail(existing.error());
    if (*existing) continue;
    MDB_stat stat;
    if (int rc = mdb_stat(w.txn, store->snapshots, &stat); rc != 0) {
      return lmdb::fail_rc("stat", rc);
    }
    info.seq = stat.ms_entries;
    if (auto s = w.put(store->snapshots, key, store_codec::encode_snapshot_value(info)); !s) {
      return s;
    }
  }
  return {};
}

Result<Digest> Batch::add_snapshot(const Snapshot& snapshot) {
  // Written as it is serialized, never held whole; an unfinished sink
  // leaves nothing behind.
  auto sink = begin_object();
  if (!sink) return fail(sink.error());
  auto written =
      snapshot.write_canonical_json([&](std::string_view piece) { return sink->write(piece); });
  if (!written) return fail(written.error());
  if (auto s = state_->check_snapshot(snapshot); !s) return fail(s.error());
  auto id = finish_object(std::move(*sink));
  if (!id) return id;
  state_->snapshots.push_back(summary(*id, snapshot));
  return id;
}

Result<SnapshotInfo> Batch::register_snapshot(const Digest& id, Snapshot* parsed) {
  auto file = state_->open(id);
  if (!file) return fail(file.error());
  if (!*file) return fail(Code::refused, "snapshot " + id.hex() + " is not in the store");
  auto snap = read_snapshot(std::move(**file), id, Snapshot::Canonical::check);
  if (!snap) return fail(snap.error());
  if (auto s = state_->check_snapshot(*snap); !s) return fail(s.error());
  state_->snapshots.push_back(summary(id, *snap));
  if (parsed) *parsed = std::move(*snap);
  return state_->snapshots.back();
}

Result<Digest> Store::put_snapshot(const Snapshot& snapshot) {
  auto batch = begin_batch();
  if (!batch) return fail(batch.error());
  auto id = batch->add_snapshot(snapshot);
  if (!id) return id;
  if (auto s = batch->commit(); !s) return fail(s.error());
  return id;
}

Result<Snapshot> Store::get_snapshot(const Digest& id) const {
  return get_snapshot(id, SnapshotVisitor{});
}

Result<Snapshot> Store::get_snapshot(const Digest& id, const SnapshotVisitor& visitor) const {
  auto known = impl_->read([&](MDB_txn* txn) -> Result<bool> {
    auto value = lmdb::get(txn, impl_->snapshots, store_codec::encode_digest_key(id));
    if (!value) return fail(value.error());
    return value->has_value();
  });
  if (!known) return fail(known.error());
  if (!*known) return fail(Code::not_found, "no snapshot " + id.hex());
  auto file = open_object(id);
  if (!file) return fail(file.error());
  // Checked when it was indexed; its bytes are re-hashed as they are read.
  return read_snapshot(std::move(*file), id, Snapshot::Canonical::known, &visitor);
}

Result<std::vector<SnapshotInfo>> Store::list_snapshots() const {
  auto list = impl_->read([&](MDB_txn* txn) -> Result<std::vector<SnapshotInfo>> {
    std::vector<SnapshotInfo> out;
    auto s = lmdb::scan(txn, impl_->snapshots, {}, [&](auto key, auto value) -> Status {
      auto info = store_codec::decode_snapshot(key, value);
      if (!info) return fail(info.error());
      out.push_back(std::move(*info));
      return {};
    });
    if (!s) return fail(s.error());
    return out;
  });
  if (!list) return list;
  std::sort(list->begin(), list->end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    return std::tie(a.synced_at, a.seq) < std::tie(b.synced_at, b.seq);
  });
  return list;
}

Result<Digest> resolve_snapshot(const Store& store, std::string_view text) {
  if (text.size() < kMinSnapshotPrefix) {
    return fail(Code::invalid_input,
                "'" + std::string(text) + "' is too short to name a snapshot: give " +
                    std::to_string(kMinSnapshotPrefix) + " or more hex digits of its id");
  }
  auto list = store.list_snapshots();
  if (!list) return fail(list.error());
  std::vector<Digest> found;
  for (const auto& s : *list) {
    if (s.id.hex().starts_with(text) &&
        std::find(found.begin(), found.end(), s.id) == found.end()) {
      found.push_back(s.id);
    }
  }
  if (found.empty()) return fail(Code::not_found, "no snapshot '" + std::string(text) + "'");
  if (found.size() == 1) return found.front();
  constexpr std::size_t kShown = 4;
  std::string ids;
  for (std::size_t i = 0; i < found.size() && i < kShown; ++i)
    ids += (i ? ", " : "") + found[i].hex().substr(0, 16);
  if (found.size() > kShown) ids += ", ...";
  return fail(Code::invalid_input, "'" + std::string(text) + "' matches " +
                                       std::to_string(found.size()) + " snapshots (" + ids +
                                       "): give more digits");
}

}  // namespace airlock
