#include "airlock/transfer/log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "airlock/base/file.h"
#include "airlock/base/json.h"
#include "airlock/base/text.h"
#include "airlock/verify/merkle.h"
#include "log_files.h"

namespace airlock {
namespace fs = std::filesystem;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

constexpr std::size_t kMaxLine = kMaxLogLine;
constexpr std::size_t kReadChunk = 4 << 20;
constexpr std::string_view kPrevPrefix = ",\"prev_root\":\"";
constexpr std::string_view kCheckpointMark = ",\"event\":\"checkpoint\",";

std::unexpected<Error> corrupt(const fs::path& path, std::string what) {
  return fail(Code::corrupt, "transfer log " + path.string() + ": " + what);
}

// Holds an exclusive flock on fd for its lifetime.
class FileLock {
 public:
  static Result<FileLock> acquire(int fd, const fs::path& path) {
    int rc;
    do {
      rc = ::flock(fd, LOCK_EX);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) return fail_errno("lock " + path.string());
    return FileLock(fd);
  }
  FileLock(FileLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~FileLock() {
    if (fd_ >= 0) ::flock(fd_, LOCK_UN);
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

// The structural chain over lines as this code writes them: n counts up from
// 0 and prev_root is the root of everything before. Fast: it reads the fixed
// prefix and suffix of each line and parses JSON only for checkpoint records.
// Keeps only the frontier: O(log n) hashes.
struct Chain {
  std::uint64_t count = 0;  // records taken in (the next one's n)
  merkle::CompactRange range;
  std::optional<std::pair<std::uint64_t, std::string>> latest_checkpoint;
  merkle::CompactRange before_latest;  // the range just before latest_checkpoint

  // leaf and root: the line's leaf hash and the root of the records before
  // it, when the caller has them already.
  Status take(std::string_view line, const fs::path& path,
              const merkle::CompactRange::OnNode& on_node = nullptr, const Digest* leaf = nullptr,
              const Digest* known_root = nullptr) {
    const std::uint64_t n = count;
    auto where = "record " + std::to_string(n);
    if (line.size() > kMaxLine) return corrupt(path, where + " is longer than 1 MiB");
    auto found = logfiles::line_n(line);
    if (!found) return corrupt(path, where + " does not start with its n");
    if (*found != n) {
      return corrupt(path, where + " has n=" + std::to_string(*found) +
                               " (records were deleted, inserted or reordered)");
    }
    const std::size_t tail = kPrevPrefix.size() + 64 + 2;
    if (line.size() < tail || !line.ends_with("\"}") ||
        line.substr(line.size() - tail, kPrevPrefix.size()) != kPrevPrefix) {
      return corrupt(path, where + " does not end with its prev_root");
    }
    auto prev = Digest::parse(line.substr(line.size() - 66, 64));
    if (!prev) return corrupt(path, where + " has a malformed prev_root");
    const Digest root = known_root ? *known_root : range.root();
    if (*prev != root) {
      return corrupt(path, n == 0 ? "record 0 has a wrong prev_root"
                                  : "record " + std::to_string(n - 1) + " was altered: record " +
                                        std::to_string(n) + " holds tree head " + prev->hex() +
                                        ", the records before it hash to " + root.hex());
    }
    if (line.find(kCheckpointMark) != std::string_view::npos) {
      json j = json::parse(line, nullptr, false);
      if (j.is_object() && json_string(j, "event") == "checkpoint" && j.contains("note") &&
          j["note"].is_string()) {
        latest_checkpoint.emplace(n, j["note"].get<std::string>());
        before_latest = range;
      }
    }
    ++count;
    range.append(leaf ? *leaf : merkle::leaf_hash(line), on_node);
    return {};
  }
};

// Reads fd from offset to end (its end by default), handing every complete
// line (without its newline) and its offset to on_line. Returns how many
// bytes follow the last newline: a record cut off mid-write.
Result<std::size_t> for_each_line(
    int fd, const fs::path& path, std::uint64_t offset,
    const std::function<Status(std::string_view, std::uint64_t offset)>& on_line,
    std::uint64_t end = UINT64_MAX) {
  std::string pending;
  std::uint64_t pending_at = offset;  // file offset of pending[0]
  std::vector<char> buf(kReadChunk);
  while (offset < end) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), end - offset));
    ssize_t got = ::pread(fd, buf.data(), want, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read " + path.string());
    }
    if (got == 0) break;
    offset += static_cast<std::uint64_t>(got);
    pending.append(buf.data(), static_cast<std::size_t>(got));
    std::size_t start = 0;
    for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
      if (auto s = on_line(std::string_view(pending).substr(start, nl - start), pending_at + start);
          !s) {
        return fail(s.error());
      }
      start = nl + 1;
    }
    pending.erase(0, start);
    pending_at += start;
    if (pending.size() > kMaxLine) return corrupt(path, "a record is longer than 1 MiB");
  }
  return pending.size();
}

// Every string in value (object keys included), with invalid UTF-8 escaped.
json sanitized(const json& value) {
  if (value.is_string()) return escape_invalid_utf8(value.get_ref<const std::string&>());
  if (value.is_array()) {
    json out = json::array();
    for (const auto& v : value) out.push_back(sanitized(v));
    return out;
  }
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [k, v] : value.items()) out[escape_invalid_utf8(k)] = sanitized(v);
    return out;
  }
  return value;
}

// The fields of a record as they appear inside its line: a compact JSON
// object without its braces ("" for none).
std::string inner_fields(const json& fields) {
  auto text = fields.dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() > 2 ? text.substr(1, text.size() - 2) : std::string();
}

// What a line adds around event and fields at most: n (20 digits), the time,
// the keys, punctuation and prev_root.
constexpr std::size_t kLineOverhead =
    std::string_view(R"({"n":,"time":"","event":,,"prev_root":""})").size() + 20 +
    std::string_view("2026-11-22T10:51:33Z").size() + 64;

// time: as format_time writes it.
std::string make_line(std::uint64_t n, std::string_view time, std::string_view event_json,
                      std::string_view fields, const Digest& prev_root) {
  std::string line;
  line.reserve(fields.size() + 200);
  line += "{\"n\":";
  line += std::to_string(n);
  line += ",\"time\":\"";
  line += time;
  line += "\",\"event\":";
  line += event_json;
  if (!fields.empty()) {
    line += ',';
    line += fields;
  }
  line += ",\"prev_root\":\"" + prev_root.hex() + "\"}";
  return line;
}

// The inclusion-proof document prove_record writes and verify_proof reads.
json proof_document(std::uint64_t n, std::string record, std::uint64_t size,
                    std::span<const Digest> path, std::string note) {
  json proof = json::array();
  for (const auto& d : path) proof.push_back(d.hex());
  return json{{"n", n},
              {"record", std::move(record)},
              {"tree_size", size},
              {"proof", std::move(proof)},
              {"checkpoint", std::move(note)}};
}

}  // namespace

