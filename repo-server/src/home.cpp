#include "airlock/repo/home.h"

#include <nlohmann/json.hpp>

#include "airlock/base/file.h"

namespace airlock::repo {
namespace fs = std::filesystem;
using json = nlohmann::json;

Result<bool> RepoHome::init(const std::string& operator_name) const {
  bool created = false;
  for (const auto& d : {dir, keys(), dir / "log", staging()}) {
    if (auto s = make_dirs(d); !s) return fail(s.error());
  }
  if (!fs::exists(trust_file())) {
    TrustPolicy empty;
    if (auto s = empty.save(trust_file()); !s) return fail(s.error());
    created = true;
  }
  auto store = open_store();
  if (!store) return fail(store.error());
  bool new_key = false;
  if (!fs::exists(keys() / "log.key")) {
    auto key = PrivateKey::generate();
    if (!key) return fail(key.error());
    if (auto s = key->write_file(keys() / "log.key"); !s) return fail(s.error());
    if (auto s = key->public_key().write_file(keys() / "log.pub"); !s) return fail(s.error());
    new_key = created = true;
  }
  auto log = open_log(**store);
  if (!log) return fail(log.error());
  if (new_key) {
    auto key = log_key();
    if (!key) return fail(key.error());
    json rec{{"side", "high"}, {"operator", operator_name}, {"log_key", key->public_key().id().hex()}};
    if (auto n = (*log)->append("init", rec.dump()); !n) return fail(n.error());
    if (auto c = (*log)->checkpoint(*key); !c) return fail(c.error());
  }
  return created;
}

Status RepoHome::require() const {
  if (dir.empty()) return fail(Code::invalid_input, "no home: pass --home DIR or set AIRLOCK_HOME");
  if (!fs::exists(trust_file()) || !fs::exists(keys() / "log.key")) {
    return fail(Code::not_found, "no repository home at " + dir.string() + " (run 'airlock-repo --home " +
                                     dir.string() + " init')");
  }
  return {};
}

Result<std::unique_ptr<Store>> RepoHome::open_store() const { return Store::open(dir / "store", store_options); }

Result<std::unique_ptr<TransferLog>> RepoHome::open_log(Store& store) const {
  auto log = TransferLog::open(log_file(), LogOptions{store_options.env});
  if (!log) return fail(log.error());
  if (auto s = flush_pending_log(store, **log); !s) return fail(s.error());
  return log;
}

Result<PrivateKey> RepoHome::log_key() const { return PrivateKey::read_file(keys() / "log.key"); }

Result<TrustPolicy> RepoHome::trust() const { return TrustPolicy::load(trust_file()); }

Status flush_pending_log(Store& store, TransferLog& log) {
  auto pending = store.list_meta("pending-log/");
  if (!pending) return fail(pending.error());
  if (pending->empty()) return {};
  std::vector<LogRecordInput> records;
  for (const auto& [key, value] : *pending) {
    json j = json::parse(value, nullptr, false);
    if (!j.is_object() || !j.contains("records")) continue;
    for (const auto& r : j["records"]) records.push_back({r.value("event", ""), r["fields"].dump()});
  }
  if (!records.empty()) {
    if (auto n = log.append_many(records); !n) return fail(n.error());
    if (auto s = log.sync(); !s) return s;
  }
  auto batch = store.begin_batch();
  if (!batch) return fail(batch.error());
  for (const auto& [key, value] : *pending) batch->set_meta(key, std::nullopt);
  return batch->commit();
}

}  // namespace airlock::repo
