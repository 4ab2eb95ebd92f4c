// The files of a transfer log directory beside its segments (docs/formats.md,
// "Transfer log"): the hash tiles with the record index, and the tree state
// persisted with each checkpoint. Used by log.cpp only.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "airlock/base/env.h"
#include "airlock/base/error.h"
#include "airlock/base/file.h"
#include "airlock/verify/digest.h"
#include "airlock/verify/merkle.h"

namespace airlock::logfiles {

inline constexpr unsigned kTileHeight = 8;
inline constexpr std::uint64_t kTileWidth = std::uint64_t{1} << kTileHeight;  // hashes a tile
inline constexpr unsigned kMaxLevels = 8;                                     // 2^64 leaves

// log/transfer-NNNNNN.jsonl, and the number of such a file name.
std::filesystem::path segment_path(const std::filesystem::path& dir, std::uint64_t number);
std::optional<std::uint64_t> segment_number(const std::filesystem::path& file);

struct Segment {
  std::uint64_t number = 0;
  std::filesystem::path path;
  std::optional<std::uint64_t> first;  // n of its first record; nullopt when empty
};
// The segment files in dir by number, each with its first record's n. corrupt
// when a first line does not start with its n.
Result<std::vector<Segment>> list_segments(const std::filesystem::path& dir);
// open_regular_file, or (writable) Env::open for appending, then checked to
// be a regular file: a FIFO or device in the log directory is refused, never
// waited on.
Result<UniqueFd> open_log_file(Env& env, const std::filesystem::path& path, bool writable,
                               bool create = false);
// The n a record line starts with ({"n":N,...), if it does.
std::optional<std::uint64_t> line_n(std::string_view line);

// One append-only file of fixed-width entries (32-byte hashes or 8-byte
// offsets). Entries put beyond the file's end are staged in memory until
// flush() writes them; a read-only file keeps them staged.
class EntryFile {
 public:
  EntryFile(std::size_t width, std::filesystem::path path)
      : width_(width), path_(std::move(path)) {}
  // Opens the file (created when writable and missing; absent and empty when
  // read-only and missing). A trailing partial entry (a cut-off write) is
  // dropped when writable and ignored when read-only.
  Status open(Env& env, bool read_only);
  // Sees what another process appended (or created) since: nothing may be staged.
  Status refresh();
  std::uint64_t count() const { return on_disk_ + staged_.size() / width_; }
  std::uint64_t on_disk() const { return on_disk_; }
  // Entry i into out (width bytes). not_found beyond count().
  Status get(std::uint64_t i, std::uint8_t* out) const;
  // Entries [first, first + n) into out (n * width bytes).
  Status read(std::uint64_t first, std::uint64_t n, std::uint8_t* out) const;
  // Entry i must be count() (staged) or already there with these bytes:
  // false for a different entry already there.
  Result<bool> put(std::uint64_t i, const std::uint8_t* entry);
  Status flush(Env& env);
  Status sync(Env& env) const;
  // Back to count entries (staged and on disk).
  Status truncate(Env& env, std::uint64_t count);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::size_t width_;
  std::filesystem::path path_;
  UniqueFd fd_;
  bool read_only_ = false;
  std::uint64_t on_disk_ = 0;
  std::vector<std::uint8_t> staged_;
  // One tile's worth of entries read last, for put() comparing in order.
  mutable std::uint64_t cache_first_ = UINT64_MAX;
  mutable std::vector<std::uint8_t> cache_;
};

// log/tiles: level L holds the hashes of complete subtrees of 256^L leaves;
// index holds the segment offset of every 256th record.
class Tiles {
 public:
  explicit Tiles(std::filesystem::path dir);
  Status open(Env& env, bool read_only);
  Status refresh();
  std::uint64_t leaves() const { return levels_[0].count(); }
  const EntryFile& level(unsigned l) const { return levels_[l]; }

  // Takes a node the log's range completed (see CompactRange::OnNode): nodes
  // at heights that are multiples of 8 go into their level. An error naming
  // the file when a different hash is there already.
  Status put_node(unsigned height, std::uint64_t index, const Digest& hash);
  // Takes where record n (a multiple of 256) starts in its segment.
  Status put_offset(std::uint64_t n, std::uint64_t offset);
  // Compares a node with the entry its level holds, if it holds one.
  Status check_node(unsigned height, std::uint64_t index, const Digest& hash) const;
  const std::filesystem::path& index_path() const { return index_.path(); }
  // Where record n (a multiple of 256) starts, if the index has it.
  std::optional<std::uint64_t> offset(std::uint64_t n) const;
  Result<Digest> leaf(std::uint64_t n) const;
  // corrupt, naming the file, unless every level and the index hold what
  // the first `records` records make (all synced before a state names them).
  Status covers(std::uint64_t records) const;
  // The hash of the perfect subtree of 2^height leaves at index, from the
  // lowest level that has it: at most 128 entries read from one level.
  Result<Digest> subtree(unsigned height, std::uint64_t index) const;
  merkle::SubtreeHash source() const;

  struct Mark {
    std::array<std::uint64_t, kMaxLevels> levels{};
    std::uint64_t index = 0;
  };
  Mark mark() const;
  Status rollback(Env& env, const Mark& m);
  Status flush(Env& env);
  Status sync(Env& env) const;

 private:
  std::filesystem::path dir_;
  std::vector<EntryFile> levels_;
  EntryFile index_;
};

// log/state.json: the tree at the newest checkpoint.
struct TreeState {
  std::uint64_t size = 0;  // the checkpoint record's n
  Digest root;
  std::vector<Digest> frontier;
  std::uint64_t segment = 0;  // number of the segment holding the checkpoint record
  std::uint64_t offset = 0;   // where it starts there
};
std::string state_json(const TreeState& s);
// nullopt when the file is missing; corrupt, naming the file, when it is not
// a state this code writes (frontier and root must agree).
Result<std::optional<TreeState>> read_state(const std::filesystem::path& path);

}  // namespace airlock::logfiles
