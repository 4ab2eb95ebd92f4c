// The content-addressed object store: blob files under objects/ab/<sha256>,
// small objects packed into objects/packs/<n>.pack (docs/formats.md), plus
// an LMDB index (objects, their places in packs, snapshots, refs with history).
//
// Invariants (MUST):
// - An object's file name is the SHA-256 of its bytes; nothing is indexed
//   before its file or pack is complete, durable and named in place. A pack
//   never changes once indexed.
// - A Batch commits its objects, snapshots and ref updates in one LMDB
//   transaction: all or nothing. A process killed at any point leaves the
//   store as before or as after; the next open sweeps what a dead writer left.
// - Reads verify: read() re-hashes, scrub() re-hashes everything. A call
//   that meets an index record it cannot decode fails with corrupt, naming
//   the record, and never guesses at its content.
//
// Concurrency: any number of threads and processes may read at any time.
// Writers (Batch) are serialized across threads and processes by an exclusive
// lock on <dir>/lock; a thread must not open a second Batch while it holds one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/env.h"
#include "airlock/base/error.h"
#include "airlock/base/file.h"
#include "airlock/base/time.h"
#include "airlock/store/snapshot.h"
#include "airlock/verify/digest.h"

namespace airlock {

struct ObjectInfo {
  Digest id;
  std::uint64_t size = 0;
  TimePoint first_seen{};
};

// Where an object's bytes are: the range [offset, offset + size) of an open
// file, its own (offset 0) or its pack's. The caller owns the descriptor;
// readers use positioned reads, so its file offset does not matter.
struct ObjectFile {
  UniqueFd fd;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::filesystem::path path;  // the file, for messages
  bool packed = false;

  // For messages: the path, and the offset within a pack.
  std::string where() const;
};

// The SHA-256 and count of the bytes in file's range (fewer when the file
// ends early); io when it cannot be read.
Result<FdHash> hash_object_file(const ObjectFile& file);

// An object's bytes a piece at a time, re-hashed as they are read, for
// parsing an object while it is checked: what next() gave counts only once
// finish() has confirmed the digest.
class ObjectReader {
 public:
  // The whole file at path: limit when it holds more than max_size bytes.
  static Result<ObjectReader> open(const std::filesystem::path& path, const Digest& expected,
                                   std::uint64_t max_size);
  // The same, of an object's range.
  static Result<ObjectReader> of(ObjectFile file, const Digest& expected, std::uint64_t max_size);
  // The next piece (at most 1 MiB), empty at the end; valid until the next call.
  Result<std::string_view> next();
  // Reads what is left; corrupt, naming the file with the expected and
  // actual digests, when the bytes are not the expected ones.
  Status finish();
  std::uint64_t size() const { return file_.size; }

 private:
  explicit ObjectReader(ObjectFile file, const Digest& expected);
  ObjectFile file_;
  Digest expected_;
  std::uint64_t done_ = 0;
  Hasher hasher_;
  std::string buf_;
};

struct SnapshotInfo {
  Digest id;
  std::string repo;
  std::string kind;
  TimePoint synced_at{};
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;
  std::uint64_t seq = 0;  // order of recording
};

struct RefUpdate {
  std::uint64_t seq = 0;         // 1, 2, 3 ... per ref
  std::optional<Digest> target;  // empty when the ref was removed
  TimePoint time{};
  std::string note;  // who/why, free text
};

struct ScrubProblem {
  Digest id;
  std::string message;  // one line: "missing" or "expected sha256 X, actual Y"
};

struct ScrubReport {
  std::uint64_t checked = 0;
  std::uint64_t bytes = 0;
  std::vector<ScrubProblem> missing;
  std::vector<ScrubProblem> corrupt;
  bool ok() const { return missing.empty() && corrupt.empty(); }
};

struct StoreOptions {
  Env* env = nullptr;                          // Env::system() when null; must outlive the store
  std::size_t initial_map_size = 64ull << 20;  // LMDB map; grows on demand
  bool read_only = false;                      // no writes, no sweep; no LMDB lock file
                                               // when the index is not writable
};

class Store;

// Objects of at most this many bytes, declared before they are written, are packed.
inline constexpr std::uint64_t kPackedObjectMax = 64 * 1024;

struct BatchOptions {
  bool pack_small = true;  // false: every object in a file of its own
};

// One object being written: bytes are hashed while they go to a temporary
// file beside the objects. Destroying an unfinished sink removes the file.
class ObjectSink {
 public:
  ~ObjectSink();
  ObjectSink(ObjectSink&&) noexcept;
  ObjectSink& operator=(ObjectSink&&) noexcept;

