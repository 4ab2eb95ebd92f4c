// The transfer log: append-only JSON Lines, one record per line, each record
// a leaf of an RFC 6962 Merkle tree, with signed checkpoints inline. Kept in
// a directory of segments with hash tiles and the tree state of the newest
// checkpoint beside them (docs/formats.md, "Transfer log").
//
// Every record is {"n": <index>, "time": <RFC 3339>, "event": <name>, <fields>,
// "prev_root": <hex root of the tree over records 0..n-1>}. prev_root chains
// each record to everything before it, so an edit, deletion or reordering is
// found at the first record it touches; checkpoint records
// ({"event": "checkpoint", "size", "root", "note"}) carry a C2SP signed note
// over the tree of all records before them.
//
// Several processes may append to one log: appends hold an exclusive lock on
// the directory and first read what others appended. A failed append (e.g.
// disk full) truncates the segment and the tiles back to where they were.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/env.h"
#include "airlock/base/error.h"
#include "airlock/base/time.h"
#include "airlock/verify/checkpoint.h"
#include "airlock/verify/digest.h"
#include "airlock/verify/ed25519.h"

namespace airlock {

struct LogRecordInput {
  std::string event;        // e.g. "import"
  std::string fields_json;  // a JSON object of the event's fields ("{}" for none)
};

// The longest line the log holds; a longer record is refused (limit).
inline constexpr std::size_t kMaxLogLine = 1 << 20;

// A record made safe for the log and known to fit: every string (keys and
// values, at any depth) that is not valid UTF-8 has its invalid bytes
// escaped as \xNN, and the whole line, with the largest n, time and
// prev_root it could get, is at most kMaxLogLine.
struct PreparedRecord {
  std::string event;
  nlohmann::json fields;  // an object without n, time, event or prev_root
};
// invalid_input for an empty event, "checkpoint", fields that are not an
// object or that set n, time, event or prev_root; limit (naming the event
// and the size) for a record that would not fit.
Result<PreparedRecord> prepare_record(std::string_view event, nlohmann::json fields);

struct LogOptions {
  Env* env = nullptr;  // Env::system() when null; used for writes and the clock
  // Open the log read-only (it must exist) for a home on read-only media;
  // appends are refused and nothing is written.
  bool read_only = false;
  // The log keys: when given, opening also checks the signature of the
  // checkpoint log/state.json starts from.
  std::vector<PublicKey> keys{};
  // Records a segment holds before the next append starts a new one.
  std::uint64_t segment_records = 1 << 20;
};

// The origin line of checkpoints signed by key: "airlock/<first 16 hex of its key id>".
std::string log_origin(const PublicKey& key);
std::string log_origin(const KeyId& key);
// verify_checkpoint for the transfer log: the note's origin must also be the
// one of the key that signed it, so that a checkpoint signed for one origin
// cannot stand for another. refused, naming both, otherwise.
Result<VerifiedCheckpoint> verify_log_checkpoint(std::string_view note,
                                                 std::span<const PublicKey> keys);
// The signed-note key name airlock uses for log keys.
inline constexpr std::string_view kLogKeyName = "airlock-log";

class TransferLog {
 public:
  // Opens the log in dir, creating an empty one when missing. Starts from
  // log/state.json (or, without one, from record 0) and reads the records
  // after it, checking the chain of n and prev_root; refuses (corrupt) a log
  // whose last line is incomplete or whose chain is broken, naming the
  // record. Records that do not match their tile hashes, or tiles or a state
  // that do not match the records, open the log with damage() set.
  static Result<std::unique_ptr<TransferLog>> open(const std::filesystem::path& dir,
                                                   LogOptions options = {});
  ~TransferLog();

  // What makes the log refuse appends (corrupt, naming the record or file):
  // records since the last checkpoint that differ from the hashes written
  // with them, or tiles or state that do not match the records.
  std::optional<Error> damage() const;

  // Appends records with one write; returns the n of the first. Not synced:
  // call sync() before reporting the effect as done. invalid_input when a
  // fields_json is not an object or uses n, time, event or prev_root.
  Result<std::uint64_t> append(std::string_view event, std::string_view fields_json);
  Result<std::uint64_t> append_many(std::span<const LogRecordInput> records);
  // Appends prepared records with one write; returns the n of the first.
  Result<std::uint64_t> append_prepared(std::span<const PreparedRecord> records);
  Status sync();

  // For a producer that builds its records itself (the server's pulls):
  // each entry is a record's fields as a compact JSON object without its
  // braces, with no n, time, event or prev_root. Not re-parsed; the caller
  // guarantees the form. One write for all.
  Result<std::uint64_t> append_trusted(std::string_view event,
                                       std::span<const std::string> fields_inner);

