#include "airlock/store/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <mutex>
#include <shared_mutex>

#include "lmdb.h"

namespace airlock {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::size_t kMaxRefName = 255;
// Batches with more new objects than this flush the filesystem once at commit
// instead of fsyncing every file.
constexpr std::size_t kGroupSyncThreshold = 8;
constexpr std::uint64_t kWritebackStep = 16ull << 20;

void put_le64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint64_t get_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

std::string encode_object(std::uint64_t size, TimePoint first_seen) {
  std::string v(16, '\0');
  auto* p = reinterpret_cast<std::uint8_t*>(v.data());
  put_le64(p, size);
  put_le64(p + 8, static_cast<std::uint64_t>(first_seen.time_since_epoch().count()));
  return v;
}

Result<ObjectInfo> decode_object(const Digest& id, const MDB_val& v) {
  if (v.mv_size != 16) {
    return fail(Code::corrupt, "index entry for " + id.hex() + " has " +
                                   std::to_string(v.mv_size) + " bytes, expected 16");
  }
  auto* p = static_cast<const std::uint8_t*>(v.mv_data);
  ObjectInfo info;
  info.id = id;
  info.size = get_le64(p);
  info.first_seen = TimePoint(std::chrono::seconds(static_cast<std::int64_t>(get_le64(p + 8))));
  return info;
}

std::string history_key(std::string_view name, std::uint64_t seq) {
  std::string k(name);
  k.push_back('\0');
  for (int i = 7; i >= 0; --i) k.push_back(static_cast<char>(seq >> (8 * i)));
  return k;
}

// A ref's value: the target digest, then its update time (LE seconds).
std::optional<Digest> ref_target(const MDB_val& v) {
  if (v.mv_size != Digest::kSize + 8) return std::nullopt;
  auto d = Digest::from_raw(std::span(static_cast<const std::uint8_t*>(v.mv_data), Digest::kSize));
  if (!d) return std::nullopt;
  return *d;
}

Status check_ref_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxRefName ||
      name.find('\0') != std::string_view::npos) {
    return fail(Code::invalid_input, "ref name must be 1-255 bytes without NUL");
  }
  return {};
}

// Collects the LMDB writes of one transaction and remembers whether the map
// ran full, so the caller can grow it and retry.
struct WriteCtx {
  MDB_txn* txn;
  bool map_full = false;

