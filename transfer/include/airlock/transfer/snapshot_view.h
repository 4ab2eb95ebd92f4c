// One snapshot as both sides show it (`snapshots show ID`): what it is,
// what it carries, and, for an rpm repository, the advisories its vendor
// published with it (updateinfo), read from the snapshot's own verified
// metadata.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "airlock/store/store.h"

namespace airlock {

// One advisory of an rpm repository's updateinfo.
struct SnapshotAdvisory {
  std::string id, type, severity, title, issued;
  std::vector<std::string> references;  // e.g. CVE ids, in the vendor's order
  std::vector<std::string> packages;    // the packages that fix it, "name-evr.arch"
};

struct SnapshotView {
  Digest id;
  Snapshot snapshot;
  std::vector<SnapshotAdvisory> advisories;  // rpm: from its updateinfo; empty otherwise
};

// The advisories of snapshot (an rpm snapshot whose repodata/repomd.xml
// lists updateinfo; none for any other), streamed from the store: the
// updateinfo is decompressed and parsed a piece at a time. corrupt when a
// stored file is not its digest's; invalid_input or limit when the
// metadata does not parse (which a sync would have refused).
Result<std::vector<SnapshotAdvisory>> snapshot_advisories(const Store& store,
                                                          const Snapshot& snapshot);

// The snapshot id of store with its advisories.
Result<SnapshotView> load_snapshot_view(const Store& store, const Digest& id);

// Everything as text (names, versions and advisory texts escaped for the
// terminal) and as JSON.
void print_snapshot_view(std::ostream& out, const SnapshotView& view);
nlohmann::json snapshot_view_json(const SnapshotView& view);

}  // namespace airlock
