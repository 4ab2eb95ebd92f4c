// The site index of a repository mirrored with a filter: for each of its
// Packages indices, the vendor's stanzas of exactly the packages the
// snapshot carries, listed by a Release the site key signs (InRelease and
// Release + Release.gpg). Stored as objects with an overlay snapshot of
// those dists/ files, named by the ref site-index/<snapshot id>; the server
// answers a filtered snapshot's dists/ paths from it.
#pragma once

#include <functional>
#include <string>

#include "airlock/repo/site_key.h"
#include "airlock/store/store.h"

namespace airlock::repo {

// The ref naming the site index of snapshot.
std::string site_index_ref(const Digest& snapshot);

// Reads an object that is in the store or still pending in a batch.
using ObjectReader = std::function<Result<std::string>(const Digest&, std::uint64_t max_size)>;

// Builds and signs the site index of snapshot (an apt snapshot with
// filtered set), puts its files and overlay into batch and points its ref
// at the overlay. Returns the overlay's id. invalid_input when a vendor
// index or Release of the snapshot does not parse.
Result<Digest> build_site_index(const Snapshot& snapshot, const Digest& id,
                                const ObjectReader& read, const SiteKey& key, TimePoint now,
                                Batch& batch);

}  // namespace airlock::repo
