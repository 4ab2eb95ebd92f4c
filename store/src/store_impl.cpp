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

Status within(const ObjectFile& file, const Digest& id, std::uint64_t max_size) {
  if (file.size <= max_size) return {};
  return fail(Code::limit, "object " + id.hex() + " has " + std::to_string(file.size) +
                               " bytes, more than the limit of " + std::to_string(max_size));
}

// Up to buf.size() bytes of the file at offset, retrying when interrupted; 0 at its end.
Result<std::size_t> read_at(const ObjectFile& file, std::span<char> buf, std::uint64_t offset) {
  for (;;) {
    ssize_t n = ::pread(file.fd.get(), buf.data(), buf.size(), static_cast<off_t>(offset));
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) return fail_errno(file.path.string());
  }
}

Status same_digest(const Digest& actual, const Digest& id, const ObjectFile& file) {
  if (actual == id) return {};
  return fail(Code::corrupt, "object " + file.where() + " is corrupt: expected sha256 " + id.hex() +
                                 ", actual " + actual.hex());
}

// The number of a pack file's name (16 lowercase hex digits, ".pack").
std::optional<std::uint64_t> pack_number(std::string_view name) {
  if (name.size() != 21 || !name.ends_with(".pack")) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : name.substr(0, 16)) {
    const bool digit = c >= '0' && c <= '9', letter = c >= 'a' && c <= 'f';
    if (!digit && !letter) return std::nullopt;
    n = n << 4 | static_cast<std::uint64_t>(digit ? c - '0' : c - 'a' + 10);
  }
  return n;
}

}  // namespace

std::string ObjectFile::where() const {
  if (!packed) return path.string();
  return path.string() + " at offset " + std::to_string(offset);
}

Result<FdHash> hash_object_file(const ObjectFile& file) {
  ::posix_fadvise(file.fd.get(), static_cast<off_t>(file.offset), static_cast<off_t>(file.size),
                  POSIX_FADV_SEQUENTIAL);
  std::string buf(static_cast<std::size_t>(std::clamp<std::uint64_t>(file.size, 1, 1 << 20)), '\0');
  Hasher h;
  FdHash out;
  while (out.size < file.size) {
    const auto want = std::min<std::uint64_t>(buf.size(), file.size - out.size);
    auto n =
        read_at(file, std::span(buf).first(static_cast<std::size_t>(want)), file.offset + out.size);
    if (!n) return fail(n.error());
    if (*n == 0) break;
    h.update(std::string_view(buf.data(), *n));
    out.size += *n;
  }
  out.digest = h.finish();
  return out;
}

// The buffer holds a small object whole, a large one 1 MiB at a time.
ObjectReader::ObjectReader(ObjectFile file, const Digest& expected)
    : file_(std::move(file)),
      expected_(expected),
      buf_(static_cast<std::size_t>(std::clamp<std::uint64_t>(file_.size, 1, 1 << 20)), '\0') {}

Result<ObjectReader> ObjectReader::open(const fs::path& path, const Digest& expected,
                                        std::uint64_t max_size) {
  auto fd = open_file(path, O_RDONLY);
  if (!fd) return fail(fd.error());
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return fail_errno(path.string());
  return of(ObjectFile{std::move(*fd), 0, static_cast<std::uint64_t>(st.st_size), path}, expected,
            max_size);
}

Result<ObjectReader> ObjectReader::of(ObjectFile file, const Digest& expected,
                                      std::uint64_t max_size) {
  if (auto s = within(file, expected, max_size); !s) return fail(s.error());
  ::posix_fadvise(file.fd.get(), static_cast<off_t>(file.offset), static_cast<off_t>(file.size),
                  POSIX_FADV_SEQUENTIAL);
  return ObjectReader(std::move(file), expected);
}

// Exactly the object's bytes: a file that ends early gives fewer, and the
// digest tells.
Result<std::string_view> ObjectReader::next() {
  const auto want = std::min<std::uint64_t>(buf_.size(), file_.size - done_);
  if (want == 0) return std::string_view();
  auto n =
      read_at(file_, std::span(buf_).first(static_cast<std::size_t>(want)), file_.offset + done_);
  if (!n) return fail(n.error());
  if (*n == 0) done_ = file_.size;  // ended early
  done_ += *n;
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
  return same_digest(hasher_.finish(), expected_, file_);
}

Result<std::string> read_all(ObjectReader& reader) {
  std::string out;
  out.reserve(static_cast<std::size_t>(reader.size()));
  for (;;) {
    auto piece = reader.next();
    if (!piece) return fail(piece.error());
    if (piece->empty()) break;
    out.append(*piece);
  }
  if (auto s = reader.finish(); !s) return fail(s.error());
  return out;
}