  // Appends a checkpoint record signed by key over all records so far, and
  // syncs. Returns the signed note.
  Result<std::string> checkpoint(const PrivateKey& key);

  // Reads records other processes appended since the last look.
  Status refresh();
  // From now on, calls fn with each record line this log writes or reads
  // after another process wrote it (when it next catches up), in order. fn
  // must not call back into the log. An empty fn stops forwarding.
  void forward_to(std::function<void(std::string_view line)> fn);

  std::uint64_t size() const;
  Digest root() const;
  Result<Digest> root_at(std::uint64_t size) const;
  Result<std::string> record(std::uint64_t n) const;  // the line, without newline
  // Calls fn with records from..to-1 (to clipped to size()) in order, read
  // sequentially: for a pass over the whole log, record() one by one costs a
  // read each. Stops at fn's first error and returns it; corrupt when a
  // record changed on disk. fn must not call back into the log.
  Status for_each_record(
      std::uint64_t from, std::uint64_t to,
      const std::function<Status(std::uint64_t n, std::string_view line)>& fn) const;
  Result<std::vector<Digest>> inclusion_proof(std::uint64_t n, std::uint64_t size) const;
  Result<std::vector<Digest>> consistency_proof(std::uint64_t m, std::uint64_t n) const;
  // An inclusion proof for record n against the checkpoint record at index
  // checkpoint (whose signed note covers the `checkpoint` records before it),
  // in prove_record's form. not_found when n >= checkpoint or that record is
  // not a checkpoint; corrupt when a record changed on disk.
  Result<nlohmann::json> prove(std::uint64_t n, std::uint64_t checkpoint) const;
  // The same against the first checkpoint after record n (not_found when
  // none covers it yet). Reads the tiles and the records from n to it only.
  Result<nlohmann::json> prove(std::uint64_t n) const;
  // The most recent checkpoint record's index and note, if any.
  std::optional<std::pair<std::uint64_t, std::string>> latest_checkpoint() const;
  const std::filesystem::path& dir() const;

 private:
  struct Impl;
  explicit TransferLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct LogVerification {
  // The first record the files hold: 0 unless older segments were left out
  // (archived), whose tree the tiles then give.
  std::uint64_t first = 0;
  std::uint64_t records = 0;   // the log's size (the next record's n)
  bool tiles_checked = false;  // tiles and state were there and match
  std::uint64_t checkpoints = 0;
  std::optional<Checkpoint> last_checkpoint;
  std::uint64_t uncovered = 0;  // records after the last checkpoint
  Digest root;                  // root over all records
};

// How much of the log its newest checkpoint signs, as one sentence: "The
// newest checkpoint (record C) signs the first C records; M records after it
// are not signed yet." Records cut from the end of a log show here: no one
// can tell them from records never signed without a checkpoint kept elsewhere.
std::string coverage_statement(const LogVerification& v);

// Checks a log completely, reading only, in one pass that keeps only the
// frontier: every line's n and prev_root, every checkpoint's signature (by
// one of keys), size, root and consistency with the checkpoint before it,
// and that the log contains every tree in known_checkpoints (signed notes
// seen earlier, e.g. exported before). inputs is a log directory (its
// segments, and its tiles and state.json, checked against the records, when
// there) or segment files in order (an exported log is one). On the first
// problem returns corrupt (tampering) or refused (bad signature) naming the
// first bad record or file.
Result<LogVerification> verify_log(std::span<const std::filesystem::path> inputs,
                                   std::span<const PublicKey> keys,
                                   std::span<const std::string> known_checkpoints = {});
// verify_log of one directory or file.
Result<LogVerification> verify_log_file(const std::filesystem::path& path,
                                        std::span<const PublicKey> keys,
                                        std::span<const std::string> known_checkpoints = {});

// An inclusion proof for record n against the first checkpoint in the log
// (a log directory, read through its tiles, or one file) that covers it, as JSON: {"n", "record",
// "tree_size", "proof": [hex...], "checkpoint": <signed note>}. not_found when no checkpoint covers
// record n yet.
Result<std::string> prove_record(const std::filesystem::path& path, std::uint64_t n);

struct ProofCheck {
  std::uint64_t n = 0;
  std::string record;
  Checkpoint checkpoint;
  std::string signer;
};
// Verifies a proof made by prove_record: the checkpoint's signature by one of
// keys, and the record's inclusion in that checkpoint's tree.
Result<ProofCheck> verify_proof(std::string_view proof_json, std::span<const PublicKey> keys);

}  // namespace airlock
