#include "log_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>

#include "airlock/base/json.h"

namespace airlock::logfiles {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::unexpected<Error> corrupt(const fs::path& path, const std::string& what) {
  return fail(Code::corrupt, path.string() + ": " + what);
}

Status pread_all(int fd, std::uint8_t* out, std::size_t n, std::uint64_t offset,
                 const fs::path& path) {
  while (n > 0) {
    ssize_t got = ::pread(fd, out, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fail_errno("read " + path.string());
    if (got == 0) return corrupt(path, "ends early");
    out += got;
    n -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
  return {};
}

}  // namespace

Result<UniqueFd> open_log_file(Env& env, const fs::path& path, bool writable, bool create) {
  if (!writable) return open_regular_file(path);
  auto fd = env.open(path, O_RDWR | O_APPEND | O_NONBLOCK | (create ? O_CREAT : 0), 0644);
  if (!fd) return fd;
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return fail_errno(path.string());
  if (!S_ISREG(st.st_mode)) {
    return fail(Code::invalid_input, path.string() + " is not a regular file");
  }
  return fd;
}

fs::path segment_path(const fs::path& dir, std::uint64_t number) {
  char name[48];
  std::snprintf(name, sizeof name, "transfer-%06llu.jsonl",
                static_cast<unsigned long long>(number));
  return dir / name;
}

std::optional<std::uint64_t> segment_number(const fs::path& file) {
  const std::string name = file.filename().string();
  constexpr std::string_view prefix = "transfer-", suffix = ".jsonl";
  if (!name.starts_with(prefix) || !name.ends_with(suffix)) return std::nullopt;
  std::string_view digits(name.data() + prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() < 6 || digits.size() > 12) return std::nullopt;
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || n == 0) return std::nullopt;
  if (segment_path(file.parent_path(), n).filename() != name) return std::nullopt;
  return n;
}

std::optional<std::uint64_t> line_n(std::string_view line) {
  if (!line.starts_with("{\"n\":")) return std::nullopt;
  auto digits = line.substr(5);
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || ptr == digits.data() || ptr == digits.data() + digits.size() ||
      *ptr != ',')
    return std::nullopt;
  return n;
}

Result<std::vector<Segment>> list_segments(const fs::path& dir) {
  std::vector<Segment> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto number = segment_number(it->path());
    if (!number) continue;
    out.push_back(Segment{*number, it->path(), std::nullopt});
  }
  if (ec) return fail(Code::io, "list " + dir.string() + ": " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const Segment& a, const Segment& b) { return a.number < b.number; });
  for (auto& s : out) {
    auto fd = open_regular_file(s.path);
    if (!fd) return fail(fd.error());
    char head[32];
    ssize_t got;
    do {
      got = ::pread(fd->get(), head, sizeof head, 0);
    } while (got < 0 && errno == EINTR);
    if (got < 0) return fail_errno("read " + s.path.string());
    if (got == 0) continue;
    auto n = line_n(std::string_view(head, static_cast<std::size_t>(got)));
    if (!n) return corrupt(s.path, "the first record does not start with its n");
    s.first = *n;
  }
  return out;
}

// ---------------------------------------------------------------------------

Status EntryFile::open(Env& env, bool read_only) {
  read_only_ = read_only;
  // Created by the first flush: a level no subtree has reached yet has no file.
  if (!path_exists(path_)) return {};
  auto fd = open_log_file(env, path_, !read_only);
  if (!fd) return fail(fd.error());
  fd_ = std::move(*fd);
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) return fail_errno(path_.string());
  const auto size = static_cast<std::uint64_t>(st.st_size);
  on_disk_ = size / width_;
  if (size % width_ != 0 && !read_only) {
    if (auto s = env.truncate(fd_.get(), on_disk_ * width_, path_.string()); !s) return s;
  }
  return {};
}

Status EntryFile::refresh() {
  if (!staged_.empty()) return {};
  if (!fd_) {
    if (!path_exists(path_)) return {};
    auto fd = open_log_file(Env::system(), path_, !read_only_);
    if (!fd) return fail(fd.error());
    fd_ = std::move(*fd);
  }
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) return fail_errno(path_.string());
  const auto n = static_cast<std::uint64_t>(st.st_size) / width_;
  if (n != on_disk_) {
    on_disk_ = n;
    cache_first_ = UINT64_MAX;
  }
  return {};
}

