#include "airlock/transfer/log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>

#include "airlock/base/file.h"
#include "airlock/base/json.h"
#include "airlock/base/text.h"
#include "airlock/verify/merkle.h"

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
struct Chain {
  bool keep = true;                    // keep leaves and offsets (a verifying pass needs neither)
  std::uint64_t count = 0;             // lines taken in
  std::vector<Digest> leaves;          // when keep
  std::vector<std::uint64_t> offsets;  // byte offset of each line, when keep
  merkle::CompactRange range;
  std::optional<std::pair<std::uint64_t, std::string>> latest_checkpoint;
  std::uint64_t bytes = 0;  // length of the complete lines taken in

  Status take(std::string_view line, const fs::path& path) {
    const std::uint64_t n = count;
    auto where = "record " + std::to_string(n);
    if (line.size() > kMaxLine) return corrupt(path, where + " is longer than 1 MiB");
    std::uint64_t found = 0;
    if (!line.starts_with("{\"n\":")) return corrupt(path, where + " does not start with its n");
    auto digits = line.substr(5);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), found);
    if (ec != std::errc() || ptr == digits.data() || *ptr != ',') {
      return corrupt(path, where + " does not start with its n");
    }
    if (found != n) {
      return corrupt(path, where + " has n=" + std::to_string(found) +
                               " (records were deleted, inserted or reordered)");
    }
    const std::size_t tail = kPrevPrefix.size() + 64 + 2;
    if (line.size() < tail || !line.ends_with("\"}") ||
        line.substr(line.size() - tail, kPrevPrefix.size()) != kPrevPrefix) {
      return corrupt(path, where + " does not end with its prev_root");
    }
    auto prev = Digest::parse(line.substr(line.size() - 66, 64));
    if (!prev) return corrupt(path, where + " has a malformed prev_root");
    if (*prev != range.root()) {
      return corrupt(path, n == 0 ? "record 0 has a wrong prev_root"
                                  : "record " + std::to_string(n - 1) + " was altered: record " +
                                        std::to_string(n) + " holds tree head " + prev->hex() +
                                        ", the records before it hash to " + range.root().hex());
    }
    if (line.find(kCheckpointMark) != std::string_view::npos) {
      json j = json::parse(line, nullptr, false);
      if (j.is_object() && json_string(j, "event") == "checkpoint" && j.contains("note") &&
          j["note"].is_string()) {
        latest_checkpoint.emplace(n, j["note"].get<std::string>());
      }
    }
    auto leaf = merkle::leaf_hash(line);
    if (keep) {
      leaves.push_back(leaf);
      offsets.push_back(bytes);
    }
    ++count;
    range.append(leaf);
    bytes += line.size() + 1;
    return {};
  }
};

// Reads fd from offset to end (its end by default), handing every complete
// line (without its newline) to on_line. Returns how many bytes follow the
// last newline: a record cut off mid-write.
Result<std::size_t> for_each_line(int fd, const fs::path& path, std::uint64_t offset,
                                  const std::function<Status(std::string_view)>& on_line,
                                  std::uint64_t end = UINT64_MAX) {
  std::string pending;
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
      if (auto s = on_line(std::string_view(pending).substr(start, nl - start)); !s) {
        return fail(s.error());
      }
      start = nl + 1;
    }
    pending.erase(0, start);
    if (pending.size() > kMaxLine) return corrupt(path, "a record is longer than 1 MiB");
  }
  return pending.size();
}

