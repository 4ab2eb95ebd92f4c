#include "airlock/transfer/home.h"

#include <nlohmann/json.hpp>
#include <ostream>

#include "airlock/base/file.h"
#include "airlock/base/text.h"

namespace airlock {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kCsvColumns[] = {"time",    "event",  "operator", "client", "method",
                                       "path",    "object", "status",   "bytes",  "bundle",
                                       "channel", "repo",   "snapshot", "result", "reason"};

std::string text_of(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

void write_text_line(std::uint64_t n, const json& j, std::ostream& out) {
  std::string rest;
  for (const auto& [k, v] : j.items()) {
    if (k == "n" || k == "time" || k == "event" || k == "prev_root" || k == "note") continue;
    rest += " " + k + "=" + text_of(v);
  }
  out << n << "  " << escape_for_terminal(text_of(j["time"])) << "  "
      << escape_for_terminal(text_of(j["event"])) << escape_for_terminal(rest) << "\n";
}

void write_csv_line(std::uint64_t n, const json& j, std::ostream& out) {
  out << n;
  for (const char* k : kCsvColumns)
    out << "," << (j.contains(k) && !j[k].is_null() ? csv_cell(text_of(j[k])) : "");
  out << "\n";
}

}  // namespace

HomeBase::~HomeBase() = default;

Result<bool> HomeBase::init_common(const fs::path& dir, const std::string& side,
                                   const std::string& operator_name, Env& env) {
  for (const auto& d : {dir, dir / "keys", dir / "log"}) {
    if (auto s = env.make_dirs(d); !s) return fail(s.error());
  }
  StoreOptions so;
  so.env = &env;
  auto store = Store::open(dir / "store", so);
  if (!store) return fail(store.error());
  const fs::path key_file = dir / "keys" / "log.key";
  bool new_key = false;
  if (!path_exists(key_file)) {
    auto key = PrivateKey::generate();
    if (!key) return fail(key.error());
    // The public half first: the private key file is what makes the pair exist.
    if (auto s = key->public_key().write_file(dir / "keys" / "log.pub", env); !s)
      return fail(s.error());
    if (auto s = key->write_file(key_file, env); !s) return fail(s.error());
    new_key = true;
  }
  auto key = PrivateKey::read_file(key_file);
  if (!key) return fail(key.error());
  auto log = TransferLog::open(dir / "log" / "transfer.jsonl", LogOptions{&env});
  if (!log) return fail(log.error());
  if ((*log)->size() == 0) {
    Ledger ledger(**store, **log, *key, dir / "log" / "commit.lock", env);
    json rec{
        {"side", side}, {"operator", operator_name}, {"log_key", key->public_key().id().hex()}};
    if (auto s = ledger.record({{"init", rec}}); !s) return fail(s.error());
  }
  return new_key;
}

Status HomeBase::open_common(const fs::path& dir, const HomeOptions& options) {
  dir_ = dir;
  env_ = options.env ? options.env : &Env::system();
  StoreOptions so;
  so.env = env_;
  auto store = Store::open(dir / "store", so);
  if (!store) return fail(store.error());
  store_ = std::move(*store);
  auto log = TransferLog::open(log_file(), LogOptions{env_});
  if (!log) return fail(log.error());
  log_ = std::move(*log);
  auto key = PrivateKey::read_file(keys_dir() / "log.key");
  if (!key) return fail(key.error());
  log_key_.emplace(std::move(*key));
  ledger_ = std::make_unique<Ledger>(*store_, *log_, *log_key_, dir / "log" / "commit.lock", *env_);
  if (auto r = ledger_->recover(); !r) return fail(r.error());
  return {};
}

Status HomeBase::write_log(const LogFilter& filter, LogFormat format, std::ostream& out) const {
  if (format == LogFormat::csv) out << "n";
  if (format == LogFormat::csv) {
    for (const char* k : kCsvColumns) out << "," << k;
    out << "\n";
  }
  const std::uint64_t size = log_->size();
  for (std::uint64_t n = 0; n < size; ++n) {
    auto line = log_->record(n);
    if (!line) return fail(line.error());
    json j = json::parse(*line, nullptr, false);
    if (!j.is_object() || !j.contains("event") || !j.contains("time")) {
      return fail(Code::corrupt, "transfer log " + log_file().string() + ": record " +
                                     std::to_string(n) +
                                     " is not a JSON object with a time and an event");
    }
    if (filter.event && j["event"] != *filter.event) continue;
    switch (format) {
      case LogFormat::jsonl:
        out << *line << "\n";
        break;
      case LogFormat::csv:
        write_csv_line(n, j, out);
        break;
      case LogFormat::text:
        write_text_line(n, j, out);
        break;
    }
  }
  out.flush();
  if (!out) return fail(Code::io, "writing the log failed");
  return {};
}

Result<LogVerification> HomeBase::verify_log() const {
  auto pub = PublicKey::read_file(keys_dir() / "log.pub");
  if (!pub) return fail(pub.error());
  std::vector<PublicKey> keys{*pub};
  return verify_log_file(log_file(), keys);
}

Result<std::string> HomeBase::prove(std::uint64_t n) const { return prove_record(log_file(), n); }

Result<std::string> HomeBase::checkpoint_note() const {
  auto cp = log_->latest_checkpoint();
  if (!cp) return fail(Code::not_found, "the log has no checkpoint yet");
  return cp->second;
}

}  // namespace airlock
