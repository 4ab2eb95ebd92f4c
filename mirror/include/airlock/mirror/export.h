// Exporting a stream's next bundle: the newest snapshot of each repository,
// carrying what no earlier bundle of the stream carried, and the low side's
// log records since the stream's previous export (the chain of custody).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "airlock/mirror/packages.h"
#include "airlock/transfer/bundle.h"
#include "airlock/transfer/ledger.h"

namespace airlock::mirror {

struct ExportOptions {
  std::string stream;
  std::filesystem::path out;  // the media root; created when missing
  bool full = false;
  std::vector<std::string> repos;  // empty: every repository with a snapshot
  std::uint64_t volume_size = kDefaultVolumeSize;
  int zstd_level = 3;
  std::chrono::seconds expires{30 * 24 * 3600};
  // Signing keys, each a name in the home's keys/ or a path (Home::export_stream);
  // empty: the home's only signing key.
  std::vector<std::string> keys;
  std::string producer;       // empty: "airlock-mirror <version> on <host> by <operator>"
  std::string operator_name;  // written into the `export` record
  TimePoint now{};
  ProgressFn progress;
};

struct ExportSummary {
  ExportResult bundle;
  // Per repository, against the stream's previous bundle (against nothing
  // for a full bundle): what the manifest carries, inside its signature.
  std::vector<RepoChanges> changes;
  bool first = false;
};

// What the home remembers of a stream (meta "stream/<name>").
struct StreamState {
  std::uint64_t sequence = 0;     // of the last export; 0: never exported
  std::vector<Digest> manifests;  // every bundle of the stream, oldest first
  std::uint64_t log_size = 0;     // the log's size when the last export read its records
  std::vector<Digest> snapshots;  // what the last export carried
};
// corrupt when the stored state cannot be read.
Result<StreamState> stream_state(const Store& store, const std::string& stream);

// Writes the bundle signed by keys (at least one) and commits, through
// ledger, the manifest and the stream's new state with an `export` record.
// The bundle carries the log records from the previous export's cut-off up
// to the log's size when they are read (held under the ledger's lock for the
// whole export), and that size is the new cut-off: so the `export` record of
// this bundle, and the `cosign` and `sync` records after it, cross in the
// next bundle of the stream, each exactly once. On failure nothing is
// recorded; a bundle directory already renamed into place stays on the media.
Result<ExportSummary> export_stream(Ledger& ledger, const ExportOptions& options,
                                    const std::vector<const PrivateKey*>& keys);

}  // namespace airlock::mirror