Result<Snapshot> read_snapshot(ObjectFile file, const Digest& id, Snapshot::Canonical canonical,
                               const SnapshotVisitor* visitor) {
  if (auto s = within(file, id, kMaxSnapshotSize); !s) return fail(s.error());
  std::uint64_t at = file.offset;
  std::uint64_t left = file.size;
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
        auto n = read_at(file, buf.first(std::min<std::uint64_t>(buf.size(), left)), at);
        if (!n) read_error = n.error();
        if (n) {
          left = *n == 0 ? 0 : left - *n;
          at += *n;
        }
        return n;
      },
      actual, canonical, visitor ? &noted : nullptr);
  if (read_error) return fail(*read_error);
  if (auto s = same_digest(actual, id, file); !s) return fail(s.error());
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
  mdb_env_set_maxdbs(mdb, 10);
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
  } tables[] = {{"objects", &objects}, {"packed", &packed},
                {"packs", &packs},     {"snapshots", &snapshots},
                {"refs", &refs},       {"ref_history", &history},
                {"meta", &meta}};
  for (auto& t : tables) {
    rc = mdb_dbi_open(raw, t.name, read_only ? 0 : MDB_CREATE, t.dbi);
    if (rc == MDB_NOTFOUND && read_only && (t.dbi == &packed || t.dbi == &packs)) {
      has_packs = false;  // nothing is packed
      continue;
    }
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

fs::path Store::Impl::pack_path(std::uint64_t number) const {
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.pack", static_cast<unsigned long long>(number));
  return packs_dir / name;
}

Result<ObjectFile> Store::Impl::open_object(const Digest& id) const {
  using Found = std::pair<ObjectInfo, std::optional<PackPlace>>;
  auto found = read([&](MDB_txn* txn) -> Result<Found> {
    auto info = lookup(txn, id);
    if (!info) return fail(info.error());
    if (!*info) return fail(Code::not_found, "object " + id.hex() + " is not in the store");
    auto at = place(txn, id);
    if (!at) return fail(at.error());
    return Found{**info, *at};
  });
  if (!found) return fail(found.error());
  return open_object(found->first, found->second);
}

Result<ObjectFile> Store::Impl::open_object(const ObjectInfo& info,
                                            const std::optional<PackPlace>& place) const {
  const auto path = place ? pack_path(place->pack) : object_path(info.id);
  auto fd = open_file(path, O_RDONLY);
  if (!fd) {
    if (fd.error().code == Code::not_found) {
      return fail(Code::corrupt, "object " + info.id.hex() + " is indexed but its " +
                                     (place ? "pack " : "file ") + path.string() + " is missing");
    }
    return fail(fd.error());
  }
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return fail_errno(path.string());
  const auto actual = static_cast<std::uint64_t>(st.st_size);
  if (place && (place->offset > actual || info.size > actual - place->offset)) {
    return fail(Code::corrupt, "object " + info.id.hex() + " is corrupt: its pack " +
                                   path.string() + " has " + std::to_string(actual) +
                                   " bytes, the object ends at " +
                                   std::to_string(place->offset + info.size));
  }
  if (!place && actual != info.size) {
    return fail(Code::corrupt, "object " + path.string() + " is corrupt: expected " +
                                   std::to_string(info.size) + " bytes, actual " +
                                   std::to_string(actual));
  }
  return ObjectFile{std::move(*fd), place ? place->offset : 0, info.size, path, place.has_value()};
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

Result<std::optional<PackPlace>> Store::Impl::place(MDB_txn* txn, const Digest& id) const {
  if (!has_packs) return std::optional<PackPlace>{};
  const std::string key = store_codec::encode_digest_key(id);
  auto value = lmdb::get(txn, packed, key);
  if (!value) return fail(value.error());
  if (!*value) return std::optional<PackPlace>{};
  auto place = store_codec::decode_pack_place(key, **value);
  if (!place) return fail(place.error());
  return std::optional(*place);
}

Result<std::uint64_t> Store::Impl::next_pack() const {
  return read([&](MDB_txn* txn) -> Result<std::uint64_t> {
    auto key = lmdb::last_key(txn, packs);
    if (!key) return fail(key.error());
    if (!*key) return std::uint64_t{1};
    auto last = store_codec::decode_pack_key(**key);
    if (!last) return fail(last.error());
    return *last + 1;
  });
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
  for (auto& file : fs::directory_iterator(packs_dir, ec)) {
    auto number = pack_number(file.path().filename().string());
    if (!number) continue;  // not ours; leave it alone
    auto known = read([&](MDB_txn* txn) -> Result<bool> {
      auto value = lmdb::get(txn, packs, store_codec::encode_pack_key(*number));
      if (!value) return fail(value.error());
      return value->has_value();
    });
    if (!known) return fail(known.error());
    if (!*known) (void)env->remove(file.path());
  }
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
