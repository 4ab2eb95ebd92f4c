// The store's front: opening, reading and listing objects, single-object
// writes, and scrub. Writing lives in object_writer.cpp, snapshots in
// snapshot_index.cpp, refs and meta in refs.cpp.
#include "airlock/store/store.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "codec.h"
#include "store_impl.h"

namespace airlock {
namespace fs = std::filesystem;

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const fs::path& Store::dir() const { return impl_->dir; }

Result<std::unique_ptr<Store>> Store::open(const fs::path& dir, StoreOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->objects_dir = dir / "objects";
  impl->packs_dir = impl->objects_dir / "packs";
  impl->tmp_dir = dir / "tmp";
  impl->index_dir = dir / "index";
  impl->lock_path = dir / "lock";
  impl->dirty_path = dir / "dirty";
  impl->env = options.env ? options.env : &Env::system();
  impl->read_only = options.read_only;
  if (!options.read_only) {
    const bool packs_missing = !path_exists(impl->packs_dir);
    for (const auto& d : {impl->objects_dir, impl->packs_dir, impl->tmp_dir, impl->index_dir}) {
      if (auto s = impl->env->make_dirs(d); !s) return fail(s.error());
    }
    // A store made before packs gains the directory: durable before a pack is named in it.
    if (packs_missing) {
      if (auto s = impl->env->sync_dir(impl->objects_dir); !s) return fail(s.error());
    }
    if (auto s = impl->make_shards(); !s) return fail(s.error());
    // Unnamed files are named through /proc/self/fd.
    std::error_code ec;
    impl->unnamed_files = fs::is_directory("/proc/self/fd", ec);
  } else if (std::error_code ec; !fs::is_directory(impl->index_dir, ec)) {
    return fail(Code::not_found, "no store at " + dir.string());
  }
  if (auto s = impl->open_index(options.initial_map_size); !s) return fail(s.error());
  // Sweep only when no writer is active: a live writer's files are not debris.
  if (!options.read_only) {
    if (auto lock = impl->lock_writer(/*wait=*/false); lock) {
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

Result<ObjectFile> Store::open_object(const Digest& id) const { return impl_->open_object(id); }

Result<std::string> Store::read(const Digest& id, std::uint64_t max_size) const {
  auto reader = read_pieces(id, max_size);
  if (!reader) return fail(reader.error());
  return read_all(*reader);
}

Result<ObjectReader> Store::read_pieces(const Digest& id, std::uint64_t max_size) const {
  auto file = open_object(id);
  if (!file) return fail(file.error());
  return ObjectReader::of(std::move(*file), id, max_size);
}

Status Store::verify_object(const Digest& id) const {
  auto reader = read_pieces(id, ~0ull);
  if (!reader) return fail(reader.error());
  return reader->finish();
}

Result<std::vector<ObjectInfo>> Store::list_objects() const {
  return impl_->read([&](MDB_txn* txn) -> Result<std::vector<ObjectInfo>> {
    std::vector<ObjectInfo> out;
    auto s = lmdb::scan(txn, impl_->objects, {}, [&](auto key, auto value) -> Status {
      auto info = store_codec::decode_object(key, value);
      if (!info) return fail(info.error());
      out.push_back(*info);
      return {};
    });
    if (!s) return fail(s.error());
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

Result<Batch> Store::begin_batch(BatchOptions options) {
  if (impl_->read_only)
    return fail(Code::refused, "store " + impl_->dir.string() + " is open read-only");
  auto lock = impl_->lock_writer(/*wait=*/true);
  if (!lock) return fail(lock.error());
  auto state = std::make_unique<Batch::State>();
  state->store = impl_.get();
  state->options = options;
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

Result<ScrubReport> Store::scrub() const {
  auto objects = list_objects();
  if (!objects) return fail(objects.error());
  ScrubReport report;
  for (const auto& info : *objects) {
    ++report.checked;
    auto place = impl_->read([&](MDB_txn* txn) { return impl_->place(txn, info.id); });
    if (!place) return fail(place.error());
    const auto path = *place ? impl_->pack_path((*place)->pack) : impl_->object_path(info.id);
    auto fd = open_file(path, O_RDONLY);
    if (!fd) {
      if (fd.error().code != Code::not_found) return fail(fd.error());
      report.missing.push_back({info.id, path.string() + ": missing"});
      continue;
    }
    // The object's own file to its end; a packed object's range of its pack.
    ObjectFile file{std::move(*fd), *place ? (*place)->offset : 0, info.size, path,
                    place->has_value()};
    if (!file.packed) {
      struct stat st;
      if (::fstat(file.fd.get(), &st) != 0) return fail_errno(path.string());
      file.size = static_cast<std::uint64_t>(st.st_size);
    }
    auto h = hash_object_file(file);
    if (!h) return fail(h.error());
    report.bytes += h->size;
    if (h->digest != info.id || h->size != info.size) {
      report.corrupt.push_back({info.id, file.where() + ": expected sha256 " + info.id.hex() +
                                             " (" + std::to_string(info.size) + " bytes), actual " +
                                             h->digest.hex() + " (" + std::to_string(h->size) +
                                             " bytes)"});
    }
  }
  return report;
}

}  // namespace airlock
