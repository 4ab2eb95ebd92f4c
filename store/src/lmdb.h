// RAII over LMDB handles, private to the store.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "airlock/base/error.h"

namespace airlock::lmdb {

inline std::unexpected<Error> fail_rc(std::string_view what, int rc) {
  Code code = rc == MDB_NOTFOUND ? Code::not_found : (rc == MDB_MAP_FULL ? Code::limit : Code::io);
  return fail(code, "index " + std::string(what) + ": " + mdb_strerror(rc));
}

inline MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline MDB_val val(std::span<const std::uint8_t> s) {
  return MDB_val{s.size(), const_cast<std::uint8_t*>(s.data())};
}
inline std::string_view view(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// A transaction that aborts on destruction unless committed.
class Txn {
 public:
  Txn() = default;
  explicit Txn(MDB_txn* txn) : txn_(txn) {}
  ~Txn() {
    if (txn_) mdb_txn_abort(txn_);
  }
  Txn(Txn&& o) noexcept : txn_(std::exchange(o.txn_, nullptr)) {}
  Txn& operator=(Txn&& o) noexcept {
    if (this != &o) {
      if (txn_) mdb_txn_abort(txn_);
      txn_ = std::exchange(o.txn_, nullptr);
    }
    return *this;
  }
  MDB_txn* get() const { return txn_; }
  // Consumes the transaction; returns the LMDB code.
  int commit() { return mdb_txn_commit(std::exchange(txn_, nullptr)); }

 private:
  MDB_txn* txn_ = nullptr;
};

class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi) { rc_ = mdb_cursor_open(txn, dbi, &cur_); }
  ~Cursor() {
    if (cur_) mdb_cursor_close(cur_);
  }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  int status() const { return rc_; }
  int get(MDB_val* k, MDB_val* v, MDB_cursor_op op) { return mdb_cursor_get(cur_, k, v, op); }

 private:
  MDB_cursor* cur_ = nullptr;
  int rc_ = 0;
};

// The value under key, or nullopt when there is none. The view points into
// the map and is valid until the transaction ends.
inline Result<std::optional<std::string_view>> get(MDB_txn* txn, MDB_dbi dbi,
                                                   std::string_view key) {
  MDB_val k = val(key), v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>{};
  if (rc != 0) return fail_rc("get", rc);
  return std::optional(view(v));
}

// Calls f(key, value) -> Status for every record whose key starts with
// prefix (every record for an empty prefix), in key order, and stops at the
// first failure, which it returns. The views are valid during the call only.
template <class F>
Status scan(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix, F&& f) {
  Cursor cur(txn, dbi);
  if (cur.status() != 0) return fail_rc("cursor", cur.status());
  MDB_val k = val(prefix), v;
  // LMDB refuses an empty key for MDB_SET_RANGE.
  int rc = prefix.empty() ? cur.get(&k, &v, MDB_FIRST) : cur.get(&k, &v, MDB_SET_RANGE);
  for (; rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
    if (!view(k).starts_with(prefix)) return {};
    if (Status s = f(view(k), view(v)); !s) return s;
  }
  if (rc != MDB_NOTFOUND) return fail_rc("scan", rc);
  return {};
}

// The last key of the table, nullopt when it is empty. The view is valid
// until the transaction ends.
inline Result<std::optional<std::string_view>> last_key(MDB_txn* txn, MDB_dbi dbi) {
  Cursor cur(txn, dbi);
  if (cur.status() != 0) return fail_rc("cursor", cur.status());
  MDB_val k, v;
  int rc = cur.get(&k, &v, MDB_LAST);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>{};
  if (rc != 0) return fail_rc("last", rc);
  return std::optional(view(k));
}

}  // namespace airlock::lmdb