Status EntryFile::read(std::uint64_t first, std::uint64_t n, std::uint8_t* out) const {
  if (first + n > count() || first + n < first) {
    return fail(Code::not_found, path_.string() + " holds " + std::to_string(count()) +
                                     " entries, not " + std::to_string(first + n));
  }
  if (first < on_disk_) {
    const std::uint64_t from_disk = std::min(n, on_disk_ - first);
    if (auto s = pread_all(fd_.get(), out, from_disk * width_, first * width_, path_); !s) return s;
    out += from_disk * width_;
    first += from_disk;
    n -= from_disk;
  }
  if (n > 0) std::memcpy(out, staged_.data() + (first - on_disk_) * width_, n * width_);
  return {};
}

Status EntryFile::get(std::uint64_t i, std::uint8_t* out) const {
  if (i < on_disk_) {
    const std::uint64_t first = i / kTileWidth * kTileWidth;
    if (cache_first_ != first) {
      const std::uint64_t n = std::min(kTileWidth, on_disk_ - first);
      cache_.resize(n * width_);
      cache_first_ = UINT64_MAX;
      if (auto s = pread_all(fd_.get(), cache_.data(), cache_.size(), first * width_, path_); !s)
        return s;
      cache_first_ = first;
    }
    if ((i - first + 1) * width_ <= cache_.size()) {
      std::memcpy(out, cache_.data() + (i - first) * width_, width_);
      return {};
    }
  }
  return read(i, 1, out);
}

Result<bool> EntryFile::put(std::uint64_t i, const std::uint8_t* entry) {
  if (i < count()) {
    std::vector<std::uint8_t> have(width_);
    if (auto s = get(i, have.data()); !s) return fail(s.error());
    return std::memcmp(have.data(), entry, width_) == 0;
  }
  if (i != count()) {
    return fail(Code::corrupt, path_.string() + " holds " + std::to_string(count()) +
                                   " entries, so entry " + std::to_string(i) +
                                   " would leave a gap: entries are missing");
  }
  staged_.insert(staged_.end(), entry, entry + width_);
  return true;
}

Status EntryFile::flush(Env& env) {
  if (read_only_ || staged_.empty()) return {};
  if (!fd_) {
    auto fd = open_log_file(env, path_, true, true);
    if (!fd) return fail(fd.error());
    fd_ = std::move(*fd);
    // The new file's name must outlive a power cut as much as its entries.
    if (auto s = env.sync_dir(path_.parent_path()); !s) return s;
  }
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) return fail_errno(path_.string());
  if (static_cast<std::uint64_t>(st.st_size) != on_disk_ * width_) {
    return fail(Code::corrupt, path_.string() + " holds " +
                                   std::to_string(static_cast<std::uint64_t>(st.st_size) / width_) +
                                   " entries, " + std::to_string(on_disk_) +
                                   " were expected: another process changed it");
  }
  if (auto s = env.write(fd_.get(), std::span<const std::uint8_t>(staged_)); !s) {
    (void)env.truncate(fd_.get(), on_disk_ * width_, path_.string());
    return fail(s.error().context("appending to " + path_.string()));
  }
  on_disk_ += staged_.size() / width_;
  staged_.clear();
  return {};
}

Status EntryFile::sync(Env& env) const {
  if (read_only_ || !fd_) return {};
  return env.sync(fd_.get(), path_.string());
}

Status EntryFile::truncate(Env& env, std::uint64_t n) {
  if (n >= on_disk_) {
    staged_.resize((n - on_disk_) * width_);
    return {};
  }
  staged_.clear();
  cache_first_ = UINT64_MAX;
  if (read_only_) return {};
  if (auto s = env.truncate(fd_.get(), n * width_, path_.string()); !s) return s;
  on_disk_ = n;
  return {};
}

// ---------------------------------------------------------------------------

Tiles::Tiles(fs::path dir) : dir_(std::move(dir)), index_(8, dir_ / "index") {
  for (unsigned l = 0; l < kMaxLevels; ++l) levels_.emplace_back(32, dir_ / std::to_string(l));
}

