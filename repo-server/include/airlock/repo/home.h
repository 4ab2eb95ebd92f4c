// The isolated side's home: trust policy, store, transfer log and its key,
// staging for imports in progress.
//
//   <home>/trust.json  keys/log.key keys/log.pub  store/  log/transfer.jsonl  staging/
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "airlock/store/store.h"
#include "airlock/transfer/log.h"
#include "airlock/verify/ed25519.h"
#include "airlock/verify/trust.h"

namespace airlock::repo {

struct RepoHome {
  std::filesystem::path dir;
  StoreOptions store_options;  // tests inject faults here

  std::filesystem::path trust_file() const { return dir / "trust.json"; }
  std::filesystem::path keys() const { return dir / "keys"; }
  std::filesystem::path log_file() const { return dir / "log" / "transfer.jsonl"; }
  std::filesystem::path staging() const { return dir / "staging"; }

  // Creates the layout, an empty trust policy (threshold 1, no keys) and the
  // log key, keeping whatever exists. Returns whether anything was created.
  Result<bool> init(const std::string& operator_name) const;
  // not_found naming `airlock-repo init` when dir is not a repository home.
  Status require() const;

  Result<std::unique_ptr<Store>> open_store() const;
  // Opens the log and appends any record an interrupted command committed
  // but did not log yet (see pending records in import.h).
  Result<std::unique_ptr<TransferLog>> open_log(Store& store) const;
  Result<PrivateKey> log_key() const;
  Result<TrustPolicy> trust() const;
};

// Meta keys of log records committed with a state change and not yet in the
// log: "pending-log/<id>" -> {"event", "fields"}. A crash between the commit
// and the log append leaves one; the next command appends it.
Status flush_pending_log(Store& store, TransferLog& log);

}  // namespace airlock::repo