// Takes every complete line after chain.bytes into the chain; an incomplete
// last line is corrupt and left untouched on disk.
Status read_lines(int fd, const fs::path& path, Chain& chain) {
  auto torn = for_each_line(fd, path, chain.bytes,
                            [&](std::string_view line) { return chain.take(line, path); });
  if (!torn) return fail(torn.error());
  if (*torn > 0) {
    return corrupt(path, "record " + std::to_string(chain.leaves.size()) +
                             " is incomplete: the file ends without a newline after " +
                             std::to_string(*torn) +
                             " bytes (a write was cut off); it is kept as it is for inspection");
  }
  return {};
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

std::string make_line(std::uint64_t n, TimePoint time, std::string_view event_json,
                      std::string_view fields, const Digest& prev_root) {
  std::string line =
      "{\"n\":" + std::to_string(n) + ",\"time\":\"" + format_time(time) + "\",\"event\":";
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
  fs::path path;
  Env* env = nullptr;
  bool read_only = false;
  UniqueFd fd;
  mutable std::mutex mu;
  Chain chain;
  std::function<void(std::string_view)> forward;

  // Record n's line (without its newline), as read from the file.
  Result<std::string> line_at(std::uint64_t n) const {
    const auto& c = chain;
    std::uint64_t end = n + 1 < c.offsets.size() ? c.offsets[n + 1] : c.bytes;
    std::string line(end - c.offsets[n] - 1, '\0');
    ssize_t got = ::pread(fd.get(), line.data(), line.size(), static_cast<off_t>(c.offsets[n]));
    if (got != static_cast<ssize_t>(line.size())) return fail_errno("read " + path.string());
    return line;
  }

  Status catch_up() {
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return fail_errno(path.string());
    if (static_cast<std::uint64_t>(st.st_size) == chain.bytes) return {};
    if (static_cast<std::uint64_t>(st.st_size) < chain.bytes) {
      return corrupt(path, "the file shrank from " + std::to_string(chain.bytes) + " to " +
                               std::to_string(st.st_size) + " bytes while open");
    }
    const std::uint64_t before = chain.leaves.size();
    if (auto s = read_lines(fd.get(), path, chain); !s) return s;
    for (std::uint64_t n = before; forward && n < chain.leaves.size(); ++n) {
      if (auto line = line_at(n)) forward(*line);
    }
    return {};
  }

  // Caller holds mu and the file lock, and has caught up.
  // records: (event as a JSON string, fields as inner_fields()).
  Result<std::uint64_t> write_lines(std::span<const std::pair<std::string, std::string>> records) {
    if (read_only)
      return fail(Code::refused, "transfer log " + path.string() + " is open read-only");
    const std::uint64_t first = chain.leaves.size();
    const TimePoint now = env->now();
    merkle::CompactRange range = chain.range;
    std::string out;
    std::vector<std::pair<std::uint64_t, std::size_t>> spans;  // offset in out, length
    for (std::size_t i = 0; i < records.size(); ++i) {
      auto line = make_line(first + i, now, records[i].first, records[i].second, range.root());
      if (line.size() > kMaxLine) return fail(Code::limit, "log record is longer than 1 MiB");
      range.append(merkle::leaf_hash(line));
      spans.emplace_back(out.size(), line.size());
      out += line;
      out += '\n';
    }
    auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(out.data()), out.size());
    if (auto s = env->write(fd.get(), bytes); !s) {
      // Put the file back exactly as it was: no torn record is left behind.
      if (!env->truncate(fd.get(), chain.bytes, path.string())) {
        return fail(s.error().context("appending to " + path.string() +
                                      " failed and the partial record could not be removed"));
      }
      return fail(s.error().context("appending to " + path.string()));
    }
    for (const auto& [off, len] : spans) {
      if (auto t = chain.take(std::string_view(out).substr(off, len), path); !t)
        return fail(t.error());
    }
    if (forward) {
      for (const auto& [off, len] : spans) forward(std::string_view(out).substr(off, len));
    }
    return first;
  }
};

TransferLog::TransferLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TransferLog::~TransferLog() = default;

Result<std::unique_ptr<TransferLog>> TransferLog::open(const fs::path& path, LogOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->env = options.env ? options.env : &Env::system();
  impl->read_only = options.read_only;
  if (!path.parent_path().empty() && !options.read_only) {
    if (auto s = impl->env->make_dirs(path.parent_path()); !s) return fail(s.error());
  }
  auto fd = impl->env->open(path, options.read_only ? O_RDONLY : O_RDWR | O_APPEND | O_CREAT, 0644);
  if (!fd) return fail(fd.error());
  impl->fd = std::move(*fd);
  {
    auto lock = FileLock::acquire(impl->fd.get(), path);
    if (!lock) return fail(lock.error());
    if (auto s = impl->catch_up(); !s) return fail(s.error());
  }
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
  std::vector<std::pair<std::string, std::string>> lines;
  lines.reserve(records.size());
  for (const auto& r : records) lines.emplace_back(json(r.event).dump(), inner_fields(r.fields));
  std::lock_guard lk(impl_->mu);
  auto lock = FileLock::acquire(impl_->fd.get(), impl_->path);
  if (!lock) return fail(lock.error());
  if (auto s = impl_->catch_up(); !s) return fail(s.error());
  return impl_->write_lines(lines);
}

Result<std::uint64_t> TransferLog::append_trusted(std::string_view event,
                                                  std::span<const std::string> fields_inner) {
  const std::string ev = json(event).dump();
  std::vector<std::pair<std::string, std::string>> lines;
  lines.reserve(fields_inner.size());
  for (const auto& f : fields_inner) lines.emplace_back(ev, f);
  std::lock_guard lk(impl_->mu);
  auto lock = FileLock::acquire(impl_->fd.get(), impl_->path);
  if (!lock) return fail(lock.error());
  if (auto s = impl_->catch_up(); !s) return fail(s.error());
  return impl_->write_lines(lines);
}

