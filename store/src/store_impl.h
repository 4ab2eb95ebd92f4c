// Private to the store: the LMDB environment behind a Store (Store::Impl) and
// the state of a Batch, shared by the files that implement them.
//
// Who writes which table: object_writer.cpp the objects table,
// snapshot_index.cpp the snapshots table, refs.cpp the refs, ref_history and
// meta tables; each record's bytes come from codec.h.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "airlock/store/store.h"
#include "codec.h"
#include "lmdb.h"

namespace airlock {

// Largest snapshot JSON the store reads back into memory.
constexpr std::uint64_t kMaxSnapshotSize = 1ull << 30;

// Ref names and meta keys: 1-255 bytes without NUL, else invalid_input.
Status check_ref_name(std::string_view name);

// What reader gives, to its end, once finish() confirmed it.
Result<std::string> read_all(ObjectReader& reader);

// Parses the snapshot object id (its bytes at file) a piece at a time as it
// is read and re-hashed, never holding its bytes whole: the refusals of
// Store::read first (limit, corrupt), then the parser's (in context
// "snapshot ID"). A visitor's error is returned as it is.
Result<Snapshot> read_snapshot(ObjectFile file, const Digest& id, Snapshot::Canonical canonical,
                               const SnapshotVisitor* visitor = nullptr);

using store_codec::PackPlace;

// The LMDB writes of one transaction. Remembers whether the map ran full, so
// that Store::Impl::write can grow it and run the transaction again.
struct WriteCtx {
  MDB_txn* txn;
  bool map_full = false;

  Status put(MDB_dbi dbi, std::string_view key, std::string_view value);
  Status del(MDB_dbi dbi, std::string_view key);  // success when there is no such key
};

struct Store::Impl {
  std::filesystem::path dir, objects_dir, packs_dir, tmp_dir, index_dir, lock_path, dirty_path;
  Env* env = nullptr;
  bool read_only = false;
  // New objects are written to unnamed files (O_TMPFILE) until one cannot be made.
  bool unnamed_files = true;
  MDB_env* mdb = nullptr;
  MDB_dbi objects{}, packed{}, packs{}, snapshots{}, refs{}, history{}, meta{};
  // A store made before packs, opened read-only, has neither packs table.
  bool has_packs = true;
  mutable std::shared_mutex map_mutex;  // shared: any transaction; unique: map resize

  ~Impl();

  // Opens the LMDB environment under index_dir and its tables (creating
  // them unless read-only). The paths, env and read_only must be set.
  Status open_index(std::size_t initial_map_size);

  std::filesystem::path object_path(const Digest& id) const;
  std::filesystem::path pack_path(std::uint64_t number) const;
  // Opens an indexed object: its own file, or its range of a pack;
  // not_found when it is not indexed.
  Result<ObjectFile> open_object(const Digest& id) const;
  Result<ObjectFile> open_object(const ObjectInfo& info,
                                 const std::optional<PackPlace>& place) const;
  // Makes the 256 shard directories objects/00 to objects/ff unless the
  // last of them exists, so that writing an object never has to.
  Status make_shards();

  // Runs f(MDB_txn*) inside a read transaction and returns what it returns;
  // the transaction ends when f does, so f must not keep views into it.
  template <class F>
  auto read(F&& f) const -> decltype(f(std::declval<MDB_txn*>())) {
    for (int attempt = 0;; ++attempt) {
      std::shared_lock lk(map_mutex);
      MDB_txn* raw = nullptr;
      int rc = mdb_txn_begin(mdb, nullptr, MDB_RDONLY, &raw);
      if (rc == MDB_MAP_RESIZED && attempt < 8) {
        lk.unlock();
        adopt_map_size();
        continue;
      }
      if (rc != 0) return lmdb::fail_rc("read", rc);
      lmdb::Txn txn(raw);
      return f(raw);
    }
  }

  // Runs f inside a write transaction and commits it, growing the map and
  // running f again from the start when the map runs full; f must therefore
  // have no effect outside the transaction. refused when read-only.
  Status write(const std::function<Status(WriteCtx&)>& f);