  Status put(MDB_dbi dbi, MDB_val key, MDB_val value) {
    int rc = mdb_put(txn, dbi, &key, &value, 0);
    if (rc == MDB_MAP_FULL) map_full = true;
    if (rc != 0) return lmdb::fail_rc("put", rc);
    return {};
  }
  Status del(MDB_dbi dbi, MDB_val key) {
    int rc = mdb_del(txn, dbi, &key, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb::fail_rc("delete", rc);
    return {};
  }
};

Result<std::string> read_verified(int fd, const Digest& id, std::uint64_t max_size,
                                  const fs::path& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return fail_errno(path.string());
  if (static_cast<std::uint64_t>(st.st_size) > max_size) {
    return fail(Code::limit, "object " + id.hex() + " has " + std::to_string(st.st_size) +
                                 " bytes, more than the limit of " + std::to_string(max_size));
  }
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t used = 0;
  while (used < out.size()) {
    ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno(path.string());
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  out.resize(used);
  Digest actual = sha256(out);
  if (actual != id) {
    return fail(Code::corrupt, "object " + path.string() + " is corrupt: expected sha256 " +
                                   id.hex() + ", actual " + actual.hex());
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Store::Impl

struct Store::Impl {
  fs::path dir, objects_dir, tmp_dir, index_dir, lock_path, dirty_path;
  Env* env = nullptr;
  bool read_only = false;
  MDB_env* mdb = nullptr;
  MDB_dbi objects{}, snapshots{}, refs{}, history{}, meta{};
  mutable std::shared_mutex map_mutex;  // shared: any transaction; unique: map resize

  ~Impl() {
    if (mdb) mdb_env_close(mdb);
  }

  fs::path object_path(const Digest& id) const {
    auto hex = id.hex();
    return objects_dir / hex.substr(0, 2) / hex;
  }

  void adopt_map_size() const {
    std::unique_lock lk(map_mutex);
    mdb_env_set_mapsize(mdb, 0);
  }

  Status grow_map() {
    std::unique_lock lk(map_mutex);
    MDB_envinfo info;
    mdb_env_info(mdb, &info);
    int rc = mdb_env_set_mapsize(mdb, info.me_mapsize * 2);
    if (rc != 0) return lmdb::fail_rc("resize", rc);
    return {};
  }

  // Runs f inside a read transaction.
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
  // retrying from the start when it runs full.
  Status write(const std::function<Status(WriteCtx&)>& f) {
    if (read_only) return fail(Code::refused, "store " + dir.string() + " is open read-only");
    for (int attempt = 0; attempt < 48; ++attempt) {
      std::shared_lock lk(map_mutex);
      MDB_txn* raw = nullptr;
      int rc = mdb_txn_begin(mdb, nullptr, 0, &raw);
      if (rc == MDB_MAP_RESIZED) {
        lk.unlock();
        adopt_map_size();
        continue;
      }
      if (rc != 0) return lmdb::fail_rc("begin", rc);
      lmdb::Txn txn(raw);
      WriteCtx ctx{raw};
      if (auto s = f(ctx); !s) {
        if (!ctx.map_full) return s;
        txn = lmdb::Txn();
        lk.unlock();
        if (auto g = grow_map(); !g) return g;
        continue;
      }
      rc = txn.commit();
      if (rc == MDB_MAP_FULL) {
        lk.unlock();
        if (auto g = grow_map(); !g) return g;
        continue;
      }
      if (rc != 0) return lmdb::fail_rc("commit", rc);
      return {};
    }
    return fail(Code::limit, "index of " + dir.string() + " could not grow large enough");
  }

  Result<std::optional<ObjectInfo>> lookup(MDB_txn* txn, const Digest& id) const {
    MDB_val k = lmdb::val(id.span()), v;
    int rc = mdb_get(txn, objects, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<ObjectInfo>{};
    if (rc != 0) return lmdb::fail_rc("get", rc);
    auto info = decode_object(id, v);
    if (!info) return fail(info.error());
    return std::optional<ObjectInfo>(*info);
  }

  Result<std::optional<ObjectInfo>> lookup(const Digest& id) const {
    return read([&](MDB_txn* txn) { return lookup(txn, id); });
  }

  Result<UniqueFd> lock_writer(bool wait) const {
    auto fd = env->open(lock_path, O_RDWR | O_CREAT, 0644);
    if (!fd) return fail(fd.error());
    int rc;
    do {
      rc = ::flock(fd->get(), LOCK_EX | (wait ? 0 : LOCK_NB));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      if (errno == EWOULDBLOCK) return fail(Code::refused, "store is busy");
      return fail_errno("lock " + lock_path.string());
    }
    return std::move(*fd);
  }

  // Removes what a dead writer left: every temporary file, and, when the
  // dirty marker says a batch did not finish, object files the index does
  // not name. Caller holds the writer lock.
  Status sweep() {
    std::error_code ec;
    for (auto& entry : fs::directory_iterator(tmp_dir, ec)) (void)env->remove(entry.path());
    if (!fs::exists(dirty_path)) return {};
    for (auto& shard : fs::directory_iterator(objects_dir, ec)) {
      if (!shard.is_directory()) continue;
      for (auto& file : fs::directory_iterator(shard.path(), ec)) {
        auto id = Digest::parse(file.path().filename().string());
        if (!id) continue;  // not ours; leave it alone
        auto found = lookup(*id);
        if (!found) return fail(found.error());
        if (!*found) (void)env->remove(file.path());
      }
    }
    if (auto s = env->remove(dirty_path); !s && s.error().code != Code::not_found) return s;
    return {};
  }
};

// ---------------------------------------------------------------------------
// ObjectSink

struct ObjectSink::State {
  Store::Impl* store = nullptr;
  UniqueFd fd;
  fs::path tmp;
  Hasher hasher;
  std::uint64_t size = 0;
  std::optional<Digest> expected;
  std::optional<std::uint64_t> expected_size;
  std::optional<Error> failed;
  std::uint64_t flushed = 0;  // bytes handed to writeback early

  ~State() {
    fd.reset();
    if (!tmp.empty()) (void)store->env->remove(tmp);
  }
};

ObjectSink::ObjectSink(std::unique_ptr<State> state) : state_(std::move(state)) {}
ObjectSink::~ObjectSink() = default;
ObjectSink::ObjectSink(ObjectSink&&) noexcept = default;
ObjectSink& ObjectSink::operator=(ObjectSink&&) noexcept = default;

Status ObjectSink::write(std::span<const std::uint8_t> bytes) {
  auto& st = *state_;
  if (st.failed) return fail(*st.failed);
  if (st.expected_size && st.size + bytes.size() > *st.expected_size) {
    st.failed = Error{Code::limit, "object is larger than the declared " +
                                       std::to_string(*st.expected_size) + " bytes"};
    return fail(*st.failed);
  }
  if (auto s = st.store->env->write(st.fd.get(), bytes); !s) {
    st.failed = s.error().context("writing object to " + st.tmp.string());
    return fail(*st.failed);
  }
  st.hasher.update(bytes);
  st.size += bytes.size();
  // Start writeback as large objects arrive, so the flush at commit finds
  // little left to write and the disk works while the caller produces bytes.
  if (st.size - st.flushed >= kWritebackStep) {
    st.store->env->start_writeback(st.fd.get(), st.flushed, st.size - st.flushed);
    st.flushed = st.size;
  }
  return {};
}

Status ObjectSink::write(std::string_view bytes) {
  return write(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

std::uint64_t ObjectSink::size() const { return state_->size; }

// ---------------------------------------------------------------------------
// Batch

struct Batch::State {
  Store::Impl* store = nullptr;
  UniqueFd lock;
  std::map<Digest, std::uint64_t> objects;  // finished in this batch (new or deduplicated)
  struct Pending {
    Digest id;
    fs::path tmp;  // verified bytes, waiting in tmp/ for commit
  };
  std::vector<Pending> pending;  // new objects, in the order they were finished
  std::vector<Digest> placed;    // renamed into objects/ during commit, not yet indexed
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

  ~State() {
    if (spent || store == nullptr) return;
    // Abort: remove what this batch wrote; none of it is indexed.
    for (const auto& p : pending) (void)store->env->remove(p.tmp);
    for (const auto& id : placed) (void)store->env->remove(store->object_path(id));
    if (marker) (void)store->env->remove(store->dirty_path);
  }

  Status ensure_marker() {
    if (marker) return {};
    auto fd = store->env->open(store->dirty_path, O_WRONLY | O_CREAT, 0644);
    if (!fd) return fail(fd.error());
    marker = true;
    fd->reset();
    return store->env->sync_dir(store->dir);
  }

  // Where an object's bytes are now: its temporary file while pending, else its place.
  fs::path path_of(const Digest& id) const {
    for (const auto& p : pending) {
      if (p.id == id) return p.tmp;
    }
    return store->object_path(id);
  }

  // Makes every pending object durable, then moves it into place. Small
  // batches fsync file by file; larger ones flush the filesystem once
  // (group commit), which costs one flush instead of one per object.
  Status place_pending() {
    if (pending.empty()) return {};
    Env& env = *store->env;
    const bool group = pending.size() > kGroupSyncThreshold;
    if (group) {
      if (auto s = env.sync_filesystem(store->tmp_dir); !s) return s;
    } else {
      for (const auto& p : pending) {
        auto fd = open_file(p.tmp, O_RDONLY);
        if (!fd) return fail(fd.error());
        if (auto s = env.sync(fd->get(), p.tmp.string()); !s) return s;
      }
    }
    if (auto s = ensure_marker(); !s) return s;
    std::vector<fs::path> dirs;
    bool new_shard = false;
    for (const auto& p : pending) {
      auto final_path = store->object_path(p.id);
      auto shard = final_path.parent_path();
      if (::access(shard.c_str(), F_OK) != 0) {
        if (auto s = env.make_dir(shard); !s) return s;
        new_shard = true;
      }
      if (auto s = env.rename(p.tmp, final_path); !s) return s;
      placed.push_back(p.id);
      if (std::find(dirs.begin(), dirs.end(), shard) == dirs.end()) dirs.push_back(shard);
    }
    pending.clear();
    if (group) return env.sync_filesystem(store->objects_dir);
    if (new_shard) dirs.push_back(store->objects_dir);
    for (const auto& d : dirs) {
      if (auto s = env.sync_dir(d); !s) return s;
    }
    return {};
  }

  // The size of an object in this batch or the store, if present.
  Result<std::optional<std::uint64_t>> size_of(const Digest& id) const {
    if (auto it = objects.find(id); it != objects.end()) return std::optional(it->second);
    auto info = store->lookup(id);
    if (!info) return fail(info.error());
    if (!*info) return std::optional<std::uint64_t>{};
    return std::optional((*info)->size);
  }

  Status check_snapshot(const Snapshot& snap) const {
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
};

Batch::Batch(std::unique_ptr<State> state) : state_(std::move(state)) {}
Batch::~Batch() = default;
Batch::Batch(Batch&&) noexcept = default;
Batch& Batch::operator=(Batch&&) noexcept = default;

Result<ObjectSink> Batch::begin_object(std::optional<Digest> expected,
                                       std::optional<std::uint64_t> expected_size) {
  if (state_->spent) return fail(Code::invalid_input, "batch already committed");
  auto* store = state_->store;
  auto sink = std::make_unique<ObjectSink::State>();
  sink->store = store;
  sink->expected = expected;
  sink->expected_size = expected_size;
  auto tmp = store->env->create_temp(store->tmp_dir, "obj-", 0644);
  if (!tmp) return fail(tmp.error());
  sink->fd = std::move(tmp->fd);
  sink->tmp = std::move(tmp->path);
  return ObjectSink(std::move(sink));
}

Result<Digest> Batch::finish_object(ObjectSink sink) {
  auto& st = *sink.state_;
  if (st.failed) return fail(*st.failed);
  if (st.expected_size && st.size != *st.expected_size) {
    return fail(Code::corrupt, "object has " + std::to_string(st.size) + " bytes, expected " +
                                   std::to_string(*st.expected_size));
  }
  Digest id = st.hasher.finish();
  if (st.expected && id != *st.expected) {
    return fail(Code::corrupt,
                "object content does not match: expected sha256 " + st.expected->hex() +
                    ", actual " + id.hex());
  }
  // Already present: deduplicated, the temporary file goes with the sink.
  auto known = state_->size_of(id);
  if (!known) return fail(known.error());
  if (*known) {
    state_->objects.emplace(id, st.size);
    return id;
  }
  st.fd.reset();
  state_->pending.push_back({id, std::exchange(st.tmp, {})});
  state_->objects.emplace(id, st.size);
  return id;
}

Result<Digest> Batch::put_bytes(std::string_view bytes, std::optional<Digest> expected) {
  auto sink = begin_object(expected, {});
  if (!sink) return fail(sink.error());
  if (auto s = sink->write(bytes); !s) return fail(s.error());
  return finish_object(std::move(*sink));
}

Result<Digest> Batch::put_fd(int fd, std::optional<Digest> expected,
                             std::optional<std::uint64_t> expected_size) {
  auto sink = begin_object(expected, expected_size);
  if (!sink) return fail(sink.error());
  auto s = read_chunks(fd, [&](std::span<const std::uint8_t> chunk) { return sink->write(chunk); });
  if (!s) return fail(s.error());
  return finish_object(std::move(*sink));
}

Result<Digest> Batch::adopt_file(const fs::path& file, const Digest& id, std::uint64_t size) {
  auto& st = *state_;
  if (st.spent) return fail(Code::invalid_input, "batch already committed");
  std::error_code ec;
  auto actual = fs::file_size(file, ec);
  if (ec) return fail(Code::io, file.string() + ": " + ec.message());
  if (actual != size) {
    return fail(Code::corrupt, file.string() + " has " + std::to_string(actual) + " bytes, expected " +
                                   std::to_string(size));
  }
  auto known = st.size_of(id);
  if (!known) return fail(known.error());
  Env& env = *st.store->env;
  if (*known) {
    st.objects.emplace(id, size);
    (void)env.remove(file);
    return id;
  }
  struct stat from, to;
  if (::stat(file.c_str(), &from) != 0) return fail_errno(file.string());
  if (::stat(st.store->tmp_dir.c_str(), &to) != 0) return fail_errno(st.store->tmp_dir.string());
  if (from.st_dev != to.st_dev) {  // another filesystem: copy and hash
    auto in = open_file(file, O_RDONLY);
    if (!in) return fail(in.error());
    auto copied = put_fd(in->get(), id, size);
    if (copied) (void)env.remove(file);
    return copied;
  }
  // Named by its digest: unique within this batch, which holds the writer lock.
  const fs::path tmp = st.store->tmp_dir / ("adopt-" + id.hex());
  if (auto s = env.rename(file, tmp); !s) return fail(s.error().context("move " + file.string()));
  if (auto s = env.chmod(tmp, 0644); !s) return fail(s.error());
  st.pending.push_back({id, tmp});
  st.objects.emplace(id, size);
  return id;
}

Result<Digest> Batch::add_snapshot(const Snapshot& snapshot) {
  auto text = snapshot.to_canonical_json();
  if (!text) return fail(text.error());
  if (auto s = state_->check_snapshot(snapshot); !s) return fail(s.error());
  auto id = put_bytes(*text);
  if (!id) return id;
  state_->snapshots.push_back(SnapshotInfo{*id, snapshot.repo, snapshot.kind, snapshot.synced_at,
                                           snapshot.entries.size(), snapshot.total_size()});
  return id;
}

Status Batch::register_snapshot(const Digest& id) {
  auto size = state_->size_of(id);
  if (!size) return fail(size.error());
  if (!*size) return fail(Code::refused, "snapshot " + id.hex() + " is not in the store");
  auto path = state_->path_of(id);
  auto fd = open_file(path, O_RDONLY);
  if (!fd) return fail(fd.error());
  auto text = read_verified(fd->get(), id, 1ull << 30, path);
  if (!text) return fail(text.error());
  auto snap = Snapshot::parse(*text);
  if (!snap) return fail(snap.error().context("snapshot " + id.hex()));
  if (auto s = state_->check_snapshot(*snap); !s) return s;
  state_->snapshots.push_back(
      SnapshotInfo{id, snap->repo, snap->kind, snap->synced_at, snap->entries.size(), snap->total_size()});
  return {};
}

void Batch::set_ref(std::string name, std::optional<Digest> target, std::string note) {
  state_->refs.push_back({std::move(name), target, std::move(note)});
}

void Batch::set_meta(std::string key, std::optional<std::string> value) {
  state_->metas.emplace_back(std::move(key), std::move(value));
}

bool Batch::contains(const Digest& id) const {
  auto size = state_->size_of(id);
  return size && size->has_value();
}

std::size_t Batch::object_count() const { return state_->objects.size(); }

std::vector<std::pair<Digest, fs::path>> Batch::pending_files() const {
  std::vector<std::pair<Digest, fs::path>> out;
  for (const auto& p : state_->pending) out.emplace_back(p.id, p.tmp);
  return out;
}

Status Batch::commit() {
  auto& st = *state_;
  if (st.spent) return fail(Code::invalid_input, "batch already committed");
  for (const auto& r : st.refs) {
    if (auto s = check_ref_name(r.name); !s) return s;
  }
  for (const auto& m : st.metas) {
    if (auto s = check_ref_name(m.first); !s) return s;
  }
  auto* store = st.store;
  if (auto s = st.place_pending(); !s) return s;
  TimePoint now = store->env->now();
  auto status = store->write([&](WriteCtx& w) -> Status {
    for (const auto& [id, size] : st.objects) {
      auto existing = store->lookup(w.txn, id);
      if (!existing) return fail(existing.error());
      if (*existing) continue;  // keep the first-seen time
      if (auto s = w.put(store->objects, lmdb::val(id.span()), lmdb::val(encode_object(size, now)));
          !s) {
        return s;
      }
    }
    for (const auto& snap : st.snapshots) {
      MDB_val k = lmdb::val(snap.id.span()), existing;
      if (mdb_get(w.txn, store->snapshots, &k, &existing) == 0) continue;  // keep its place
      // seq orders snapshots recorded within the same second.
      MDB_stat stat;
      if (int rc = mdb_stat(w.txn, store->snapshots, &stat); rc != 0) return lmdb::fail_rc("stat", rc);
      json info{{"repo", snap.repo},         {"kind", snap.kind},
                {"synced_at", format_time(snap.synced_at)}, {"entries", snap.entries},
                {"bytes", snap.bytes},       {"seq", stat.ms_entries}};
      if (auto s = w.put(store->snapshots, k, lmdb::val(info.dump())); !s) return s;
    }
    for (const auto& r : st.refs) {
      // Next history number: one past the last entry for this name. Update
      // times strictly increase per ref, so that a time names one state
      // (HTTP Last-Modified has whole seconds).
      std::uint64_t seq = 1;
      TimePoint when = now;
      {
        lmdb::Cursor cur(w.txn, store->history);
        if (cur.status() != 0) return lmdb::fail_rc("cursor", cur.status());
        std::string probe = r.name;
        probe.push_back('\x01');
        MDB_val k = lmdb::val(probe), v;
        int rc = cur.get(&k, &v, MDB_SET_RANGE);
        rc = rc == 0 ? cur.get(&k, &v, MDB_PREV) : cur.get(&k, &v, MDB_LAST);
        std::string prefix = r.name + '\0';
        if (rc == 0 && lmdb::view(k).starts_with(prefix) && k.mv_size == prefix.size() + 8) {
          auto* p = static_cast<const std::uint8_t*>(k.mv_data) + prefix.size();
          std::uint64_t last = 0;
          for (int i = 0; i < 8; ++i) last = last << 8 | p[i];
          seq = last + 1;
          json prev = json::parse(lmdb::view(v), nullptr, false);
          if (prev.is_object()) {
            if (auto t = parse_time(prev.value("time", "")); t && *t >= when) when = *t + std::chrono::seconds(1);
          }
        }
      }
      json entry{{"target", r.target ? json(r.target->hex()) : json(nullptr)},
                 {"time", format_time(when)},
                 {"note", r.note}};
      if (auto s = w.put(store->history, lmdb::val(history_key(r.name, seq)), lmdb::val(entry.dump()));
          !s) {
        return s;
      }
      std::string value;
      if (r.target) {
        value.assign(reinterpret_cast<const char*>(r.target->bytes().data()), Digest::kSize);
        std::string t(8, '\0');
        put_le64(reinterpret_cast<std::uint8_t*>(t.data()),
                 static_cast<std::uint64_t>(when.time_since_epoch().count()));
        value += t;
      }
      Status s = r.target ? w.put(store->refs, lmdb::val(r.name), lmdb::val(value))
                          : w.del(store->refs, lmdb::val(r.name));
      if (!s) return s;
    }
    for (const auto& [key, value] : st.metas) {
      Status s = value ? w.put(store->meta, lmdb::val(key), lmdb::val(*value))
                       : w.del(store->meta, lmdb::val(key));
      if (!s) return s;
    }
    return {};
  });
  if (!status) return status;
  st.spent = true;
  if (st.marker) (void)store->env->remove(store->dirty_path);
  st.lock.reset();
  return {};
}

// ---------------------------------------------------------------------------
// Store

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const fs::path& Store::dir() const { return impl_->dir; }

Result<std::unique_ptr<Store>> Store::open(const fs::path& dir, StoreOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->objects_dir = dir / "objects";
  impl->tmp_dir = dir / "tmp";
  impl->index_dir = dir / "index";
  impl->lock_path = dir / "lock";
  impl->dirty_path = dir / "dirty";
  impl->env = options.env ? options.env : &Env::system();
  impl->read_only = options.read_only;
  if (!options.read_only) {
    for (const auto& d : {impl->objects_dir, impl->tmp_dir, impl->index_dir}) {
      if (auto s = impl->env->make_dirs(d); !s) return fail(s.error());
    }
  } else if (!fs::is_directory(impl->index_dir)) {
    return fail(Code::not_found, "no store at " + dir.string());
  }
  int rc = mdb_env_create(&impl->mdb);
  if (rc != 0) return lmdb::fail_rc("create", rc);
  mdb_env_set_maxdbs(impl->mdb, 8);
  mdb_env_set_mapsize(impl->mdb, options.initial_map_size);
  unsigned flags = MDB_NOTLS | (options.read_only ? MDB_RDONLY : 0);
  rc = mdb_env_open(impl->mdb, impl->index_dir.c_str(), flags, 0644);
  if (rc != 0) return lmdb::fail_rc("open " + impl->index_dir.string(), rc);

  // Open (and, when writable, create) the tables.
  {
    MDB_txn* raw = nullptr;
    rc = mdb_txn_begin(impl->mdb, nullptr, options.read_only ? MDB_RDONLY : 0, &raw);
    if (rc == MDB_MAP_RESIZED) {
      mdb_env_set_mapsize(impl->mdb, 0);
      rc = mdb_txn_begin(impl->mdb, nullptr, options.read_only ? MDB_RDONLY : 0, &raw);
    }
    if (rc != 0) return lmdb::fail_rc("begin", rc);
    lmdb::Txn txn(raw);
    unsigned create = options.read_only ? 0 : MDB_CREATE;
    struct {
      const char* name;
      MDB_dbi* dbi;
    } tables[] = {{"objects", &impl->objects},
                  {"snapshots", &impl->snapshots},
                  {"refs", &impl->refs},
                  {"ref_history", &impl->history},
                  {"meta", &impl->meta}};
    for (auto& t : tables) {
      rc = mdb_dbi_open(raw, t.name, create, t.dbi);
      if (rc != 0) return lmdb::fail_rc(std::string("open table ") + t.name, rc);
    }
    rc = txn.commit();
    if (rc != 0) return lmdb::fail_rc("commit", rc);
  }

  if (!options.read_only) {
    auto lock = impl->lock_writer(/*wait=*/false);
    if (lock) {
      if (auto s = impl->sweep(); !s) return fail(s.error());
    }
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<bool> Store::contains(const Digest& id) const {
  auto info = impl_->lookup(id);
  if (!info) return fail(info.error());
  return info->has_value();
}

Result<ObjectInfo> Store::stat(const Digest& id) const {
  auto info = impl_->lookup(id);
  if (!info) return fail(info.error());
  if (!*info) return fail(Code::not_found, "object " + id.hex() + " is not in the store");
  return **info;
}

Result<ObjectFile> Store::open_object(const Digest& id) const {
  auto info = stat(id);
  if (!info) return fail(info.error());
  auto path = impl_->object_path(id);
  auto fd = open_file(path, O_RDONLY);
  if (!fd) {
    if (fd.error().code == Code::not_found) {
      return fail(Code::corrupt, "object " + id.hex() + " is indexed but its file " +
                                     path.string() + " is missing");
    }
    return fail(fd.error());
  }
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return fail_errno(path.string());
  if (static_cast<std::uint64_t>(st.st_size) != info->size) {
    return fail(Code::corrupt, "object " + path.string() + " is corrupt: expected " +
                                   std::to_string(info->size) + " bytes, actual " +
                                   std::to_string(st.st_size));
  }
  return ObjectFile{std::move(*fd), info->size};
}

Result<std::string> Store::read(const Digest& id, std::uint64_t max_size) const {
  auto file = open_object(id);
  if (!file) return fail(file.error());
  return read_verified(file->fd.get(), id, max_size, impl_->object_path(id));
}

Status Store::verify_object(const Digest& id) const {
  auto file = open_object(id);
  if (!file) return fail(file.error());
  auto h = hash_fd(file->fd.get());
  if (!h) return fail(h.error());
  if (h->digest != id) {
    return fail(Code::corrupt, "object " + impl_->object_path(id).string() +
                                   " is corrupt: expected sha256 " + id.hex() + ", actual " +
                                   h->digest.hex());
  }
  return {};
}

Result<std::vector<ObjectInfo>> Store::list_objects() const {
  return impl_->read([&](MDB_txn* txn) -> Result<std::vector<ObjectInfo>> {
    std::vector<ObjectInfo> out;
    lmdb::Cursor cur(txn, impl_->objects);
    if (cur.status() != 0) return lmdb::fail_rc("cursor", cur.status());
    MDB_val k, v;
    for (int rc = cur.get(&k, &v, MDB_FIRST); rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
      auto id = Digest::from_raw(std::span(static_cast<const std::uint8_t*>(k.mv_data), k.mv_size));
      if (!id) return fail(Code::corrupt, "index holds a malformed object key");
      auto info = decode_object(*id, v);
      if (!info) return fail(info.error());
      out.push_back(*info);
    }
    return out;
  });
}

Result<std::uint64_t> Store::object_count() const {
  return impl_->read([&](MDB_txn* txn) -> Result<std::uint64_t> {
    MDB_stat st;
    int rc = mdb_stat(txn, impl_->objects, &st);
    if (rc != 0) return lmdb::fail_rc("stat", rc);
    return static_cast<std::uint64_t>(st.ms_entries);
  });
}

Result<Batch> Store::begin_batch() {
  if (impl_->read_only) return fail(Code::refused, "store " + impl_->dir.string() + " is open read-only");
  auto lock = impl_->lock_writer(/*wait=*/true);
  if (!lock) return fail(lock.error());
  auto state = std::make_unique<Batch::State>();
  state->store = impl_.get();
  state->lock = std::move(*lock);
  // A writer that died since this store was opened may have left debris.
  if (auto s = impl_->sweep(); !s) return fail(s.error());
  return Batch(std::move(state));
}

Result<Digest> Store::put_bytes(std::string_view bytes, std::optional<Digest> expected) {
  auto batch = begin_batch();
  if (!batch) return fail(batch.error());
  auto id = batch->put_bytes(bytes, expected);
  if (!id) return id;
  if (auto s = batch->commit(); !s) return fail(s.error());
  return id;
}

Result<Digest> Store::put_fd(int fd, std::optional<Digest> expected,
                             std::optional<std::uint64_t> expected_size) {
  auto batch = begin_batch();
  if (!batch) return fail(batch.error());
  auto id = batch->put_fd(fd, expected, expected_size);
  if (!id) return id;
  if (auto s = batch->commit(); !s) return fail(s.error());
  return id;
}

Result<Digest> Store::put_file(const fs::path& path, std::optional<Digest> expected) {
  auto fd = open_file(path, O_RDONLY);
  if (!fd) return fail(fd.error());
  auto id = put_fd(fd->get(), expected);
  if (!id) return fail(id.error().context(path.string()));
  return id;
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
  auto known = impl_->read([&](MDB_txn* txn) -> Result<bool> {
    MDB_val k = lmdb::val(id.span()), v;
    int rc = mdb_get(txn, impl_->snapshots, &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) return lmdb::fail_rc("get", rc);
    return true;
  });
  if (!known) return fail(known.error());
  if (!*known) return fail(Code::not_found, "no snapshot " + id.hex());
  auto text = read(id, 1ull << 30);
  if (!text) return fail(text.error());
  auto snap = Snapshot::parse(*text);
  if (!snap) return fail(snap.error().context("snapshot " + id.hex()));
  return snap;
}

Result<std::vector<SnapshotInfo>> Store::list_snapshots() const {
  auto list = impl_->read([&](MDB_txn* txn) -> Result<std::vector<SnapshotInfo>> {
    std::vector<SnapshotInfo> out;
    lmdb::Cursor cur(txn, impl_->snapshots);
    if (cur.status() != 0) return lmdb::fail_rc("cursor", cur.status());
    MDB_val k, v;
    for (int rc = cur.get(&k, &v, MDB_FIRST); rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
      auto id = Digest::from_raw(std::span(static_cast<const std::uint8_t*>(k.mv_data), k.mv_size));
      json info = json::parse(lmdb::view(v), nullptr, false);
      if (!id || info.is_discarded() || !info.is_object()) {
        return fail(Code::corrupt, "index holds a malformed snapshot entry");
      }
      auto t = parse_time(info.value("synced_at", ""));
      if (!t) return fail(Code::corrupt, "index holds a malformed snapshot time");
      out.push_back(SnapshotInfo{*id, info.value("repo", ""), info.value("kind", ""), *t,
                                 info.value("entries", std::uint64_t{0}),
                                 info.value("bytes", std::uint64_t{0}), info.value("seq", std::uint64_t{0})});
    }
    return out;
  });
  if (!list) return list;
  std::sort(list->begin(), list->end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    return std::tie(a.synced_at, a.seq) < std::tie(b.synced_at, b.seq);
  });
  return list;
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
    MDB_val k = lmdb::val(name), v;
    int rc = mdb_get(txn, impl_->refs, &k, &v);
    if (rc == MDB_NOTFOUND) return fail(Code::not_found, "ref '" + std::string(name) + "' is not set");
    if (rc != 0) return lmdb::fail_rc("get", rc);
    auto d = ref_target(v);
    if (!d) return fail(Code::corrupt, "ref '" + std::string(name) + "' holds a malformed value");
    RefUpdate u;
    u.target = *d;
    u.time = TimePoint(std::chrono::seconds(
        static_cast<std::int64_t>(get_le64(static_cast<const std::uint8_t*>(v.mv_data) + Digest::kSize))));
    return u;
  });
}

Result<std::vector<std::pair<std::string, Digest>>> Store::list_refs(std::string_view prefix) const {
  using List = std::vector<std::pair<std::string, Digest>>;
  return impl_->read([&](MDB_txn* txn) -> Result<List> {
    List out;
    lmdb::Cursor cur(txn, impl_->refs);
    if (cur.status() != 0) return lmdb::fail_rc("cursor", cur.status());
    MDB_val k = lmdb::val(prefix), v;
    int rc = prefix.empty() ? cur.get(&k, &v, MDB_FIRST) : cur.get(&k, &v, MDB_SET_RANGE);
    for (; rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
      auto name = lmdb::view(k);
      if (!name.starts_with(prefix)) break;
      auto d = ref_target(v);
      if (!d) return fail(Code::corrupt, "ref '" + std::string(name) + "' holds a malformed value");
      out.emplace_back(std::string(name), *d);
    }
    return out;
  });
}

Result<std::vector<RefUpdate>> Store::ref_history(std::string_view name) const {
  return impl_->read([&](MDB_txn* txn) -> Result<std::vector<RefUpdate>> {
    std::vector<RefUpdate> out;
    lmdb::Cursor cur(txn, impl_->history);
    if (cur.status() != 0) return lmdb::fail_rc("cursor", cur.status());
    std::string prefix(name);
    prefix.push_back('\0');
    MDB_val k = lmdb::val(prefix), v;
    for (int rc = cur.get(&k, &v, MDB_SET_RANGE); rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
      auto key = lmdb::view(k);
      if (!key.starts_with(prefix) || key.size() != prefix.size() + 8) break;
      RefUpdate u;
      for (std::size_t i = prefix.size(); i < key.size(); ++i) {
        u.seq = u.seq << 8 | static_cast<std::uint8_t>(key[i]);
      }
      json entry = json::parse(lmdb::view(v), nullptr, false);
      if (entry.is_discarded() || !entry.is_object()) {
        return fail(Code::corrupt, "ref history of '" + std::string(name) + "' is malformed");
      }
      if (entry["target"].is_string()) {
        auto d = Digest::parse(entry["target"].get<std::string>());
        if (!d) return fail(Code::corrupt, "ref history holds a malformed target");
        u.target = *d;
      }
      auto t = parse_time(entry.value("time", ""));
      if (!t) return fail(Code::corrupt, "ref history holds a malformed time");
      u.time = *t;
      u.note = entry.value("note", "");
      out.push_back(std::move(u));
    }
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
    MDB_val k = lmdb::val(key), v;
    int rc = mdb_get(txn, impl_->meta, &k, &v);
    if (rc == MDB_NOTFOUND) return fail(Code::not_found, "no value for '" + std::string(key) + "'");
    if (rc != 0) return lmdb::fail_rc("get", rc);
    return std::string(lmdb::view(v));
  });
}

Result<std::vector<std::pair<std::string, std::string>>> Store::list_meta(std::string_view prefix) const {
  using List = std::vector<std::pair<std::string, std::string>>;
  return impl_->read([&](MDB_txn* txn) -> Result<List> {
    List out;
    lmdb::Cursor cur(txn, impl_->meta);
    if (cur.status() != 0) return lmdb::fail_rc("cursor", cur.status());
    MDB_val k = lmdb::val(prefix), v;
    int rc = prefix.empty() ? cur.get(&k, &v, MDB_FIRST) : cur.get(&k, &v, MDB_SET_RANGE);
    for (; rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
      if (!lmdb::view(k).starts_with(prefix)) break;
      out.emplace_back(std::string(lmdb::view(k)), std::string(lmdb::view(v)));
    }
    return out;
  });
}

Result<ScrubReport> Store::scrub() const {
  auto objects = list_objects();
  if (!objects) return fail(objects.error());
  ScrubReport report;
  for (const auto& info : *objects) {
    auto path = impl_->object_path(info.id);
    ++report.checked;
    auto fd = open_file(path, O_RDONLY);
    if (!fd) {
      if (fd.error().code != Code::not_found) return fail(fd.error());
      report.missing.push_back({info.id, path.string() + ": missing"});
      continue;
    }
    auto h = hash_fd(fd->get());
    if (!h) return fail(h.error().context(path.string()));
    report.bytes += h->size;
    if (h->digest != info.id || h->size != info.size) {
      report.corrupt.push_back(
          {info.id, path.string() + ": expected sha256 " + info.id.hex() + " (" +
                        std::to_string(info.size) + " bytes), actual " + h->digest.hex() + " (" +
                        std::to_string(h->size) + " bytes)"});
    }
  }
  return report;
}

}  // namespace airlock
