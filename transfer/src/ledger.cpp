#include "airlock/transfer/ledger.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <random>

#include "airlock/base/file.h"
#include "airlock/base/json.h"

namespace airlock {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::string_view kPendingPrefix = "pending-log/";
constexpr std::uint64_t kMaxEffectFile = 64ull << 20;

Result<std::vector<PreparedRecord>> prepare_all(std::vector<LogEntry>& records) {
  std::vector<PreparedRecord> out;
  out.reserve(records.size());
  for (auto& r : records) {
    auto p = prepare_record(r.event, std::move(r.fields));
    if (!p) return fail(p.error());
    out.push_back(std::move(*p));
  }
  return out;
}

// A pending entry's key: ordered by time, unique by a random suffix.
std::string pending_key(TimePoint now) {
  std::random_device rd;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%012lld-%08x",
                static_cast<long long>(now.time_since_epoch().count()), rd());
  return std::string(kPendingPrefix) + buf;
}

struct Effect {
  fs::path path;
  Digest sha256;
};

std::string pending_entry(const std::vector<PreparedRecord>& records, std::uint64_t log_size,
                          const std::optional<Effect>& effect) {
  json list = json::array();
  for (const auto& r : records) list.push_back({{"event", r.event}, {"fields", r.fields}});
  json entry{{"records", list}, {"log_size", log_size}};
  if (effect) entry["effect"] = {{"path", effect->path.string()}, {"sha256", effect->sha256.hex()}};
  return entry.dump();
}

// Appends records and writes a checkpoint.
Status append_and_checkpoint(TransferLog& log, const PrivateKey& key,
                             const std::vector<PreparedRecord>& records) {
  if (records.empty()) return {};
  if (auto n = log.append_prepared(records); !n) return fail(n.error());
  if (auto c = log.checkpoint(key); !c) return fail(c.error());
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------
// Change

struct Change::State {
  Ledger* ledger = nullptr;
  UniqueFd lock;
  std::optional<Batch> batch;

  // The holder's line goes with the lock: an idle home's lock file is empty.
  ~State() {
    if (lock) (void)!::ftruncate(lock.get(), 0);
  }

  // Steps 3 and 4 for a committed pending entry.
  Status finish(const std::string& key, const std::vector<PreparedRecord>& records) {
    auto& l = *ledger;
    if (auto s = append_and_checkpoint(l.log_, l.key_, records); !s) {
      return fail(s.error().code, "the change was made, but its log record could not be written (" +
                                      s.error().message +
                                      "); it is kept and written when the home is next opened");
    }
    if (auto s = l.store_.set_meta(key, std::nullopt); !s) {
      return fail(s.error().context(
          "the change was made and logged, but its pending mark could not be cleared"));
    }
    return {};
  }
};

Change::Change(std::unique_ptr<State> state) : state_(std::move(state)) {}
Change::~Change() = default;
Change::Change(Change&&) noexcept = default;
Change& Change::operator=(Change&&) noexcept = default;

Result<Batch*> Change::batch(BatchOptions options) {
  if (!state_->batch) {
    auto b = state_->ledger->store_.begin_batch(options);
    if (!b) return fail(b.error());
    state_->batch.emplace(std::move(*b));
  }
  return &*state_->batch;
}

Status Change::commit(std::vector<LogEntry> records) {
  auto prepared = prepare_all(records);
  if (!prepared) return fail(prepared.error());
  auto& l = *state_->ledger;
  auto b = batch();
  if (!b) return fail(b.error());
  const auto key = pending_key(l.env_.now());
  (*b)->set_meta(key, pending_entry(*prepared, l.log_.size(), std::nullopt));
  if (auto s = (*b)->commit(); !s) return s;
  state_->batch.reset();
  return state_->finish(key, *prepared);
}

Status Change::commit_files(std::vector<FileWrite> files, std::vector<LogEntry> records) {
  if (files.empty() || state_->batch)
    return fail(Code::invalid_input, "commit_files needs files and no batch");
  auto prepared = prepare_all(records);
  if (!prepared) return fail(prepared.error());
  auto& l = *state_->ledger;
  const auto key = pending_key(l.env_.now());
  std::error_code ec;
  auto path = fs::absolute(files.back().path, ec);
  Effect effect{ec ? files.back().path : path, sha256(files.back().contents)};
  if (auto s = l.store_.set_meta(key, pending_entry(*prepared, l.log_.size(), effect)); !s)
    return s;
  for (const auto& f : files) {
    auto s = f.create_only ? l.env_.write_new_file(f.path, f.contents, f.mode)
                           : l.env_.write_file_atomic(f.path, f.contents, f.mode);
    if (!s) {
      (void)l.store_.set_meta(
          key, std::nullopt);  // recovery would drop it as well: the file is not there
      return s;
    }
  }
  return state_->finish(key, *prepared);
}

Status Change::record(std::vector<LogEntry> records) {
  auto prepared = prepare_all(records);
  if (!prepared) return fail(prepared.error());
  state_->batch.reset();
  auto& l = *state_->ledger;
  return append_and_checkpoint(l.log_, l.key_, *prepared);
}

// ---------------------------------------------------------------------------
// Ledger

Ledger::Ledger(Store& store, TransferLog& log, const PrivateKey& log_key, fs::path lock_file,
               Env& env, LockWait lock_wait)
    : store_(store),
      log_(log),
      key_(log_key),
      lock_file_(std::move(lock_file)),
      env_(env),
      lock_wait_(std::move(lock_wait)) {}

namespace {

// The holder's line from the lock file, or a stand-in when it left none.
std::string lock_holder(const fs::path& lock_file) {
  auto text = read_file(lock_file, 1024);
  std::string line = text ? text->substr(0, text->find('\n')) : std::string();
  return line.empty() ? "another process" : line;
}

// Leaves this process's line in the lock file it holds (best effort: only
// a waiting process reads it).
void note_holder(int fd, const std::string& holder, TimePoint now) {
  const std::string line = "pid " + std::to_string(::getpid()) +
                           (holder.empty() ? "" : ", " + holder) + ", since " + format_time(now) +
                           "\n";
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, line.data(), line.size(), 0);
}

}  // namespace