Result<PreparedRecord> prepare_record(std::string_view event, json fields) {
  if (event.empty() || event == "checkpoint") {
    return fail(Code::invalid_input, "log record needs an event other than 'checkpoint'");
  }
  if (!fields.is_object())
    return fail(Code::invalid_input, "log record fields must be a JSON object");
  for (const char* reserved : {"n", "time", "event", "prev_root"}) {
    if (fields.contains(reserved)) {
      return fail(Code::invalid_input,
                  std::string("log record fields may not set '") + reserved + "'");
    }
  }
  PreparedRecord out{escape_invalid_utf8(event), sanitized(fields)};
  const std::size_t size =
      json(out.event).dump().size() + inner_fields(out.fields).size() + kLineOverhead;
  if (size > kMaxLine) {
    return fail(Code::limit, "the '" + out.event + "' log record would be " + std::to_string(size) +
                                 " bytes, more than the log's limit of " +
                                 std::to_string(kMaxLine) + " bytes a record");
  }
  return out;
}

std::string log_origin(const KeyId& key) { return "airlock/" + key.hex().substr(0, 16); }
std::string log_origin(const PublicKey& key) { return log_origin(key.id()); }

Result<VerifiedCheckpoint> verify_log_checkpoint(std::string_view note,
                                                 std::span<const PublicKey> keys) {
  auto v = verify_checkpoint(note, keys);
  if (!v) return v;
  const std::string bound = log_origin(v->key);
  if (v->checkpoint.origin != bound) {
    return fail(Code::refused, "checkpoint for tree size " + std::to_string(v->checkpoint.size) +
                                   " names origin '" + escape_for_terminal(v->checkpoint.origin) +
                                   "', but log key " + v->key.hex() + " signs for origin '" +
                                   bound + "'");
  }
  return v;
}

struct TransferLog::Impl {
  fs::path dir;
  Env* env = nullptr;
  bool read_only = false;
  std::uint64_t segment_records = LogOptions{}.segment_records;
  std::vector<PublicKey> keys;
  UniqueFd dir_fd;  // flocked by appends
  std::vector<logfiles::Segment> segments;
  std::size_t cur = 0;          // the segment being read or written: the last once caught up
  UniqueFd fd;                  // segments[cur]
  std::uint64_t seg_bytes = 0;  // complete lines taken in from segments[cur]
  Chain chain;
  logfiles::Tiles tiles{fs::path()};
  // A mismatch between the records and the hashes kept with them: appends are refused.
  std::optional<Error> damage;
  // The tree at chain.latest_checkpoint, for log/state.json.
  std::optional<logfiles::TreeState> latest_state;
  std::uint64_t state_size = 0;  // the size log/state.json holds (0: none)
  mutable std::mutex mu;
  std::function<void(std::string_view)> forward;

  fs::path state_path() const { return dir / "state.json"; }
  const fs::path& seg_path() const { return segments[cur].path; }

  Status open_segment(std::size_t i) {
    auto f = logfiles::open_log_file(*env, segments[i].path, !read_only);
    if (!f) return fail(f.error());
    fd = std::move(*f);
    cur = i;
    seg_bytes = 0;
    return {};
  }

  void note_damage(const Error& e) {
    if (!damage) damage = e;
  }

  // Takes one line that starts at offset in segments[cur] into the chain,
  // checking it against (or adding it to) the tiles and the index.
  // leaf and root as for Chain::take.
  Status take_line(std::string_view line, std::uint64_t offset, const Digest* leaf = nullptr,
                   const Digest* root = nullptr) {
    const std::uint64_t n = chain.count;
    auto on_node = [&](unsigned h, std::uint64_t i, const Digest& d) {
      if (damage) return;
      if (auto s = tiles.put_node(h, i, d); !s) note_damage(s.error());
    };
    if (auto s = chain.take(line, seg_path(), on_node, leaf, root); !s) return s;
    if (!segments[cur].first) segments[cur].first = n;
    if (n % logfiles::kTileWidth == 0 && !damage) {
      if (auto s = tiles.put_offset(n, offset); !s) note_damage(s.error());
    }
    if (chain.latest_checkpoint && chain.latest_checkpoint->first == n) {
      latest_state = logfiles::TreeState{n, chain.before_latest.root(), chain.before_latest.peaks(),
                                         segments[cur].number, offset};
    }
    return {};
  }

  // Reads what was appended to the current segment and to segments after it
  // since the last look.
  Status catch_up() {
    if (auto s = tiles.refresh(); !s) return s;
    for (;;) {
      struct stat st;
      if (::fstat(fd.get(), &st) != 0) return fail_errno(seg_path().string());
      const auto size = static_cast<std::uint64_t>(st.st_size);
      if (size < seg_bytes) {
        return corrupt(seg_path(), "the file shrank from " + std::to_string(seg_bytes) + " to " +
                                       std::to_string(size) + " bytes while open");
      }
      if (size > seg_bytes) {
        auto torn = for_each_line(fd.get(), seg_path(), seg_bytes,
                                  [&](std::string_view line, std::uint64_t at) -> Status {
                                    if (auto s = take_line(line, at); !s) return s;
                                    seg_bytes = at + line.size() + 1;
                                    if (forward) forward(line);
                                    return {};
                                  });
        if (!torn) return fail(torn.error());
        if (*torn > 0) {
          return corrupt(seg_path(),
                         "record " + std::to_string(chain.count) +
                             " is incomplete: the file ends without a newline after " +
                             std::to_string(*torn) +
                             " bytes (a write was cut off); it is kept as it is for inspection");
        }
      }
      if (cur + 1 >= segments.size()) {
        const auto next = logfiles::segment_path(dir, segments[cur].number + 1);
        if (!path_exists(next)) break;
        segments.push_back({segments[cur].number + 1, next, std::nullopt});
      }
      if (auto s = open_segment(cur + 1); !s) return s;
    }
    if (!read_only && !damage) return tiles.flush(*env);
    return {};
  }

