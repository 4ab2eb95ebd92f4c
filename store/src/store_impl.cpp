#include "store_impl.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <span>

#include "codec.h"

namespace airlock {
namespace fs = std::filesystem;

namespace {

// fd's size, limit when it is larger than max_size.
Result<std::uint64_t> size_within(int fd, const Digest& id, std::uint64_t max_size,
                                  const fs::path& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return fail_errno(path.string());
  if (static_cast<std::uint64_t>(st.st_size) > max_size) {
    return fail(Code::limit, "object " + id.hex() + " has " + std::to_string(st.st_size) +
                                 " bytes, more than the limit of " + std::to_string(max_size));
  }
  return static_cast<std::uint64_t>(st.st_size);
}

// Up to buf.size() bytes of fd, retrying when interrupted; 0 at its end.
Result<std::size_t> read_some(int fd, std::span<char> buf, const fs::path& path) {
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) return fail_errno(path.string());
  }
}

Status same_digest(const Digest& actual, const Digest& id, const fs::path& path) {
  if (actual == id) return {};
  return fail(Code::corrupt, "object " + path.string() + " is corrupt: expected sha256 " +
                                 id.hex() + ", actual " + actual.hex());
}

}  // namespace

// The buffer holds a small object whole (and sees its end), a large one 1 MiB at a time.
ObjectReader::ObjectReader(UniqueFd fd, const Digest& expected, fs::path path, std::uint64_t size)
    : fd_(std::move(fd)),
      expected_(expected),
      path_(std::move(path)),
      size_(size),
      buf_(static_cast<std::size_t>(std::min<std::uint64_t>(size + 1, 1 << 20)), '\0') {}

Result<ObjectReader> ObjectReader::open(const fs::path& path, const Digest& expected,
                                        std::uint64_t max_size) {
  auto fd = open_file(path, O_RDONLY);
  if (!fd) return fail(fd.error());
  return of(std::move(*fd), path, expected, max_size);
}

Result<ObjectReader> ObjectReader::of(UniqueFd fd, const fs::path& path, const Digest& expected,
                                      std::uint64_t max_size) {
  auto size = size_within(fd.get(), expected, max_size, path);
  if (!size) return fail(size.error());
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return ObjectReader(std::move(fd), expected, path, *size);
}

Result<std::string_view> ObjectReader::next() {
  auto n = read_some(fd_.get(), std::span(buf_), path_);
  if (!n) return fail(n.error());
  std::string_view piece(buf_.data(), *n);
  hasher_.update(piece);
  return piece;
}

Status ObjectReader::finish() {
  for (;;) {
    auto piece = next();
    if (!piece) return fail(piece.error());
    if (piece->empty()) break;
  }
  return same_digest(hasher_.finish(), expected_, path_);
}

Result<Snapshot> read_snapshot(int fd, const Digest& id, const fs::path& path,
                               Snapshot::Canonical canonical, const SnapshotVisitor* visitor) {
  auto size = size_within(fd, id, kMaxSnapshotSize, path);
  if (!size) return fail(size.error());
  std::uint64_t left = *size;
  std::optional<Error> read_error;
  // The visitor's own error, told apart from a bad snapshot.
  std::optional<Error> visit_error;
  SnapshotVisitor noted;
  if (visitor && visitor->entry) {
    noted.entry = [&](SnapshotEntry&& e) -> Status {
      auto s = visitor->entry(std::move(e));
      if (!s) visit_error = s.error();
      return s;
    };
  }
  if (visitor && visitor->package) {
    noted.package = [&](PackageEntry&& p) -> Status {
      auto s = visitor->package(std::move(p));
      if (!s) visit_error = s.error();
      return s;
    };
  }
  Digest actual;
  auto snap = Snapshot::parse(
      [&](std::span<char> buf) -> Result<std::size_t> {
        auto n = read_some(fd, buf.first(std::min<std::uint64_t>(buf.size(), left)), path);
        if (!n) read_error = n.error();
        if (n) left -= *n;
        return n;
      },
      actual, canonical, visitor ? &noted : nullptr);
  if (read_error) return fail(*read_error);
  if (auto s = same_digest(actual, id, path); !s) return fail(s.error());
  if (visit_error) return fail(*visit_error);
  if (!snap) return fail(snap.error().context("snapshot " + id.hex()));
  return snap;
}

Status WriteCtx::put(MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = lmdb::val(key), v = lmdb::val(value);
  int rc = mdb_put(txn, dbi, &k, &v, 0);
  if (rc == MDB_MAP_FULL) map_full = true;
  if (rc != 0) return lmdb::fail_rc("put", rc);
  return {};
}

