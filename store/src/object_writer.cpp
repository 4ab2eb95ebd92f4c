// Writing objects: a sink hashes bytes into a file that has no name yet
// (O_TMPFILE, or a temporary file in tmp/ where the filesystem has none);
// once verified, a new object is linked under objects/ at once, and commit
// makes every new object durable before the transaction that indexes them
// with everything else in the batch. The dirty marker, durable before the
// first object lands, lets the next open sweep them if that never happens.
// A small object declared before it is written is kept in memory by its
// sink and, once verified and new, appended to the batch's pack, a file
// that has no name until commit.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "codec.h"
#include "store_impl.h"

namespace airlock {
namespace fs = std::filesystem;

namespace {

// Batches with more new objects than this flush the filesystem once at commit
// instead of fsyncing every file.
constexpr std::size_t kGroupSyncThreshold = 8;
// Bytes a sink writes between asking the kernel to start writing them back.
constexpr std::uint64_t kWritebackStep = 16ull << 20;
// Bytes of packed objects held before they go to the pack's file.
constexpr std::size_t kPackBuffer = 1 << 20;

Status spent_batch() { return fail(Code::invalid_input, "batch already committed"); }

}  // namespace

// ---------------------------------------------------------------------------
// ObjectSink

struct ObjectSink::State {
  Store::Impl* store = nullptr;
  UniqueFd fd;
  fs::path tmp;  // empty for an unnamed file
  bool packed = false;
  std::string bytes;  // a packed object's, until it is finished
  Hasher hasher;
  std::uint64_t size = 0;
  std::optional<Digest> expected;
  std::optional<std::uint64_t> expected_size;
  std::optional<Error> failed;  // once set, every later write and finish fails with it
  std::uint64_t flushed = 0;    // bytes handed to writeback early

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
  st.hasher.update(bytes);
  st.size += bytes.size();
  if (st.packed) {
    st.bytes.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return {};
  }
  if (auto s = st.store->env->write(st.fd.get(), bytes); !s) {
    st.failed = s.error().context("writing object to " + st.tmp.string());
    return fail(*st.failed);
  }
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
// Batch::State: objects

Batch::State::~State() {
  if (spent || store == nullptr) return;
  for (const auto& p : pending) (void)store->env->remove(p.tmp);
  for (const auto& id : placed) (void)store->env->remove(store->object_path(id));
  if (pack) {
    pack->fd.reset();
    if (!pack->tmp.empty()) (void)store->env->remove(pack->tmp);
    if (pack->number) (void)store->env->remove(store->pack_path(*pack->number));
  }
  if (marker) (void)store->env->remove(store->dirty_path);
}

// The marker must be durable before any object lands under objects/: it is
// what tells the next open that unindexed files there are debris.
Status Batch::State::ensure_marker() {
  if (marker) return {};
  auto fd = store->env->open(store->dirty_path, O_WRONLY | O_CREAT, 0644);
  if (!fd) return fail(fd.error());
  marker = true;
  fd->reset();
  return store->env->sync_dir(store->dir);
}

// put gives the object its name under objects/. Its shard exists since the
// store was opened, but is made again should something have removed it.
Status Batch::State::land(const Digest& id, const std::function<Status(const fs::path&)>& put) {
  if (auto s = ensure_marker(); !s) return s;
  const auto final_path = store->object_path(id);
  auto landed = put(final_path);
  if (!landed && landed.error().code == Code::not_found && !path_exists(final_path.parent_path())) {
    if (auto s = store->env->make_dir(final_path.parent_path()); !s) return s;
    new_shard = true;
    landed = put(final_path);
  }
  if (!landed) return landed;
  placed.push_back(id);
  linked_now.push_back(id);
  return {};
}

Status Batch::State::name_object(int fd, const Digest& id) {
  Env& env = *store->env;
  return land(id, [&](const fs::path& to) -> Status {
    auto linked = env.link_unnamed(fd, to);
    if (!linked && linked.error().code == Code::conflict) {
      // Not indexed, so what is there is a dead writer's debris: replace it.
      if (auto s = env.remove(to); !s) return s;
      linked = env.link_unnamed(fd, to);
    }
    return linked;
  });
}

Result<std::optional<ObjectFile>> Batch::State::open(const Digest& id) {
  auto it = objects.find(id);
  auto open_at = [&](const fs::path& path, std::uint64_t offset,
                     bool packed) -> Result<std::optional<ObjectFile>> {
    auto fd = open_file(path, O_RDONLY);
    if (!fd) return fail(fd.error());
    return std::optional(ObjectFile{std::move(*fd), offset, it->second.size, path, packed});
  };
  if (it != objects.end() && it->second.pack_offset != kNotPacked) {
    if (auto s = flush_pack(); !s) return fail(s.error());
    // Opened again: the pack may be unnamed, and the reader owns its descriptor.
    const fs::path path = pack->number ? store->pack_path(*pack->number)
                          : !pack->tmp.empty()
                              ? pack->tmp
                              : fs::path("/proc/self/fd/" + std::to_string(pack->fd.get()));
    return open_at(path, it->second.pack_offset, true);
  }
  if (it != objects.end()) {
    for (const auto& p : pending) {
      if (p.id == id) return open_at(p.tmp, 0, false);
    }
    if (std::find(placed.begin(), placed.end(), id) != placed.end()) {
      return open_at(store->object_path(id), 0, false);
    }
  }
  // Not new in this batch: the store's.
  auto file = store->open_object(id);
  if (!file) {
    if (file.error().code == Code::not_found) return std::optional<ObjectFile>{};
    return fail(file.error());
  }
  return std::optional(std::move(*file));
}

Result<std::optional<std::uint64_t>> Batch::State::size_of(const Digest& id) const {
  if (auto it = objects.find(id); it != objects.end()) return std::optional(it->second.size);
  auto info = store->lookup(id);
  if (!info) return fail(info.error());
  if (!*info) return std::optional<std::uint64_t>{};
  return std::optional((*info)->size);
}

Status Batch::State::add_to_pack(const Digest& id, std::string_view bytes) {
  Env& env = *store->env;
  if (!pack) {
    Pack p;
    if (store->unnamed_files) {
      auto fd = env.create_unnamed(store->packs_dir, 0644);
      if (!fd) return fail(fd.error());
      if (*fd) p.fd = std::move(**fd);
    }
    if (!p.fd) {
      auto tmp = env.create_temp(store->tmp_dir, "pack-", 0644);
      if (!tmp) return fail(tmp.error());
      p.fd = std::move(tmp->fd);
      p.tmp = std::move(tmp->path);
    }
    pack = std::move(p);
  }
  objects[id] = Object{bytes.size(), pack->length};
  pack->buffer.append(bytes);
  pack->length += bytes.size();
  ++pack->objects;
  if (pack->buffer.size() >= kPackBuffer) return flush_pack();
  return {};
}

// A failed write may have written part of the buffer: the batch is broken.
Status Batch::State::flush_pack() {
  if (!pack || pack->buffer.empty()) return {};
  const auto bytes =
      std::span(reinterpret_cast<const std::uint8_t*>(pack->buffer.data()), pack->buffer.size());
  if (auto s = store->env->write(pack->fd.get(), bytes); !s) {
    broken = s.error().context("writing a pack of objects under " + store->packs_dir.string());
    return fail(*broken);
  }
  pack->written += bytes.size();
  pack->buffer.clear();
  return {};
}

// The pack gets the next number; a file of that name that the index does
// not know is a dead writer's debris, and is replaced.
Status Batch::State::name_pack(std::uint64_t number) {
  Env& env = *store->env;
  const auto to = store->pack_path(number);
  auto put = [&]() -> Status {
    if (pack->tmp.empty()) return env.link_unnamed(pack->fd.get(), to);
    return env.rename(pack->tmp, to);
  };
  auto named = put();
  if (!named && named.error().code == Code::conflict) {
    if (auto s = env.remove(to); !s) return s;
    named = put();
  }
  if (!named && named.error().code == Code::not_found && !path_exists(store->packs_dir)) {
    if (auto s = env.make_dir(store->packs_dir); !s) return s;
    new_shard = true;
    named = put();
  }
  if (!named) return named;
  pack->tmp.clear();
  pack->number = number;
  return {};
}

// Small batches fsync file by file; larger ones flush the filesystem once
// (group commit), which costs one flush instead of one per object. Pending
// files and the pack are durable before they get their final names.
Status Batch::State::place_pending() {
  const bool new_pack = pack && !pack->number && pack->objects > 0;
  if (pending.empty() && linked_now.empty() && !new_pack) return {};
  Env& env = *store->env;
  if (auto s = flush_pack(); !s) return s;
  const bool group =
      pending.size() + linked_now.size() + (new_pack ? pack->objects : 0) > kGroupSyncThreshold;
  if (group) {
    if (!pending.empty()) {
      if (auto s = env.sync_filesystem(store->tmp_dir); !s) return s;
    }
  } else {
    auto sync_file = [&](const fs::path& path) -> Status {
      auto fd = open_file(path, O_RDONLY);
      if (!fd) return fail(fd.error());
      return env.sync(fd->get(), path.string());
    };
    for (const auto& p : pending) {
      if (auto s = sync_file(p.tmp); !s) return s;
    }
    for (const auto& id : linked_now) {
      if (auto s = sync_file(store->object_path(id)); !s) return s;
    }
    if (new_pack) {
      if (auto s = env.sync(pack->fd.get(), "a new pack in " + store->packs_dir.string()); !s)
        return s;
    }
  }
  if (auto s = ensure_marker(); !s) return s;
  std::vector<fs::path> dirs;
  if (new_pack) {
    auto number = store->next_pack();
    if (!number) return fail(number.error());
    if (auto s = name_pack(*number); !s) return s;
    dirs.push_back(store->packs_dir);
  }
  for (const auto& id : linked_now) {
    auto shard = store->object_path(id).parent_path();
    if (std::find(dirs.begin(), dirs.end(), shard) == dirs.end()) dirs.push_back(shard);
  }
  linked_now.clear();
  for (const auto& p : pending) {
    auto final_path = store->object_path(p.id);
    auto shard = final_path.parent_path();
    auto moved = env.rename(p.tmp, final_path);
    if (!moved && moved.error().code == Code::not_found && path_exists(p.tmp)) {
      if (auto s = env.make_dir(shard); !s) return s;
      new_shard = true;
      moved = env.rename(p.tmp, final_path);
    }
    if (!moved) return moved;
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

// An object already indexed keeps its entry, and so its first-seen time.
Status Batch::State::index_objects(WriteCtx& w, TimePoint now) const {
  for (const auto& [id, object] : objects) {
    auto existing = store->lookup(w.txn, id);
    if (!existing) return fail(existing.error());
    if (*existing) continue;
    const std::string key = store_codec::encode_digest_key(id);
    const std::string value = store_codec::encode_object_value(ObjectInfo{id, object.size, now});
    if (auto s = w.put(store->objects, key, value); !s) return s;
    if (object.pack_offset == kNotPacked) continue;
    const std::string place = store_codec::encode_pack_place({*pack->number, object.pack_offset});
    if (auto s = w.put(store->packed, key, place); !s) return s;
  }
  if (pack && pack->number) {
    if (auto s = w.put(store->packs, store_codec::encode_pack_key(*pack->number),
                       store_codec::encode_pack_length(pack->length));
        !s)
      return s;
  }
  return {};
}

// ---------------------------------------------------------------------------
// Batch

Batch::Batch(std::unique_ptr<State> state) : state_(std::move(state)) {}
Batch::~Batch() = default;
Batch::Batch(Batch&&) noexcept = default;
Batch& Batch::operator=(Batch&&) noexcept = default;

Result<ObjectSink> Batch::begin_object(std::optional<Digest> expected,
                                       std::optional<std::uint64_t> expected_size) {
  if (state_->spent) return fail(spent_batch().error());
  if (state_->broken) return fail(state_->broken_error());
  auto* store = state_->store;
  auto sink = std::make_unique<ObjectSink::State>();
  sink->store = store;
  sink->expected = expected;
  sink->expected_size = expected_size;
  if (state_->options.pack_small && expected_size && *expected_size <= kPackedObjectMax) {
    sink->packed = true;
    sink->bytes.reserve(static_cast<std::size_t>(*expected_size));
    return ObjectSink(std::move(sink));
  }
  if (store->unnamed_files) {
    auto fd = store->env->create_unnamed(store->objects_dir, 0644);
    if (!fd) return fail(fd.error());
    if (*fd) {
      sink->fd = std::move(**fd);
      return ObjectSink(std::move(sink));
    }
    store->unnamed_files = false;
  }
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
    return fail(Code::corrupt, "object content does not match: expected sha256 " +
                                   st.expected->hex() + ", actual " + id.hex());
  }
  auto known = state_->size_of(id);
  if (!known) return fail(known.error());
  // Already present: deduplicated, the file goes with the sink.
  if (*known) {
    state_->objects.emplace(id, State::Object{st.size});
    return id;
  }
  if (st.packed) {
    if (auto s = state_->add_to_pack(id, st.bytes); !s) return fail(s.error());
    return id;
  }
  state_->objects.emplace(id, State::Object{st.size});
  if (st.tmp.empty()) {
    if (auto s = state_->name_object(st.fd.get(), id); !s) {
      state_->objects.erase(id);
      return fail(s.error());
    }
    st.fd.reset();
    return id;
  }
  st.fd.reset();
  state_->pending.push_back({id, std::exchange(st.tmp, {})});
  return id;
}

Result<Digest> Batch::put_bytes(std::string_view bytes, std::optional<Digest> expected) {
  auto sink = begin_object(expected, bytes.size());
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
  if (st.spent) return fail(spent_batch().error());
  if (st.broken) return fail(st.broken_error());
  std::error_code ec;
  auto actual = fs::file_size(file, ec);
  if (ec) return fail(Code::io, file.string() + ": " + ec.message());
  if (actual != size) {
    return fail(Code::corrupt, file.string() + " has " + std::to_string(actual) +
                                   " bytes, expected " + std::to_string(size));
  }
  auto known = st.size_of(id);
  if (!known) return fail(known.error());
  Env& env = *st.store->env;
  if (*known) {
    st.objects.emplace(id, State::Object{size});
    (void)env.remove(file);
    return id;
  }
  struct stat from, to;
  if (::stat(file.c_str(), &from) != 0) return fail_errno(file.string());
  if (::stat(st.store->objects_dir.c_str(), &to) != 0)
    return fail_errno(st.store->objects_dir.string());
  if (from.st_dev != to.st_dev) {  // another filesystem: a rename cannot move it
    auto in = open_file(file, O_RDONLY);
    if (!in) return fail(in.error());
    auto copied = put_fd(in->get(), id, size);
    if (copied) (void)env.remove(file);
    return copied;
  }
  // Moved straight to its place, like an object finished in this batch.
  if (auto s = env.chmod(file, 0644); !s) return fail(s.error());
  auto moved = st.land(id, [&](const fs::path& to) { return env.rename(file, to); });
  if (!moved) return fail(moved.error().context("move " + file.string()));
  st.objects.emplace(id, State::Object{size});
  return id;
}

bool Batch::contains(const Digest& id) const {
  auto size = state_->size_of(id);
  return size && size->has_value();
}

std::size_t Batch::object_count() const { return state_->objects.size(); }

std::vector<std::pair<Digest, fs::path>> Batch::pending_files() const {
  std::vector<std::pair<Digest, fs::path>> out;
  for (const auto& id : state_->placed) out.emplace_back(id, state_->store->object_path(id));
  for (const auto& p : state_->pending) out.emplace_back(p.id, p.tmp);
  return out;
}

Result<std::string> Batch::read(const Digest& id, std::uint64_t max_size) {
  auto reader = read_pieces(id, max_size);
  if (!reader) return fail(reader.error());
  return read_all(*reader);
}

Result<ObjectReader> Batch::read_pieces(const Digest& id, std::uint64_t max_size) {
  auto file = state_->open(id);
  if (!file) return fail(file.error());
  if (!*file) return fail(Code::not_found, "object " + id.hex() + " is not in the store");
  return ObjectReader::of(std::move(**file), id, max_size);
}

// Names are checked before anything moves, so that a bad name costs no I/O.
// Objects are placed (durable, under objects/) before the transaction that
// indexes them: the index never names a file that is not complete.
Status Batch::commit() {
  auto& st = *state_;
  if (st.spent) return spent_batch();
  if (st.broken) return fail(st.broken_error());
  for (const auto& r : st.refs) {
    if (auto s = check_ref_name(r.name); !s) return s;
  }
  for (const auto& m : st.metas) {
    if (auto s = check_ref_name(m.first); !s) return s;
  }
  if (auto s = st.place_pending(); !s) {
    st.broken = s.error();
    return s;
  }
  const TimePoint now = st.store->env->now();
  auto status = st.store->write([&](WriteCtx& w) -> Status {
    if (auto s = st.index_objects(w, now); !s) return s;
    if (auto s = st.index_snapshots(w); !s) return s;
    if (auto s = st.apply_ref_changes(w, now); !s) return s;
    return st.apply_meta(w);
  });
  if (!status) return status;
  st.spent = true;
  if (st.marker) (void)st.store->env->remove(st.store->dirty_path);
  st.lock.reset();
  return {};
}

}  // namespace airlock