  // Starts from log/state.json: the checkpoint record it names must be where
  // it says, chained from its frontier, and signed (when keys are known).
  Status start_from_state(const logfiles::TreeState& st) {
    auto bad = [&](const std::string& what) {
      return fail(Code::corrupt, state_path().string() + " does not match the log: " + what);
    };
    auto it = std::find_if(segments.begin(), segments.end(),
                           [&](const auto& s) { return s.number == st.segment; });
    if (it == segments.end()) {
      return bad("it names segment " + logfiles::segment_path(dir, st.segment).filename().string() +
                 ", which is not there");
    }
    if (auto s = tiles.covers(st.size + 1); !s) return bad(s.error().message);
    if (auto s = open_segment(static_cast<std::size_t>(it - segments.begin())); !s) return s;
    std::string head(kMaxLine + 1, '\0');
    ssize_t got;
    do {
      got = ::pread(fd.get(), head.data(), head.size(), static_cast<off_t>(st.offset));
    } while (got < 0 && errno == EINTR);
    if (got < 0) return fail_errno("read " + seg_path().string());
    head.resize(static_cast<std::size_t>(got));
    const auto nl = head.find('\n');
    if (nl == std::string::npos)
      return bad("no complete record at offset " + std::to_string(st.offset));
    const std::string_view line(head.data(), nl);
    if (logfiles::line_n(line) != st.size) {
      return bad("record " + std::to_string(st.size) + " is not at offset " +
                 std::to_string(st.offset) + " of " + seg_path().filename().string());
    }
    chain = Chain{};
    chain.count = st.size;
    chain.range = *merkle::CompactRange::from_peaks(st.size, st.frontier);
    if (auto s = take_line(line, st.offset); !s) return bad(s.error().message);
    if (!chain.latest_checkpoint || chain.latest_checkpoint->first != st.size) {
      return bad("record " + std::to_string(st.size) + " is not a checkpoint");
    }
    if (!keys.empty()) {
      auto v = verify_log_checkpoint(chain.latest_checkpoint->second, keys);
      if (!v) return bad("checkpoint record " + std::to_string(st.size) + ": " + v.error().message);
      if (v->checkpoint.size != st.size || v->checkpoint.root != st.root) {
        return bad("checkpoint record " + std::to_string(st.size) + " signs another tree");
      }
    }
    seg_bytes = st.offset + line.size() + 1;
    state_size = st.size;
    return {};
  }

  // Reads from record 0; the first segment must hold it.
  Status start_from_beginning() {
    if (segments.front().first.value_or(0) != 0) {
      return fail(Code::not_found,
                  "transfer log " + dir.string() + ": records 0 to " +
                      std::to_string(*segments.front().first - 1) +
                      " are not here (their segments were moved away) and there is no "
                      "state.json to start from");
    }
    // Tiles already there are compared with every record as it is read.
    chain = Chain{};
    return open_segment(0);
  }

  // Writes log/state.json for the newest checkpoint once segments and tiles are synced.
  void persist_state() {
    if (read_only || damage || !latest_state || latest_state->size <= state_size) return;
    if (!env->sync(fd.get(), seg_path().string()) || !tiles.sync(*env)) return;
    if (env->write_file_atomic(state_path(), logfiles::state_json(*latest_state))) {
      state_size = latest_state->size;
    }
  }

  // Caller holds mu and the file lock, and has caught up.
  // records: (event as a JSON string, fields as inner_fields()).
  // records: each one's event as a JSON string and its fields as for make_line.
  Result<std::uint64_t> write_lines(
      std::span<const std::pair<std::string_view, std::string_view>> records) {
    if (read_only)
      return fail(Code::refused, "transfer log " + dir.string() + " is open read-only");
    if (damage) {
      return fail(Code::corrupt, "the transfer log takes no more records until it is restored: " +
                                     damage->message);
    }
    if (seg_bytes > 0 &&
        chain.count - segments[cur].first.value_or(chain.count) >= segment_records) {
      // The segment ends here: its records must last as long as the next one's.
      if (auto s = env->sync(fd.get(), seg_path().string()); !s) return fail(s.error());
      const auto next = logfiles::segment_path(dir, segments[cur].number + 1);
      auto f = env->open(next, O_RDWR | O_APPEND | O_CREAT | O_EXCL, 0644);
      if (!f) return fail(f.error());
      if (auto s = env->sync_dir(dir); !s) return fail(s.error());
      segments.push_back({segments[cur].number + 1, next, std::nullopt});
      fd = std::move(*f);
      cur = segments.size() - 1;
      seg_bytes = 0;
    }
    const std::uint64_t first = chain.count;
    const std::string now = format_time(env->now());
    merkle::CompactRange range = chain.range;
    std::string out;
    // Each line's place in out, its leaf hash and the root before it.
    struct Span {
      std::uint64_t offset;
      std::size_t length;
      Digest leaf, root;
    };
    std::vector<Span> spans;
    spans.reserve(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      const Digest root = range.root();
      auto line = make_line(first + i, now, records[i].first, records[i].second, root);
      if (line.size() > kMaxLine) return fail(Code::limit, "log record is longer than 1 MiB");
      const Digest leaf = merkle::leaf_hash(line);
      range.append(leaf);
      spans.push_back({out.size(), line.size(), leaf, root});
      out += line;
      out += '\n';
    }
    const std::uint64_t old_bytes = seg_bytes;
    // Put the files back exactly as they were: no torn record is left behind.
    auto undo = [&, saved = chain, saved_state = latest_state, mark = tiles.mark()](Error e) {
      chain = saved;
      latest_state = saved_state;
      seg_bytes = old_bytes;
      const bool tiles_back = static_cast<bool>(tiles.rollback(*env, mark));
      if (!env->truncate(fd.get(), old_bytes, seg_path().string()) || !tiles_back) {
        return fail(e.context("appending to " + seg_path().string() +
                              " failed and the partial record could not be removed"));
      }
      return fail(e.context("appending to " + seg_path().string()));
    };
    auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(out.data()), out.size());
    if (auto s = env->write(fd.get(), bytes); !s) return undo(s.error());
    for (const auto& span : spans) {
      if (auto t = take_line(std::string_view(out).substr(span.offset, span.length),
                             old_bytes + span.offset, &span.leaf, &span.root);
          !t)
        return undo(t.error());
    }
    seg_bytes = old_bytes + out.size();
    if (damage) return undo(*damage);
    if (auto s = tiles.flush(*env); !s) return undo(s.error());
    if (forward) {
      for (const auto& span : spans)
        forward(std::string_view(out).substr(span.offset, span.length));
    }
    return first;
  }

  struct Place {
    std::size_t segment;
    std::uint64_t offset;  // where record n starts in it
    std::uint64_t n;       // a record at or before the one sought
  };
  // Where to start reading for record n (< chain.count).
  Result<Place> locate(std::uint64_t n) const {
    std::size_t i = segments.size();
    while (i > 0 && !(segments[i - 1].first && *segments[i - 1].first <= n)) --i;
    if (i == 0) {
      return fail(Code::not_found, "record " + std::to_string(n) + " is not in " + dir.string() +
                                       ": its segment is not there (moved to archival media?)");
    }
    const auto& seg = segments[i - 1];
    const std::uint64_t base = n / logfiles::kTileWidth * logfiles::kTileWidth;
    if (base >= *seg.first) {
      if (auto off = tiles.offset(base)) return Place{i - 1, *off, base};
    }
    return Place{i - 1, 0, *seg.first};
  }

  Status read_records(std::uint64_t from, std::uint64_t to,
                      const std::function<Status(std::uint64_t, std::string_view)>& fn) const {
    to = std::min(to, chain.count);
    if (from >= to) return {};
    auto place = locate(from);
    if (!place) return fail(place.error());
    std::uint64_t n = place->n;
    bool done = false;
    for (std::size_t i = place->segment; i < segments.size() && !done; ++i) {
      const auto& seg = segments[i];
      if (i > place->segment && (seg.number != segments[i - 1].number + 1 || seg.first != n)) {
        return corrupt(seg.path, "does not follow " + segments[i - 1].path.filename().string() +
                                     " (record " + std::to_string(n) + " expected)");
      }
      UniqueFd own;
      int f = fd.get();
      if (i != cur) {
        auto o = open_regular_file(seg.path);
        if (!o) return fail(o.error());
        own = std::move(*o);
        f = own.get();
      }
      const std::uint64_t end = i == cur ? seg_bytes : UINT64_MAX;
      auto torn = for_each_line(
          f, seg.path, i == place->segment ? place->offset : 0,
          [&](std::string_view line, std::uint64_t) -> Status {
            if (n >= from) {
              auto want = tiles.leaf(n);
              if (!want) return fail(want.error());
              if (merkle::leaf_hash(line) != *want) {
                return corrupt(seg.path, "record " + std::to_string(n) + " changed on disk");
              }
              if (auto s = fn(n, line); !s) return s;
            }
            if (++n == to) {
              done = true;
              return fail(Code::limit, "stop");  // ends the read; not an error
            }
            return {};
          },
          end);
      if (!torn && !done) return fail(torn.error());
    }
    if (n != to) {
      return corrupt(segments.back().path, "record " + std::to_string(n) + " changed on disk");
    }
    return {};
  }
};