Status TransferLog::sync() { return impl_->env->sync(impl_->fd.get(), impl_->path.string()); }

Result<std::string> TransferLog::checkpoint(const PrivateKey& key) {
  std::lock_guard lk(impl_->mu);
  auto lock = FileLock::acquire(impl_->fd.get(), impl_->path);
  if (!lock) return fail(lock.error());
  if (auto s = impl_->catch_up(); !s) return fail(s.error());
  Checkpoint cp{log_origin(key.public_key()), impl_->chain.leaves.size(),
                impl_->chain.range.root()};
  auto note = sign_checkpoint(cp, key, kLogKeyName);
  if (!note) return fail(note.error());
  json fields{{"size", cp.size}, {"root", cp.root.hex()}, {"note", *note}};
  std::pair<std::string, std::string> record{"\"checkpoint\"", inner_fields(fields)};
  auto n = impl_->write_lines(std::span(&record, 1));
  if (!n) return fail(n.error());
  if (auto s = impl_->env->sync(impl_->fd.get(), impl_->path.string()); !s) return fail(s.error());
  return *note;
}

Status TransferLog::refresh() {
  std::lock_guard lk(impl_->mu);
  return impl_->catch_up();
}

std::uint64_t TransferLog::size() const {
  std::lock_guard lk(impl_->mu);
  return impl_->chain.leaves.size();
}

Digest TransferLog::root() const {
  std::lock_guard lk(impl_->mu);
  return impl_->chain.range.root();
}

Result<Digest> TransferLog::root_at(std::uint64_t size) const {
  std::lock_guard lk(impl_->mu);
  if (size > impl_->chain.leaves.size()) {
    return fail(Code::not_found,
                "the log has only " + std::to_string(impl_->chain.leaves.size()) + " records");
  }
  return merkle::root(std::span(impl_->chain.leaves).first(size));
}

void TransferLog::forward_to(std::function<void(std::string_view line)> fn) {
  std::lock_guard lk(impl_->mu);
  impl_->forward = std::move(fn);
}

Result<std::string> TransferLog::record(std::uint64_t n) const {
  std::lock_guard lk(impl_->mu);
  const auto& c = impl_->chain;
  if (n >= c.leaves.size()) return fail(Code::not_found, "no record " + std::to_string(n));
  auto got = impl_->line_at(n);
  if (!got) return fail(got.error());
  const std::string& line = *got;
  if (merkle::leaf_hash(line) != c.leaves[n]) {
    return corrupt(impl_->path, "record " + std::to_string(n) + " changed on disk");
  }
  return line;
}

Status TransferLog::for_each_record(
    std::uint64_t from, std::uint64_t to,
    const std::function<Status(std::uint64_t n, std::string_view line)>& fn) const {
  std::lock_guard lk(impl_->mu);
  const auto& c = impl_->chain;
  to = std::min<std::uint64_t>(to, c.leaves.size());
  if (from >= to) return {};
  const std::uint64_t end = to < c.offsets.size() ? c.offsets[to] : c.bytes;
  std::uint64_t n = from;
  auto torn = for_each_line(
      impl_->fd.get(), impl_->path, c.offsets[from],
      [&](std::string_view line) -> Status {
        if (merkle::leaf_hash(line) != c.leaves[n]) {
          return corrupt(impl_->path, "record " + std::to_string(n) + " changed on disk");
        }
        return fn(n++, line);
      },
      end);
  if (!torn) return fail(torn.error());
  if (n != to) return corrupt(impl_->path, "record " + std::to_string(n) + " changed on disk");
  return {};
}

Result<std::vector<Digest>> TransferLog::inclusion_proof(std::uint64_t n,
                                                         std::uint64_t size) const {
  std::lock_guard lk(impl_->mu);
  if (n >= size || size > impl_->chain.leaves.size()) {
    return fail(Code::not_found,
                "no record " + std::to_string(n) + " in a tree of size " + std::to_string(size));
  }
  return merkle::inclusion_proof(std::span(impl_->chain.leaves).first(size), n);
}