Status Tiles::open(Env& env, bool read_only) {
  if (!read_only && !path_exists(dir_)) {
    if (auto s = env.make_dirs(dir_); !s) return s;
    if (auto s = env.sync_dir(dir_.parent_path()); !s) return s;
  }
  for (auto& l : levels_) {
    if (auto s = l.open(env, read_only); !s) return s;
  }
  return index_.open(env, read_only);
}

namespace {

std::unexpected<Error> node_mismatch(const EntryFile& level, unsigned height, std::uint64_t index) {
  return fail(Code::corrupt,
              level.path().string() + " entry " + std::to_string(index) +
                  (height == 0 ? " (the hash of record " + std::to_string(index) + ")"
                               : " (records " + std::to_string(index << height) + " to " +
                                     std::to_string(((index + 1) << height) - 1) + ")") +
                  " does not match the records: the record or the tile was altered");
}

}  // namespace

Status Tiles::refresh() {
  for (auto& l : levels_) {
    if (auto s = l.refresh(); !s) return s;
  }
  return index_.refresh();
}

Status Tiles::put_node(unsigned height, std::uint64_t index, const Digest& hash) {
  if (height % kTileHeight != 0) return {};
  auto& level = levels_[height / kTileHeight];
  auto ok = level.put(index, hash.bytes().data());
  if (!ok) return fail(ok.error());
  if (!*ok) return node_mismatch(level, height, index);
  return {};
}

Status Tiles::check_node(unsigned height, std::uint64_t index, const Digest& hash) const {
  if (height % kTileHeight != 0) return {};
  const auto& level = levels_[height / kTileHeight];
  if (index >= level.count()) return {};
  Digest::Bytes have;
  if (auto s = level.get(index, have.data()); !s) return s;
  if (have != hash.bytes()) return node_mismatch(level, height, index);
  return {};
}

Status Tiles::put_offset(std::uint64_t n, std::uint64_t offset) {
  std::uint8_t be[8];
  for (int i = 0; i < 8; ++i) be[i] = static_cast<std::uint8_t>(offset >> (56 - 8 * i));
  auto ok = index_.put(n / kTileWidth, be);
  if (!ok) return fail(ok.error());
  if (!*ok) {
    return fail(Code::corrupt, index_.path().string() + ": the offset of record " +
                                   std::to_string(n) + " does not match its segment");
  }
  return {};
}

std::optional<std::uint64_t> Tiles::offset(std::uint64_t n) const {
  std::uint8_t be[8];
  if (!index_.get(n / kTileWidth, be)) return std::nullopt;
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | be[i];
  return v;
}

Status Tiles::covers(std::uint64_t records) const {
  for (unsigned l = 0; l < kMaxLevels; ++l) {
    const std::uint64_t want = l == 0 ? records : records >> (l * kTileHeight);
    if (levels_[l].count() < want) {
      return fail(Code::corrupt, levels_[l].path().string() + " holds " +
                                     std::to_string(levels_[l].count()) + " hashes, the first " +
                                     std::to_string(records) + " records make " +
                                     std::to_string(want));
    }
  }
  const std::uint64_t offsets = (records + kTileWidth - 1) / kTileWidth;
  if (index_.count() < offsets) {
    return fail(Code::corrupt, index_.path().string() + " holds " + std::to_string(index_.count()) +
                                   " offsets, the first " + std::to_string(records) +
                                   " records need " + std::to_string(offsets));
  }
  return {};
}

Result<Digest> Tiles::leaf(std::uint64_t n) const {
  Digest::Bytes b;
  if (auto s = levels_[0].get(n, b.data()); !s) return fail(s.error());
  return Digest(b);
}

namespace {

// The root of the perfect subtree over entries [first, first + n) of level.
Result<Digest> root_of(const EntryFile& level, std::uint64_t first, std::uint64_t n) {
  std::vector<std::uint8_t> raw(n * Digest::kSize);
  if (auto s = level.read(first, n, raw.data()); !s) return fail(s.error());
  std::vector<Digest> hashes;
  hashes.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    Digest::Bytes b;
    std::memcpy(b.data(), raw.data() + i * Digest::kSize, Digest::kSize);
    hashes.emplace_back(b);
  }
  return merkle::root(hashes);
}

}  // namespace