TransferLog::TransferLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TransferLog::~TransferLog() = default;

Result<std::unique_ptr<TransferLog>> TransferLog::open(const fs::path& dir, LogOptions options) {
  auto impl = std::make_unique<Impl>();
  auto& m = *impl;
  m.dir = dir;
  m.env = options.env ? options.env : &Env::system();
  m.read_only = options.read_only;
  m.segment_records = std::max<std::uint64_t>(options.segment_records, 1);
  m.keys = options.keys;
  m.tiles = logfiles::Tiles(dir / "tiles");
  if (!options.read_only) {
    if (auto s = m.env->make_dirs(dir); !s) return fail(s.error());
  }
  auto dfd = open_file(dir, O_RDONLY | O_DIRECTORY);
  if (!dfd) return fail(dfd.error());
  m.dir_fd = std::move(*dfd);
  auto lock = FileLock::acquire(m.dir_fd.get(), dir);
  if (!lock) return fail(lock.error());
  auto segments = logfiles::list_segments(dir);
  if (!segments) return fail(segments.error());
  const fs::path legacy = dir / "transfer.jsonl";
  if (segments->empty() && path_exists(legacy)) {
    if (options.read_only) {
      segments->push_back({1, legacy, std::nullopt});
    } else {
      if (auto s = m.env->rename(legacy, logfiles::segment_path(dir, 1)); !s)
        return fail(s.error());
      if (auto s = m.env->sync_dir(dir); !s) return fail(s.error());
      segments = logfiles::list_segments(dir);
      if (!segments) return fail(segments.error());
    }
  }
  if (segments->empty()) {
    if (options.read_only) {
      return fail(Code::not_found, "transfer log " + dir.string() + " has no segments");
    }
    const auto first = logfiles::segment_path(dir, 1);
    auto f = m.env->open(first, O_RDWR | O_APPEND | O_CREAT, 0644);
    if (!f) return fail(f.error());
    if (auto s = m.env->sync_dir(dir); !s) return fail(s.error());
    segments->push_back({1, first, std::nullopt});
  }
  for (std::size_t i = 1; i < segments->size(); ++i) {
    const auto& a = (*segments)[i - 1];
    const auto& b = (*segments)[i];
    if (b.number != a.number + 1) {
      return corrupt(dir, logfiles::segment_path(dir, a.number + 1).filename().string() +
                              " is missing between " + a.path.filename().string() + " and " +
                              b.path.filename().string());
    }
    if (!a.first || !b.first || *b.first <= *a.first) {
      if (i + 1 < segments->size() || !a.first) {
        return corrupt(
            dir, b.path.filename().string() + " does not follow " + a.path.filename().string());
      }
    }
  }
  m.segments = std::move(*segments);
  if (auto s = m.tiles.open(*m.env, options.read_only); !s) return fail(s.error());
  auto state = logfiles::read_state(m.state_path());
  bool started = false;
  if (!state) {
    m.note_damage(state.error());
  } else if (*state) {
    if (auto s = m.start_from_state(**state); s) {
      started = true;
    } else {
      m.note_damage(s.error());
    }
  }
  if (!started) {
    const auto saved_damage = m.damage;
    m.damage.reset();
    if (auto s = m.start_from_beginning(); !s) return fail(s.error());
    m.damage = saved_damage;
  }
  if (auto s = m.catch_up(); !s) return fail(s.error());
  // Hashes beyond the records are of records a crash lost before they were
  // synced (or that were cut off): the records are what counts.
  if (m.tiles.leaves() > m.chain.count && !m.damage) {
    (void)m.tiles.rollback(*m.env, [&] {
      auto mk = m.tiles.mark();
      mk.levels[0] = m.chain.count;
      for (unsigned l = 1; l < logfiles::kMaxLevels; ++l)
        mk.levels[l] = std::min(mk.levels[l], m.chain.count >> (l * logfiles::kTileHeight));
      mk.index =
          std::min(mk.index, (m.chain.count + logfiles::kTileWidth - 1) / logfiles::kTileWidth);
      return mk;
    }());
  }
  m.persist_state();
  return std::unique_ptr<TransferLog>(new TransferLog(std::move(impl)));
}

Result<std::uint64_t> TransferLog::append(std::string_view event, std::string_view fields_json) {
  LogRecordInput r{std::string(event), std::string(fields_json)};
  return append_many(std::span(&r, 1));
}

Result<std::uint64_t> TransferLog::append_many(std::span<const LogRecordInput> records) {
  std::vector<PreparedRecord> prepared;
  prepared.reserve(records.size());
  for (const auto& r : records) {
    json fields = json::parse(r.fields_json, nullptr, false);
    if (fields.is_discarded())
      return fail(Code::invalid_input, "log record fields must be a JSON object");
    auto p = prepare_record(r.event, std::move(fields));
    if (!p) return fail(p.error());
    prepared.push_back(std::move(*p));
  }
  return append_prepared(prepared);
}

