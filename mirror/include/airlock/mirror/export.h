// Exporting a stream's next bundle: the newest snapshot of each repository,
// carrying what no earlier bundle of the stream carried.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "airlock/mirror/apt_sync.h"
#include "airlock/store/store.h"
#include "airlock/transfer/bundle.h"
#include "airlock/transfer/log.h"

namespace airlock::mirror {

struct ExportOptions {
  std::string stream;
  std::filesystem::path out;
  bool full = false;
  std::vector<std::string> repos;  // empty: every repository with a snapshot
  std::uint64_t volume_size = kDefaultVolumeSize;
  int zstd_level = 3;
  std::chrono::seconds expires{30 * 24 * 3600};
  std::vector<const PrivateKey*> keys;
  const PrivateKey* log_key = nullptr;  // signs the checkpoint written after the export
  std::string producer;
  TimePoint now{};
  ProgressFn progress;
};

struct ExportSummary {
  ExportResult bundle;
  std::vector<PackageChange> changes;  // against the stream's previous export
  bool first = false;
};

// Writes the bundle, remembers it as the stream's head, and logs an `export`
// record (and a checkpoint). The low side's log records since the stream's
// previous export travel inside the manifest.
Result<ExportSummary> export_stream(Store& store, TransferLog& log, const ExportOptions& options);

}  // namespace airlock::mirror