  // The object's index entry, nullopt when it is not indexed.
  Result<std::optional<ObjectInfo>> lookup(MDB_txn* txn, const Digest& id) const;
  Result<std::optional<ObjectInfo>> lookup(const Digest& id) const;
  // A packed object's place; nullopt when the object has a file of its own.
  Result<std::optional<PackPlace>> place(MDB_txn* txn, const Digest& id) const;
  // The number the next pack gets: one more than the last indexed.
  Result<std::uint64_t> next_pack() const;

  // The writer lock on lock_path, held while the descriptor is open. Without
  // wait, refused when another writer holds it.
  Result<UniqueFd> lock_writer(bool wait) const;

  // Removes what a dead writer left: every temporary file and, when the
  // dirty marker says a batch did not finish, the object files and packs
  // the index does not name. The caller holds the writer lock.
  Status sweep();

 private:
  void adopt_map_size() const;
  Status grow_map();
  Status open_tables();
};

struct Batch::State {
  Store::Impl* store = nullptr;
  UniqueFd lock;
  BatchOptions options;
  static constexpr std::uint64_t kNotPacked = ~0ull;
  struct Object {
    std::uint64_t size = 0;
    std::uint64_t pack_offset = kNotPacked;  // in this batch's pack
  };
  std::map<Digest, Object> objects;  // finished in this batch (new or deduplicated)
  // The batch's pack: small new objects, back to back, written unnamed (or
  // as a temporary file) and named at commit.
  struct Pack {
    UniqueFd fd;
    std::filesystem::path tmp;  // empty for an unnamed file
    std::uint64_t length = 0;   // bytes of the objects it holds
    std::uint64_t written = 0;  // of which handed to the file
    std::string buffer;         // the rest
    std::size_t objects = 0;
    std::optional<std::uint64_t> number;  // once named
  };
  std::optional<Pack> pack;
  struct Pending {
    Digest id;
    std::filesystem::path tmp;  // verified bytes, waiting in tmp/ for commit
  };
  std::vector<Pending> pending;    // new objects, in the order they were finished
  std::vector<Digest> placed;      // under objects/, not yet indexed
  std::vector<Digest> linked_now;  // named under objects/ as finished, not yet durable
  bool new_shard = false;          // a shard directory was made again
  std::vector<SnapshotInfo> snapshots;
  struct RefChange {
    std::string name;
    std::optional<Digest> target;
    std::string note;
  };
  std::vector<RefChange> refs;
  std::vector<std::pair<std::string, std::optional<std::string>>> metas;
  bool marker = false;
  bool spent = false;
  // Set when writing the pack or placing objects failed: what the batch
  // holds is no longer known to be on disk, so it takes nothing more.
  std::optional<Error> broken;
  Error broken_error() const {
    return {broken->code, "the batch failed earlier and takes nothing more: " + broken->message};
  }

  // Unless spent, removes every file this batch wrote: none of it is indexed.
  ~State();

  // An object of this batch or the store, opened where its bytes are now;
  // nullopt when in neither.
  Result<std::optional<ObjectFile>> open(const Digest& id);
  // The size of an object in this batch or the store, nullopt when in neither.
  Result<std::optional<std::uint64_t>> size_of(const Digest& id) const;
  // Appends a new small object to the pack.
  Status add_to_pack(const Digest& id, std::string_view bytes);
  // Hands the pack's buffered bytes to its file.
  Status flush_pack();

  // Gives a new object its name under objects/ with put(final path), after
  // setting the dirty marker that lets the next open sweep it should the
  // index never name it; commit makes it durable.
  Status land(const Digest& id, const std::function<Status(const std::filesystem::path&)>& put);
  // land() for an unnamed file.
  Status name_object(int fd, const Digest& id);
  // Makes every new object durable and moves pending ones under objects/,
  // and names the pack (setting the marker first).
  Status place_pending();
  // refused unless every entry's object is in the batch or the store, with
  // the size the entry states.
  Status check_snapshot(const Snapshot& snap) const;

  // The steps of commit's one transaction, in this order. Each may run more
  // than once (see Store::Impl::write).
  Status index_objects(WriteCtx& w, TimePoint now) const;
  Status index_snapshots(WriteCtx& w) const;
  Status apply_ref_changes(WriteCtx& w, TimePoint now) const;
  Status apply_meta(WriteCtx& w) const;

 private:
  Status ensure_marker();
  Status name_pack(std::uint64_t number);
};

}  // namespace airlock