Result<std::uint64_t> TransferLog::append_prepared(std::span<const PreparedRecord> records) {
  std::vector<std::pair<std::string, std::string>> texts;
  texts.reserve(records.size());
  for (const auto& r : records) texts.emplace_back(json(r.event).dump(), inner_fields(r.fields));
  std::vector<std::pair<std::string_view, std::string_view>> lines(texts.begin(), texts.end());
  std::lock_guard lk(impl_->mu);
  auto lock = FileLock::acquire(impl_->dir_fd.get(), impl_->dir);
  if (!lock) return fail(lock.error());
  if (auto s = impl_->catch_up(); !s) return fail(s.error());
  return impl_->write_lines(lines);
}

Result<std::uint64_t> TransferLog::append_trusted(std::string_view event,
                                                  std::span<const std::string> fields_inner) {
  const std::string ev = json(event).dump();
  std::vector<std::pair<std::string_view, std::string_view>> lines;
  lines.reserve(fields_inner.size());
  for (const auto& f : fields_inner) lines.emplace_back(ev, f);
  std::lock_guard lk(impl_->mu);
  auto lock = FileLock::acquire(impl_->dir_fd.get(), impl_->dir);
  if (!lock) return fail(lock.error());
  if (auto s = impl_->catch_up(); !s) return fail(s.error());
  return impl_->write_lines(lines);
}

Status TransferLog::sync() {
  std::lock_guard lk(impl_->mu);
  return impl_->env->sync(impl_->fd.get(), impl_->seg_path().string());
}

Result<std::string> TransferLog::checkpoint(const PrivateKey& key) {
  std::lock_guard lk(impl_->mu);
  auto lock = FileLock::acquire(impl_->dir_fd.get(), impl_->dir);
  if (!lock) return fail(lock.error());
  if (auto s = impl_->catch_up(); !s) return fail(s.error());
  Checkpoint cp{log_origin(key.public_key()), impl_->chain.count, impl_->chain.range.root()};
  auto note = sign_checkpoint(cp, key, kLogKeyName);
  if (!note) return fail(note.error());
  json fields{{"size", cp.size}, {"root", cp.root.hex()}, {"note", *note}};
  const std::string inner = inner_fields(fields);
  std::pair<std::string_view, std::string_view> record{"\"checkpoint\"", inner};
  auto n = impl_->write_lines(std::span(&record, 1));
  if (!n) return fail(n.error());
  if (auto s = impl_->env->sync(impl_->fd.get(), impl_->seg_path().string()); !s)
    return fail(s.error());
  impl_->persist_state();
  return *note;
}

Status TransferLog::refresh() {
  std::lock_guard lk(impl_->mu);
  // Catching up may write tile hashes another writer has not flushed yet:
  // only under the lock every writer holds.
  auto lock = FileLock::acquire(impl_->dir_fd.get(), impl_->dir);
  if (!lock) return fail(lock.error());
  return impl_->catch_up();
}

std::uint64_t TransferLog::size() const {
  std::lock_guard lk(impl_->mu);
  return impl_->chain.count;
}

Digest TransferLog::root() const {
  std::lock_guard lk(impl_->mu);
  return impl_->chain.range.root();
}

Result<Digest> TransferLog::root_at(std::uint64_t size) const {
  std::lock_guard lk(impl_->mu);
  if (size > impl_->chain.count) {
    return fail(Code::not_found,
                "the log has only " + std::to_string(impl_->chain.count) + " records");
  }
  return merkle::root(size, impl_->tiles.source());
}

std::optional<Error> TransferLog::damage() const {
  std::lock_guard lk(impl_->mu);
  return impl_->damage;
}

void TransferLog::forward_to(std::function<void(std::string_view line)> fn) {
  std::lock_guard lk(impl_->mu);
  impl_->forward = std::move(fn);
}