Result<Change> Ledger::begin() {
  auto lock = env_.lock_file(lock_file_, /*wait=*/false);
  if (!lock) return fail(lock.error());
  if (!*lock) {
    const std::string holder = lock_holder(lock_file_);
    if (!lock_wait_.wait) {
      return fail(Code::io, "the home is busy: " + holder +
                                " is changing it (run again when it is done, or without "
                                "--no-wait to wait for it)");
    }
    if (lock_wait_.on_wait) lock_wait_.on_wait(holder);
    lock = env_.lock_file(lock_file_, /*wait=*/true);
    if (!lock) return fail(lock.error());
  }
  if (auto damage = log_.damage()) {
    // A change whose record could not follow it is not made at all.
    return fail(Code::corrupt,
                "the home takes no changes until its transfer log is restored: " + damage->message);
  }
  note_holder((*lock)->get(), lock_wait_.holder, env_.now());
  auto state = std::make_unique<Change::State>();
  state->ledger = this;
  state->lock = std::move(**lock);
  return Change(std::move(state));
}

Status Ledger::record(std::vector<LogEntry> records) {
  auto change = begin();
  if (!change) return fail(change.error());
  return change->record(std::move(records));
}

namespace {

// True when record n of log is event with exactly fields.
bool record_is(const TransferLog& log, std::uint64_t n, const PreparedRecord& want) {
  auto line = log.record(n);
  if (!line) return false;
  json j = json::parse(*line, nullptr, false);
  if (!j.is_object() || json_string(j, "event") != want.event) return false;
  for (const char* k : {"n", "time", "event", "prev_root"}) j.erase(k);
  return j == want.fields;
}

// True when the log holds records, one after the other, at or after from.
bool already_logged(const TransferLog& log, std::uint64_t from,
                    const std::vector<PreparedRecord>& records) {
  const std::uint64_t size = log.size();
  if (records.empty()) return true;
  for (std::uint64_t n = from; n + records.size() <= size; ++n) {
    std::size_t k = 0;
    while (k < records.size() && record_is(log, n + k, records[k])) ++k;
    if (k == records.size()) return true;
  }
  return false;
}

bool effect_happened(const json& effect) {
  auto want = Digest::parse(json_string(effect, "sha256"));
  auto text = read_file(json_string(effect, "path"), kMaxEffectFile);
  return want && text && sha256(*text) == *want;
}

// The records of a pending entry, or an empty optional when it is damaged.
std::optional<std::vector<PreparedRecord>> pending_records(const json& entry) {
  if (!entry.is_object() || !entry.contains("records") || !entry["records"].is_array())
    return std::nullopt;
  std::vector<PreparedRecord> out;
  for (const auto& r : entry["records"]) {
    if (!r.is_object() || !r.contains("event") || !r["event"].is_string() || !r.contains("fields"))
      return std::nullopt;
    auto p = prepare_record(r["event"].get<std::string>(), r["fields"]);
    if (!p) return std::nullopt;
    out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace

Result<RecoveryReport> Ledger::recover() {
  RecoveryReport report;
  auto pending = store_.list_meta(kPendingPrefix);
  if (!pending) return fail(pending.error());
  if (pending->empty()) return report;
  if (log_.damage()) {  // left pending until the log is restored
    report.skipped = true;
    return report;
  }
  auto lock = env_.lock_file(lock_file_, /*wait=*/false);
  if (!lock) return fail(lock.error());
  if (!*lock) {
    report.skipped = true;
    return report;
  }
  pending = store_.list_meta(kPendingPrefix);  // what is left now that no change is in flight
  if (!pending) return fail(pending.error());
  std::vector<PreparedRecord> to_append;
  for (const auto& [key, value] : *pending) {
    json entry = json::parse(value, nullptr, false);
    auto records = pending_records(entry);
    if (!records) {
      ++report.damaged;
      auto r = prepare_record("recovery", {{"pending", key},
                                           {"problem", "unreadable pending record"},
                                           {"sha256", sha256(value).hex()},
                                           {"bytes", value.size()}});
      if (r) to_append.push_back(std::move(*r));
    } else if (entry.contains("effect") && !effect_happened(entry["effect"])) {
      ++report.dropped;
    } else if (already_logged(log_, json_u64(entry, "log_size"), *records)) {
      ++report.present;
    } else {
      ++report.appended;
      to_append.insert(to_append.end(), records->begin(), records->end());
    }
  }
  if (auto s = append_and_checkpoint(log_, key_, to_append); !s)
    return fail(s.error().context("finishing a change"));
  if (to_append.empty() && report.present > 0) {
    // The records made it into the log; the checkpoint after them may not have.
    if (auto c = log_.checkpoint(key_); !c) return fail(c.error().context("finishing a change"));
  }
  auto batch = store_.begin_batch();
  if (!batch) return fail(batch.error());
  for (const auto& [key, value] : *pending) batch->set_meta(key, std::nullopt);
  if (auto s = batch->commit(); !s) return fail(s.error());
  return report;
}

}  // namespace airlock