Result<Digest> Tiles::subtree(unsigned height, std::uint64_t index) const {
  const unsigned l = std::min(height / kTileHeight, kMaxLevels - 1);
  const unsigned rest = height - l * kTileHeight;
  if (rest >= 64 || index > (UINT64_MAX >> rest)) {
    return fail(Code::not_found, "no subtree at height " + std::to_string(height));
  }
  const std::uint64_t n = std::uint64_t{1} << rest;
  const std::uint64_t first = index << rest;
  const auto& level = levels_[l];
  if (rest < kTileHeight && first + n <= level.count()) {
    return root_of(level, first, n);
  }
  // A level not written yet: from all the entries of the level below, once.
  const std::uint64_t below_n = std::uint64_t{1} << (rest + kTileHeight);
  if (l == 0 || rest + kTileHeight >= 64 || first > (UINT64_MAX >> kTileHeight) ||
      (first << kTileHeight) + below_n > levels_[l - 1].count()) {
    return fail(Code::not_found, dir_.string() + " has no hash for records " +
                                     std::to_string(index << std::min(height, 63u)) +
                                     " on (the tiles are behind the log)");
  }
  return root_of(levels_[l - 1], first << kTileHeight, below_n);
}

merkle::SubtreeHash Tiles::source() const {
  return [this](unsigned h, std::uint64_t i) { return subtree(h, i); };
}

Tiles::Mark Tiles::mark() const {
  Mark m;
  for (unsigned l = 0; l < kMaxLevels; ++l) m.levels[l] = levels_[l].count();
  m.index = index_.count();
  return m;
}

Status Tiles::rollback(Env& env, const Mark& m) {
  Status out;
  for (unsigned l = 0; l < kMaxLevels; ++l) {
    if (auto s = levels_[l].truncate(env, m.levels[l]); !s && out) out = s;
  }
  if (auto s = index_.truncate(env, m.index); !s && out) out = s;
  return out;
}

Status Tiles::flush(Env& env) {
  for (auto& l : levels_) {
    if (auto s = l.flush(env); !s) return s;
  }
  return index_.flush(env);
}

Status Tiles::sync(Env& env) const {
  for (const auto& l : levels_) {
    if (l.on_disk() == 0) continue;
    if (auto s = l.sync(env); !s) return s;
  }
  return index_.sync(env);
}

// ---------------------------------------------------------------------------

std::string state_json(const TreeState& s) {
  json frontier = json::array();
  for (const auto& d : s.frontier) frontier.push_back(d.hex());
  json doc{{"format", "airlock-log-state/1"}, {"size", s.size},       {"root", s.root.hex()},
           {"frontier", std::move(frontier)}, {"segment", s.segment}, {"offset", s.offset}};
  return doc.dump(1) + "\n";
}

Result<std::optional<TreeState>> read_state(const fs::path& path) {
  auto text = read_file(path, 1 << 16);
  if (!text) {
    if (text.error().code == Code::not_found) return std::optional<TreeState>();
    return fail(text.error());
  }
  auto bad = [&](const std::string& what) { return corrupt(path, what); };
  auto doc = parse_json_strict(*text);
  if (!doc || !doc->is_object()) return bad("is not a JSON object");
  const json& j = *doc;
  if (json_string(j, "format") != "airlock-log-state/1") return bad("has an unknown format");
  for (const char* k : {"size", "segment", "offset"}) {
    if (!j.contains(k) || !j[k].is_number_unsigned()) return bad(std::string("has no ") + k);
  }
  if (!j.contains("root") || !j["root"].is_string() || !j.contains("frontier") ||
      !j["frontier"].is_array())
    return bad("has no root or frontier");
  TreeState s;
  s.size = j["size"].get<std::uint64_t>();
  s.segment = j["segment"].get<std::uint64_t>();
  s.offset = j["offset"].get<std::uint64_t>();
  auto root = Digest::parse(j["root"].get<std::string>());
  if (!root) return bad("has a malformed root");
  s.root = *root;
  for (const auto& f : j["frontier"]) {
    if (!f.is_string()) return bad("has a malformed frontier");
    auto d = Digest::parse(f.get<std::string>());
    if (!d) return bad("has a malformed frontier");
    s.frontier.push_back(*d);
  }
  auto range = merkle::CompactRange::from_peaks(s.size, s.frontier);
  if (!range) return bad("has a frontier that does not fit its size");
  if (range->root() != s.root) return bad("has a frontier that does not hash to its root");
  return std::optional<TreeState>(std::move(s));
}

}  // namespace airlock::logfiles