Result<std::string> TransferLog::record(std::uint64_t n) const {
  std::lock_guard lk(impl_->mu);
  if (n >= impl_->chain.count) return fail(Code::not_found, "no record " + std::to_string(n));
  std::string out;
  auto s = impl_->read_records(n, n + 1, [&](std::uint64_t, std::string_view line) -> Status {
    out = line;
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

Status TransferLog::for_each_record(
    std::uint64_t from, std::uint64_t to,
    const std::function<Status(std::uint64_t n, std::string_view line)>& fn) const {
  std::lock_guard lk(impl_->mu);
  return impl_->read_records(from, to, fn);
}

Result<std::vector<Digest>> TransferLog::inclusion_proof(std::uint64_t n,
                                                         std::uint64_t size) const {
  std::lock_guard lk(impl_->mu);
  if (n >= size || size > impl_->chain.count) {
    return fail(Code::not_found,
                "no record " + std::to_string(n) + " in a tree of size " + std::to_string(size));
  }
  return merkle::inclusion_proof(n, size, impl_->tiles.source());
}

Result<std::vector<Digest>> TransferLog::consistency_proof(std::uint64_t m, std::uint64_t n) const {
  std::lock_guard lk(impl_->mu);
  if (m > n || n > impl_->chain.count) {
    return fail(Code::invalid_input,
                "no consistency proof from " + std::to_string(m) + " to " + std::to_string(n));
  }
  return merkle::consistency_proof(m, n, impl_->tiles.source());
}

Result<json> TransferLog::prove(std::uint64_t n, std::uint64_t checkpoint) const {
  auto cp_line = record(checkpoint);
  if (!cp_line) return fail(cp_line.error());
  json cp = json::parse(*cp_line, nullptr, false);
  if (json_string(cp, "event") != "checkpoint" || !cp.contains("note") || !cp["note"].is_string()) {
    return fail(Code::not_found, "record " + std::to_string(checkpoint) + " is not a checkpoint");
  }
  auto line = record(n);
  if (!line) return fail(line.error());
  auto path = inclusion_proof(n, checkpoint);
  if (!path) return fail(path.error());
  return proof_document(n, std::move(*line), checkpoint, *path, cp["note"].get<std::string>());
}

Result<json> TransferLog::prove(std::uint64_t n) const {
  if (n >= size()) return fail(Code::not_found, "no record " + std::to_string(n));
  std::optional<std::uint64_t> covering;
  auto s =
      for_each_record(n + 1, UINT64_MAX, [&](std::uint64_t i, std::string_view line) -> Status {
        if (line.find(kCheckpointMark) == std::string_view::npos) return {};
        covering = i;
        return fail(Code::limit, "stop");  // ends the read; not an error
      });
  if (!s && !covering) return fail(s.error());
  if (!covering) {
    return fail(Code::not_found,
                "record " + std::to_string(n) +
                    " is not covered by a checkpoint yet; prove it after the next one");
  }
  return prove(n, *covering);
}

std::optional<std::pair<std::uint64_t, std::string>> TransferLog::latest_checkpoint() const {
  std::lock_guard lk(impl_->mu);
  return impl_->chain.latest_checkpoint;
}

const fs::path& TransferLog::dir() const { return impl_->dir; }

// ---------------------------------------------------------------------------
// Verification, reading only.

namespace {

// Full check of one record on top of the structural chain: one JSON object
// with a valid time and an event. members reads "time" and "event".
Status check_record(std::string_view line, std::uint64_t n, const fs::path& path,
                    JsonMembers& members) {
  auto where = "record " + std::to_string(n);
  if (!members.parse(line)) return corrupt(path, where + " is not a JSON object");
  const std::string* time = members.string(0);
  if (!time || !parse_time(*time)) return corrupt(path, where + " has no valid time");
  if (members.text(1).empty()) return corrupt(path, where + " has no event");
  return {};
}

// The checkpoint record at index n: its note verifies under one of keys and
// signs exactly the records before it (whose tree root is root_before), and
// it keeps the origin of the previous checkpoint. The checkpoint it carries; corrupt naming the
// record otherwise, or the note's own refusal.
Result<Checkpoint> check_checkpoint(const json& record, std::uint64_t n, const Digest& root_before,
                                    const std::optional<Checkpoint>& previous,
                                    std::span<const PublicKey> keys, const fs::path& path) {
  auto where = "checkpoint record " + std::to_string(n);
  if (!record.contains("note") || !record["note"].is_string()) {
    return corrupt(path, where + " has no note");
  }
  auto v = verify_log_checkpoint(record["note"].get<std::string>(), keys);
  if (!v) {
    return fail(v.error().code,
                "transfer log " + path.string() + ": " + where + ": " + v.error().message);
  }
  const auto& cp = v->checkpoint;
  if (cp.size != n || cp.root != root_before) {
    return corrupt(path, where + " signs tree size " + std::to_string(cp.size) + " root " +
                             cp.root.hex() + ", but the " + std::to_string(n) +
                             " records before it hash to " + root_before.hex());
  }
  // Each checkpoint's root is checked against the running root of the
  // records before it, so every checkpoint is a root of a prefix of the
  // same sequence: consistency with the one before follows from this pass.
  if (previous && previous->origin != cp.origin) {
    return corrupt(
        path, where + " has origin '" + cp.origin + "', earlier ones '" + previous->origin + "'");
  }
  return cp;
}

}  // namespace

namespace {

// Reads files in order on a second thread, in batches of whole lines, and
// hands each line to on_line on this thread, in order, with its file, its
// offset there, its leaf hash and check_record's verdict (the line's n
// counted from first_n), all computed on the reading thread; at the end of
// each file on_end gets the bytes after its last newline. Stops at the first
// error of either, which it returns; at most a few batches are in memory.
Status read_ahead(
    std::span<const fs::path> files, std::uint64_t first_n,
    const std::function<Status(std::size_t file, std::string_view line, std::uint64_t offset,
                               const Digest& leaf, const Status& check)>& on_line,
    const std::function<Status(std::size_t file, std::size_t torn)>& on_end) {
  struct Batch {
    std::size_t file = 0;
    std::string text;                 // whole lines, each with its newline
    std::uint64_t offset = 0;         // of text[0] in the file
    std::vector<std::size_t> starts;  // of each line in text, and text.size()
    std::vector<Digest> leaves;
    std::size_t bad = SIZE_MAX;       // the first line check_record refused
    Status check;                     // and why
    std::optional<std::size_t> torn;  // set on a file's last batch
    std::optional<Error> error;       // reading failed after the lines above
  };
  constexpr std::size_t kAhead = 3;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Batch> queue;
  bool stop = false, done = false;
  auto push = [&](Batch&& b) {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return stop || queue.size() < kAhead; });
    if (stop) return false;
    queue.push_back(std::move(b));
    cv.notify_all();
    return true;
  };
  std::thread reader([&] {
    JsonMembers members({"time", "event"});
    std::uint64_t n = first_n;
    for (std::size_t k = 0; k < files.size(); ++k) {
      Batch out;
      out.file = k;
      // Hands the lines gathered so far on; false once the consumer stopped.
      auto hand_over = [&] {
        out.starts.push_back(out.text.size());
        if (!push(std::move(out))) return false;
        out = Batch{};
        out.file = k;
        return true;
      };
      bool stopped = false;
      auto on_line = [&](std::string_view line, std::uint64_t at) -> Status {
        if (out.text.empty()) out.offset = at;
        out.starts.push_back(out.text.size());
        out.text.append(line);
        out.text.push_back('\n');
        out.leaves.push_back(merkle::leaf_hash(line));
        if (out.bad == SIZE_MAX) {
          if (auto c = check_record(line, n, files[k], members); !c) {
            out.bad = out.starts.size() - 1;
            out.check = c;
          }
        }
        ++n;
        if (out.text.size() < kReadChunk || hand_over()) return {};
        stopped = true;
        return fail(Code::limit, "stop");  // ends the read
      };
      auto fd = open_regular_file(files[k]);
      auto torn = fd ? for_each_line(fd->get(), files[k], 0, on_line)
                     : Result<std::size_t>(fail(fd.error()));
      if (stopped) return;
      if (torn) {
        out.torn = *torn;
      } else {
        out.error = torn.error();
      }
      if (!hand_over() || !torn) break;
    }
    std::lock_guard lk(mu);
    done = true;
    cv.notify_all();
  });
  auto finish = [&](Status s) {
    {
      std::lock_guard lk(mu);
      stop = true;
      cv.notify_all();
    }
    reader.join();
    return s;
  };
  for (;;) {
    Batch b;
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return !queue.empty() || done; });
      if (queue.empty()) break;
      b = std::move(queue.front());
      queue.pop_front();
      cv.notify_all();
    }
    const Status ok;
    for (std::size_t i = 0; i + 1 < b.starts.size(); ++i) {
      const std::string_view line(b.text.data() + b.starts[i], b.starts[i + 1] - b.starts[i] - 1);
      if (auto s =
              on_line(b.file, line, b.offset + b.starts[i], b.leaves[i], i == b.bad ? b.check : ok);
          !s)
        return finish(s);
    }
    if (b.error) return finish(fail(*b.error));
    if (b.torn) {
      if (auto s = on_end(b.file, *b.torn); !s) return finish(s);
    }
  }
  return finish({});
}

}  // namespace