Status WriteCtx::del(MDB_dbi dbi, std::string_view key) {
  MDB_val k = lmdb::val(key);
  int rc = mdb_del(txn, dbi, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb::fail_rc("delete", rc);
  return {};
}

Store::Impl::~Impl() {
  if (mdb) mdb_env_close(mdb);
}

Status Store::Impl::open_index(std::size_t initial_map_size) {
  int rc = mdb_env_create(&mdb);
  if (rc != 0) return lmdb::fail_rc("create", rc);
  mdb_env_set_maxdbs(mdb, 8);
  mdb_env_set_mapsize(mdb, initial_map_size);
  // MDB_NOTLS: transactions are not tied to threads; readers may come from any.
  unsigned flags = MDB_NOTLS | (read_only ? MDB_RDONLY : 0);
  // An index that cannot be written (read-only media, an auditor's copy) has
  // no writer to coordinate with: no lock file, which could not be made.
  if (read_only && ::access(index_dir.c_str(), W_OK) != 0) flags |= MDB_NOLOCK;
  rc = mdb_env_open(mdb, index_dir.c_str(), flags, 0644);
  if (rc != 0) return lmdb::fail_rc("open " + index_dir.string(), rc);
  return open_tables();
}

Status Store::Impl::open_tables() {
  const unsigned txn_flags = read_only ? MDB_RDONLY : 0;
  MDB_txn* raw = nullptr;
  int rc = mdb_txn_begin(mdb, nullptr, txn_flags, &raw);
  if (rc == MDB_MAP_RESIZED) {  // another process grew the map
    mdb_env_set_mapsize(mdb, 0);
    rc = mdb_txn_begin(mdb, nullptr, txn_flags, &raw);
  }
  if (rc != 0) return lmdb::fail_rc("begin", rc);
  lmdb::Txn txn(raw);
  struct {
    const char* name;
    MDB_dbi* dbi;
  } tables[] = {{"objects", &objects},
                {"snapshots", &snapshots},
                {"refs", &refs},
                {"ref_history", &history},
                {"meta", &meta}};
  for (auto& t : tables) {
    rc = mdb_dbi_open(raw, t.name, read_only ? 0 : MDB_CREATE, t.dbi);
    if (rc != 0) return lmdb::fail_rc(std::string("open table ") + t.name, rc);
  }
  rc = txn.commit();
  if (rc != 0) return lmdb::fail_rc("commit", rc);
  return {};
}

fs::path Store::Impl::object_path(const Digest& id) const {
  auto hex = id.hex();
  return objects_dir / hex.substr(0, 2) / hex;
}

Status Store::Impl::make_shards() {
  if (path_exists(objects_dir / "ff")) return {};
  for (int i = 0; i < 256; ++i) {
    static constexpr char kHex[] = "0123456789abcdef";
    const char name[] = {kHex[i >> 4], kHex[i & 15], '\0'};
    if (auto s = env->make_dir(objects_dir / name); !s) return s;
  }
  return env->sync_dir(objects_dir);
}

// Another process grew the map: take over its size.
void Store::Impl::adopt_map_size() const {
  std::unique_lock lk(map_mutex);
  mdb_env_set_mapsize(mdb, 0);
}

// Resizing needs every transaction of this process ended, hence the unique lock.
Status Store::Impl::grow_map() {
  std::unique_lock lk(map_mutex);
  MDB_envinfo info;
  mdb_env_info(mdb, &info);
  int rc = mdb_env_set_mapsize(mdb, info.me_mapsize * 2);
  if (rc != 0) return lmdb::fail_rc("resize", rc);
  return {};
}

Status Store::Impl::write(const std::function<Status(WriteCtx&)>& f) {
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

Result<std::optional<ObjectInfo>> Store::Impl::lookup(MDB_txn* txn, const Digest& id) const {
  const std::string key = store_codec::encode_digest_key(id);
  auto value = lmdb::get(txn, objects, key);
  if (!value) return fail(value.error());
  if (!*value) return std::optional<ObjectInfo>{};
  auto info = store_codec::decode_object(key, **value);
  if (!info) return fail(info.error());
  return std::optional(*info);
}

Result<std::optional<ObjectInfo>> Store::Impl::lookup(const Digest& id) const {
  return read([&](MDB_txn* txn) { return lookup(txn, id); });
}

Result<UniqueFd> Store::Impl::lock_writer(bool wait) const {
  auto lock = env->lock_file(lock_path, wait);
  if (!lock) return fail(lock.error());
  if (!*lock) return fail(Code::refused, "store is busy");
  return std::move(**lock);
}

Status Store::Impl::sweep() {
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(tmp_dir, ec)) (void)env->remove(entry.path());
  if (!path_exists(dirty_path)) return {};
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

}  // namespace airlock