Result<std::vector<Digest>> TransferLog::consistency_proof(std::uint64_t m, std::uint64_t n) const {
  std::lock_guard lk(impl_->mu);
  if (m > n || n > impl_->chain.leaves.size()) {
    return fail(Code::invalid_input,
                "no consistency proof from " + std::to_string(m) + " to " + std::to_string(n));
  }
  return merkle::consistency_proof(std::span(impl_->chain.leaves).first(n), m);
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

std::optional<std::pair<std::uint64_t, std::string>> TransferLog::latest_checkpoint() const {
  std::lock_guard lk(impl_->mu);
  return impl_->chain.latest_checkpoint;
}

const fs::path& TransferLog::path() const { return impl_->path; }

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

std::string coverage_statement(const LogVerification& v) {
  auto records = [](std::uint64_t n) {
    return std::to_string(n) + (n == 1 ? " record" : " records");
  };
  if (!v.last_checkpoint) return "No checkpoint signs any of the " + records(v.records) + " yet.";
  const std::uint64_t c = v.last_checkpoint->size;
  std::string out =
      "The newest checkpoint (record " + std::to_string(c) + ") signs the first " + records(c);
  if (v.uncovered == 0) return out + " and is the log's last record.";
  return out + "; " + records(v.uncovered) + " after it " + (v.uncovered == 1 ? "is" : "are") +
         " not signed yet.";
}

Result<LogVerification> verify_log_file(const fs::path& path, std::span<const PublicKey> keys,
                                        std::span<const std::string> known_checkpoints) {
  if (keys.empty()) return fail(Code::invalid_input, "verifying a log needs the log's public key");
  auto fd = open_file(path, O_RDONLY);
  if (!fd) return fail(fd.error());
  // Checkpoints signed earlier: each must be the root of a prefix of the log,
  // taken as the pass reaches its size.
  std::vector<Checkpoint> known;
  for (const auto& note : known_checkpoints) {
    auto v = verify_log_checkpoint(note, keys);
    if (!v) return fail(v.error().context("known checkpoint"));
    known.push_back(v->checkpoint);
  }
  auto check_known = [&](std::uint64_t size, const Digest& root) -> Status {
    for (const auto& cp : known) {
      if (cp.size == size && cp.root != root) {
        return corrupt(path, "the first " + std::to_string(cp.size) +
                                 " records do not match a checkpoint signed earlier (root " +
                                 cp.root.hex() + ", log gives " + root.hex() + ")");
      }
    }
    return {};
  };
  Chain chain;
  chain.keep = false;
  LogVerification out;
  std::optional<Checkpoint> previous;
  std::uint64_t checkpoints = 0;
  JsonMembers members({"time", "event"});
  auto on_line = [&](std::string_view line) -> Status {
    const std::uint64_t n = chain.count;
    // The root before a record is needed only for a checkpoint record or a known checkpoint.
    const bool marked = line.find(kCheckpointMark) != std::string_view::npos;
    const bool known_here =
        std::any_of(known.begin(), known.end(), [&](const Checkpoint& cp) { return cp.size == n; });
    const Digest root_before = marked || known_here ? chain.range.root() : Digest();
    if (known_here) {
      if (auto s = check_known(n, root_before); !s) return s;
    }
    if (auto s = chain.take(line, path); !s) return s;
    if (auto s = check_record(line, n, path, members); !s) return s;
    if (!marked) return {};
    json j = json::parse(line, nullptr, false);
    if (json_string(j, "event") != "checkpoint") return {};
    auto cp = check_checkpoint(j, n, root_before, previous, keys, path);
    if (!cp) return fail(cp.error());
    previous = *cp;
    ++checkpoints;
    return {};
  };
  auto torn = for_each_line(fd->get(), path, 0, on_line);
  if (!torn) return fail(torn.error());
  if (*torn > 0) {
    return corrupt(path, "record " + std::to_string(chain.count) +
                             " is incomplete: the file ends without a newline (truncated tail)");
  }
  for (const auto& cp : known) {
    if (cp.size > chain.count) {
      return corrupt(path, "the log has " + std::to_string(chain.count) +
                               " records, but a checkpoint signed earlier covers " +
                               std::to_string(cp.size) + ": records were removed from the end");
    }
  }
  if (auto s = check_known(chain.count, chain.range.root()); !s) return fail(s.error());
  out.records = chain.count;
  out.checkpoints = checkpoints;
  out.last_checkpoint = previous;
  // The checkpoint record itself sits at index size, so it is covered by its own signature.
  out.uncovered = previous ? out.records - previous->size - 1 : out.records;
  out.root = chain.range.root();
  return out;
}

Result<std::string> prove_record(const fs::path& path, std::uint64_t n) {
  auto fd = open_file(path, O_RDONLY);
  if (!fd) return fail(fd.error());
  Chain chain;
  std::optional<std::string> record;
  std::optional<std::pair<std::uint64_t, std::string>> covering;  // first checkpoint after n
  auto torn = for_each_line(fd->get(), path, 0, [&](std::string_view line) -> Status {
    const std::uint64_t i = chain.leaves.size();
    if (auto s = chain.take(line, path); !s) return s;
    if (i == n) record = std::string(line);
    if (i > n && !covering && chain.latest_checkpoint && chain.latest_checkpoint->first == i) {
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
  auto path_hashes = merkle::inclusion_proof(std::span(chain.leaves).first(size), n);
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
