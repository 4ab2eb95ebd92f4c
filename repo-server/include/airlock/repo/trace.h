// The chain of custody of one file on the isolated side, link by link, each
// with the log record that states it: the hosts that pulled it, the
// snapshots that hold it, the channel changes that published them, the
// imports that brought them, the online side's records carried in those
// imports (the sync that fetched it from the vendor, the export, the
// co-signatures), and the checkpoint that covers them all.
//
// Built from the store's snapshots and one pass over the transfer log, one
// record at a time; nothing is written. A trace proof holds the records of
// the chain with an inclusion proof of each against one signed checkpoint,
// so that it can be checked without the log (airlock-verify trace).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/store/store.h"
#include "airlock/transfer/log.h"
#include "airlock/verify/digest.h"

namespace airlock::repo {

// The format name of a trace proof (schemas/trace-proof.schema.json).
inline constexpr std::string_view kTraceProofFormat = "airlock-trace-proof/1";

struct TraceLink {
  // pull, snapshot, publish, promote, rollback, delete, import, sync,
  // export, cosign or checkpoint. sync, export and cosign are the online
  // side's records, each inside a `custody` record of this log.
  std::string link;
  // The record of this log that states the link (for a snapshot: the
  // import that brought it).
  std::optional<std::uint64_t> n;
  nlohmann::ordered_json facts;  // what the record says, as an object
};

struct Trace {
  std::string query;
  std::vector<Digest> objects;              // the files followed (several for NAME=VERSION)
  std::vector<PackageEntry> packages;       // the packages those files are, as snapshots list them
  std::vector<Digest> snapshots;            // the snapshots that hold them
  std::vector<TraceLink> links;             // in chain order, the checkpoint last
  std::optional<std::uint64_t> checkpoint;  // the checkpoint record covering every link
};

// Traces query: the path of a local file (hashed with SHA-256), a SHA-256
// (64 hex digits) or NAME=VERSION (every package of that name and version in
// the store's snapshots). invalid_input for an empty query or an empty NAME
// or VERSION; not_found naming the query when no file, no snapshot or no
// package matches.
Result<Trace> build_trace(const Store& store, const TransferLog& log, std::string_view query);

// The trace proof of trace: every linked record with its inclusion proof
// (prove_record's form) against trace.checkpoint. not_found when no
// checkpoint covers the chain yet.
Result<nlohmann::json> trace_proof(const TransferLog& log, const Trace& trace);

}  // namespace airlock::repo