std::string coverage_statement(const LogVerification& v) {
  auto records = [](std::uint64_t n) {
    return std::to_string(n) + (n == 1 ? " record" : " records");
  };
  const std::string archived =
      v.first == 0 ? ""
                   : "Records 0 to " + std::to_string(v.first - 1) +
                         " are not in the files checked; the tiles give their tree. ";
  if (!v.last_checkpoint)
    return archived + "No checkpoint signs any of the " + records(v.records - v.first) + " yet.";
  const std::uint64_t c = v.last_checkpoint->size;
  std::string out = archived + "The newest checkpoint (record " + std::to_string(c) +
                    ") signs the first " + records(c);
  if (v.uncovered == 0) return out + " and is the log's last record.";
  return out + "; " + records(v.uncovered) + " after it " + (v.uncovered == 1 ? "is" : "are") +
         " not signed yet.";
}

Result<LogVerification> verify_log(std::span<const fs::path> inputs,
                                   std::span<const PublicKey> keys,
                                   std::span<const std::string> known_checkpoints) {
  if (keys.empty()) return fail(Code::invalid_input, "verifying a log needs the log's public key");
  if (inputs.empty()) return fail(Code::invalid_input, "no log to verify");
  // Checkpoints signed earlier: each must be the root of a prefix of the log,
  // taken as the pass reaches its size.
  std::vector<Checkpoint> known;
  for (const auto& note : known_checkpoints) {
    auto v = verify_log_checkpoint(note, keys);
    if (!v) return fail(v.error().context("known checkpoint"));
    known.push_back(v->checkpoint);
  }
  // What to read: a log directory (segments, tiles, state) or files in order.
  std::vector<fs::path> files;
  std::vector<std::uint64_t> numbers;  // segment numbers, for a directory
  std::optional<logfiles::Tiles> tiles;
  std::optional<logfiles::TreeState> state;
  fs::path state_file;
  std::error_code ec;
  if (inputs.size() == 1 && fs::is_directory(inputs[0], ec)) {
    const fs::path& dir = inputs[0];
    auto segs = logfiles::list_segments(dir);
    if (!segs) return fail(segs.error());
    for (std::size_t i = 0; i < segs->size(); ++i) {
      if (i > 0 && (*segs)[i].number != (*segs)[i - 1].number + 1) {
        return corrupt(dir,
                       logfiles::segment_path(dir, (*segs)[i - 1].number + 1).filename().string() +
                           " is missing");
      }
      files.push_back((*segs)[i].path);
      numbers.push_back((*segs)[i].number);
    }
    if (files.empty() && path_exists(dir / "transfer.jsonl"))
      files.push_back(dir / "transfer.jsonl");
    if (files.empty()) return fail(Code::not_found, dir.string() + " holds no transfer log");
    if (fs::is_directory(dir / "tiles", ec)) {
      tiles.emplace(dir / "tiles");
      if (auto s = tiles->open(Env::system(), true); !s) return fail(s.error());
    }
    state_file = dir / "state.json";
    auto st = logfiles::read_state(state_file);
    if (!st) return fail(st.error());
    state = *st;
  } else {
    for (const auto& p : inputs) {
      if (fs::is_directory(p, ec)) {
        return fail(
            Code::invalid_input,
            p.string() + " is a directory: give one log directory, or segment files in order");
      }
      files.push_back(p);
    }
  }

  Chain chain;
  LogVerification out;
  // Where the files start: records before it are vouched for by the tiles.
  {
    auto fd = open_regular_file(files.front());
    if (!fd) return fail(fd.error());
    char head[32];
    const ssize_t got = ::pread(fd->get(), head, sizeof head, 0);
    const auto n0 = got > 0
                        ? logfiles::line_n(std::string_view(head, static_cast<std::size_t>(got)))
                        : std::optional<std::uint64_t>(0);
    if (!n0) return corrupt(files.front(), "record 0 does not start with its n");
    if (*n0 > 0) {
      if (!tiles) {
        return fail(Code::invalid_input,
                    files.front().string() + " starts at record " + std::to_string(*n0) +
                        ": give the segments before it too, or the log directory with its tiles");
      }
      auto range = merkle::CompactRange::at(*n0, tiles->source());
      if (!range)
        return fail(range.error().context("the tree before record " + std::to_string(*n0)));
      chain.count = *n0;
      chain.range = std::move(*range);
      out.first = *n0;
      for (const auto& cp : known) {  // checkpoints older than the records here
        if (cp.size >= *n0) continue;
        auto root = merkle::root(cp.size, tiles->source());
        if (!root) return fail(root.error());
        if (*root != cp.root) {
          return corrupt(files.front(), "the tiles' tree of the first " + std::to_string(cp.size) +
                                            " records does not match a checkpoint signed earlier "
                                            "(root " +
                                            cp.root.hex() + ", tiles give " + root->hex() + ")");
        }
      }
    }
  }
  std::optional<Checkpoint> previous;
  std::uint64_t checkpoints = 0;
  bool state_seen = false;
  std::optional<Error> tile_error;
  auto check_known = [&](std::uint64_t size, const Digest& root, const fs::path& path) -> Status {
    for (const auto& cp : known) {
      if (cp.size == size && cp.root != root) {
        return corrupt(path, "the first " + std::to_string(cp.size) +
                                 " records do not match a checkpoint signed earlier (root " +
                                 cp.root.hex() + ", log gives " + root.hex() + ")");
      }
    }
    return {};
  };
  auto state_mismatch = [&](const std::string& what) {
    return fail(Code::corrupt, state_file.string() + " does not match the log: " + what);
  };
  auto on_node = [&](unsigned h, std::uint64_t i, const Digest& d) {
    if (tiles && !tile_error) {
      if (auto s = tiles->check_node(h, i, d); !s) tile_error = s.error();
    }
  };
  auto on_line = [&](std::size_t k, std::string_view line, std::uint64_t offset, const Digest& leaf,
                     const Status& checked) -> Status {
    const fs::path& path = files[k];
    const std::uint64_t n = chain.count;
    // The root before a record is needed only for a checkpoint record, a
    // known checkpoint or the state.
    const bool marked = line.find(kCheckpointMark) != std::string_view::npos;
    const bool known_here =
        std::any_of(known.begin(), known.end(), [&](const Checkpoint& cp) { return cp.size == n; });
    const bool state_here = state && state->size == n;
    const Digest root_before = marked || known_here || state_here ? chain.range.root() : Digest();
    const std::vector<Digest> peaks_before =
        state_here ? chain.range.peaks() : std::vector<Digest>();
    // The chain first: an edited record is named as such, not by what else
    // no longer fits it. A tile that differs from record n is reported after
    // record n + 1, whose chain names an edited record n more plainly.
    const auto pending = tile_error;
    if (auto s = chain.take(line, path, on_node, &leaf); !s) return s;
    if (pending) return fail(*pending);
    if (!checked) return checked;
    if (known_here) {
      if (auto s = check_known(n, root_before, path); !s) return s;
    }
    if (state_here) {
      if (root_before != state->root || peaks_before != state->frontier) {
        return state_mismatch("the " + std::to_string(n) +
                              " records before its checkpoint hash to " + root_before.hex() +
                              ", it says " + state->root.hex());
      }
      if (!numbers.empty() && (numbers[k] != state->segment || offset != state->offset)) {
        return state_mismatch("record " + std::to_string(n) + " starts at offset " +
                              std::to_string(offset) + " of " + path.filename().string() +
                              ", it says offset " + std::to_string(state->offset) + " of segment " +
                              std::to_string(state->segment));
      }
      state_seen = true;
    }
    if (tiles && !numbers.empty() && n % logfiles::kTileWidth == 0) {
      if (auto at = tiles->offset(n); at && *at != offset) {
        return corrupt(tiles->index_path(), "gives offset " + std::to_string(*at) + " for record " +
                                                std::to_string(n) + ", it is at " +
                                                std::to_string(offset) + " of " +
                                                path.filename().string());
      }
    }
    if (state_here && !(chain.latest_checkpoint && chain.latest_checkpoint->first == n)) {
      return state_mismatch("record " + std::to_string(n) + " is not a checkpoint");
    }
    if (!marked) return {};
    json j = json::parse(line, nullptr, false);
    if (json_string(j, "event") != "checkpoint") return {};
    auto cp = check_checkpoint(j, n, root_before, previous, keys, path);
    if (!cp) return fail(cp.error());
    previous = *cp;
    ++checkpoints;
    return {};
  };
  auto on_end = [&](std::size_t k, std::size_t torn) -> Status {
    if (torn == 0) return {};
    return corrupt(files[k],
                   "record " + std::to_string(chain.count) +
                       " is incomplete: the file ends without a newline (truncated tail)");
  };
  if (auto s = read_ahead(files, chain.count, on_line, on_end); !s) return fail(s.error());
  const fs::path& last = files.back();
  for (const auto& cp : known) {
    if (cp.size > chain.count) {
      return corrupt(last, "the log has " + std::to_string(chain.count) +
                               " records, but a checkpoint signed earlier covers " +
                               std::to_string(cp.size) + ": records were removed from the end");
    }
  }
  if (tile_error) return fail(*tile_error);
  if (tiles && state) {
    // Everything up to the state's checkpoint was synced before the state.
    if (auto s = tiles->covers(state->size + 1); !s) return fail(s.error());
  }
  if (state && !state_seen) {
    return state_mismatch("it names checkpoint record " + std::to_string(state->size) +
                          ", but the log has " + std::to_string(chain.count) + " records");
  }
  if (auto s = check_known(chain.count, chain.range.root(), last); !s) return fail(s.error());
  out.records = chain.count;
  out.checkpoints = checkpoints;
  out.last_checkpoint = previous;
  out.tiles_checked = tiles.has_value();
  // The checkpoint record itself sits at index size, so it is covered by its own signature.
  out.uncovered = previous ? out.records - previous->size - 1 : out.records - out.first;
  out.root = chain.range.root();
  return out;
}

