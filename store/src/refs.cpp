// Named refs with their history, and metadata values.
//
// A ref's record holds its current target; every change, removals included,
// appends an entry to the ref's history in the same transaction. Meta values
// are bytes that callers own; the store neither parses nor checks them.
#include <algorithm>
#include <chrono>

#include "codec.h"
#include "store_impl.h"

namespace airlock {

namespace {

constexpr std::size_t kMaxRefName = 255;

struct HistorySlot {
  std::uint64_t seq = 1;
  TimePoint time{};
};

// Where the next history entry of name goes: one past its last entry, at a
// time later than that entry's by a second at least, so that update times
// strictly increase per ref and a time names one state (HTTP Last-Modified
// has whole seconds).
Result<HistorySlot> next_history_slot(MDB_txn* txn, MDB_dbi history, std::string_view name,
                                      TimePoint now) {
  lmdb::Cursor cur(txn, history);
  if (cur.status() != 0) return lmdb::fail_rc("cursor", cur.status());
  // Seek to the name's last possible key; the last entry is there or just before.
  const std::string last_key = store_codec::encode_history_key(name, UINT64_MAX);
  MDB_val k = lmdb::val(last_key), v;
  int rc = cur.get(&k, &v, MDB_SET_RANGE);
  if (rc == 0 && lmdb::view(k) != last_key) {
    rc = cur.get(&k, &v, MDB_PREV);
  } else if (rc == MDB_NOTFOUND) {
    rc = cur.get(&k, &v, MDB_LAST);
  }
  if (rc == MDB_NOTFOUND) return HistorySlot{1, now};
  if (rc != 0) return lmdb::fail_rc("history", rc);
  if (!lmdb::view(k).starts_with(store_codec::history_key_prefix(name))) {
    return HistorySlot{1, now};
  }
  auto key = store_codec::decode_history_key(lmdb::view(k));
  if (!key) return fail(key.error());
  auto last = store_codec::decode_history_entry(*key, lmdb::view(v));
  if (!last) return fail(last.error());
  return HistorySlot{key->seq + 1, std::max(now, last->time + std::chrono::seconds(1))};
}

}  // namespace

Status check_ref_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxRefName || name.find('\0') != std::string_view::npos) {
    return fail(Code::invalid_input, "ref name must be 1-255 bytes without NUL");
  }
  return {};
}

Status Batch::State::apply_ref_changes(WriteCtx& w, TimePoint now) const {
  for (const auto& r : refs) {
    auto slot = next_history_slot(w.txn, store->history, r.name, now);
    if (!slot) return fail(slot.error());
    const RefUpdate entry{slot->seq, r.target, slot->time, r.note};
    if (auto s = w.put(store->history, store_codec::encode_history_key(r.name, slot->seq),
                       store_codec::encode_history_entry(entry));
        !s) {
      return s;
    }
    Status s = r.target ? w.put(store->refs, r.name,
                                store_codec::encode_ref_value({*r.target, slot->time}))
                        : w.del(store->refs, r.name);
    if (!s) return s;
  }
  return {};
}

Status Batch::State::apply_meta(WriteCtx& w) const {
  for (const auto& [key, value] : metas) {
    Status s = value ? w.put(store->meta, key, *value) : w.del(store->meta, key);
    if (!s) return s;
  }
  return {};
}

void Batch::set_ref(std::string name, std::optional<Digest> target, std::string note) {
  state_->refs.push_back({std::move(name), target, std::move(note)});
}

void Batch::set_meta(std::string key, std::optional<std::string> value) {
  state_->metas.emplace_back(std::move(key), std::move(value));
}

Status Store::set_ref(std::string name, std::optional<Digest> target, std::string note) {
  if (auto s = check_ref_name(name); !s) return s;
  auto batch = begin_batch();
  if (!batch) return fail(batch.error());
  batch->set_ref(std::move(name), target, std::move(note));
  return batch->commit();
}

Result<Digest> Store::get_ref(std::string_view name) const {
  auto state = ref_state(name);
  if (!state) return fail(state.error());
  return *state->target;
}

Result<RefUpdate> Store::ref_state(std::string_view name) const {
  return impl_->read([&](MDB_txn* txn) -> Result<RefUpdate> {
    auto value = lmdb::get(txn, impl_->refs, name);
    if (!value) return fail(value.error());
    if (!*value) return fail(Code::not_found, "ref '" + std::string(name) + "' is not set");
    auto ref = store_codec::decode_ref_value(name, **value);
    if (!ref) return fail(ref.error());
    RefUpdate u;
    u.target = ref->target;
    u.time = ref->time;
    return u;
  });
}

Result<std::vector<std::pair<std::string, Digest>>> Store::list_refs(
    std::string_view prefix) const {
  using List = std::vector<std::pair<std::string, Digest>>;
  return impl_->read([&](MDB_txn* txn) -> Result<List> {
    List out;
    auto s = lmdb::scan(txn, impl_->refs, prefix, [&](auto name, auto value) -> Status {
      auto ref = store_codec::decode_ref_value(name, value);
      if (!ref) return fail(ref.error());
      out.emplace_back(std::string(name), ref->target);
      return {};
    });
    if (!s) return fail(s.error());
    return out;
  });
}

Result<std::vector<RefUpdate>> Store::ref_history(std::string_view name) const {
  return impl_->read([&](MDB_txn* txn) -> Result<std::vector<RefUpdate>> {
    std::vector<RefUpdate> out;
    const std::string prefix = store_codec::history_key_prefix(name);
    auto s = lmdb::scan(txn, impl_->history, prefix, [&](auto k, auto value) -> Status {
      auto key = store_codec::decode_history_key(k);
      if (!key) return fail(key.error());
      auto update = store_codec::decode_history_entry(*key, value);
      if (!update) return fail(update.error());
      out.push_back(std::move(*update));
      return {};
    });
    if (!s) return fail(s.error());
    return out;
  });
}

Status Store::set_meta(std::string key, std::optional<std::string> value) {
  if (auto s = check_ref_name(key); !s) return s;
  auto batch = begin_batch();
  if (!batch) return fail(batch.error());
  batch->set_meta(std::move(key), std::move(value));
  return batch->commit();
}

Result<std::string> Store::get_meta(std::string_view key) const {
  return impl_->read([&](MDB_txn* txn) -> Result<std::string> {
    auto value = lmdb::get(txn, impl_->meta, key);
    if (!value) return fail(value.error());
    if (!*value) return fail(Code::not_found, "no value for '" + std::string(key) + "'");
    return std::string(**value);
  });
}

Result<std::vector<std::pair<std::string, std::string>>> Store::list_meta(
    std::string_view prefix) const {
  using List = std::vector<std::pair<std::string, std::string>>;
  return impl_->read([&](MDB_txn* txn) -> Result<List> {
    List out;
    auto s = lmdb::scan(txn, impl_->meta, prefix, [&](auto key, auto value) -> Status {
      out.emplace_back(std::string(key), std::string(value));
      return {};
    });
    if (!s) return fail(s.error());
    return out;
  });
}

}  // namespace airlock
