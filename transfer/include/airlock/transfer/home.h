// What the homes of both sides share: the directory layout below them, the
// object store, the transfer log with the key that signs its checkpoints,
// the ledger through which every state change goes, and reading the log.
//
//   <home>/keys/log.key (0600), keys/log.pub   store/
//   log/transfer-NNNNNN.jsonl, log/tiles/, log/state.json, log/commit.lock
//
// mirror::Home and repo::Home derive from it and add their side's commands.
// A HomeBase is used by one thread at a time (the server shares its store
// and log with its own threads as documented there).
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "airlock/base/cli.h"
#include "airlock/base/env.h"
#include "airlock/store/store.h"
#include "airlock/transfer/ledger.h"
#include "airlock/transfer/log.h"
#include "airlock/verify/ed25519.h"

namespace airlock {

struct HomeOptions {
  Env* env = nullptr;  // Env::system() when null; must outlive the home
  // Store and log opened read-only, nothing created in the home (no lock
  // files), and a change a dead process left pending not finished: for
  // commands that only read a home that cannot be written.
  bool read_only = false;
  LockWait lock{};  // how changes wait for another process's change
};

// options with lock set for the command inv runs: the holder named by program,
// command and operator, --no-wait honoured, and a line on stderr (unless
// --quiet) when a change has to wait.
HomeOptions command_options(const cli::Invocation& inv, HomeOptions options = {});

// The options for a command that only reads: read_only when the home's log
// or index cannot be written (an auditor's copy on read-only media);
// otherwise those of a writer, so a pending change is finished first.
HomeOptions reading_options(const std::filesystem::path& dir);

// Who makes a change and why: written into its log record.
struct ChangeInfo {
  std::string operator_name;
  std::string reason;
  std::string change_ref;

  // {"operator", "reason", "change_ref"} for a log record.
  nlohmann::json fields() const {
    return {{"operator", operator_name}, {"reason", reason}, {"change_ref", change_ref}};
  }
};

enum class LogFormat { text, jsonl, csv };

class HomeBase {
 public:
  virtual ~HomeBase();
  HomeBase(const HomeBase&) = delete;
  HomeBase& operator=(const HomeBase&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path keys_dir() const { return dir_ / "keys"; }
  std::filesystem::path log_dir() const { return dir_ / "log"; }
  Store& store() const { return *store_; }
  TransferLog& log() const { return *log_; }
  Ledger& ledger() const { return *ledger_; }
  Env& env() const { return *env_; }
  const PrivateKey& log_key() const { return *log_key_; }

  // Checks every record and checkpoint of the log against keys/log.pub.
  Result<LogVerification> verify_log() const;
  // An inclusion proof for record n (see prove_record).
  Result<std::string> prove(std::uint64_t n) const;
  // The newest signed checkpoint (a C2SP signed note), for auditors to keep.
  Result<std::string> checkpoint_note() const;

 protected:
  HomeBase() = default;
  // Creates keys/, log/ and the store, the log key pair when missing, and
  // an `init` record (fields: side, operator, log_key) when the log is empty.
  // Returns whether a new log key was made.
  static Result<bool> init_common(const std::filesystem::path& dir, const std::string& side,
                                  const std::string& operator_name, Env& env);
  // Opens store, log and key, and finishes what a dead process left pending.
  Status open_common(const std::filesystem::path& dir, const HomeOptions& options);

 private:
  std::filesystem::path dir_;
  Env* env_ = nullptr;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TransferLog> log_;
  std::optional<PrivateKey> log_key_;
  std::unique_ptr<Ledger> ledger_;
};

}  // namespace airlock
