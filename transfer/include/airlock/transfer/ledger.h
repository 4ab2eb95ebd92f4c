// The one commit-and-log path of both sides: every state change (sync,
// export, cosign, trust, import accepted or refused, publish, promote,
// rollback, scrub, ...) and the log records that describe it are made
// together, so that after a crash at any point the change and its records are
// both there or both absent once the home is opened again.
//
// The protocol (DESIGN.md "Commit and log"):
//   1. every record is prepared first: invalid UTF-8 escaped, size checked
//      against the log's line limit — a record that could not be logged
//      refuses the change before anything is written;
//   2. the records are written as a pending entry in the same LMDB
//      transaction as the change (for a change to files outside the index,
//      the pending entry is committed first and names the file and the
//      SHA-256 it will have);
//   3. the records are appended to the log and a checkpoint is written;
//   4. the pending entry is cleared.
// Ledger::recover() (run when a home is opened) finishes step 3 for a pending
// entry whose process died: it appends the records unless the log already
// holds them, and drops an entry whose file change never happened.
//
// Changes to one home are serialized by an exclusive lock on a lock file,
// held from Ledger::begin() until the Change is destroyed; recover() only
// runs when no other process holds it, so it never finishes a change that
// is still in flight. A thread must not begin a second change while it holds
// one.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "airlock/base/env.h"
#include "airlock/store/store.h"
#include "airlock/transfer/log.h"
#include "airlock/verify/ed25519.h"

namespace airlock {

// One record to log: its event and fields (any strings; escaped when prepared).
struct LogEntry {
  std::string event;
  nlohmann::json fields = nlohmann::json::object();
};

// How a change waits while another process changes the same home. The
// process holding the lock leaves a line in the lock file naming itself
// ("pid 812, airlock-repo import by olga, since 2026-11-24T05:30:00Z"), so
// that a waiting one can say who it waits for.
struct LockWait {
  std::string holder;  // who this process is, e.g. "airlock-repo import by olga"
  bool wait = true;    // false: a busy home is an error at once (--no-wait)
  // Told once, with the holder's line, before waiting. Null: wait silently.
  std::function<void(const std::string& holder)> on_wait;
};

// A file a change writes outside the index. The last file of a change is its
// commit point: the change happened exactly when that file has its contents.
struct FileWrite {
  std::filesystem::path path;
  std::string contents;
  mode_t mode = 0644;
  bool create_only = false;  // refuse to replace an existing file (keys)
};

class Ledger;

// A change in progress. Holds the home's change lock until destroyed.
// Destroying a change that was not committed changes nothing.
class Change {
 public:
  ~Change();
  Change(Change&&) noexcept;
  Change& operator=(Change&&) noexcept;

  // The store batch of this change, begun on first use with options (it
  // takes the store's writer lock). Valid until commit, record or destruction.
  Result<Batch*> batch(BatchOptions options = {});
  // Commits the batch (if one was begun) together with records (steps 1-4
  // above). On a failure before the commit nothing changed and the change
  // may still be used to record a refusal; after the commit, a failure to
  // log leaves the records pending for the next open and says so.
  Status commit(std::vector<LogEntry> records);
  // Writes files in order (each atomically) together with records.
  Status commit_files(std::vector<FileWrite> files, std::vector<LogEntry> records);
  // Drops the batch and logs records that describe no change (a refusal).
  Status record(std::vector<LogEntry> records);

 private:
  friend class Ledger;
  struct State;
  explicit Change(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

struct RecoveryReport {
  std::size_t appended = 0;  // pending entries whose records were appended now
  std::size_t present = 0;   // pending entries the log already held
  std::size_t dropped = 0;   // pending entries whose change never happened
  std::size_t damaged = 0;   // unreadable pending entries (logged as `recovery`)
  bool skipped = false;      // another process holds the change lock, or the log is damaged
};

class Ledger {
 public:
  // The ledger of a home: its store and log, the key that signs the log's
  // checkpoints, and the lock file that serializes its changes. All must
  // outlive the ledger.
  Ledger(Store& store, TransferLog& log, const PrivateKey& log_key, std::filesystem::path lock_file,
         Env& env = Env::system(), LockWait lock_wait = {});

  // Waits until no other change to this home is in progress (or, without
  // lock_wait.wait, fails with io naming the process that holds it).
  Result<Change> begin();
  // A change with no state to commit: begin() then Change::record().
  Status record(std::vector<LogEntry> records);
  // Finishes what a dead process left pending (see above); writes a
  // checkpoint when it appended anything. Skips (skipped) when another process
  // is in the middle of a change.
  Result<RecoveryReport> recover();

  Store& store() const { return store_; }
  TransferLog& log() const { return log_; }
  Env& env() const { return env_; }

 private:
  friend class Change;
  Store& store_;
  TransferLog& log_;
  const PrivateKey& key_;
  std::filesystem::path lock_file_;
  Env& env_;
  LockWait lock_wait_;
};

}  // namespace airlock