Result<LogVerification> verify_log_file(const fs::path& path, std::span<const PublicKey> keys,
                                        std::span<const std::string> known_checkpoints) {
  return verify_log(std::span(&path, 1), keys, known_checkpoints);
}

Result<std::string> prove_record(const fs::path& path, std::uint64_t n) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    LogOptions options;
    options.read_only = true;
    auto log = TransferLog::open(path, options);
    if (!log) return fail(log.error());
    auto proof = (*log)->prove(n);
    if (!proof) return fail(proof.error());
    return proof->dump(2) + "\n";
  }
  // One file: every leaf up to the covering checkpoint is kept.
  auto fd = open_regular_file(path);
  if (!fd) return fail(fd.error());
  Chain chain;
  std::vector<Digest> leaves;
  std::optional<std::string> record;
  std::optional<std::pair<std::uint64_t, std::string>> covering;  // first checkpoint after n
  auto torn =
      for_each_line(fd->get(), path, 0, [&](std::string_view line, std::uint64_t) -> Status {
        const std::uint64_t i = chain.count;
        if (covering) return {};
        if (auto s = chain.take(line, path,
                                [&](unsigned h, std::uint64_t, const Digest& d) {
                                  if (h == 0) leaves.push_back(d);
                                });
            !s)
          return s;
        if (i == n) record = std::string(line);
        if (i > n && chain.latest_checkpoint && chain.latest_checkpoint->first == i) {
          covering = chain.latest_checkpoint;
        }
        return {};
      });
  if (!torn) return fail(torn.error());
  if (!record) return fail(Code::not_found, "no record " + std::to_string(n));
  if (!covering) {
    return fail(Code::not_found,
                "record " + std::to_string(n) +
                    " is not covered by a checkpoint yet; prove it after the next one");
  }
  const std::uint64_t size = covering->first;
  auto path_hashes = merkle::inclusion_proof(std::span(leaves).first(size), n);
  return proof_document(n, std::move(*record), size, path_hashes, covering->second).dump(2) + "\n";
}

Result<ProofCheck> verify_proof(std::string_view proof_json, std::span<const PublicKey> keys) {
  auto bad = [](std::string what) { return fail(Code::invalid_input, "inclusion proof: " + what); };
  json j = json::parse(proof_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  if (!j.contains("n") || !j["n"].is_number_unsigned() || !j.contains("record") ||
      !j["record"].is_string() || !j.contains("tree_size") ||
      !j["tree_size"].is_number_unsigned() || !j.contains("proof") || !j["proof"].is_array() ||
      !j.contains("checkpoint") || !j["checkpoint"].is_string()) {
    return bad("needs n, record, tree_size, proof and checkpoint");
  }
  ProofCheck out;
  out.n = j["n"].get<std::uint64_t>();
  out.record = j["record"].get<std::string>();
  std::vector<Digest> path;
  for (const auto& p : j["proof"]) {
    if (!p.is_string()) return bad("proof entries must be hex digests");
    auto d = Digest::parse(p.get<std::string>());
    if (!d) return bad(d.error().message);
    path.push_back(*d);
  }
  auto v = verify_log_checkpoint(j["checkpoint"].get<std::string>(), keys);
  if (!v) return fail(v.error());
  out.checkpoint = v->checkpoint;
  out.signer = v->signer;
  if (out.checkpoint.size != j["tree_size"].get<std::uint64_t>()) {
    return fail(Code::refused, "inclusion proof: tree_size does not match the checkpoint");
  }
  if (!merkle::verify_inclusion(out.n, out.checkpoint.size, merkle::leaf_hash(out.record), path,
                                out.checkpoint.root)) {
    return fail(Code::refused, "inclusion proof: record " + std::to_string(out.n) +
                                   " is not in the tree of size " +
                                   std::to_string(out.checkpoint.size) +
                                   " that the checkpoint signs");
  }
  return out;
}

}  // namespace airlock