  // limit once more than the expected size has been written; io on write errors.
  Status write(std::span<const std::uint8_t> bytes);
  Status write(std::string_view bytes);
  std::uint64_t size() const;

 private:
  friend class Batch;
  struct State;
  explicit ObjectSink(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// A set of changes committed together. Holds the store's writer lock from
// creation until commit() or destruction. Destroying an uncommitted batch
// removes every object file it placed that the index does not name.
class Batch {
 public:
  ~Batch();
  Batch(Batch&&) noexcept;
  Batch& operator=(Batch&&) noexcept;

  // Starts an object. With expected_size, writing more is refused (limit);
  // an object of at most kPackedObjectMax declared bytes goes into the
  // batch's pack (unless the batch keeps every object in a file).
  Result<ObjectSink> begin_object(std::optional<Digest> expected = {},
                                  std::optional<std::uint64_t> expected_size = {});
  // Verifies digest and size against what was expected (corrupt on mismatch,
  // and the file is removed), fsyncs, and places the file under objects/.
  Result<Digest> finish_object(ObjectSink sink);

  Result<Digest> put_bytes(std::string_view bytes, std::optional<Digest> expected = {});
  // Reads fd to its end.
  Result<Digest> put_fd(int fd, std::optional<Digest> expected = {},
                        std::optional<std::uint64_t> expected_size = {});

  // Takes over a complete file whose SHA-256 the caller computed over exactly
  // the bytes it wrote (a download hashed as it arrived), moving it instead of
  // copying. The file must be on the store's filesystem; otherwise it is
  // copied and hashed like put_fd. The size is checked; the digest is trusted.
  Result<Digest> adopt_file(const std::filesystem::path& file, const Digest& id,
                            std::uint64_t size);

  // Stores the snapshot's canonical JSON as an object and indexes it.
  // refused when an entry's object is neither in the store nor in this batch
  // (or has another size).
  Result<Digest> add_snapshot(const Snapshot& snapshot);
  // Indexes a snapshot whose JSON object is already in the store or batch;
  // returns what was indexed (its own repository name among it) and, when
  // parsed is given, hands over the snapshot as it was read.
  Result<SnapshotInfo> register_snapshot(const Digest& id, Snapshot* parsed = nullptr);

  // Points name at target (or removes it when target is empty), appended to
  // the ref's history with note.
  void set_ref(std::string name, std::optional<Digest> target, std::string note);

  // Sets (or, with an empty optional, deletes) a small metadata value:
  // per-program state such as fetch validators or a stream's last export.
  void set_meta(std::string key, std::optional<std::string> value);

  bool contains(const Digest& id) const;  // in this batch or the store
  std::size_t object_count() const;
  // New objects of this batch and where their bytes are before commit (for
  // a scan before they are indexed): each in a file of its own unless
  // packed, so a batch for a scan keeps every object in a file (see
  // BatchOptions). Valid until commit or destruction.
  std::vector<std::pair<Digest, std::filesystem::path>> pending_files() const;
  // Reads and re-hashes an object of this batch or the store (as Store::read).
  Result<std::string> read(const Digest& id, std::uint64_t max_size = 64ull << 20);
  // The same, a piece at a time (ObjectReader).
  Result<ObjectReader> read_pieces(const Digest& id, std::uint64_t max_size);

  // One LMDB transaction. After success the batch is spent.
  Status commit();

 private:
  friend class Store;
  struct State;
  explicit Batch(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class Store {
 public:
  // Opens (creating when missing) the store under dir. Unless read-only,
  // removes temporary files and unindexed objects a dead writer left behind,
  // when no other writer is active.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& dir,
                                             StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::filesystem::path& dir() const;

  Result<bool> contains(const Digest& id) const;
  Result<ObjectInfo> stat(const Digest& id) const;  // not_found when not indexed
  // Opens the object's file or pack for reading (e.g. to send it); does not
  // re-hash. corrupt when the file is missing or too short for the object.
  Result<ObjectFile> open_object(const Digest& id) const;
  // Reads and re-hashes; corrupt with expected/actual when the bytes are wrong,
  // limit when the object is larger than max_size.
  Result<std::string> read(const Digest& id, std::uint64_t max_size = 64ull << 20) const;
  // The same checks, the bytes a piece at a time (ObjectReader).
  Result<ObjectReader> read_pieces(const Digest& id, std::uint64_t max_size) const;
  Status verify_object(const Digest& id) const;
  Result<std::vector<ObjectInfo>> list_objects() const;
  Result<std::uint64_t> object_count() const;

  // Blocks until this caller is the only writer.
  Result<Batch> begin_batch(BatchOptions options = {});
  // Single-object conveniences: a batch of one.
  Result<Digest> put_bytes(std::string_view bytes, std::optional<Digest> expected = {});
  Result<Digest> put_fd(int fd, std::optional<Digest> expected = {},
                        std::optional<std::uint64_t> expected_size = {});
  Result<Digest> put_file(const std::filesystem::path& path, std::optional<Digest> expected = {});

  Result<Digest> put_snapshot(const Snapshot& snapshot);
  Result<Snapshot> get_snapshot(const Digest& id) const;  // not_found unless indexed as a snapshot
  // The snapshot read a piece at a time, its entries and packages handed to
  // visitor as they are read (see SnapshotVisitor): for a large snapshot of
  // which the caller needs a part. The visitor's first error is returned.
  Result<Snapshot> get_snapshot(const Digest& id, const SnapshotVisitor& visitor) const;
  Result<std::vector<SnapshotInfo>> list_snapshots()
      const;  // oldest first (synced_at, then recording order)

  Status set_ref(std::string name, std::optional<Digest> target, std::string note = {});
  Result<Digest> get_ref(std::string_view name) const;  // not_found when unset
  // The ref's target and when it was last set (update times strictly
  // increase per ref, one second apart at least).
  Result<RefUpdate> ref_state(std::string_view name) const;
  // All refs whose name starts with prefix, sorted by name.
  Result<std::vector<std::pair<std::string, Digest>>> list_refs(std::string_view prefix = {}) const;
  Result<std::vector<RefUpdate>> ref_history(std::string_view name) const;  // oldest first

  // Metadata values (see Batch::set_meta); not_found when unset.
  Status set_meta(std::string key, std::optional<std::string> value);
  Result<std::string> get_meta(std::string_view key) const;
  Result<std::vector<std::pair<std::string, std::string>>> list_meta(std::string_view prefix) const;

  // Re-hashes every indexed object.
  Result<ScrubReport> scrub() const;

 private:
  friend class Batch;
  friend class ObjectSink;
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The snapshot whose id is text or starts with text: every command that
// takes a snapshot id takes a unique prefix of kMinSnapshotPrefix or more hex
// digits. invalid_input for a shorter one ("'3f2a' is too short to name a
// snapshot: ...") or one several snapshots share ("'3f2a9c01' matches 2
// snapshots (...): give more digits"); not_found "no snapshot 'X'" when none
// matches.
inline constexpr std::size_t kMinSnapshotPrefix = 8;
Result<Digest> resolve_snapshot(const Store& store, std::string_view text);

}  // namespace airlock
