// The site index of a repository mirrored with a filter: metadata listing
// exactly the packages the snapshot carries, each entry byte for byte as
// the vendor-signed metadata writes it, signed by the site key.
// - apt: for each Packages index, the vendor's stanzas of the carried
//   packages, listed by a Release the site key signs (InRelease and
//   Release + Release.gpg);
// - rpm: a primary.xml.gz of the vendor's <package> elements of the carried
//   packages, listed by a repomd.xml (with the vendor's updateinfo and
//   modules as they are) and its detached signature repomd.xml.asc.
// Stored as objects with an overlay snapshot of those files, named by the
// ref site-index/<snapshot id>; the server answers a filtered snapshot's
// paths under site_index_root(kind) from it alone.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "airlock/repo/site_key.h"
#include "airlock/store/store.h"

namespace airlock::repo {

// The ref naming the site index of snapshot.
std::string site_index_ref(const Digest& snapshot);

// The directory (with its slash) whose paths a site index of a snapshot of
// kind replaces: "dists/" for apt, "repodata/" for rpm, "" for a kind that
// has none.
std::string_view site_index_root(std::string_view kind);

// Whether snapshot is served through a site index: filtered, of a kind
// that has one.
bool needs_site_index(const Snapshot& snapshot);

// Opens an object that is in the store or still pending in a batch, to be
// read a piece at a time (no more than max_size bytes).
using ObjectSource =
    std::function<Result<airlock::ObjectReader>(const Digest&, std::uint64_t max_size)>;

// The whole object, through source (for files that are small or parsed whole).
Result<std::string> read_whole(const ObjectSource& source, const Digest& id,
                               std::uint64_t max_size);

// Builds and signs the site index of snapshot (needs_site_index), puts its
// files and overlay into batch and points its ref at the overlay. Returns
// the overlay's id. invalid_input when vendor metadata of the snapshot does
// not parse or does not list what the snapshot says it carries.
Result<Digest> build_site_index(const Snapshot& snapshot, const Digest& id,
                                const ObjectSource& read, const SiteKey& key, TimePoint now,
                                Batch& batch);

// The overlay snapshot of a site index being built (shared by the kinds):
// files go into batch as they are added; finish() stores the overlay and
// sets the ref. Not thread-safe.
class SiteOverlay {
 public:
  SiteOverlay(const Snapshot& snapshot, const Digest& id, TimePoint now, Batch& batch);
  // A file made for the site index.
  Status add(const std::string& path, std::string_view bytes);
  // A vendor file of the snapshot served unchanged (already stored).
  void add_stored(const SnapshotEntry& entry);
  // Stores the overlay and points site_index_ref(id) at it, noting the key.
  Result<Digest> finish(const SiteKey& key);

 private:
  Snapshot overlay_;
  Digest id_;
  Batch& batch_;
};

// The kinds' builders (build_site_index chooses).
Result<Digest> build_apt_site_index(const Snapshot& snapshot, const Digest& id,
                                    const ObjectSource& read, const SiteKey& key, TimePoint now,
                                    Batch& batch);
Result<Digest> build_rpm_site_index(const Snapshot& snapshot, const Digest& id,
                                    const ObjectSource& read, const SiteKey& key, TimePoint now,
                                    Batch& batch);

}  // namespace airlock::repo
